module @constant__f32_2x3 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main() -> (tensor<2x3xf32>) {
    %0 = stablehlo.constant dense<[[1.0e0, -2.5e0, 1.0e-1], [3.0e-8, 1.0e30, -0.0e0]]> : tensor<2x3xf32> loc("constant")
    return %0 : tensor<2x3xf32>
  }
}
