module @shift_right_logical__u32_2x3_u32_2x3 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<2x3xui32>, %arg1: tensor<2x3xui32>) -> (tensor<2x3xui32>) {
    %0 = stablehlo.shift_right_logical %arg0, %arg1 : tensor<2x3xui32> loc("shift_right_logical")
    return %0 : tensor<2x3xui32>
  }
}
