module @rng_bit_generator_threefry__u64_2 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<2xui64>) -> (tensor<2xui64>, tensor<4x8xui32>) {
    %0:2 = "stablehlo.rng_bit_generator"(%arg0) {rng_algorithm = #stablehlo<rng_algorithm THREE_FRY>} : (tensor<2xui64>) -> (tensor<2xui64>, tensor<4x8xui32>) loc("rng_bit_generator")
    return %0#0, %0#1 : tensor<2xui64>, tensor<4x8xui32>
  }
}
