module @sharding_constraint__f64_4x3 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<4x3xf64>) -> (tensor<4x3xf64>) {
    return %arg0 : tensor<4x3xf64>
  }
}
