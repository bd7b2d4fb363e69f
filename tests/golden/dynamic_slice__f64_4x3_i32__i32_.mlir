module @dynamic_slice__f64_4x3_i32__i32_ attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<4x3xf64>, %arg1: tensor<i32>, %arg2: tensor<i32>) -> (tensor<2x2xf64>) {
    %0 = "stablehlo.dynamic_slice"(%arg0, %arg1, %arg2) {slice_sizes = array<i64: 2, 2>} : (tensor<4x3xf64>, tensor<i32>, tensor<i32>) -> tensor<2x2xf64> loc("dynamic_slice")
    return %0 : tensor<2x2xf64>
  }
}
