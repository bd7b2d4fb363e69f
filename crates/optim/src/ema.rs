use ouro_ir::Tensor;

/// The official EMA: `shadow ← (1 − μ)·param + μ·shadow`, every step, no bias correction.
pub fn ema_update<'t>(shadow: Tensor<'t>, param: Tensor<'t>, rate: f64) -> Tensor<'t> {
    param * (1.0 - rate) + shadow * rate
}
