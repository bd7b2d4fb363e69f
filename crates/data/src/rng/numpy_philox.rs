//! `np.random.Generator(np.random.Philox(seed))`, bit for bit: SeedSequence seeding,
//! Philox4x64-10, and the `permutation` and `integers` draws the official sampler makes.

use serde::{Deserialize, Serialize};

const INIT_A: u32 = 0x43b0_d7e5;
const MULT_A: u32 = 0x931e_8875;
const INIT_B: u32 = 0x8b51_f9dd;
const MULT_B: u32 = 0x58f3_8ded;
const MIX_MULT_L: u32 = 0xca01_f9dd;
const MIX_MULT_R: u32 = 0x4973_f715;

/// numpy's `SeedSequence(seed).generate_state(4, uint32)`.
fn seed_sequence(seed: u128) -> [u32; 4] {
    let mut entropy = Vec::new();
    let mut s = seed;
    loop {
        entropy.push(s as u32);
        s >>= 32;
        if s == 0 {
            break;
        }
    }
    let mut hc = INIT_A;
    let mut hashmix = |v: u32| {
        let mut v = v ^ hc;
        hc = hc.wrapping_mul(MULT_A);
        v = v.wrapping_mul(hc);
        v ^ (v >> 16)
    };
    let mix = |x: u32, y: u32| {
        let r = MIX_MULT_L.wrapping_mul(x).wrapping_sub(MIX_MULT_R.wrapping_mul(y));
        r ^ (r >> 16)
    };
    let mut pool = [0u32; 4];
    for (i, p) in pool.iter_mut().enumerate() {
        *p = hashmix(entropy.get(i).copied().unwrap_or(0));
    }
    for src in 0..4 {
        for dst in 0..4 {
            if src != dst {
                let h = hashmix(pool[src]);
                pool[dst] = mix(pool[dst], h);
            }
        }
    }
    for &e in entropy.iter().skip(4) {
        for p in pool.iter_mut() {
            let h = hashmix(e);
            *p = mix(*p, h);
        }
    }
    let mut hc = INIT_B;
    let mut out = [0u32; 4];
    for (i, o) in out.iter_mut().enumerate() {
        let mut v = pool[i % 4] ^ hc;
        hc = hc.wrapping_mul(MULT_B);
        v = v.wrapping_mul(hc);
        *o = v ^ (v >> 16);
    }
    out
}

/// The Philox4x64-10 block function.
fn philox(counter: [u64; 4], key: [u64; 2]) -> [u64; 4] {
    const M0: u64 = 0xD2E7_470E_E14C_6C93;
    const M1: u64 = 0xCA5A_8263_9512_1157;
    let mut c = counter;
    let mut k = key;
    for round in 0..10 {
        if round > 0 {
            k[0] = k[0].wrapping_add(0x9E37_79B9_7F4A_7C15);
            k[1] = k[1].wrapping_add(0xBB67_AE85_84CA_A73B);
        }
        let p0 = M0 as u128 * c[0] as u128;
        let p1 = M1 as u128 * c[2] as u128;
        let (hi0, lo0, hi1, lo1) = ((p0 >> 64) as u64, p0 as u64, (p1 >> 64) as u64, p1 as u64);
        c = [hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0];
    }
    c
}

/// A numpy `Generator` on `Philox`. Its whole state is serialisable, so a sampler can resume
/// mid-stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumpyPhilox {
    key: [u64; 2],
    counter: [u64; 4],
    buffer: [u64; 4],
    buffer_pos: usize,
    has_uint32: bool,
    uinteger: u32,
}

impl NumpyPhilox {
    /// `np.random.Generator(np.random.Philox(seed=seed))`.
    pub fn new(seed: u128) -> NumpyPhilox {
        let w = seed_sequence(seed);
        let key = [w[0] as u64 | (w[1] as u64) << 32, w[2] as u64 | (w[3] as u64) << 32];
        NumpyPhilox { key, counter: [0; 4], buffer: [0; 4], buffer_pos: 4, has_uint32: false, uinteger: 0 }
    }

    fn next_u64(&mut self) -> u64 {
        if self.buffer_pos < 4 {
            self.buffer_pos += 1;
            return self.buffer[self.buffer_pos - 1];
        }
        for c in &mut self.counter {
            *c = c.wrapping_add(1);
            if *c != 0 {
                break;
            }
        }
        self.buffer = philox(self.counter, self.key);
        self.buffer_pos = 1;
        self.buffer[0]
    }

    fn next_u32(&mut self) -> u32 {
        if self.has_uint32 {
            self.has_uint32 = false;
            return self.uinteger;
        }
        let x = self.next_u64();
        self.uinteger = (x >> 32) as u32;
        self.has_uint32 = true;
        x as u32
    }

    /// Uniform in `[0, max]` by masked rejection (`random_interval`).
    fn interval(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        let mask = mask_of(max);
        loop {
            let v = if max <= u32::MAX as u64 { (self.next_u32() as u64) & mask } else { self.next_u64() & mask };
            if v <= max {
                return v;
            }
        }
    }

    /// `Generator.permutation(n)`.
    pub fn permutation(&mut self, n: usize) -> Vec<u64> {
        let mut v: Vec<u64> = (0..n as u64).collect();
        for i in (1..n).rev() {
            let j = self.interval(i as u64) as usize;
            v.swap(i, j);
        }
        v
    }

    /// `Generator.integers(low, high)` for a scalar int64 (Lemire's method).
    pub fn integers(&mut self, low: i64, high: i64) -> i64 {
        let rng = (high - 1).wrapping_sub(low) as u64;
        let off = low as u64;
        let v = if rng == 0 {
            0
        } else if rng <= u32::MAX as u64 {
            if rng == u32::MAX as u64 {
                self.next_u32() as u64
            } else {
                let e = rng + 1;
                let mut m = self.next_u32() as u64 * e;
                if (m & 0xFFFF_FFFF) < e {
                    let t = (0xFFFF_FFFF - rng) % e;
                    while (m & 0xFFFF_FFFF) < t {
                        m = self.next_u32() as u64 * e;
                    }
                }
                m >> 32
            }
        } else if rng == u64::MAX {
            self.next_u64()
        } else {
            let e = rng + 1;
            let mut m = self.next_u64() as u128 * e as u128;
            if (m as u64) < e {
                let t = (u64::MAX - rng) % e;
                while (m as u64) < t {
                    m = self.next_u64() as u128 * e as u128;
                }
            }
            (m >> 64) as u64
        };
        off.wrapping_add(v) as i64
    }
}

/// The smallest all-ones mask covering `m`.
pub(crate) fn mask_of(mut m: u64) -> u64 {
    m |= m >> 1;
    m |= m >> 2;
    m |= m >> 4;
    m |= m >> 8;
    m |= m >> 16;
    m |= m >> 32;
    m
}
