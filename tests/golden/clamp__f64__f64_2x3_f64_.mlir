module @clamp__f64__f64_2x3_f64_ attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<f64>, %arg1: tensor<2x3xf64>, %arg2: tensor<f64>) -> (tensor<2x3xf64>) {
    %0 = "stablehlo.clamp"(%arg0, %arg1, %arg2) : (tensor<f64>, tensor<2x3xf64>, tensor<f64>) -> tensor<2x3xf64> loc("clamp")
    return %0 : tensor<2x3xf64>
  }
}
