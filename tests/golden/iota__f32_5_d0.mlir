module @iota__f32_5_d0 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main() -> (tensor<5xf32>) {
    %0 = stablehlo.iota dim = 0 : tensor<5xf32> loc("iota")
    return %0 : tensor<5xf32>
  }
}
