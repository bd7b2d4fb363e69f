module @dot_general_outer__f64_3_f64_2 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<3xf64>, %arg1: tensor<2xf64>) -> (tensor<3x2xf64>) {
    %0 = stablehlo.dot_general %arg0, %arg1, contracting_dims = [] x [] : (tensor<3xf64>, tensor<2xf64>) -> tensor<3x2xf64> loc("dot_general")
    return %0 : tensor<3x2xf64>
  }
}
