//! Composites: functions built from prims, differentiated through their prims.
//!
//! Reductions are over the given axes; results keep no size-1 dimensions unless the name says
//! so. Float results are computed in the operand's dtype; callers upcast first where precision
//! matters (ouro's norms and losses upcast to f32).

use crate::{DType, HostArray, Tensor, TensorType};

/// Re-inserts reduced `axes` as size-1 dimensions (`keepdims`).
#[track_caller]
pub fn keep_dims<'t>(reduced: Tensor<'t>, full_shape: &[usize], axes: &[usize]) -> Tensor<'t> {
    let shape: Vec<usize> =
        full_shape.iter().enumerate().map(|(d, &s)| if axes.contains(&d) { 1 } else { s }).collect();
    reduced.reshape(&shape)
}

/// Mean over `axes`.
#[track_caller]
pub fn mean<'t>(x: Tensor<'t>, axes: &[usize]) -> Tensor<'t> {
    let shape = x.shape();
    let n: usize = axes.iter().map(|&a| shape.get(a).copied().unwrap_or(1)).product();
    x.sum(axes) / n as f64
}

/// Population variance over `axes`.
#[track_caller]
pub fn var<'t>(x: Tensor<'t>, axes: &[usize]) -> Tensor<'t> {
    let shape = x.shape();
    let centered = x - keep_dims(mean(x, axes), &shape, axes);
    mean(centered.square(), axes)
}

/// `log Σ exp(x)` over `axes`, stable for large inputs (the max is subtracted first).
#[track_caller]
pub fn logsumexp<'t>(x: Tensor<'t>, axes: &[usize]) -> Tensor<'t> {
    let shape = x.shape();
    // The shift is a constant for differentiation: the result does not depend on it.
    let m = x.max_over(axes).stop_gradient();
    let shifted = x - keep_dims(m, &shape, axes);
    shifted.exp().sum(axes).log() + m
}

/// `softmax` along `axis`.
#[track_caller]
pub fn softmax<'t>(x: Tensor<'t>, axis: usize) -> Tensor<'t> {
    let shape = x.shape();
    let m = x.max_over(&[axis]).stop_gradient();
    let e = (x - keep_dims(m, &shape, &[axis])).exp();
    e / keep_dims(e.sum(&[axis]), &shape, &[axis])
}

/// `log softmax` along `axis`.
#[track_caller]
pub fn log_softmax<'t>(x: Tensor<'t>, axis: usize) -> Tensor<'t> {
    let shape = x.shape();
    x - keep_dims(logsumexp(x, &[axis]), &shape, &[axis])
}

/// The index of the first maximum along `axis`, as i32 (NaN counts as the maximum).
#[track_caller]
pub fn argmax<'t>(x: Tensor<'t>, axis: usize) -> Tensor<'t> {
    let shape = x.shape();
    let tr = x.tracer();
    let m = keep_dims(x.max_over(&[axis]), &shape, &[axis]);
    let is_max = x.eq(m).or(x.ne(x));
    let index = tr.iota(&TensorType::new(DType::I32, &shape), axis);
    let big = tr.full(shape.get(axis).copied().unwrap_or(0) as f64, &TensorType::new(DType::I32, &shape));
    is_max.select(index, big).min_over(&[axis])
}

/// `ids[...] -> [..., n]` with 1 at the id and 0 elsewhere (ids outside `0..n` give zeros).
#[track_caller]
pub fn one_hot<'t>(ids: Tensor<'t>, n: usize, dtype: DType) -> Tensor<'t> {
    let mut shape = ids.shape();
    let rank = shape.len();
    shape.push(n);
    let tr = ids.tracer();
    let classes = tr.iota(&TensorType::new(ids.dtype(), &shape), rank);
    let dims: Vec<usize> = (0..rank).collect();
    classes.eq(ids.broadcast_in_dim(&shape, &dims)).cast(dtype)
}

/// `x · sigmoid(x)`.
#[track_caller]
pub fn silu(x: Tensor<'_>) -> Tensor<'_> {
    x * x.sigmoid()
}

/// GELU with the tanh approximation (no erf).
#[track_caller]
pub fn gelu_tanh(x: Tensor<'_>) -> Tensor<'_> {
    let c = (2.0 / std::f64::consts::PI).sqrt();
    x * 0.5 * (1.0 + (c * (x + 0.044715 * x * x * x)).tanh())
}

/// `atan2(y, x)` from elementwise arithmetic, computed in the operands' dtype: the argument
/// reduced to `a = min(|y|, |x|) / max(|y|, |x|)` in [0, 1], `atan(a) = a · P(a²)` with `P` of
/// degree 9 (fitted to relative error: within 1.4 ulp of `atan` on [0, 1] in f32), then
/// unfolded by octant and quadrant. Within 2.2 ulp of `atan2` in f32 for finite operands
/// (CUDA's `atan2f` is specified at 2, glibc's measured 3 here); `atan2(0, 0)` is 0, and a zero
/// `y` gives +0 or +π whatever its sign. XLA:CPU lowers the prim to a scalar libm call per
/// element; this form vectorises.
#[track_caller]
pub fn atan2_polynomial<'t>(y: Tensor<'t>, x: Tensor<'t>) -> Tensor<'t> {
    const P: [f64; 10] = [
        1.0,
        -0.3333328366279602,
        0.1999826729297638,
        -0.1426195204257965,
        0.1094212755560875,
        -0.08377592265605927,
        0.05755677446722984,
        -0.03080919198691845,
        0.010729382745921612,
        -0.0017544698202982545,
    ];
    let (ay, ax) = (y.abs(), x.abs());
    let (lo, hi) = (ay.min(ax), ay.max(ax));
    let a = hi.eq(0.0).select(0.0, lo / hi);
    let s = a * a;
    let p = P[..9].iter().rev().fold(s.full_like(P[9]), |p, &c| p * s + c);
    let r = a * p;
    let r = ay.gt(ax).select(std::f64::consts::FRAC_PI_2 - r, r);
    let r = x.lt(0.0).select(std::f64::consts::PI - r, r);
    y.lt(0.0).select(r.neg(), r)
}

/// `erf⁻¹(x)` for x in (-1, 1): Giles' single-precision polynomial approximation (the one XLA
/// uses), computed in the operand's dtype.
#[track_caller]
pub fn erf_inv<'t>(x: Tensor<'t>) -> Tensor<'t> {
    const CENTRAL: [f64; 9] = [
        2.81022636e-08,
        3.43273939e-07,
        -3.5233877e-06,
        -4.39150654e-06,
        0.00021858087,
        -0.00125372503,
        -0.00417768164,
        0.246640727,
        1.50140941,
    ];
    const TAIL: [f64; 9] = [
        -0.000200214257,
        0.000100950558,
        0.00134934322,
        -0.00367342844,
        0.00573950773,
        -0.0076224613,
        0.00943887047,
        1.00167406,
        2.83297682,
    ];
    let w = -((1.0 - x) * (1.0 + x)).log();
    let horner = |coeffs: &[f64], w: Tensor<'t>| {
        let mut p = w.full_like(coeffs[0]);
        for &c in &coeffs[1..] {
            p = p * w + c;
        }
        p
    };
    let central = horner(&CENTRAL, w - 2.5);
    // The tail branch takes the square root of w only where it is used, so no NaN leaks
    // through the select's gradient.
    let is_central = w.lt(5.0);
    let w_tail = is_central.select(w.full_like(5.0), w);
    let tail = horner(&TAIL, w_tail.sqrt() - 3.0);
    is_central.select(central, tail) * x
}

/// `erf(x)` on the host (for constants such as truncation bounds): the Maclaurin series,
/// accurate to ~1e-15 for |x| <= 3, and ±1 beyond 6.
pub fn erf_host(x: f64) -> f64 {
    if x.abs() > 6.0 {
        return x.signum();
    }
    if x.abs() > 3.0 {
        // Continued fraction of erfc for the tail.
        let t = x.abs();
        let mut f = 0.0;
        for k in (1..60).rev() {
            f = k as f64 / 2.0 / (t + f);
        }
        let erfc = (-t * t).exp() / std::f64::consts::PI.sqrt() / (t + f);
        return x.signum() * (1.0 - erfc);
    }
    let mut term = x;
    let mut sum = x;
    for n in 1..200 {
        term *= -x * x / n as f64;
        let add = term / (2 * n + 1) as f64;
        sum += add;
        if add.abs() < 1e-17 * sum.abs() {
            break;
        }
    }
    sum * 2.0 / std::f64::consts::PI.sqrt()
}

/// A constant from host values of `ty` (row-major).
#[track_caller]
pub fn constant_from<'t>(tr: &'t crate::Tracer, ty: &TensorType, values: &[f64]) -> Tensor<'t> {
    tr.constant(HostArray::from_f64(ty.dtype, &ty.shape, values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atan2_polynomial_is_within_its_ulps_in_every_quadrant() {
        // Magnitudes from 1e-6 to 1e6 on both axes, all four sign combinations, axes and zero.
        let mags = [0.0, 1e-6, 3e-3, 0.1, 0.7, 1.0, 1.3, 9.0, 250.0, 1e6];
        let mut pairs = Vec::new();
        for &ym in &mags {
            for &xm in &mags {
                for (sy, sx) in [(1.0, 1.0), (-1.0, 1.0), (1.0, -1.0), (-1.0, -1.0)] {
                    pairs.push((sy * ym, sx * xm));
                }
            }
        }
        // Dense in the reduced argument, where the polynomial does the work.
        pairs.extend((0..=400).map(|i| (i as f64 / 400.0, 1.0)));
        let n = pairs.len();
        let tr = crate::Tracer::new("atan2");
        let ty = TensorType::new(DType::F32, &[n]);
        let (y, x) = (tr.param("y", ty.clone()), tr.param("x", ty));
        let func = tr.finish(&[atan2_polynomial(y, x)]).unwrap();
        let arg = |v: Vec<f64>| HostArray::from_f64(DType::F32, &[n], &v);
        let args = [arg(pairs.iter().map(|p| p.0).collect()), arg(pairs.iter().map(|p| p.1).collect())];
        let got = crate::interp::eval(&func, &args).unwrap()[0].to_f64_vec();
        for (i, &(y, x)) in pairs.iter().enumerate() {
            // The f32 operands' exact atan2, and one f32 ulp at it.
            let want = (y as f32 as f64).atan2(x as f32 as f64);
            let ulp = {
                let w = want.abs() as f32;
                (f32::from_bits(w.to_bits() + 1) - w) as f64
            };
            // A zero y keeps no sign, and atan2(0, ±0) is 0.
            let want = if y == 0.0 { if x < 0.0 { std::f64::consts::PI } else { 0.0 } } else { want };
            assert!(
                (got[i] - want).abs() <= 2.5 * ulp.max(f32::MIN_POSITIVE as f64),
                "atan2({y}, {x}) = {} want {want}",
                got[i]
            );
        }
    }

    #[test]
    fn host_erf_matches_known_values() {
        assert!((erf_host(0.5) - 0.520_499_877_813_046_5).abs() < 1e-14);
        assert!((erf_host(-2.0) + 0.995_322_265_018_952_7).abs() < 1e-14);
        assert!((erf_host(4.0) - 0.999_999_984_582_742_1).abs() < 1e-13);
        assert_eq!(erf_host(7.0), 1.0);
    }
}
