module @reduce_max_d1__bf16_4x5 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<4x5xbf16>) -> (tensor<4xbf16>) {
    %1 = stablehlo.constant dense<0xFF80> : tensor<bf16> loc("reduce")
    %0 = stablehlo.reduce(%arg0 init: %1) applies stablehlo.maximum across dimensions = [1] : (tensor<4x5xbf16>, tensor<bf16>) -> tensor<4xbf16> loc("reduce")
    return %0 : tensor<4xbf16>
  }
}
