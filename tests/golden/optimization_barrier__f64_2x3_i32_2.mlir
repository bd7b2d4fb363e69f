module @optimization_barrier__f64_2x3_i32_2 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<2x3xf64>, %arg1: tensor<2xi32>) -> (tensor<2x3xf64>, tensor<2xi32>) {
    %0:2 = stablehlo.optimization_barrier %arg0, %arg1 : tensor<2x3xf64>, tensor<2xi32> loc("optimization_barrier")
    return %0#0, %0#1 : tensor<2x3xf64>, tensor<2xi32>
  }
}
