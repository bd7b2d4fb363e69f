module @iota__i32_3x4_d1 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main() -> (tensor<3x4xi32>) {
    %0 = stablehlo.iota dim = 1 : tensor<3x4xi32> loc("iota")
    return %0 : tensor<3x4xi32>
  }
}
