module @transpose_021__bf16_2x3x4 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<2x3x4xbf16>) -> (tensor<2x4x3xbf16>) {
    %0 = stablehlo.transpose %arg0, dims = [0, 2, 1] : (tensor<2x3x4xbf16>) -> tensor<2x4x3xbf16> loc("transpose")
    return %0 : tensor<2x4x3xbf16>
  }
}
