module @shift_right_arithmetic__u8_2x3_u8_2x3 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<2x3xui8>, %arg1: tensor<2x3xui8>) -> (tensor<2x3xui8>) {
    %0 = stablehlo.shift_right_arithmetic %arg0, %arg1 : tensor<2x3xui8> loc("shift_right_arithmetic")
    return %0 : tensor<2x3xui8>
  }
}
