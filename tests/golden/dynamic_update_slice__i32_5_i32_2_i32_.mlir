module @dynamic_update_slice__i32_5_i32_2_i32_ attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<5xi32>, %arg1: tensor<2xi32>, %arg2: tensor<i32>) -> (tensor<5xi32>) {
    %0 = "stablehlo.dynamic_update_slice"(%arg0, %arg1, %arg2) : (tensor<5xi32>, tensor<2xi32>, tensor<i32>) -> tensor<5xi32> loc("dynamic_update_slice")
    return %0 : tensor<5xi32>
  }
}
