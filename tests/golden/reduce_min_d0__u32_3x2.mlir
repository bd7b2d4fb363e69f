module @reduce_min_d0__u32_3x2 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<3x2xui32>) -> (tensor<2xui32>) {
    %1 = stablehlo.constant dense<4294967295> : tensor<ui32> loc("reduce")
    %0 = stablehlo.reduce(%arg0 init: %1) applies stablehlo.minimum across dimensions = [0] : (tensor<3x2xui32>, tensor<ui32>) -> tensor<2xui32> loc("reduce")
    return %0 : tensor<2xui32>
  }
}
