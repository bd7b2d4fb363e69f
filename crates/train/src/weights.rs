//! The official checkpoint: the evaluated model's `state_dict` (EMA weights when EMA is on, the
//! live puzzle table and `H_init`/`L_init`), written as safetensors with the official names at
//! every evaluation. Optimizer state, carry and sampler position are not in it, as in the
//! official code; resumable sharded checkpoints are `ckpt`'s.

use std::path::Path;

use ouro_nn::{ParamSpec, Role};
use ouro_pjrt::Buffer;
use ouro_runtime::to_host;

use crate::error::{Context, Error, Result};
use crate::state::{Constants, Key, TrainState};

/// The buffers of the eval step's weight arguments `specs` in `state` and `constants`.
pub fn eval_weights<'a, T>(
    specs: &[ParamSpec],
    ema: bool,
    state: &'a TrainState<T>,
    constants: &'a Constants<T>,
) -> Result<Vec<&'a T>> {
    let params = match (ema, &state.ema) {
        (true, Some(ema)) => ema,
        (true, None) => return Err(Error::Weights("the run keeps no EMA of its weights to evaluate".into())),
        (false, _) => &state.params,
    };
    specs
        .iter()
        .map(|s| {
            let found = match s.role {
                Role::Trainable => params.get(&s.name),
                Role::PuzzleTable => state.table.as_ref(),
                Role::Fixed => constants.fixed.get(&s.name),
            };
            found.ok_or_else(|| Error::Weights(format!("the state holds no model tensor {}", s.name)))
        })
        .collect()
}

/// The safetensors dtype of an ouro dtype name (`f32`, `bf16`, ...).
fn safetensors_dtype(name: &str, dtype: &str) -> Result<safetensors::Dtype> {
    Ok(match dtype {
        "f32" => safetensors::Dtype::F32,
        "bf16" => safetensors::Dtype::BF16,
        "f16" => safetensors::Dtype::F16,
        "f64" => safetensors::Dtype::F64,
        other => return Err(Error::Weights(format!("{name}: no safetensors dtype for {other}"))),
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

/// Writes the model tensors `specs` (their `buffers`) to `path` with the official names.
pub fn save_weights(path: &Path, specs: &[ParamSpec], buffers: &[&Buffer]) -> Result<()> {
    let mut tensors = Vec::new();
    for (spec, buffer) in specs.iter().zip(buffers) {
        let host = to_host(buffer)?;
        tensors.push((spec.name.clone(), spec.ty.dtype.to_string(), spec.ty.shape.clone(), host.to_bytes()));
    }
    write_safetensors(path, &tensors)
}

/// Exports a checkpoint's model as the official `state_dict` in safetensors: the EMA weights
/// when `ema` (the weights the official code evaluates and saves), else the live ones, plus the
/// puzzle table and the fixed initial states. Returns the number of tensors written.
pub fn export_checkpoint(step: &ouro_ckpt::Step, ema: bool, path: &Path) -> Result<usize> {
    let keys = step.manifest.tensors.iter().filter_map(|t| Some((Key::parse(&t.name)?, t)));
    let has_ema = keys.clone().any(|(key, _)| matches!(key, Key::Ema(_)));
    if ema && !has_ema {
        return Err(Error::Weights(format!(
            "{} holds no EMA weights (the run had ema: false); export the live ones",
            step.url()
        )));
    }
    let mut tensors = Vec::new();
    for (key, t) in keys {
        let official = match key {
            Key::Param(name) if !ema => name,
            Key::Ema(name) if ema => name,
            Key::Table | Key::Fixed(_) => key.official().unwrap_or_default(),
            _ => continue,
        };
        tensors.push((official.to_string(), t.dtype.clone(), t.shape.clone(), step.read_all(&t.name)?));
    }
    write_safetensors(path, &tensors)?;
    Ok(tensors.len())
}

/// The prefixes the official code's `state_dict` keys carry before the model's own names:
/// `torch.compile`'s wrapper, then the ACT loss head's `model`.
const OFFICIAL_PREFIXES: [&str; 2] = ["_orig_mod.", "model."];

/// One tensor of a weights file.
struct FileTensor {
    dtype: safetensors::Dtype,
    shape: Vec<usize>,
    /// Where its data lies in the file's bytes.
    range: std::ops::Range<usize>,
}

/// A `state_dict` in safetensors (the official code's converted, or `ouro ckpt export`'s), by
/// model name: the official prefixes are dropped. The file is held once; tensors are ranges.
pub struct OfficialWeights {
    path: std::path::PathBuf,
    bytes: Vec<u8>,
    tensors: std::collections::BTreeMap<String, FileTensor>,
}

impl OfficialWeights {
    /// Reads `path`.
    pub fn read(path: &Path) -> Result<OfficialWeights> {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let not_safetensors = || format!("{} is not a safetensors file", path.display());
        // Validates the header against the file (offsets inside it, no overlaps).
        safetensors::SafeTensors::deserialize(&bytes).with_context(not_safetensors)?;
        let (header, metadata) = safetensors::SafeTensors::read_metadata(&bytes).with_context(not_safetensors)?;
        let data_start = 8 + header;
        let mut tensors = std::collections::BTreeMap::new();
        for (key, info) in metadata.tensors() {
            let mut name = key.as_str();
            for prefix in OFFICIAL_PREFIXES {
                name = name.strip_prefix(prefix).unwrap_or(name);
            }
            let (start, end) = info.data_offsets;
            let tensor = FileTensor {
                dtype: info.dtype,
                shape: info.shape.clone(),
                range: data_start + start..data_start + end,
            };
            if tensors.insert(name.to_string(), tensor).is_some() {
                return Err(Error::Weights(format!(
                    "{}: two tensors are named {name} once the official prefixes are dropped",
                    path.display()
                )));
            }
        }
        Ok(OfficialWeights { path: path.to_path_buf(), bytes, tensors })
    }

    /// The bytes of `name` as a `dtype` (ouro's name) array of `shape`: a narrower float type
    /// (bf16, f16) is widened exactly to f32; anything else must match.
    pub fn get(&self, name: &str, dtype: &str, shape: &[usize]) -> Result<Vec<u8>> {
        let file = self.path.display();
        let t = self
            .tensors
            .get(name)
            .ok_or_else(|| Error::Weights(format!("{file} has no tensor {name} (nor with an official prefix)")))?;
        if t.shape != shape {
            return Err(Error::Weights(format!(
                "{file}: {name} is {:?} but this config's is {shape:?}: the file is of another model",
                t.shape
            )));
        }
        use safetensors::Dtype;
        let data = &self.bytes[t.range.clone()];
        let widen = |f: fn([u8; 2]) -> f32| -> Vec<u8> {
            data.chunks_exact(2).flat_map(|c| f([c[0], c[1]]).to_le_bytes()).collect()
        };
        Ok(match (t.dtype, dtype) {
            (Dtype::BF16, "f32") => widen(|b| half::bf16::from_le_bytes(b).to_f32()),
            (Dtype::F16, "f32") => widen(|b| half::f16::from_le_bytes(b).to_f32()),
            (d, want) if safetensors_dtype(name, want).is_ok_and(|w| w == d) => data.to_vec(),
            (d, want) => return Err(Error::Weights(format!("{file}: {name} is {d:?} but this config needs {want}"))),
        })
    }

    /// Names in the file that `used` does not contain.
    pub fn unused<'a>(&'a self, used: &[&str]) -> Vec<&'a str> {
        self.tensors.keys().map(String::as_str).filter(|n| !used.contains(n)).collect()
    }
}
