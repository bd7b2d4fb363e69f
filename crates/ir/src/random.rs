//! Counter-based random numbers: keys are `u32[2]` tensors, bits come from Threefry-2x32 (20
//! rounds) built from integer prims, so they are identical on every backend and in the
//! reference interpreter. Keys are split, never reused, as in JAX.

use crate::composite::{erf_host, erf_inv};
use crate::{DType, HostArray, Tensor, TensorType, Tracer};

const ROTATIONS: [[u32; 4]; 2] = [[13, 15, 26, 6], [17, 29, 16, 24]];
const PARITY: u32 = 0x1BD1_1BDA;

/// Threefry-2x32 of counter `(x0, x1)` under key `(k0, k1)`, on the host (the reference the
/// traced version is tested against).
pub fn threefry2x32_host(key: [u32; 2], counter: [u32; 2]) -> [u32; 2] {
    let ks = [key[0], key[1], key[0] ^ key[1] ^ PARITY];
    let (mut x0, mut x1) = (counter[0].wrapping_add(ks[0]), counter[1].wrapping_add(ks[1]));
    for i in 0..5 {
        for &r in &ROTATIONS[i % 2] {
            x0 = x0.wrapping_add(x1);
            x1 = x1.rotate_left(r) ^ x0;
        }
        x0 = x0.wrapping_add(ks[(i + 1) % 3]);
        x1 = x1.wrapping_add(ks[(i + 2) % 3]).wrapping_add(i as u32 + 1);
    }
    [x0, x1]
}

/// Threefry-2x32 of same-shape `u32` counters `x0`, `x1` under `key` (`u32[2]`).
#[track_caller]
pub fn threefry2x32<'t>(key: Tensor<'t>, x0: Tensor<'t>, x1: Tensor<'t>) -> (Tensor<'t>, Tensor<'t>) {
    let shape = x0.shape();
    let k = |i: usize| key.slice(&[i], &[i + 1], &[1]).reshape(&[]).broadcast_to(&shape);
    let (k0, k1) = (k(0), k(1));
    let k2 = k0.xor(k1).xor(PARITY as f64);
    let ks = [k0, k1, k2];
    let rotl = |v: Tensor<'t>, r: u32| v.shl(r as f64).or(v.shr((32 - r) as f64));
    let (mut a, mut b) = (x0 + ks[0], x1 + ks[1]);
    for i in 0..5 {
        for &r in &ROTATIONS[i % 2] {
            a = a + b;
            b = rotl(b, r).xor(a);
        }
        a = a + ks[(i + 1) % 3];
        b = b + ks[(i + 2) % 3] + (i + 1) as f64;
    }
    (a, b)
}

/// A key from a 64-bit seed (`[seed >> 32, seed & 0xffffffff]`).
#[track_caller]
pub fn key(tr: &Tracer, seed: u64) -> Tensor<'_> {
    tr.constant(HostArray::from_i64(DType::U32, &[2], &[(seed >> 32) as i64, (seed & 0xffff_ffff) as i64]))
}

/// `n` uniformly random u32 values from `key`: Threefry of counters `0..n` split in halves.
#[track_caller]
fn raw_bits<'t>(key: Tensor<'t>, n: usize) -> Tensor<'t> {
    let tr = key.tracer();
    let half = n.div_ceil(2).max(1);
    let counters = tr.iota(&TensorType::new(DType::U32, &[2 * half]), 0);
    let (y0, y1) = threefry2x32(key, counters.slice_dim(0, 0, half), counters.slice_dim(0, half, 2 * half));
    tr.concatenate(&[y0, y1], 0).slice_dim(0, 0, n)
}

/// `n` new keys from `key`, as `u32[n, 2]`.
#[track_caller]
pub fn split(key: Tensor<'_>, n: usize) -> Tensor<'_> {
    raw_bits(key, 2 * n).reshape(&[n, 2])
}

/// Key `i` of keys made by [`split`].
#[track_caller]
pub fn nth(keys: Tensor<'_>, i: usize) -> Tensor<'_> {
    keys.slice_dim(0, i, i + 1).reshape(&[2])
}

/// A key derived from `key` and a `u32` scalar (a step number, a device index).
#[track_caller]
pub fn fold_in<'t>(key: Tensor<'t>, data: Tensor<'t>) -> Tensor<'t> {
    let tr = key.tracer();
    let zero = tr.zeros(&TensorType::new(DType::U32, &[1]));
    let (y0, y1) = threefry2x32(key, zero, data.cast(DType::U32).reshape(&[1]));
    tr.concatenate(&[y0, y1], 0)
}

/// Random `u32` bits of `shape`.
#[track_caller]
pub fn bits<'t>(key: Tensor<'t>, shape: &[usize]) -> Tensor<'t> {
    raw_bits(key, shape.iter().product()).reshape(shape)
}

/// Uniform in `[lo, hi)` of `dtype` (float): 23 random mantissa bits (52 for f64).
#[track_caller]
pub fn uniform<'t>(key: Tensor<'t>, shape: &[usize], dtype: DType, lo: f64, hi: f64) -> Tensor<'t> {
    let unit = if dtype == DType::F64 {
        // Two draws make 52 mantissa bits of a double in [1, 2).
        let n: usize = shape.iter().product();
        let b = raw_bits(key, 2 * n);
        let hi_bits = b.slice_dim(0, 0, n).cast(DType::U64).shl(20.0);
        let lo_bits = b.slice_dim(0, n, 2 * n).cast(DType::U64).shr(12.0);
        let mantissa = hi_bits.or(lo_bits).and((1u64 << 52) as f64 - 1.0).or(0x3FF0_0000_0000_0000u64 as f64);
        (mantissa.bitcast(DType::F64) - 1.0).reshape(shape)
    } else {
        let mantissa = bits(key, shape).shr(9.0).or(0x3F80_0000u32 as f64);
        (mantissa.bitcast(DType::F32) - 1.0).cast(dtype)
    };
    // Rounding to a narrow dtype can reach hi; clamp to a value of the dtype just below it.
    let eps = match dtype {
        DType::F64 => f64::EPSILON,
        DType::F32 => f32::EPSILON as f64,
        DType::F16 => 2f64.powi(-10),
        _ => 2f64.powi(-7),
    };
    let below_hi = crate::array::round_float(dtype, hi - hi.abs().max(lo.abs()).max(f64::MIN_POSITIVE) * eps);
    (unit * (hi - lo) + lo).min(below_hi.max(lo))
}

/// Standard normal of `dtype` (Box-Muller, computed in f32 or f64).
#[track_caller]
pub fn normal<'t>(key: Tensor<'t>, shape: &[usize], dtype: DType) -> Tensor<'t> {
    let work = if dtype == DType::F64 { DType::F64 } else { DType::F32 };
    let keys = split(key, 2);
    // 1 - u is in (0, 1], so the logarithm is finite.
    let u1 = 1.0 - uniform(nth(keys, 0), shape, work, 0.0, 1.0);
    let u2 = uniform(nth(keys, 1), shape, work, 0.0, 1.0);
    ((-2.0 * u1.log()).sqrt() * (u2 * (2.0 * std::f64::consts::PI)).cos()).cast(dtype)
}

/// Normal truncated to `[lower, upper]` (in standard deviations), by the inverse CDF.
#[track_caller]
pub fn truncated_normal<'t>(key: Tensor<'t>, lower: f64, upper: f64, shape: &[usize], dtype: DType) -> Tensor<'t> {
    let work = if dtype == DType::F64 { DType::F64 } else { DType::F32 };
    let sqrt2 = std::f64::consts::SQRT_2;
    let (a, b) = (erf_host(lower / sqrt2), erf_host(upper / sqrt2));
    let u = uniform(key, shape, work, a, b);
    // erf_inv's approximation can step a hair outside the bounds at their edges.
    (erf_inv(u) * sqrt2).clamp(lower, upper).cast(dtype)
}

/// True with probability `p`.
#[track_caller]
pub fn bernoulli<'t>(key: Tensor<'t>, p: f64, shape: &[usize]) -> Tensor<'t> {
    uniform(key, shape, DType::F32, 0.0, 1.0).lt(p)
}

/// Integers uniform in `[lo, hi)` as i32 (modulo of 32 random bits: the bias is below
/// `(hi - lo) / 2^32`).
#[track_caller]
pub fn randint<'t>(key: Tensor<'t>, shape: &[usize], lo: i64, hi: i64) -> Tensor<'t> {
    let tr = key.tracer();
    let span = (hi - lo).max(1) as f64;
    let r = bits(key, shape).rem(tr.full(span, &TensorType::new(DType::U32, shape)));
    r.cast(DType::I32) + lo as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interp;

    #[test]
    fn threefry_matches_the_random123_known_answers() {
        assert_eq!(threefry2x32_host([0, 0], [0, 0]), [0x6b20_0159, 0x99ba_4efe]);
        assert_eq!(threefry2x32_host([u32::MAX, u32::MAX], [u32::MAX, u32::MAX]), [0x1cb9_96fc, 0xbb00_2be7]);
        assert_eq!(
            threefry2x32_host([0x1319_8a2e, 0x0370_7344], [0x243f_6a88, 0x85a3_08d3]),
            [0xc492_3a9c, 0x483d_f7a0]
        );
    }

    #[test]
    fn traced_threefry_equals_the_host_one() {
        let tr = Tracer::new("threefry");
        let key = tr.param("key", TensorType::new(DType::U32, &[2]));
        let x0 = tr.param("x0", TensorType::new(DType::U32, &[3]));
        let x1 = tr.param("x1", TensorType::new(DType::U32, &[3]));
        let (y0, y1) = threefry2x32(key, x0, x1);
        let f = tr.finish(&[y0, y1]).unwrap();
        let k = [0x1319_8a2e_i64, 0x0370_7344];
        let c0 = [0x243f_6a88_i64, 0, u32::MAX as i64];
        let c1 = [0x85a3_08d3_i64, 0, u32::MAX as i64];
        let out = interp::eval(
            &f,
            &[
                HostArray::from_i64(DType::U32, &[2], &k),
                HostArray::from_i64(DType::U32, &[3], &c0),
                HostArray::from_i64(DType::U32, &[3], &c1),
            ],
        )
        .unwrap();
        for j in 0..3 {
            let want = threefry2x32_host([k[0] as u32, k[1] as u32], [c0[j] as u32, c1[j] as u32]);
            assert_eq!([out[0].to_i64_vec()[j] as u32, out[1].to_i64_vec()[j] as u32], want);
        }
    }
}
