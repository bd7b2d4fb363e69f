module @iota__u32_2x3x2_d0 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main() -> (tensor<2x3x2xui32>) {
    %0 = stablehlo.iota dim = 0 : tensor<2x3x2xui32> loc("iota")
    return %0 : tensor<2x3x2xui32>
  }
}
