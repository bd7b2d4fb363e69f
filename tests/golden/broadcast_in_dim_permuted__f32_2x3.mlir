module @broadcast_in_dim_permuted__f32_2x3 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<2x3xf32>) -> (tensor<3x5x2xf32>) {
    %0 = stablehlo.broadcast_in_dim %arg0, dims = [2, 0] : (tensor<2x3xf32>) -> tensor<3x5x2xf32> loc("broadcast_in_dim")
    return %0 : tensor<3x5x2xf32>
  }
}
