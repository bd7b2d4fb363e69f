module @dynamic_update_slice__f64_4x3_f64_2x2_i32__i32_ attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<4x3xf64>, %arg1: tensor<2x2xf64>, %arg2: tensor<i32>, %arg3: tensor<i32>) -> (tensor<4x3xf64>) {
    %0 = "stablehlo.dynamic_update_slice"(%arg0, %arg1, %arg2, %arg3) : (tensor<4x3xf64>, tensor<2x2xf64>, tensor<i32>, tensor<i32>) -> tensor<4x3xf64> loc("dynamic_update_slice")
    return %0 : tensor<4x3xf64>
  }
}
