module @pad_edges__f64_2x3_f64_ attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<2x3xf64>, %arg1: tensor<f64>) -> (tensor<3x7xf64>) {
    %0 = "stablehlo.pad"(%arg0, %arg1) {edge_padding_high = array<i64: 0, 2>, edge_padding_low = array<i64: 1, 0>, interior_padding = array<i64: 0, 1>} : (tensor<2x3xf64>, tensor<f64>) -> tensor<3x7xf64> loc("pad")
    return %0 : tensor<3x7xf64>
  }
}
