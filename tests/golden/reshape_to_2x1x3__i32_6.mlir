module @reshape_to_2x1x3__i32_6 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<6xi32>) -> (tensor<2x1x3xi32>) {
    %0 = stablehlo.reshape %arg0 : (tensor<6xi32>) -> tensor<2x1x3xi32> loc("reshape")
    return %0 : tensor<2x1x3xi32>
  }
}
