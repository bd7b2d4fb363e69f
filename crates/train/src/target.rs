//! Accelerator targets by the names users rent them under (`v4-64`, `v5e-256`, `h100-8`),
//! mapped to what the plugin's compiler describes without the hardware: a libtpu topology
//! (`v4:2x4x4`, one device per chip) or a CUDA target description. Each device's figures for a
//! roofline are vendor figures (dense bf16 peak, memory bandwidth); the memory each device has
//! comes from the compiler's own topology.

use ouro_pjrt::{NamedValue, Platform};

use crate::error::{Error, Result};

/// A TPU generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Generation {
    /// TPU v4 (2 TensorCores per chip, one device per chip as "megacore").
    V4,
    /// TPU v5e ("v5 lite", one TensorCore per chip).
    V5e,
    /// TPU v5p (2 TensorCores per chip, megacore).
    V5p,
    /// TPU v6e, Trillium ("v6 lite").
    V6e,
}

/// A GPU model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gpu {
    /// NVIDIA H100 SXM, 80 GB.
    H100,
    /// NVIDIA H200 SXM, 141 GB.
    H200,
}

/// What a target's devices are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    /// TPU chips.
    Tpu(Generation),
    /// GPUs.
    Gpu(Gpu),
}

/// A device's public figures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Chip {
    /// The device kind PJRT reports (`TPU v4`, `TPU v5 lite`, `NVIDIA H100 80GB HBM3`).
    pub kind: &'static str,
    /// Dense bf16 matmul peak, FLOP/s.
    pub peak_flops: f64,
    /// HBM bandwidth, bytes/s.
    pub hbm_bandwidth: f64,
}

impl Generation {
    /// The generation's chip.
    pub fn chip(self) -> Chip {
        match self {
            Generation::V4 => Chip { kind: "TPU v4", peak_flops: 275e12, hbm_bandwidth: 1200e9 },
            Generation::V5e => Chip { kind: "TPU v5 lite", peak_flops: 197e12, hbm_bandwidth: 819e9 },
            Generation::V5p => Chip { kind: "TPU v5", peak_flops: 459e12, hbm_bandwidth: 2765e9 },
            Generation::V6e => Chip { kind: "TPU v6 lite", peak_flops: 918e12, hbm_bandwidth: 1640e9 },
        }
    }

    /// The prefix of user-facing names (`v4-64`) and of libtpu's topology names (`v4:2x4x4`).
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Generation::V4 => ("v4", "v4"),
            Generation::V5e => ("v5e", "v5e"),
            Generation::V5p => ("v5p", "v5"),
            Generation::V6e => ("v6e", "v6e"),
        }
    }

    /// Whether a chip has two TensorCores, which libtpu exposes as one device only when asked
    /// for the `megacore` chip configuration (as MaxText and JAX's Cloud TPU setup do).
    fn megacore(self) -> bool {
        matches!(self, Generation::V4 | Generation::V5p)
    }

    /// The number in the user-facing name per chip: v4 and v5p count TensorCores, v5e and
    /// v6e count chips.
    fn cores_per_chip(self) -> usize {
        if self.megacore() { 2 } else { 1 }
    }

    /// Chip counts and layouts of the slices of this generation.
    fn layouts(self) -> &'static [(usize, &'static str)] {
        if self.megacore() { &TORUS } else { &GRID }
    }
}

impl Gpu {
    fn name(self) -> &'static str {
        match self {
            Gpu::H100 => "h100",
            Gpu::H200 => "h200",
        }
    }

    /// The GPU's figures.
    pub fn chip(self) -> Chip {
        match self {
            Gpu::H100 => Chip { kind: "NVIDIA H100 80GB HBM3", peak_flops: 989e12, hbm_bandwidth: 3.35232e12 },
            Gpu::H200 => Chip { kind: "NVIDIA H200", peak_flops: 989e12, hbm_bandwidth: 4.8e12 },
        }
    }

    /// The GPU's memory in bytes, as CUDA reports it.
    pub fn memory_bytes(self) -> u64 {
        match self {
            Gpu::H100 => 84_929_347_584,
            Gpu::H200 => 150_754_820_096,
        }
    }

    /// XLA's description of the GPU (`stream_executor.GpuTargetConfigProto` in text form):
    /// what its compiler reads from a device it has, given for one it does not. The figures
    /// are the device's own (what CUDA's device query reports for an SXM part).
    pub fn target_config(self) -> String {
        let memory = self.memory_bytes();
        let bandwidth = self.chip().hbm_bandwidth as u64;
        format!(
            "gpu_device_info {{\n  threads_per_block_limit: 1024\n  threads_per_warp: 32\n  \
             shared_memory_per_block: 49152\n  shared_memory_per_core: 233472\n  threads_per_core_limit: 2048\n  \
             core_count: 132\n  fpus_per_core: 128\n  block_dim_limit_x: 2147483647\n  block_dim_limit_y: 65535\n  \
             block_dim_limit_z: 65535\n  memory_bandwidth: {bandwidth}\n  l2_cache_size: 52428800\n  \
             clock_rate_ghz: 1.98\n  device_memory_size: {memory}\n  shared_memory_per_block_optin: 232448\n  \
             cuda_compute_capability {{ major: 9 minor: 0 }}\n  registers_per_core_limit: 65536\n  \
             registers_per_block_limit: 65536\n}}\nruntime_version {{ major: 13 minor: 0 }}\nplatform_name: \"CUDA\"\n\
             dnn_version_info {{ major: 9 minor: 10 }}\ndevice_description_str: \"{}\"\n",
            self.chip().kind
        )
    }
}

const GENERATIONS: [Generation; 4] = [Generation::V4, Generation::V5e, Generation::V5p, Generation::V6e];
const GPUS: [Gpu; 2] = [Gpu::H100, Gpu::H200];
/// GPUs per host of the GPU targets (an HGX board).
const GPUS_PER_HOST: usize = 8;

/// Chip layouts of the 3-D torus slices (v4, v5p), by chip count.
const TORUS: [(usize, &str); 10] = [
    (4, "2x2x1"),
    (8, "2x2x2"),
    (16, "2x2x4"),
    (32, "2x4x4"),
    (64, "4x4x4"),
    (128, "4x4x8"),
    (256, "4x8x8"),
    (512, "8x8x8"),
    (1024, "8x8x16"),
    (2048, "8x16x16"),
];

/// Chip layouts of the 2-D slices (v5e, v6e), by chip count.
const GRID: [(usize, &str); 8] =
    [(1, "1x1"), (4, "2x2"), (8, "2x4"), (16, "4x4"), (32, "4x8"), (64, "8x8"), (128, "8x16"), (256, "16x16")];

/// Accelerators to compile for.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// The name it was given (`v4-64`, `h100-8`, or a topology such as `v4:2x2x1`).
    pub name: String,
    /// The devices.
    pub device: Device,
    /// The topology name handed to the plugin (libtpu's `v4:2x4x4`).
    pub topology: String,
    /// The plugin's topology options (`chip_config_name: megacore` where a TPU chip has two
    /// cores; a GPU's description and host layout).
    pub options: Vec<(String, NamedValue)>,
    /// Devices: TPU chips or GPUs.
    pub chips: usize,
}

impl Target {
    /// Parses a slice name (`v4-64`, `v5e-8`, `v5p-128`, `v6e-256`), a GPU target (`h100`,
    /// `h200-8`, `h100-16` for two hosts of 8) or a libtpu topology name (`v4:2x2x1`); an
    /// unknown name is refused listing the known ones.
    pub fn parse(name: &str) -> Result<Target> {
        let name = name.trim();
        if let Some((prefix, shape)) = name.split_once(':') {
            return Target::from_topology(name, prefix, shape);
        }
        let (prefix, count) = match name.split_once('-') {
            Some((p, c)) => (p.to_ascii_lowercase(), Some(c)),
            None => (name.to_ascii_lowercase(), None),
        };
        let known = || Target::known_names().join(", ");
        let count = match count.map(str::parse::<usize>) {
            None => None,
            Some(Ok(c)) if c > 0 => Some(c),
            Some(_) => {
                return Err(Error::Config(format!(
                    "unknown target {name:?}: the number after '-' must be a positive integer; known: {}",
                    known()
                )));
            }
        };
        if let Some(gpu) = GPUS.iter().copied().find(|g| g.name() == prefix) {
            return Target::gpus(name, gpu, count.unwrap_or(1));
        }
        let Some(generation) = GENERATIONS.iter().copied().find(|g| g.names().0 == prefix) else {
            return Err(Error::Config(format!(
                "unknown target {name:?}: known targets are {}, or a libtpu topology such as v4:2x2x1",
                known()
            )));
        };
        let Some(count) = count else {
            return Err(Error::Config(format!(
                "unknown target {name:?}: name the slice's size, as in {}",
                Target::names_of(generation).join(", ")
            )));
        };
        let cores = generation.cores_per_chip();
        match generation.layouts().iter().find(|(c, _)| c * cores == count) {
            Some(&(chips, shape)) => Ok(Target::tpu(name, generation, shape, chips)),
            None => Err(Error::Config(format!(
                "unknown target {name:?}: known {} slices are {}",
                generation.names().0,
                Target::names_of(generation).join(", ")
            ))),
        }
    }

    fn from_topology(name: &str, prefix: &str, shape: &str) -> Result<Target> {
        let Some(generation) = GENERATIONS.iter().copied().find(|g| g.names().1 == prefix) else {
            return Err(Error::Config(format!(
                "unknown topology {name:?}: its generation must be v4, v5e, v5 (v5p) or v6e"
            )));
        };
        let dims: Option<Vec<usize>> = shape.split('x').map(|d| d.parse().ok()).collect();
        let rank = if generation.megacore() { 3 } else { 2 };
        match dims {
            Some(d) if d.len() == rank && d.iter().all(|&x| x > 0) => {
                Ok(Target::tpu(name, generation, shape, d.iter().product()))
            }
            _ => Err(Error::Config(format!(
                "unknown topology {name:?}: {prefix} topologies are {rank} chip counts joined by 'x'"
            ))),
        }
    }

    fn tpu(name: &str, generation: Generation, shape: &str, chips: usize) -> Target {
        let options = if generation.megacore() {
            vec![("chip_config_name".to_string(), NamedValue::String("megacore".into()))]
        } else {
            Vec::new()
        };
        Target {
            name: name.to_string(),
            device: Device::Tpu(generation),
            topology: format!("{}:{shape}", generation.names().1),
            options,
            chips,
        }
    }

    fn gpus(name: &str, gpu: Gpu, count: usize) -> Result<Target> {
        if count > GPUS_PER_HOST && !count.is_multiple_of(GPUS_PER_HOST) {
            return Err(Error::Config(format!(
                "unknown target {name:?}: more than {GPUS_PER_HOST} GPUs come in hosts of {GPUS_PER_HOST} \
                 ({0}-16, {0}-32, ...)",
                gpu.name()
            )));
        }
        let (hosts, per_host) = if count > GPUS_PER_HOST { (count / GPUS_PER_HOST, GPUS_PER_HOST) } else { (1, count) };
        let options = vec![
            ("target_config".to_string(), NamedValue::String(gpu.target_config())),
            // Partitions x hosts per partition x devices per host.
            ("topology".to_string(), NamedValue::String(format!("1x{hosts}x{per_host}"))),
        ];
        Ok(Target {
            name: name.to_string(),
            device: Device::Gpu(gpu),
            topology: gpu.name().into(),
            options,
            chips: count,
        })
    }

    fn names_of(generation: Generation) -> Vec<String> {
        let cores = generation.cores_per_chip();
        generation.layouts().iter().map(|(c, _)| format!("{}-{}", generation.names().0, c * cores)).collect()
    }

    /// Every target name [`Target::parse`] knows (GPU counts beyond one host go by 8s).
    pub fn known_names() -> Vec<String> {
        let gpus = GPUS.iter().flat_map(|g| [g.name().to_string(), format!("{}-8", g.name())]);
        GENERATIONS.iter().flat_map(|&g| Target::names_of(g)).chain(gpus).collect()
    }

    /// The device's figures.
    pub fn chip(&self) -> Chip {
        match self.device {
            Device::Tpu(generation) => generation.chip(),
            Device::Gpu(gpu) => gpu.chip(),
        }
    }

    /// Each device's memory when the compiler's topology does not say (a GPU's description).
    pub fn device_memory(&self) -> Option<u64> {
        match self.device {
            Device::Tpu(_) => None,
            Device::Gpu(gpu) => Some(gpu.memory_bytes()),
        }
    }

    /// The plugin platform that compiles for it.
    pub fn platform(&self) -> Platform {
        match self.device {
            Device::Tpu(_) => Platform::Tpu,
            Device::Gpu(_) => Platform::Gpu,
        }
    }
}

/// The dense bf16 matmul peak of one device of PJRT `kind`, in FLOP/s, for the accelerators
/// ouro targets (vendor figures, no sparsity); `None` for CPUs and unknown devices.
pub fn peak_flops(kind: &str) -> Option<f64> {
    let k = kind.to_ascii_lowercase();
    let gpus = [("h200", 989e12), ("h100", 989e12), ("a100", 312e12), ("l40s", 362e12)];
    if let Some((_, peak)) = gpus.iter().find(|(name, _)| k.contains(name)) {
        return Some(*peak);
    }
    // TPU kinds are exact names: "TPU v5" (v5p) is a prefix of "TPU v5 lite" (v5e).
    GENERATIONS.iter().map(|g| g.chip()).find(|c| c.kind.eq_ignore_ascii_case(kind.trim())).map(|c| c.peak_flops)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_names_map_to_megacore_topologies() {
        let t = Target::parse("v4-64").unwrap();
        assert_eq!((t.topology.as_str(), t.chips, t.device), ("v4:2x4x4", 32, Device::Tpu(Generation::V4)));
        assert_eq!(t.options, vec![("chip_config_name".to_string(), NamedValue::String("megacore".into()))]);
        let t = Target::parse("v5e-256").unwrap();
        assert_eq!((t.topology.as_str(), t.chips), ("v5e:16x16", 256));
        assert!(t.options.is_empty());
        assert_eq!(Target::parse("v5p-8").unwrap().topology, "v5:2x2x1");
        assert_eq!(Target::parse("V6E-4").unwrap().topology, "v6e:2x2");
        assert_eq!(Target::parse("v4:2x2x1").unwrap().chips, 4);
        assert_eq!(Target::parse("v5e:2x4").unwrap().chips, 8);
        assert_eq!(Target::parse("v4-8").unwrap().platform(), Platform::Tpu);
    }

    #[test]
    fn gpu_targets_describe_the_gpu_and_its_hosts() {
        let t = Target::parse("h100-8").unwrap();
        assert_eq!((t.chips, t.device, t.platform()), (8, Device::Gpu(Gpu::H100), Platform::Gpu));
        let option = |t: &Target, n: &str| t.options.iter().find(|(k, _)| k == n).map(|(_, v)| v.to_string());
        assert_eq!(option(&t, "topology").as_deref(), Some("1x1x8"));
        assert!(option(&t, "target_config").unwrap().contains("device_description_str: \"NVIDIA H100 80GB HBM3\""));
        assert_eq!(option(&Target::parse("h200-32").unwrap(), "topology").as_deref(), Some("1x4x8"));
        assert_eq!(Target::parse("h200").unwrap().chips, 1);
    }

    #[test]
    fn unknown_targets_list_the_known_ones() {
        for bad in ["v4-63", "v7-8", "a100", "v4-x", "v4", "h100-12", "h100-0"] {
            let err = Target::parse(bad).unwrap_err().to_string();
            assert!(err.contains(bad), "{err}");
            assert!(err.contains("v4-64") || err.contains("h100-16") || err.contains("v4-8"), "{err}");
        }
        for bad in ["v5e:2x2x2", "v9:2x2"] {
            let err = Target::parse(bad).unwrap_err().to_string();
            assert!(err.contains(bad) && err.contains("topolog"), "{err}");
        }
    }

    #[test]
    fn peaks_follow_the_device_kind() {
        assert_eq!(peak_flops("TPU v5"), Some(459e12));
        assert_eq!(peak_flops("TPU v5 lite"), Some(197e12));
        assert_eq!(peak_flops("TPU v4"), Some(275e12));
        assert_eq!(peak_flops("NVIDIA H100 80GB HBM3"), Some(989e12));
        assert_eq!(peak_flops("cpu"), None);
    }
}
