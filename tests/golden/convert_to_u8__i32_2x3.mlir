module @convert_to_u8__i32_2x3 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<2x3xi32>) -> (tensor<2x3xui8>) {
    %0 = stablehlo.convert %arg0 : (tensor<2x3xi32>) -> tensor<2x3xui8> loc("convert")
    return %0 : tensor<2x3xui8>
  }
}
