//! The official checkpoint: the evaluated model's `state_dict` (EMA weights when EMA is on, the
//! live puzzle table and `H_init`/`L_init`), written as safetensors with the official names at
//! every evaluation. Optimizer state, carry and sampler position are not in it, as in the
//! official code; resumable sharded checkpoints are `ckpt`'s.

use std::path::Path;

use anyhow::{Context, Result, anyhow};
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

/// The safetensors dtype of an ouro dtype name (`f32`, `bf16`, ...).
fn safetensors_dtype(name: &str, dtype: &str) -> Result<safetensors::Dtype> {
    Ok(match dtype {
        "f32" => safetensors::Dtype::F32,
        "bf16" => safetensors::Dtype::BF16,
        "f16" => safetensors::Dtype::F16,
        "f64" => safetensors::Dtype::F64,
        other => anyhow::bail!("{name}: no safetensors dtype for {other}"),
    })
}

/// Writes `(official name, dtype name, shape, bytes)` tensors to `path` as safetensors, via a
/// temporary file renamed into place so a reader never sees half a file.
fn write_safetensors(path: &Path, tensors: &[(String, String, Vec<usize>, Vec<u8>)]) -> Result<()> {
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = tensors
        .iter()
        .map(|(n, d, s, b)| {
            Ok((n.clone(), safetensors::tensor::TensorView::new(safetensors_dtype(n, d)?, s.clone(), b)?))
        })
        .collect::<Result<_>>()?;
    let bytes = safetensors::serialize(views, None)?;
    let tmp = path.with_extension("safetensors.tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming {} into place", tmp.display()))?;
    Ok(())
}

/// Writes the weights to `path` with the official names.
pub fn save_weights(path: &Path, weights: &Named<ouro_ir::TensorType>, buffers: &[&Buffer]) -> Result<()> {
    let mut tensors = Vec::new();
    for ((name, ty), buffer) in weights.iter().zip(buffers) {
        let host = to_host(buffer)?;
        let official = official_name(name).ok_or_else(|| anyhow!("{name} holds no model tensor"))?;
        tensors.push((official.to_string(), ty.dtype.to_string(), ty.shape.clone(), host.to_bytes()));
    }
    write_safetensors(path, &tensors)
}

/// Exports a checkpoint's model as the official `state_dict` in safetensors: the EMA weights
/// when `ema` (the weights the official code evaluates and saves), else the live ones, plus the
/// puzzle table and the fixed initial states. Returns the number of tensors written.
pub fn export_checkpoint(step: &ouro_ckpt::Step, ema: bool, path: &Path) -> Result<usize> {
    let has_ema = step.manifest.tensors.iter().any(|t| t.name.starts_with("ema/"));
    if ema && !has_ema {
        anyhow::bail!("{} holds no EMA weights (the run had ema: false); export the live ones", step.url());
    }
    let skipped = if ema { "params/" } else { "ema/" };
    let mut tensors = Vec::new();
    for t in &step.manifest.tensors {
        if t.name.starts_with(skipped) {
            continue;
        }
        let Some(official) = official_name(&t.name) else { continue };
        tensors.push((official.to_string(), t.dtype.clone(), t.shape.clone(), step.read_all(&t.name)?));
    }
    write_safetensors(path, &tensors)?;
    Ok(tensors.len())
}
