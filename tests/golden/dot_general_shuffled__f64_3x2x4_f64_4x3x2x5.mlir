module @dot_general_shuffled__f64_3x2x4_f64_4x3x2x5 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<3x2x4xf64>, %arg1: tensor<4x3x2x5xf64>) -> (tensor<2x5xf64>) {
    %0 = stablehlo.dot_general %arg0, %arg1, batching_dims = [1] x [2], contracting_dims = [2, 0] x [0, 1] : (tensor<3x2x4xf64>, tensor<4x3x2x5xf64>) -> tensor<2x5xf64> loc("dot_general")
    return %0 : tensor<2x5xf64>
  }
}
