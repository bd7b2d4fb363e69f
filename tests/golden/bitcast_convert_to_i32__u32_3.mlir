module @bitcast_convert_to_i32__u32_3 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<3xui32>) -> (tensor<3xi32>) {
    %0 = stablehlo.bitcast_convert %arg0 : (tensor<3xui32>) -> tensor<3xi32> loc("bitcast_convert")
    return %0 : tensor<3xi32>
  }
}
