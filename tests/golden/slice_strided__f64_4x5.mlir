module @slice_strided__f64_4x5 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<4x5xf64>) -> (tensor<2x2xf64>) {
    %0 = "stablehlo.slice"(%arg0) {start_indices = array<i64: 0, 1>, limit_indices = array<i64: 4, 5>, strides = array<i64: 3, 2>} : (tensor<4x5xf64>) -> tensor<2x2xf64> loc("slice")
    return %0 : tensor<2x2xf64>
  }
}
