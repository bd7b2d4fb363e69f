module @dot_general_linear__f64_2x3_f64_4x3 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<2x3xf64>, %arg1: tensor<4x3xf64>) -> (tensor<2x4xf64>) {
    %0 = stablehlo.dot_general %arg0, %arg1, contracting_dims = [1] x [1] : (tensor<2x3xf64>, tensor<4x3xf64>) -> tensor<2x4xf64> loc("dot_general")
    return %0 : tensor<2x4xf64>
  }
}
