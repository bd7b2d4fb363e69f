module @constant__i32_splat attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main() -> (tensor<3x2xi32>) {
    %0 = stablehlo.constant dense<7> : tensor<3x2xi32> loc("constant")
    return %0 : tensor<3x2xi32>
  }
}
