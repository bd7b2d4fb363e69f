//! The official checkpoint: the evaluated model's `state_dict` (EMA weights when EMA is on, the
//! live puzzle table and `H_init`/`L_init`), written as safetensors with the official names at
//! every evaluation. Optimizer state, carry and sampler position are not in it, as in the
//! official code; resumable sharded checkpoints are `ckpt`'s.

use std::path::Path;

use anyhow::{Context, Result, anyhow};
use ouro_ir::DType;
use ouro_ir::tree::Named;
use ouro_pjrt::Buffer;
use ouro_runtime::to_host;

use crate::step::{StateLayout, official_name};

/// The buffers of the eval step's weight arguments (`params/…` read from `ema/…` when `ema`).
pub fn eval_weights<'a>(
    ema: bool,
    weights: &Named<ouro_ir::TensorType>,
    layout: &StateLayout,
    state: &'a [Buffer],
    constants: &'a [Buffer],
) -> Result<Vec<&'a Buffer>> {
    let find = |name: &str| -> Result<&'a Buffer> {
        let source = match name.strip_prefix("params/") {
            Some(rest) if ema => format!("ema/{rest}"),
            _ => name.to_string(),
        };
        if let Some(i) = layout.state.iter().position(|(n, _)| n == source) {
            return Ok(&state[i]);
        }
        layout
            .constants
            .iter()
            .position(|(n, _)| n == source)
            .map(|i| &constants[i])
            .ok_or_else(|| anyhow!("no buffer for eval weight {name}"))
    };
    weights.iter().map(|(n, _)| find(n)).collect()
}

/// Writes the weights to `path` (via a temporary file renamed into place, so a reader never
/// sees half a file).
pub fn save_weights(path: &Path, weights: &Named<ouro_ir::TensorType>, buffers: &[&Buffer]) -> Result<()> {
    let mut tensors = Vec::new();
    for ((name, ty), buffer) in weights.iter().zip(buffers) {
        let host = to_host(buffer)?;
        let dtype = match ty.dtype {
            DType::F32 => safetensors::Dtype::F32,
            DType::BF16 => safetensors::Dtype::BF16,
            DType::F16 => safetensors::Dtype::F16,
            DType::F64 => safetensors::Dtype::F64,
            other => anyhow::bail!("{name}: no safetensors dtype for {other}"),
        };
        let official = official_name(name).ok_or_else(|| anyhow!("{name} holds no model tensor"))?;
        tensors.push((official.to_string(), dtype, ty.shape.clone(), host.to_bytes()));
    }
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = tensors
        .iter()
        .map(|(n, d, s, b)| Ok((n.clone(), safetensors::tensor::TensorView::new(*d, s.clone(), b)?)))
        .collect::<Result<_, safetensors::SafeTensorError>>()?;
    let bytes = safetensors::serialize(views, None)?;
    let tmp = path.with_extension("safetensors.tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming {} into place", tmp.display()))?;
    Ok(())
}
