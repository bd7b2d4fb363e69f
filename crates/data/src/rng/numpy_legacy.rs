//! numpy's legacy global generator (`np.random.seed`, `randint`, `permutation`, `shuffle`,
//! `rand`, `choice`), bit for bit: MT19937 seeded by `init_genrand`, masked-rejection integers.
//! The official builders draw every augmentation from it.

use super::numpy_philox::mask_of;

const N: usize = 624;
const M: usize = 397;

/// `np.random.RandomState` after `seed(s)`.
#[derive(Clone, Debug)]
pub struct NumpyLegacy {
    key: Box<[u32; N]>,
    pos: usize,
}

impl NumpyLegacy {
    /// `np.random.seed(seed)` (seeds are 32-bit in numpy).
    pub fn new(seed: u32) -> NumpyLegacy {
        let mut key = Box::new([0u32; N]);
        let mut s = seed;
        for (pos, k) in key.iter_mut().enumerate() {
            *k = s;
            s = 1_812_433_253u32.wrapping_mul(s ^ (s >> 30)).wrapping_add(pos as u32 + 1);
        }
        NumpyLegacy { key, pos: N }
    }

    fn regenerate(&mut self) {
        for i in 0..N {
            let y = (self.key[i] & 0x8000_0000) | (self.key[(i + 1) % N] & 0x7FFF_FFFF);
            self.key[i] = self.key[(i + M) % N] ^ (y >> 1) ^ if y & 1 == 1 { 0x9908_B0DF } else { 0 };
        }
        self.pos = 0;
    }

    /// The next 32 tempered bits.
    pub fn next_u32(&mut self) -> u32 {
        if self.pos == N {
            self.regenerate();
        }
        let mut y = self.key[self.pos];
        self.pos += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9D2C_5680;
        y ^= (y << 15) & 0xEFC6_0000;
        y ^ (y >> 18)
    }

    fn interval(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        let mask = mask_of(max);
        loop {
            let v = if max <= u32::MAX as u64 {
                (self.next_u32() as u64) & mask
            } else {
                let hi = self.next_u32() as u64;
                ((hi << 32) | self.next_u32() as u64) & mask
            };
            if v <= max {
                return v;
            }
        }
    }

    /// `np.random.randint(0, n)`.
    pub fn randint(&mut self, n: u64) -> u64 {
        self.interval(n.saturating_sub(1))
    }

    /// `np.random.shuffle(values)`.
    pub fn shuffle<T>(&mut self, values: &mut [T]) {
        for i in (1..values.len()).rev() {
            let j = self.interval(i as u64) as usize;
            values.swap(i, j);
        }
    }

    /// `np.random.permutation(n)`.
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut v: Vec<usize> = (0..n).collect();
        self.shuffle(&mut v);
        v
    }

    /// `np.random.rand()`: 53 random bits in [0, 1).
    pub fn rand(&mut self) -> f64 {
        let a = (self.next_u32() >> 5) as f64;
        let b = (self.next_u32() >> 6) as f64;
        (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
    }

    /// `np.random.choice(n, k, replace=False)`.
    pub fn choice(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut p = self.permutation(n);
        p.truncate(k);
        p
    }
}
