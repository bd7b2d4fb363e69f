module @reduce_max_d0__f64_3x2 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<3x2xf64>) -> (tensor<2xf64>) {
    %1 = stablehlo.constant dense<0xFFF0000000000000> : tensor<f64> loc("reduce")
    %0 = stablehlo.reduce(%arg0 init: %1) applies stablehlo.maximum across dimensions = [0] : (tensor<3x2xf64>, tensor<f64>) -> tensor<2xf64> loc("reduce")
    return %0 : tensor<2xf64>
  }
}
