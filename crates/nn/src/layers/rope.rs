use ouro_ir::{DType, HostArray, Tensor, Tracer};

/// The rotary tables of the official `RotaryEmbedding`: `cos`/`sin` of `[T, hd]`, fp32,
/// `inv_freq_i = θ^(−2i/hd)`, `emb = concat(freqs, freqs)`.
pub struct Rope {
    /// `[T, hd]` cosines.
    pub cos: HostArray,
    /// `[T, hd]` sines.
    pub sin: HostArray,
}

impl Rope {
    /// Tables for `positions` positions and head width `dim`, computed in f32 like PyTorch:
    /// every f32 operation as it does, except that `pow`, `cos` and `sin` are taken in f64 and
    /// rounded. The f32 ones of the C library differ by an ulp between its versions; these give
    /// the same tables on every machine (the program's constants, and its goldens, with them).
    pub fn new(dim: usize, positions: usize, base: f64) -> Rope {
        let half = dim / 2;
        let round = |x: f64| x as f32;
        let inv_freq: Vec<f32> = (0..half)
            .map(|i| 1.0f32 / round(f64::from(base as f32).powf(f64::from((2 * i) as f32 / dim as f32))))
            .collect();
        let (mut cos, mut sin) = (Vec::with_capacity(positions * dim), Vec::with_capacity(positions * dim));
        for t in 0..positions {
            for j in 0..dim {
                let angle = f64::from(t as f32 * inv_freq[j % half]);
                cos.push(round(angle.cos()));
                sin.push(round(angle.sin()));
            }
        }
        Rope { cos: HostArray::from_f32(&[positions, dim], &cos), sin: HostArray::from_f32(&[positions, dim], &sin) }
    }

    /// The tables as constants of `tr`.
    pub fn constants<'t>(&self, tr: &'t Tracer) -> (Tensor<'t>, Tensor<'t>) {
        (tr.constant(self.cos.clone()), tr.constant(self.sin.clone()))
    }
}

/// `x·cos + rotate_half(x)·sin` on `x: [B, T, H, hd]`, in fp32 and cast back;
/// `rotate_half([x1, x2]) = [−x2, x1]`.
#[track_caller]
pub fn apply_rope<'t>(x: Tensor<'t>, cos: Tensor<'t>, sin: Tensor<'t>) -> Tensor<'t> {
    let dtype = x.dtype();
    let shape = x.shape();
    let (t, hd) = (shape[1], shape[3]);
    let h = x.cast(DType::F32);
    let x1 = h.slice_dim(3, 0, hd / 2);
    let x2 = h.slice_dim(3, hd / 2, hd);
    let rotated = x.tracer().concatenate(&[x2.neg(), x1], 3);
    let spread = |table: Tensor<'t>| table.slice_dim(0, 0, t).broadcast_in_dim(&shape, &[1, 3]);
    (h * spread(cos) + rotated * spread(sin)).cast(dtype)
}
