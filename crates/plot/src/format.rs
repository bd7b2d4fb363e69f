//! Compact number labels. A set of tick labels shares one style (plain decimals, an SI suffix
//! such as "12k", or scientific such as "1e-4"), picked as the shortest readable one, and each
//! label carries just the digits that tell it apart from its neighbours.

/// SI suffixes for thousands, millions, billions and trillions.
const SI: [(f64, &str); 4] = [(1e3, "k"), (1e6, "M"), (1e9, "G"), (1e12, "T")];

/// Most decimals a label ever gets; beyond that the scientific style is shorter anyway.
const MAX_DECIMALS: usize = 17;

/// Labels for tick `values`. `step` is their spacing when even (it sets the precision
/// they share); with `None` (log axes) each value is written to its own precision.
pub(crate) fn ticks(values: &[f64], step: Option<f64>) -> Vec<String> {
    let items: Vec<(f64, f64)> = values.iter().map(|&v| (v, step.unwrap_or(v).abs() * 1e-6)).collect();
    styled(&items)
}

/// One value to about three significant digits, as printed on a bar: "0.873", "1523",
/// "15.2M". Whole numbers below 1e5 keep every digit; non-finite values read "n/a".
pub(crate) fn value(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".to_owned();
    }
    if v == 0.0 {
        return "0".to_owned();
    }
    let exponent = v.abs().log10().floor();
    let item = if exponent >= 5.0 {
        // Round away the digits past the third so no style prints them.
        let unit = 10f64.powf(exponent - 2.0);
        ((v / unit).round() * unit, unit * 1e-3)
    } else {
        (v, (0.5 * 10f64.powf(exponent - 2.0)).min(0.5))
    };
    styled(&[item]).pop().unwrap_or_default()
}

/// Formats `(value, tolerance)` pairs in one style for all. Plain decimals read most directly,
/// then SI suffixes, then scientific: the first style within a character of the shortest wins.
fn styled(items: &[(f64, f64)]) -> Vec<String> {
    let largest = items.iter().map(|&(v, _)| v.abs()).fold(0.0, f64::max);
    let mut candidates: Vec<Vec<String>> = vec![items.iter().map(|&(v, tol)| plain(v, tol)).collect()];
    if (1e3..1e15).contains(&largest) {
        candidates.push(items.iter().map(|&(v, tol)| with_suffix(v, tol)).collect());
    }
    candidates.push(items.iter().map(|&(v, tol)| scientific(v, tol)).collect());
    let shortest = candidates.iter().map(|c| longest(c)).min().unwrap_or(0);
    candidates.into_iter().find(|c| longest(c) <= shortest + 1).unwrap_or_default()
}

fn longest(labels: &[String]) -> usize {
    labels.iter().map(|s| s.chars().count()).max().unwrap_or(0)
}

/// Fewest decimals that write `v` to within `tol`.
fn decimals(v: f64, tol: f64) -> usize {
    (0..MAX_DECIMALS)
        .find(|&d| {
            let p = 10f64.powi(d as i32);
            ((v * p).round() / p - v).abs() <= tol
        })
        .unwrap_or(MAX_DECIMALS)
}

/// `v` with `d` decimals, never as "-0".
fn fixed(v: f64, d: usize) -> String {
    let s = format!("{v:.d$}");
    match s.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_owned(),
        _ => s,
    }
}

fn plain(v: f64, tol: f64) -> String {
    fixed(v, decimals(v, tol))
}

/// `v` over the largest SI unit it reaches ("12k", "1.5M"); plain below a thousand.
fn with_suffix(v: f64, tol: f64) -> String {
    match SI.iter().rev().find(|&&(unit, _)| v.abs() >= unit) {
        Some(&(unit, suffix)) => {
            let scaled = v / unit;
            format!("{}{suffix}", fixed(scaled, decimals(scaled, tol / unit)))
        }
        None => plain(v, tol),
    }
}

/// "2.5e-4"; the exponent is left out when zero ("2.5", not "2.5e0").
fn scientific(v: f64, tol: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return fixed(v, 0);
    }
    let mut exponent = v.abs().log10().floor() as i32;
    let mut mantissa = String::new();
    // Twice, in case rounding carries the mantissa up to 10.
    for _ in 0..2 {
        let scale = 10f64.powi(exponent);
        let m = v / scale;
        mantissa = fixed(m, decimals(m, tol / scale));
        if mantissa.trim_start_matches('-').parse::<f64>().is_ok_and(|m| m >= 10.0) {
            exponent += 1;
        } else {
            break;
        }
    }
    if exponent == 0 { mantissa } else { format!("{mantissa}e{exponent}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_sets() {
        let cases: &[(&[f64], Option<f64>, &[&str])] = &[
            (&[0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0], Some(0.2), &["0", "0.2", "0.4", "0.6", "0.8", "1"]),
            (&[0.0, 0.25, 0.5, 0.75], Some(0.25), &["0", "0.25", "0.5", "0.75"]),
            (&[-1.0, -0.5, 0.0, 0.5], Some(0.5), &["-1", "-0.5", "0", "0.5"]),
            (&[0.0, 250.0, 500.0, 750.0, 1000.0], Some(250.0), &["0", "250", "500", "750", "1000"]),
            (&[0.0, 2000.0, 4000.0, 6000.0, 8000.0, 10000.0], Some(2000.0), &["0", "2k", "4k", "6k", "8k", "10k"]),
            (&[0.0, 5000.0, 10000.0, 15000.0], Some(5000.0), &["0", "5k", "10k", "15k"]),
            (
                &[0.0, 2500.0, 5000.0, 7500.0, 10000.0, 12500.0],
                Some(2500.0),
                &["0", "2500", "5000", "7500", "10000", "12500"],
            ),
            (&[0.0, 25000.0, 50000.0], Some(25000.0), &["0", "25k", "50k"]),
            (&[0.0, 5e4, 1e5], Some(5e4), &["0", "50k", "100k"]),
            (&[1.0e6, 1.2e6, 1.4e6], Some(2e5), &["1M", "1.2M", "1.4M"]),
            (&[1e-4, 2e-4, 3e-4], Some(1e-4), &["1e-4", "2e-4", "3e-4"]),
            (&[0.001, 0.002, 0.003], Some(0.001), &["0.001", "0.002", "0.003"]),
            (&[0.0, 0.0005, 0.001, 0.0015], Some(0.0005), &["0", "0.0005", "0.001", "0.0015"]),
            (&[2e20, 4e20], Some(2e20), &["2e20", "4e20"]),
            (&[-1e-20, 0.0, 1e-20], Some(1e-20), &["-1e-20", "0", "1e-20"]),
            (&[1e-4, 1e-3, 1e-2, 0.1, 1.0], None, &["1e-4", "1e-3", "1e-2", "1e-1", "1"]),
            (&[0.1, 1.0, 10.0, 100.0], None, &["0.1", "1", "10", "100"]),
            (&[1.0, 10.0, 100.0, 1e3, 1e4], None, &["1", "10", "100", "1k", "10k"]),
            (&[0.1, 0.2, 0.5], None, &["0.1", "0.2", "0.5"]),
        ];
        for (values, step, expected) in cases {
            assert_eq!(ticks(values, *step), *expected, "ticks {values:?} step {step:?}");
        }
    }

    #[test]
    fn single_values() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "0"),
            (0.87312, "0.873"),
            (12.3456, "12.3"),
            (123.456, "123"),
            (1523.4, "1523"),
            (15234.7, "15235"),
            (1_234_567.0, "1.23M"),
            (-2.5e9, "-2.5G"),
            (0.5, "0.5"),
            (1.0, "1"),
            (3e-7, "3e-7"),
            (9.996, "10"),
            (f64::NAN, "n/a"),
            (f64::INFINITY, "n/a"),
            (1e300, "1e300"),
        ];
        for &(v, expected) in cases {
            assert_eq!(value(v), expected, "value {v}");
        }
    }
}
