//! What a TRM holds in memory, from its config and the data's shape alone, before anything is
//! built: counted in f64, so an absurd width gives an estimate to refuse rather than an
//! overflow or an allocation the kernel ends with a kill.

use crate::config::{DataDims, PosEncoding, TrmConfig};
use crate::params::{Role, param_specs};

/// The largest element count of one tensor: offsets into it must stay exact in f64 and fit the
/// signed 64-bit indices of StableHLO.
pub const MAX_TENSOR_ELEMENTS: f64 = (1u64 << 53) as f64;

/// Sizes of a TRM's tensors.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Footprint {
    /// Elements of the dense trainable parameters.
    pub trainable: f64,
    /// Elements of the puzzle-embedding table.
    pub table: f64,
    /// Elements of the fixed buffers (`H_init`, `L_init`).
    pub fixed: f64,
    /// Elements of the largest single tensor.
    pub largest_tensor: f64,
    /// Bytes of the rotary tables (cos and sin, f32) computed on the host.
    pub host_tables: f64,
}

impl Footprint {
    /// The footprint of a TRM of `cfg` for data of shape `dims`.
    pub fn of(cfg: &TrmConfig, dims: &DataDims) -> Footprint {
        let mut f = Footprint { trainable: 0.0, table: 0.0, fixed: 0.0, largest_tensor: 0.0, host_tables: 0.0 };
        for spec in param_specs(cfg, dims) {
            let elements: f64 = spec.ty.shape.iter().map(|&d| d as f64).product();
            f.largest_tensor = f.largest_tensor.max(elements);
            match spec.role {
                Role::Trainable => f.trainable += elements,
                Role::PuzzleTable => f.table += elements,
                Role::Fixed => f.fixed += elements,
            }
        }
        if !cfg.mlp_t && cfg.pos_encodings == PosEncoding::Rope {
            let positions = (dims.seq_len + cfg.puzzle_emb_len()) as f64;
            f.host_tables = 2.0 * positions * cfg.head_dim() as f64 * 4.0;
        }
        f
    }

    /// Host bytes the model needs while its programs are built: the rotary tables, their copy
    /// as constants of the traced program and their text in the lowered one (two characters a
    /// byte).
    pub fn host_bytes(&self) -> f64 {
        4.0 * self.host_tables
    }

    /// Bytes of the training state every device holds, at the least: f32 weights, with two
    /// optimizer moments and an EMA copy of each split over `optimizer_shards` devices (1:
    /// replicated), the puzzle table, the buffers and the rotary tables (activations and the
    /// carry come on top).
    pub fn min_state_bytes(&self, optimizer_shards: usize) -> f64 {
        let per_weight = 1.0 + 3.0 / optimizer_shards.max(1) as f64;
        4.0 * (per_weight * self.trainable + self.table + self.fixed) + self.host_tables
    }
}

/// Bytes of memory this machine can still give (`MemAvailable` of `/proc/meminfo`), if known.
pub fn host_memory_available() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: f64 =
        text.lines().find_map(|l| l.strip_prefix("MemAvailable:"))?.trim().strip_suffix("kB")?.trim().parse().ok()?;
    Some(kib * 1024.0)
}

/// `bytes` for a message: GiB, or TiB past a thousand of them.
pub fn gib(bytes: f64) -> String {
    let g = bytes / (1u64 << 30) as f64;
    if g >= 1000.0 { format!("{:.1} TiB", g / 1024.0) } else { format!("{g:.2} GiB") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::count;

    #[test]
    fn the_footprint_counts_what_the_specs_hold_and_never_overflows() {
        let dims = DataDims { batch_size: 768, seq_len: 81, vocab_size: 11, num_puzzle_identifiers: 1 };
        let cfg = TrmConfig::default();
        let f = Footprint::of(&cfg, &dims);
        assert_eq!(f.trainable, count(&param_specs(&cfg, &dims), Role::Trainable) as f64);
        let head = cfg.head_dim() as f64;
        assert_eq!(f.host_tables, 2.0 * (81 + cfg.puzzle_emb_len()) as f64 * head * 4.0);
        // Ten billion wide: ~10^21 elements, an estimate rather than a wrapped product.
        let wide = TrmConfig { hidden_size: 10_000_000_000, ..cfg };
        let f = Footprint::of(&wide, &dims);
        assert!(f.largest_tensor > MAX_TENSOR_ELEMENTS && f.min_state_bytes(1) > 1e21, "{f:?}");
    }
}
