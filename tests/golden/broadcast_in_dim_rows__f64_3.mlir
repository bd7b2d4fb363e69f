module @broadcast_in_dim_rows__f64_3 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<3xf64>) -> (tensor<4x3xf64>) {
    %0 = stablehlo.broadcast_in_dim %arg0, dims = [1] : (tensor<3xf64>) -> tensor<4x3xf64> loc("broadcast_in_dim")
    return %0 : tensor<4x3xf64>
  }
}
