use ouro_ir::{DotDims, Tensor};

/// `CastedLinear`: `x · Wᵀ (+ b)` with the fp32 weight `W: [out, in]` (and bias) cast to the
/// input's dtype at each use, so activations stay in the forward dtype.
#[track_caller]
pub fn linear<'t>(x: Tensor<'t>, weight: Tensor<'t>, bias: Option<Tensor<'t>>) -> Tensor<'t> {
    let dtype = x.dtype();
    let dims = DotDims { lhs_contract: vec![x.rank() - 1], rhs_contract: vec![1], ..DotDims::default() };
    let y = x.dot_general(weight.cast(dtype), dims);
    match bias {
        Some(b) => y + b.cast(dtype),
        None => y,
    }
}
