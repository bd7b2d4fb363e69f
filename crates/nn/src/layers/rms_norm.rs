use ouro_ir::{DType, Tensor, composite};

/// Weightless RMSNorm over the last axis, computed in fp32 and cast back:
/// `x · rsqrt(mean(x²) + eps)`.
#[track_caller]
pub fn rms_norm(x: Tensor<'_>, eps: f64) -> Tensor<'_> {
    let dtype = x.dtype();
    let shape = x.shape();
    let last = shape.len() - 1;
    let h = x.cast(DType::F32);
    let variance = composite::keep_dims(composite::mean(h.square(), &[last]), &shape, &[last]);
    (h * (variance + eps).rsqrt()).cast(dtype)
}
