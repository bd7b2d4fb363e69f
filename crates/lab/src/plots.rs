//! The guide's plots: training loss and train exact accuracy (windowed) and test exact accuracy
//! over steps, the final test accuracy against the varied variable, and throughput and wall
//! time per config labelled by the variable's value.

use ouro_plot::{Axis, BarChart, Corner, Figure, LineChart, Series};

use crate::group::{GroupRun, value_text};
use crate::guide::PRIMARY;
use crate::metrics::RunMetrics;

/// Points per training curve at most: each a window's weighted mean.
const CURVE_POINTS: usize = 200;

/// A plot to draw: its file name, its title and the chart.
pub struct Drawing {
    pub name: &'static str,
    pub title: String,
    pub figure: Figure,
}

/// The plots of `runs` (those that measured something), the first of `variables` naming each
/// run where one varies.
pub fn plots(group: &str, runs: &[&GroupRun], variables: &[String]) -> Vec<Drawing> {
    let variable = variables.first();
    let label = |r: &GroupRun| match variable {
        Some(v) => format!("{} = {}", short(v), value_text(r.config.as_ref(), v)),
        None => r.record.name.clone(),
    };
    let train_curves = |key: &str| -> Vec<Series> {
        runs.iter()
            .map(|r| {
                let window = r.metrics.train.len().div_ceil(CURVE_POINTS).max(1);
                Series { name: label(r), points: r.metrics.windowed(key, window) }
            })
            .collect()
    };
    let eval_curves =
        runs.iter().map(|r| Series { name: label(r), points: RunMetrics::series(&r.metrics.eval, PRIMARY) }).collect();
    let mut out = vec![
        Drawing {
            name: "train_loss",
            title: "Training loss".into(),
            figure: Figure::Line(LineChart {
                title: format!("{group}: training loss"),
                x: Axis::linear("optimizer step"),
                y: Axis::log("LM loss (cross-entropy per token, log scale)"),
                series: train_curves("train/lm_loss"),
                legend: Corner::UpperRight,
            }),
        },
        Drawing {
            name: "eval_accuracy",
            title: "Test exact accuracy during training".into(),
            figure: Figure::Line(LineChart {
                title: format!("{group}: test exact accuracy"),
                x: Axis::linear("optimizer step"),
                y: Axis::percent("test exact accuracy (puzzles solved)"),
                series: eval_curves,
                legend: Corner::LowerRight,
            }),
        },
        Drawing {
            name: "train_accuracy",
            title: "Train exact accuracy (windowed, weighed by halted sequences)".into(),
            figure: Figure::Line(LineChart {
                title: format!("{group}: train exact accuracy"),
                x: Axis::linear("optimizer step"),
                y: Axis::percent("train exact accuracy (halted sequences)"),
                series: train_curves("train/exact_accuracy"),
                legend: Corner::LowerRight,
            }),
        },
    ];
    if let Some(v) = variable {
        out.push(final_accuracy(group, runs, v));
    }
    let bar_label = |r: &&GroupRun| match variable {
        Some(v) => value_text(r.config.as_ref(), v),
        None => r.record.name.clone(),
    };
    let x_label = variable.cloned().unwrap_or_else(|| "config".into());
    out.push(Drawing {
        name: "throughput",
        title: "Training throughput".into(),
        figure: Figure::Bar(BarChart {
            title: format!("{group}: training throughput (median)"),
            x_label: x_label.clone(),
            y: Axis::linear("examples per second"),
            bars: runs
                .iter()
                .map(|r| {
                    let rate = r.metrics.median_throughput("throughput/examples_per_second");
                    (bar_label(r), rate.unwrap_or(f64::NAN))
                })
                .collect(),
        }),
    });
    let longest = runs.iter().map(|r| r.seconds).fold(0.0, f64::max);
    let (unit, per) = if longest >= 5400.0 {
        ("h", 3600.0)
    } else if longest >= 90.0 {
        ("min", 60.0)
    } else {
        ("s", 1.0)
    };
    out.push(Drawing {
        name: "wall_time",
        title: "Wall time".into(),
        figure: Figure::Bar(BarChart {
            title: format!("{group}: wall time per config"),
            x_label,
            y: Axis::linear(format!("training wall time ({unit})")),
            bars: runs.iter().map(|r| (bar_label(r), r.seconds / per)).collect(),
        }),
    });
    out
}

/// The final test exact accuracy against `variable`: a curve over its values when they are
/// numbers (a log axis when they span 8× or more), else one bar per value.
fn final_accuracy(group: &str, runs: &[&GroupRun], variable: &str) -> Drawing {
    let finals: Vec<(String, Option<f64>, f64)> = runs
        .iter()
        .map(|r| {
            let text = value_text(r.config.as_ref(), variable);
            (text.clone(), text.parse::<f64>().ok(), r.metrics.last(PRIMARY).unwrap_or(f64::NAN))
        })
        .collect();
    let title = format!("{group}: final test exact accuracy vs {}", short(variable));
    let figure = if finals.len() > 1 && finals.iter().all(|(_, x, _)| x.is_some()) {
        let mut points: Vec<(f64, f64)> =
            finals.iter().filter_map(|(_, x, y)| Some(((*x)?, *y))).filter(|p| p.1.is_finite()).collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (lo, hi) = points.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), p| (lo.min(p.0), hi.max(p.0)));
        let x = if lo > 0.0 && hi / lo >= 8.0 { Axis::log(variable) } else { Axis::linear(variable) };
        Figure::Line(LineChart {
            title,
            x,
            y: Axis::percent("final test exact accuracy"),
            series: vec![Series { name: String::new(), points }],
            legend: Corner::LowerRight,
        })
    } else {
        Figure::Bar(BarChart {
            title,
            x_label: variable.to_string(),
            y: Axis::percent("final test exact accuracy"),
            bars: finals.into_iter().map(|(name, _, y)| (name, y)).collect(),
        })
    };
    Drawing { name: "final_accuracy", title: format!("Final test exact accuracy vs {variable}"), figure }
}

/// A dotted key's last part (`arch.hidden_size` → `hidden_size`), for legends.
fn short(key: &str) -> &str {
    key.rsplit('.').next().unwrap_or(key)
}
