module @reduce_and_d1__pred_3x2 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<3x2xi1>) -> (tensor<3xi1>) {
    %1 = stablehlo.constant dense<true> : tensor<i1> loc("reduce")
    %0 = stablehlo.reduce(%arg0 init: %1) applies stablehlo.and across dimensions = [1] : (tensor<3x2xi1>, tensor<i1>) -> tensor<3xi1> loc("reduce")
    return %0 : tensor<3xi1>
  }
}
