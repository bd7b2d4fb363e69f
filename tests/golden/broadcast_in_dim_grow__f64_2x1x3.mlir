module @broadcast_in_dim_grow__f64_2x1x3 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<2x1x3xf64>) -> (tensor<2x4x3xf64>) {
    %0 = stablehlo.broadcast_in_dim %arg0, dims = [0, 1, 2] : (tensor<2x1x3xf64>) -> tensor<2x4x3xf64> loc("broadcast_in_dim")
    return %0 : tensor<2x4x3xf64>
  }
}
