module @reduce_sum_d1__f64_2x3 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<2x3xf64>) -> (tensor<2xf64>) {
    %1 = stablehlo.constant dense<0.0e0> : tensor<f64> loc("reduce")
    %0 = stablehlo.reduce(%arg0 init: %1) applies stablehlo.add across dimensions = [1] : (tensor<2x3xf64>, tensor<f64>) -> tensor<2xf64> loc("reduce")
    return %0 : tensor<2xf64>
  }
}
