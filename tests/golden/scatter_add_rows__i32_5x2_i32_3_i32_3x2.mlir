module @scatter_add_rows__i32_5x2_i32_3_i32_3x2 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<5x2xi32>, %arg1: tensor<3xi32>, %arg2: tensor<3x2xi32>) -> (tensor<5x2xi32>) {
    %0 = "stablehlo.scatter"(%arg0, %arg1, %arg2) ({
      ^bb0(%1: tensor<i32>, %2: tensor<i32>):
        %3 = stablehlo.add %1, %2 : tensor<i32>
        stablehlo.return %3 : tensor<i32>
    }) {indices_are_sorted = false, scatter_dimension_numbers = #stablehlo.scatter<update_window_dims = [1], inserted_window_dims = [0], scatter_dims_to_operand_dims = [0], index_vector_dim = 1>, unique_indices = false} : (tensor<5x2xi32>, tensor<3xi32>, tensor<3x2xi32>) -> tensor<5x2xi32> loc("scatter")
    return %0 : tensor<5x2xi32>
  }
}
