module @concatenate_d1__f64_2x3_f64_2x1 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<2x3xf64>, %arg1: tensor<2x1xf64>) -> (tensor<2x4xf64>) {
    %0 = "stablehlo.concatenate"(%arg0, %arg1) {dimension = 1 : i64} : (tensor<2x3xf64>, tensor<2x1xf64>) -> tensor<2x4xf64> loc("concatenate")
    return %0 : tensor<2x4xf64>
  }
}
