module @constant__f64_inf attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main() -> (tensor<2xf64>) {
    %0 = stablehlo.constant dense<[0x7FF0000000000000, 5.0e-1]> : tensor<2xf64> loc("constant")
    return %0 : tensor<2xf64>
  }
}
