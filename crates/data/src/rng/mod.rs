//! Random number generators.
//!
//! * [`numpy_philox`] and [`numpy_legacy`] reproduce numpy's streams bit for bit, so the sampler
//!   draws the official trainer's batches and the builders the official builders' augmentations.
//! * [`SplitMix`] drives ouro's own generators (sudoku and maze puzzles), where no reference
//!   stream exists.

use serde::{Deserialize, Serialize};

/// SplitMix64: a small, fast, seedable generator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitMix {
    state: u64,
}

impl SplitMix {
    /// Seeded.
    pub fn new(seed: u64) -> SplitMix {
        SplitMix { state: seed }
    }

    /// 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (unbiased, by rejection); 0 when `n` is 0.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let zone = u64::MAX - u64::MAX % n;
        loop {
            let v = self.next_u64();
            if v < zone {
                return v % n;
            }
        }
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

pub mod numpy_legacy;
pub mod numpy_philox;

pub use numpy_legacy::NumpyLegacy;
pub use numpy_philox::NumpyPhilox;
