module @constant__u32_scalar attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main() -> (tensor<ui32>) {
    %0 = stablehlo.constant dense<4000000000> : tensor<ui32> loc("constant")
    return %0 : tensor<ui32>
  }
}
