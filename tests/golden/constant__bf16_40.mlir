module @constant__bf16_40 attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main() -> (tensor<40xbf16>) {
    %0 = stablehlo.constant dense<"0x40C028C011C0F2BFC3BF93BF48BFD2BE24BDA93E333F893FB83FE83F0C4023403B4053406A4081408D409940A440B040BC40C840D440E040EC40F740024108410D41134119411F4125412B4131413741"> : tensor<40xbf16> loc("constant")
    return %0 : tensor<40xbf16>
  }
}
