module @not__u8_2x3 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<2x3xui8>) -> (tensor<2x3xui8>) {
    %0 = stablehlo.not %arg0 : tensor<2x3xui8> loc("not")
    return %0 : tensor<2x3xui8>
  }
}
