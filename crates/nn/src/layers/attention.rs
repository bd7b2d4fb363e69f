use ouro_ir::{DType, DotDims, Tensor, composite};

use super::{apply_rope, linear};

/// Non-causal multi-head self-attention without a mask (the official `Attention` with
/// `num_key_value_heads = num_heads`): fused `qkv_proj: D → 3D`, heads split as
/// `[q heads | k heads | v heads]`, optional RoPE on q and k, softmax(q·kᵀ/√hd)·v in fp32
/// (as SDPA accumulates), `o_proj: D → D`.
#[track_caller]
pub fn attention<'t>(
    x: Tensor<'t>,
    qkv_weight: Tensor<'t>,
    o_weight: Tensor<'t>,
    num_heads: usize,
    rope: Option<(Tensor<'t>, Tensor<'t>)>,
) -> Tensor<'t> {
    let dtype = x.dtype();
    let shape = x.shape();
    let (b, t, d) = (shape[0], shape[1], shape[2]);
    let hd = d / num_heads;
    let qkv = linear(x, qkv_weight, None).reshape(&[b, t, 3 * num_heads, hd]);
    let mut q = qkv.slice_dim(2, 0, num_heads);
    let mut k = qkv.slice_dim(2, num_heads, 2 * num_heads);
    let v = qkv.slice_dim(2, 2 * num_heads, 3 * num_heads);
    if let Some((cos, sin)) = rope {
        q = apply_rope(q, cos, sin);
        k = apply_rope(k, cos, sin);
    }
    // scores[b, h, i, j] = Σ_d q[b, i, h, d] k[b, j, h, d]
    let scores = q.dot_general_to(
        k,
        DotDims { lhs_batch: vec![0, 2], rhs_batch: vec![0, 2], lhs_contract: vec![3], rhs_contract: vec![3] },
        DType::F32,
    ) * (1.0 / (hd as f64).sqrt());
    let probs = composite::softmax(scores, 3).cast(dtype);
    // out[b, h, i, d] = Σ_j probs[b, h, i, j] v[b, j, h, d]
    let out = probs.dot_general_to(
        v,
        DotDims { lhs_batch: vec![0, 1], rhs_batch: vec![0, 2], lhs_contract: vec![3], rhs_contract: vec![1] },
        DType::F32,
    );
    let merged = out.cast(dtype).transpose(&[0, 2, 1, 3]).reshape(&[b, t, d]);
    linear(merged, o_weight, None)
}
