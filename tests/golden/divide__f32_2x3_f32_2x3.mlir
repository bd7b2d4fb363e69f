module @divide__f32_2x3_f32_2x3 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<2x3xf32>, %arg1: tensor<2x3xf32>) -> (tensor<2x3xf32>) {
    %0 = stablehlo.divide %arg0, %arg1 : tensor<2x3xf32> loc("divide")
    return %0 : tensor<2x3xf32>
  }
}
