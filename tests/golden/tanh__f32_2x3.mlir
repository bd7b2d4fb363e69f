module @tanh__f32_2x3 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<2x3xf32>) -> (tensor<2x3xf32>) {
    %0 = stablehlo.tanh %arg0 : tensor<2x3xf32> loc("tanh")
    return %0 : tensor<2x3xf32>
  }
}
