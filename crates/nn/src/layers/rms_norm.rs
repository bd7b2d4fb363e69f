use ouro_ir::{DType, Tensor, composite};

/// Weightless RMSNorm over the last axis, computed in fp32 and cast back:
/// `x · rsqrt(mean(x²) + eps)`.
#[track_caller]
pub fn rms_norm(x: Tensor<'_>, eps: f64) -> Tensor<'_> {
    let last = x.rank() - 1;
    rms_norm_over(x, last, eps)
}

/// [`rms_norm`] over `axis` (the position-major `mlp_t` block normalises over positions, its
/// axis 0).
#[track_caller]
pub fn rms_norm_over(x: Tensor<'_>, axis: usize, eps: f64) -> Tensor<'_> {
    let dtype = x.dtype();
    let shape = x.shape();
    let h = x.cast(DType::F32);
    let variance = composite::keep_dims(composite::mean(h.square(), &[axis]), &shape, &[axis]);
    (h * (variance + eps).rsqrt()).cast(dtype)
}
