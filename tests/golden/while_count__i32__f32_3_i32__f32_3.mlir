module @while_count__i32__f32_3_i32__f32_3 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<i32>, %arg1: tensor<3xf32>, %arg2: tensor<i32>, %arg3: tensor<3xf32>) -> (tensor<i32>, tensor<3xf32>) {
    %0:4 = stablehlo.while(%1 = %arg0, %2 = %arg1, %3 = %arg2, %4 = %arg3) : tensor<i32>, tensor<3xf32>, tensor<i32>, tensor<3xf32>
    cond {
      %5 = stablehlo.compare LT, %1, %3, SIGNED : (tensor<i32>, tensor<i32>) -> tensor<i1> loc("compare")
      stablehlo.return %5 : tensor<i1>
    } do {
      %6 = stablehlo.constant dense<1> : tensor<i32> loc("constant")
      %7 = stablehlo.add %1, %6 : tensor<i32> loc("add")
      %8 = stablehlo.convert %1 : (tensor<i32>) -> tensor<f32> loc("convert")
      %9 = stablehlo.broadcast_in_dim %8, dims = [] : (tensor<f32>) -> tensor<3xf32> loc("broadcast_in_dim")
      %10 = stablehlo.multiply %4, %9 : tensor<3xf32> loc("multiply")
      %11 = stablehlo.add %2, %10 : tensor<3xf32> loc("add")
      stablehlo.return %7, %11, %3, %4 : tensor<i32>, tensor<3xf32>, tensor<i32>, tensor<3xf32>
    } loc("while")
    return %0#0, %0#1 : tensor<i32>, tensor<3xf32>
  }
}
