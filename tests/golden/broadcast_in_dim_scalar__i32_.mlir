module @broadcast_in_dim_scalar__i32_ attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<i32>) -> (tensor<2x2xi32>) {
    %0 = stablehlo.broadcast_in_dim %arg0, dims = [] : (tensor<i32>) -> tensor<2x2xi32> loc("broadcast_in_dim")
    return %0 : tensor<2x2xi32>
  }
}
