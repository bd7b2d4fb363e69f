module @log__f64_2x3 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<2x3xf64>) -> (tensor<2x3xf64>) {
    %0 = stablehlo.log %arg0 : tensor<2x3xf64> loc("log")
    return %0 : tensor<2x3xf64>
  }
}
