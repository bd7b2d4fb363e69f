module @reduce_sum_d0__i32_4x3 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<4x3xi32>) -> (tensor<3xi32>) {
    %1 = stablehlo.constant dense<0> : tensor<i32> loc("reduce")
    %0 = stablehlo.reduce(%arg0 init: %1) applies stablehlo.add across dimensions = [0] : (tensor<4x3xi32>, tensor<i32>) -> tensor<3xi32> loc("reduce")
    return %0 : tensor<3xi32>
  }
}
