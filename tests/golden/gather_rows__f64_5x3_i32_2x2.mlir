module @gather_rows__f64_5x3_i32_2x2 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<5x3xf64>, %arg1: tensor<2x2xi32>) -> (tensor<2x2x3xf64>) {
    %0 = "stablehlo.gather"(%arg0, %arg1) {dimension_numbers = #stablehlo.gather<offset_dims = [2], collapsed_slice_dims = [0], start_index_map = [0], index_vector_dim = 2>, indices_are_sorted = false, slice_sizes = array<i64: 1, 3>} : (tensor<5x3xf64>, tensor<2x2xi32>) -> tensor<2x2x3xf64> loc("gather")
    return %0 : tensor<2x2x3xf64>
  }
}
