module @bitcast_convert_to_f32__u32_4 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<4xui32>) -> (tensor<4xf32>) {
    %0 = stablehlo.bitcast_convert %arg0 : (tensor<4xui32>) -> tensor<4xf32> loc("bitcast_convert")
    return %0 : tensor<4xf32>
  }
}
