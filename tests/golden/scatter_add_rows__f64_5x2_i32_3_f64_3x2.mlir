module @scatter_add_rows__f64_5x2_i32_3_f64_3x2 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<5x2xf64>, %arg1: tensor<3xi32>, %arg2: tensor<3x2xf64>) -> (tensor<5x2xf64>) {
    %0 = "stablehlo.scatter"(%arg0, %arg1, %arg2) ({
      ^bb0(%1: tensor<f64>, %2: tensor<f64>):
        %3 = stablehlo.add %1, %2 : tensor<f64>
        stablehlo.return %3 : tensor<f64>
    }) {indices_are_sorted = false, scatter_dimension_numbers = #stablehlo.scatter<update_window_dims = [1], inserted_window_dims = [0], scatter_dims_to_operand_dims = [0], index_vector_dim = 1>, unique_indices = false} : (tensor<5x2xf64>, tensor<3xi32>, tensor<3x2xf64>) -> tensor<5x2xf64> loc("scatter")
    return %0 : tensor<5x2xf64>
  }
}
