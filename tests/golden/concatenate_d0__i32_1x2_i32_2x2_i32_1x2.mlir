module @concatenate_d0__i32_1x2_i32_2x2_i32_1x2 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<1x2xi32>, %arg1: tensor<2x2xi32>, %arg2: tensor<1x2xi32>) -> (tensor<4x2xi32>) {
    %0 = "stablehlo.concatenate"(%arg0, %arg1, %arg2) {dimension = 0 : i64} : (tensor<1x2xi32>, tensor<2x2xi32>, tensor<1x2xi32>) -> tensor<4x2xi32> loc("concatenate")
    return %0 : tensor<4x2xi32>
  }
}
