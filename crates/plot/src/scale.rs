//! Axis ranges and ticks: data extents with margins, "nice" steps (1, 2 or 5 × 10^k) and
//! log10 axes. Log axes work in exponent space: their range and positions are log10 values.

use crate::format;

/// Largest magnitude taken from the data: beyond it the span of an axis could overflow.
const LIMIT: f64 = 1e300;

/// Most ticks an axis will list, whatever it is asked for (guards against degenerate steps).
const MAX_TICKS: f64 = 1000.0;

/// A labelled tick.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Tick {
    pub value: f64,
    pub label: String,
}

/// A linear or log10 axis over a range fixed at construction.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Axis {
    lo: f64,
    hi: f64,
    log: bool,
    pub ticks: Vec<Tick>,
}

/// Whether `v` can be placed on an axis: finite, and positive on a log axis.
pub(crate) fn plottable(v: f64, log: bool) -> bool {
    v.is_finite() && (!log || v > 0.0)
}

/// `v` in axis space: clamped to the data limit, and log10 on log axes.
fn axis_space(v: f64, log: bool) -> f64 {
    let v = v.clamp(-LIMIT, LIMIT);
    if log { v.log10() } else { v }
}

/// Smallest and largest plottable value, in axis space; `None` when there is none.
pub(crate) fn extent(values: impl IntoIterator<Item = f64>, log: bool) -> Option<(f64, f64)> {
    values.into_iter().filter(|&v| plottable(v, log)).map(|v| axis_space(v, log)).fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((v.min(lo), v.max(hi))),
    })
}

/// Widens an axis-space range: a degenerate one (a single value) to a sensible span around
/// it, then by the shares `below` and `above` of its span so marks clear the frame.
pub(crate) fn pad((lo, hi): (f64, f64), log: bool, below: f64, above: f64) -> (f64, f64) {
    let (lo, hi) = if hi - lo <= lo.abs().max(hi.abs()) * 1e-12 {
        let mid = lo / 2.0 + hi / 2.0;
        let half = if log {
            0.5
        } else if mid == 0.0 {
            1.0
        } else {
            mid.abs() * 0.1
        };
        (mid - half, mid + half)
    } else {
        (lo, hi)
    };
    let span = hi - lo;
    (lo - span * below, hi + span * above)
}

/// The nice step (1, 2 or 5 × 10^k) that cuts `span` into at most `target` intervals.
pub(crate) fn nice_step(span: f64, target: usize) -> f64 {
    let raw = span / target.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let residual = raw / magnitude;
    // The slack absorbs rounding in `span` (0.55 - 0.45 is a hair above 0.1).
    let factor = if residual <= 1.0 + 1e-9 {
        1.0
    } else if residual <= 2.0 + 1e-9 {
        2.0
    } else if residual <= 5.0 + 1e-9 {
        5.0
    } else {
        10.0
    };
    factor * magnitude
}

/// The multiples of a nice step inside `[lo, hi]`, and that step; just the two ends when
/// the range is too degenerate for a step.
pub(crate) fn linear_ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, Option<f64>) {
    let step = nice_step(hi - lo, target);
    let first = (lo / step - 1e-9).ceil();
    let last = (hi / step + 1e-9).floor();
    if !(step.is_finite() && step > 0.0 && first <= last && last - first < MAX_TICKS) {
        return (vec![lo, hi], None);
    }
    let values = (0..=(last - first) as usize)
        .map(|i| {
            let v = (first + i as f64) * step;
            // Sums of binary fractions miss zero by a hair; a tick there reads "0".
            if v.abs() < step * 1e-9 { 0.0 } else { v }
        })
        .collect();
    (values, Some(step))
}

/// Tick values for a log axis over exponents `[lo, hi]`: 1, 2 and 5 × 10^k when at most
/// `target` of them fall in range, else powers of ten (every n-th when there are many), else
/// (within about a decade) 1, 2 and 5 × 10^k anyway, else linear ticks. The step is `Some`
/// only for linear ticks.
pub(crate) fn log_ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, Option<f64>) {
    let fine = one_two_five(lo, hi);
    if (3..=target).contains(&fine.len()) {
        return (fine, None);
    }
    let (first, last) = (lo.ceil(), hi.floor());
    let decades = last - first + 1.0;
    if (2.0..MAX_TICKS).contains(&decades) {
        let stride = (decades / target.max(2) as f64).ceil().max(1.0) as usize;
        let exponents: Vec<i32> = (first as i32..=last as i32).collect();
        // Prefer multiples of the stride (1, 1e3, 1e6), falling back to every stride-th.
        let aligned: Vec<i32> = exponents.iter().copied().filter(|k| k.rem_euclid(stride as i32) == 0).collect();
        let chosen = if aligned.len() >= 2 { aligned } else { exponents.into_iter().step_by(stride).collect() };
        return (chosen.into_iter().map(|k| 10f64.powi(k)).collect(), None);
    }
    if fine.len() >= 3 {
        return (fine, None);
    }
    // Linear ticks crowd toward the top of a log axis, so ask for fewer.
    let (values, step) = linear_ticks(10f64.powf(lo), 10f64.powf(hi), target.min(5));
    (values.into_iter().filter(|&v| v > 0.0).collect(), step)
}

/// The values 1, 2 and 5 × 10^k whose exponents lie in `[lo, hi]`; none for a huge range.
fn one_two_five(lo: f64, hi: f64) -> Vec<f64> {
    let span = hi - lo;
    if span.is_nan() || span >= 30.0 {
        return Vec::new();
    }
    let mut values = Vec::new();
    for k in lo.floor() as i32..=hi.ceil() as i32 {
        for m in [1.0, 2.0, 5.0] {
            let v = m * 10f64.powi(k);
            let e = v.log10();
            if e >= lo - 1e-9 && e <= hi + 1e-9 {
                values.push(v);
            }
        }
    }
    values
}

impl Axis {
    /// An axis over `[lo, hi]` in axis space (exponents when `log`), with at most about
    /// `target` ticks.
    pub(crate) fn new((lo, hi): (f64, f64), log: bool, target: usize) -> Self {
        let (values, step) = if log { log_ticks(lo, hi, target) } else { linear_ticks(lo, hi, target) };
        let labels = format::ticks(&values, step);
        let ticks = values.into_iter().zip(labels).map(|(value, label)| Tick { value, label }).collect();
        Axis { lo, hi, log, ticks }
    }

    /// Where `v` falls along the axis, 0 at the low end and 1 at the high end; `None` when
    /// it cannot be placed (not finite, or not positive on a log axis).
    pub(crate) fn fraction(&self, v: f64) -> Option<f64> {
        if !plottable(v, self.log) {
            return None;
        }
        let f = (axis_space(v, self.log) - self.lo) / (self.hi - self.lo);
        f.is_finite().then_some(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1e-300))
    }

    #[test]
    fn nice_linear_ticks() {
        let cases: &[(f64, f64, usize, &[f64])] = &[
            (0.0, 1.0, 5, &[0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
            (-0.04, 1.04, 10, &[0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
            (-0.04, 1.04, 5, &[0.0, 0.5, 1.0]),
            (0.0, 10.0, 5, &[0.0, 2.0, 4.0, 6.0, 8.0, 10.0]),
            (0.0, 1000.0, 4, &[0.0, 500.0, 1000.0]),
            (3.0, 97.0, 10, &[10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0]),
            (-1.0, 1.0, 4, &[-1.0, -0.5, 0.0, 0.5, 1.0]),
            (-0.3, 0.7, 5, &[-0.2, 0.0, 0.2, 0.4, 0.6]),
            (1e-5, 5e-5, 4, &[1e-5, 2e-5, 3e-5, 4e-5, 5e-5]),
            (0.45, 0.55, 5, &[0.46, 0.48, 0.5, 0.52, 0.54]),
            (-120.0, -20.0, 5, &[-120.0, -100.0, -80.0, -60.0, -40.0, -20.0]),
            (1e6, 1.5e6, 5, &[1e6, 1.1e6, 1.2e6, 1.3e6, 1.4e6, 1.5e6]),
        ];
        for &(lo, hi, target, expected) in cases {
            let (values, step) = linear_ticks(lo, hi, target);
            assert!(close(&values, expected), "[{lo}, {hi}] / {target}: {values:?}");
            assert!(step.is_some());
        }
    }

    #[test]
    fn degenerate_linear_ticks_fall_back_to_ends() {
        assert_eq!(linear_ticks(1.0, 1.0, 5), (vec![1.0, 1.0], None));
        let (values, _) = linear_ticks(0.0, f64::INFINITY, 5);
        assert_eq!(values.len(), 2);
    }

    #[test]
    fn log_axis_ticks() {
        let cases: &[(f64, f64, usize, &[f64])] = &[
            // 1e-4 .. 1: every power of ten.
            (-4.1, 0.1, 8, &[1e-4, 1e-3, 1e-2, 1e-1, 1.0]),
            // Thirteen powers on room for four ticks: every fourth, aligned to 1e0.
            (-6.2, 6.2, 4, &[1e-4, 1.0, 1e4]),
            // Two decades: 1, 2, 5 steps as they fit the target, else just powers.
            (-4.1, -1.9, 8, &[1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2]),
            (-4.1, -1.9, 4, &[1e-4, 1e-3, 1e-2]),
            // Under a decade: 1, 2, 5 steps.
            (-1.02, -0.02, 8, &[0.1, 0.2, 0.5]),
            // Within 20 .. 79: linear ticks.
            (1.3, 1.9, 8, &[20.0, 40.0, 60.0]),
        ];
        for &(lo, hi, target, expected) in cases {
            let (values, _) = log_ticks(lo, hi, target);
            assert!(close(&values, expected), "[{lo}, {hi}] / {target}: {values:?}");
        }
        let axis = Axis::new((-4.1, 0.1), true, 8);
        let labels: Vec<&str> = axis.ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["1e-4", "1e-3", "1e-2", "1e-1", "1"]);
    }

    #[test]
    fn log_axis_skips_non_positive() {
        assert_eq!(extent([0.0, -1.0, 10.0, 1000.0, f64::NAN], true), Some((1.0, 3.0)));
        let axis = Axis::new((0.0, 3.0), true, 5);
        assert_eq!(axis.fraction(0.0), None);
        assert_eq!(axis.fraction(-5.0), None);
        assert!((axis.fraction(100.0).unwrap_or(f64::NAN) - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn extents_and_padding() {
        assert_eq!(extent([f64::NAN, f64::INFINITY], false), None);
        assert_eq!(extent([2.0, f64::NEG_INFINITY, -1.0], false), Some((-1.0, 2.0)));
        assert_eq!(pad((0.0, 1.0), false, 0.1, 0.1), (-0.1, 1.1));
        // A single value gets a span around it.
        assert_eq!(pad((0.0, 0.0), false, 0.0, 0.0), (-1.0, 1.0));
        assert_eq!(pad((5.0, 5.0), false, 0.0, 0.0), (4.5, 5.5));
        assert_eq!(pad((2.0, 2.0), true, 0.0, 0.0), (1.5, 2.5));
        // Extreme values stay finite.
        let (lo, hi) = pad(extent([f64::MAX, -f64::MAX], false).unwrap_or_default(), false, 0.04, 0.04);
        assert!(lo.is_finite() && hi.is_finite());
        let axis = Axis::new((lo, hi), false, 5);
        assert!(axis.fraction(f64::MAX).is_some_and(|f| (0.0..=1.0).contains(&f)));
    }
}
