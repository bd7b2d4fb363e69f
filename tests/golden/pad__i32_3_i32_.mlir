module @pad__i32_3_i32_ attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<3xi32>, %arg1: tensor<i32>) -> (tensor<6xi32>) {
    %0 = "stablehlo.pad"(%arg0, %arg1) {edge_padding_high = array<i64: 1>, edge_padding_low = array<i64: 2>, interior_padding = array<i64: 0>} : (tensor<3xi32>, tensor<i32>) -> tensor<6xi32> loc("pad")
    return %0 : tensor<6xi32>
  }
}
