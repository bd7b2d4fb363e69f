module @not__u32_2x3 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<2x3xui32>) -> (tensor<2x3xui32>) {
    %0 = stablehlo.not %arg0 : tensor<2x3xui32> loc("not")
    return %0 : tensor<2x3xui32>
  }
}
