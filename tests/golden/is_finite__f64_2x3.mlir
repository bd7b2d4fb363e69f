module @is_finite__f64_2x3 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<2x3xf64>) -> (tensor<2x3xi1>) {
    %0 = stablehlo.is_finite %arg0 : (tensor<2x3xf64>) -> tensor<2x3xi1> loc("is_finite")
    return %0 : tensor<2x3xi1>
  }
}
