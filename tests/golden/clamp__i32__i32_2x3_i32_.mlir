module @clamp__i32__i32_2x3_i32_ attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<i32>, %arg1: tensor<2x3xi32>, %arg2: tensor<i32>) -> (tensor<2x3xi32>) {
    %0 = "stablehlo.clamp"(%arg0, %arg1, %arg2) : (tensor<i32>, tensor<2x3xi32>, tensor<i32>) -> tensor<2x3xi32> loc("clamp")
    return %0 : tensor<2x3xi32>
  }
}
