module @slice_row__i32_4x5 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<4x5xi32>) -> (tensor<1x5xi32>) {
    %0 = "stablehlo.slice"(%arg0) {start_indices = array<i64: 2, 0>, limit_indices = array<i64: 3, 5>, strides = array<i64: 1, 1>} : (tensor<4x5xi32>) -> tensor<1x5xi32> loc("slice")
    return %0 : tensor<1x5xi32>
  }
}
