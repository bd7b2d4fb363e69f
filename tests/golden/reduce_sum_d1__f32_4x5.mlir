module @reduce_sum_d1__f32_4x5 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<4x5xf32>) -> (tensor<4xf32>) {
    %1 = stablehlo.constant dense<0.0e0> : tensor<f32> loc("reduce")
    %0 = stablehlo.reduce(%arg0 init: %1) applies stablehlo.add across dimensions = [1] : (tensor<4x5xf32>, tensor<f32>) -> tensor<4xf32> loc("reduce")
    return %0 : tensor<4xf32>
  }
}
