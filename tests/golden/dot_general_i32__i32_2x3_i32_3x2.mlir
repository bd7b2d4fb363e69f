module @dot_general_i32__i32_2x3_i32_3x2 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<2x3xi32>, %arg1: tensor<3x2xi32>) -> (tensor<2x2xi32>) {
    %0 = stablehlo.dot_general %arg0, %arg1, contracting_dims = [1] x [0] : (tensor<2x3xi32>, tensor<3x2xi32>) -> tensor<2x2xi32> loc("dot_general")
    return %0 : tensor<2x2xi32>
  }
}
