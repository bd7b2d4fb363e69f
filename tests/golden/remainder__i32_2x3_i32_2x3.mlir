module @remainder__i32_2x3_i32_2x3 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<2x3xi32>, %arg1: tensor<2x3xi32>) -> (tensor<2x3xi32>) {
    %0 = stablehlo.remainder %arg0, %arg1 : tensor<2x3xi32> loc("remainder")
    return %0 : tensor<2x3xi32>
  }
}
