module @dot_general_lhs_transposed__f64_3x2_f64_3x4 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<3x2xf64>, %arg1: tensor<3x4xf64>) -> (tensor<2x4xf64>) {
    %0 = stablehlo.dot_general %arg0, %arg1, contracting_dims = [0] x [0] : (tensor<3x2xf64>, tensor<3x4xf64>) -> tensor<2x4xf64> loc("dot_general")
    return %0 : tensor<2x4xf64>
  }
}
