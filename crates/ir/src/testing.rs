//! Test cases each prim declares in its own file, and deterministic inputs for them.
//!
//! The shared test suites (gradient checks, golden StableHLO, interpreter-vs-plugin agreement)
//! run every case of [`crate::prims::all_cases`].

use crate::array::HostArray;
use crate::func::Func;
use crate::prim::Prim;
use crate::{DType, TensorType, TraceError, Tracer};

/// Where a case draws an input's values from.
#[derive(Clone, Debug, PartialEq)]
pub enum Domain {
    /// Standard normal (integers: -8..8).
    Normal,
    /// Uniform in (0.5, 2.5): safe for log, sqrt, division.
    Positive,
    /// |x| in (0.5, 2) with random sign: safe for division.
    NonZero,
    /// Uniform in (-0.9, 0.9).
    Unit,
    /// Integers uniform in `[lo, hi]`.
    Ints(i64, i64),
    /// Exactly these values (row-major).
    Values(Vec<f64>),
}

/// One application of a prim to inputs of given types.
#[derive(Clone, Debug)]
pub struct Case {
    /// `<prim>__<input types>`, unique among all cases.
    pub name: String,
    /// The prim with its parameters.
    pub prim: Prim,
    /// Input types and value domains.
    pub inputs: Vec<(TensorType, Domain)>,
    /// Whether to check the gradient (float64 cases of differentiable prims).
    pub grad: bool,
}

impl Case {
    /// A case; the name gets the input types appended.
    pub fn new(name: &str, prim: impl Into<Prim>, inputs: Vec<(TensorType, Domain)>, grad: bool) -> Case {
        let types: Vec<String> = inputs
            .iter()
            .map(|(t, _)| format!("{}_{}", t.dtype, t.shape.iter().map(usize::to_string).collect::<Vec<_>>().join("x")))
            .collect();
        let suffix = if types.is_empty() { String::new() } else { format!("__{}", types.join("_")) };
        Case { name: format!("{name}{suffix}"), prim: prim.into(), inputs, grad }
    }

    /// The case as a function of its inputs.
    pub fn func(&self) -> Result<Func, TraceError> {
        let tr = Tracer::new(&self.name);
        let params: Vec<_> =
            self.inputs.iter().enumerate().map(|(i, (ty, _))| tr.param(&format!("x{i}"), ty.clone())).collect();
        let outputs = tr.emit(self.prim.clone(), &params);
        tr.finish(&outputs)
    }

    /// Deterministic inputs for `seed`.
    pub fn sample_inputs(&self, seed: u64) -> Vec<HostArray> {
        let mut rng = Rng::new(seed ^ fnv(&self.name));
        self.inputs.iter().map(|(ty, domain)| sample(ty, domain, &mut rng)).collect()
    }
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
}

/// A small deterministic generator (splitmix64) for test inputs.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// Seeded.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u = self.uniform().max(1e-300);
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// Values of `ty` from `domain`.
pub fn sample(ty: &TensorType, domain: &Domain, rng: &mut Rng) -> HostArray {
    let n = ty.num_elements();
    let values: Vec<f64> = match domain {
        Domain::Values(v) => v.clone(),
        Domain::Ints(lo, hi) => (0..n).map(|_| (*lo + (rng.next_u64() % (hi - lo + 1) as u64) as i64) as f64).collect(),
        Domain::Normal if !ty.dtype.is_float() => {
            if ty.dtype == DType::Pred {
                (0..n).map(|_| (rng.next_u64() & 1) as f64).collect()
            } else if ty.dtype.is_unsigned() {
                (0..n).map(|_| (rng.next_u64() % 17) as f64).collect()
            } else {
                (0..n).map(|_| (rng.next_u64() % 17) as f64 - 8.0).collect()
            }
        }
        Domain::Normal => (0..n).map(|_| rng.normal()).collect(),
        Domain::Positive => (0..n).map(|_| 0.5 + 2.0 * rng.uniform()).collect(),
        Domain::NonZero => {
            (0..n).map(|_| (0.5 + 1.5 * rng.uniform()) * if rng.next_u64() & 1 == 0 { 1.0 } else { -1.0 }).collect()
        }
        Domain::Unit => (0..n).map(|_| 1.8 * rng.uniform() - 0.9).collect(),
    };
    HostArray::from_f64(ty.dtype, &ty.shape, &values)
}
