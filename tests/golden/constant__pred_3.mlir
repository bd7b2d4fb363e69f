module @constant__pred_3 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main() -> (tensor<3xi1>) {
    %0 = stablehlo.constant dense<[true, false, true]> : tensor<3xi1> loc("constant")
    return %0 : tensor<3xi1>
  }
}
