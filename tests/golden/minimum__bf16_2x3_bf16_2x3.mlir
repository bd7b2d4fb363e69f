module @minimum__bf16_2x3_bf16_2x3 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<2x3xbf16>, %arg1: tensor<2x3xbf16>) -> (tensor<2x3xbf16>) {
    %0 = stablehlo.minimum %arg0, %arg1 : tensor<2x3xbf16> loc("minimum")
    return %0 : tensor<2x3xbf16>
  }
}
