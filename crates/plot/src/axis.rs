//! An axis: its label, scale, range and the unit its ticks are written in.

/// How values map to the axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// Evenly spaced values.
    Linear,
    /// Evenly spaced powers of ten (values ≤ 0 are left out).
    Log,
}

/// How tick labels are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// The value as it is.
    Plain,
    /// A fraction written as a percentage (0.5 → `50 %`).
    Percent,
}

/// One axis of a chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// What it shows, with its unit (`wall time (min)`).
    pub label: String,
    /// Linear or logarithmic.
    pub scale: Scale,
    /// The range shown; `None`: the data's, with a margin.
    pub range: Option<(f64, f64)>,
    /// How ticks are written.
    pub unit: Unit,
}

impl Axis {
    /// A linear axis over the data.
    pub fn linear(label: impl Into<String>) -> Axis {
        Axis { label: label.into(), scale: Scale::Linear, range: None, unit: Unit::Plain }
    }

    /// A logarithmic axis over the data.
    pub fn log(label: impl Into<String>) -> Axis {
        Axis { scale: Scale::Log, ..Axis::linear(label) }
    }

    /// A fraction shown as 0–100 %.
    pub fn percent(label: impl Into<String>) -> Axis {
        Axis { range: Some((0.0, 1.0)), unit: Unit::Percent, ..Axis::linear(label) }
    }

    /// The range to draw for `values`: the fixed range, else the data's with a margin (a log
    /// axis from its smallest positive value); a single value or none still gets a span.
    pub(crate) fn span(&self, values: impl Iterator<Item = f64>) -> (f64, f64) {
        if let Some(range) = self.range {
            return range;
        }
        let usable = values.filter(|v| v.is_finite() && (self.scale == Scale::Linear || *v > 0.0));
        let (lo, hi) = usable.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
        match self.scale {
            Scale::Linear if lo > hi => (0.0, 1.0),
            Scale::Linear if lo == hi => (lo - lo.abs().max(1.0) * 0.5, hi + hi.abs().max(1.0) * 0.5),
            Scale::Linear => {
                let pad = (hi - lo) * 0.05;
                // An axis of counts or rates starting near zero reads best from zero.
                let lo = if lo >= 0.0 && lo <= hi * 0.25 { 0.0 } else { lo - pad };
                (lo, hi + pad)
            }
            Scale::Log if lo > hi => (0.1, 10.0),
            Scale::Log if lo == hi => (lo / 2.0, hi * 2.0),
            Scale::Log => (lo / 1.2, hi * 1.2),
        }
    }

    /// A tick label.
    pub(crate) fn tick(&self, v: f64) -> String {
        match self.unit {
            Unit::Percent => format!("{} %", number(v * 100.0)),
            Unit::Plain => number(v),
        }
    }
}

/// A number in at most three significant decimals, thousands as `k` and millions as `M`.
pub(crate) fn number(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M", trim(v / 1e6, 2))
    } else if a >= 1e4 {
        format!("{}k", trim(v / 1e3, 1))
    } else if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        trim(v, 2)
    } else {
        // Three significant digits below one.
        let decimals = (2 - a.log10().floor() as i32).clamp(0, 12) as usize;
        trim(v, decimals)
    }
}

/// `v` with `decimals` decimals, trailing zeros dropped.
fn trim(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_read_as_a_paper_prints_them() {
        let cases = [(0.0, "0"), (2000.0, "2000"), (25000.0, "25k"), (1.5e6, "1.5M"), (0.25, "0.25")];
        for (v, want) in cases {
            assert_eq!(number(v), want, "{v}");
        }
        assert_eq!(number(0.001234), "0.00123");
        assert_eq!(number(2.5), "2.5");
        assert_eq!(Axis::percent("acc").tick(0.4), "40 %");
    }

    #[test]
    fn ranges_come_from_the_data_unless_fixed() {
        assert_eq!(Axis::percent("a").span([0.0, 0.0].into_iter()), (0.0, 1.0), "accuracy stays 0-100 %");
        let (lo, hi) = Axis::linear("x").span([2.0, 20.0].into_iter());
        assert!(lo == 0.0 && hi > 20.0, "values near zero read from zero: {lo} {hi}");
        let (lo, hi) = Axis::linear("x").span([100.0, 101.0].into_iter());
        assert!(lo > 99.0 && lo < 100.0 && hi > 101.0, "{lo} {hi}");
        let (lo, hi) = Axis::log("loss").span([0.0, 0.1, 2.0].into_iter());
        assert!(lo > 0.0 && lo < 0.1 && hi > 2.0, "a log axis skips zero: {lo} {hi}");
        assert_eq!(Axis::linear("x").span([3.0].into_iter()), (1.5, 4.5));
    }
}
