//! `ouro report GROUP`: the comparison of an experiment group's runs a researcher would
//! otherwise assemble by hand: plots (SVG and PNG) of the loss and accuracy curves, final
//! accuracy against the varied variable, throughput and wall time per config, and a Markdown
//! report in the shape of the experiment guide (reference/experiment-guide-template.md).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use ouro_plot::{BarChart, Chart, LineChart, Series};
use ouro_train::TrainConfig;
use ouro_train::config::Study;
use serde_json::Value;

use crate::metrics::{Record, RunMetrics};
use crate::runs::{RunRecord, RunState};

/// The metric the program is judged by (test exact accuracy).
pub const PRIMARY: &str = "all/exact_accuracy";

/// One run of the group, with the metrics it (or the run it duplicates) produced.
#[derive(Clone, Debug)]
pub struct GroupRun {
    /// Its directory.
    pub dir: PathBuf,
    /// Its record.
    pub record: RunRecord,
    /// Its resolved config (`None`: the run failed before writing one).
    pub config: Option<TrainConfig>,
    /// Its metrics (a duplicate's: those of the run it names).
    pub metrics: RunMetrics,
    /// Wall-clock seconds of training (a duplicate's: the original's).
    pub seconds: f64,
}

/// An experiment group's runs.
#[derive(Debug, Default)]
pub struct Group {
    /// Its runs, in name order.
    pub runs: Vec<GroupRun>,
    /// Runs left out because a record of theirs could not be read, each naming the file.
    pub skipped: Vec<String>,
}

/// The runs in `output_root/group/`, in name order.
pub fn load_group(output_root: &Path, group: &str) -> Result<Group> {
    let group_dir = output_root.join(group);
    if !group_dir.is_dir() {
        return Err(Error::NotFound(format!(
            "no experiment group {group:?} in {} (`ouro status` lists what is there)",
            output_root.display()
        )));
    }
    let (mut runs, mut skipped) = (Vec::new(), Vec::new());
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&group_dir)
        .map_err(|e| Error::io(format!("listing {}", group_dir.display()), e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("run.json").is_file())
        .collect();
    dirs.sort();
    for dir in dirs {
        let record = match RunRecord::read(&dir) {
            Ok(Some(record)) => record,
            Ok(None) => continue,
            Err(e) => {
                skipped.push(format!("{e:#}"));
                continue;
            }
        };
        // A duplicate's results live in the run it names.
        let source = record.results_dir(&dir);
        let config_path = source.join("config.yaml");
        let Ok(text) = std::fs::read_to_string(&config_path) else {
            // A run that failed before writing its config has nothing to compare.
            runs.push(GroupRun { dir, record, config: None, metrics: RunMetrics::default(), seconds: 0.0 });
            continue;
        };
        let config = match TrainConfig::parse(&text, &config_path.display().to_string(), &[]) {
            Ok(config) => config,
            Err(e) => {
                skipped.push(format!("{}: {e:#}", dir.display()));
                continue;
            }
        };
        let metrics = RunMetrics::read(&source)?;
        let seconds = RunRecord::read(&source).ok().flatten().map_or(record.seconds, |r| r.seconds);
        runs.push(GroupRun { dir, record, config: Some(config), metrics, seconds });
    }
    if runs.is_empty() {
        let why = if skipped.is_empty() { "no */run.json".to_string() } else { skipped.join("; ") };
        return Err(Error::NotFound(format!("{} holds no runs that can be read ({why})", group_dir.display())));
    }
    Ok(Group { runs, skipped })
}

/// The tags of the run whose results are in `dir` (its config's `tags`; none when it has no
/// config yet).
pub fn tags_of(dir: &Path) -> Vec<String> {
    let path = dir.join("config.yaml");
    let Ok(text) = std::fs::read_to_string(&path) else { return Vec::new() };
    TrainConfig::parse(&text, &path.display().to_string(), &[]).map_or_else(|_| Vec::new(), |c| c.study.tags)
}

/// A config's recipe as dotted keys → values (lists whole): what runs differ in; empty for none.
fn recipe_keys(config: Option<&TrainConfig>) -> BTreeMap<String, Value> {
    config.map_or_else(BTreeMap::new, |c| flatten(&serde_json::to_value(&c.recipe).unwrap_or(Value::Null)))
}

/// Every key of a config (a variable the study names may be any), as [`recipe_keys`].
fn config_keys(config: Option<&TrainConfig>) -> BTreeMap<String, Value> {
    config.map_or_else(BTreeMap::new, |c| flatten(&c.to_json().unwrap_or(Value::Null)))
}

/// A tree as dotted keys → values, lists whole.
fn flatten(tree: &Value) -> BTreeMap<String, Value> {
    fn walk(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    walk(&key, v, out);
                }
            }
            other => {
                out.insert(prefix.to_string(), other.clone());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk("", tree, &mut out);
    out
}

/// The keys whose values differ between `runs`.
pub fn varied_keys(runs: &[&GroupRun]) -> Vec<String> {
    let flat: Vec<BTreeMap<String, Value>> = runs.iter().map(|r| recipe_keys(r.config.as_ref())).collect();
    let Some(first) = flat.first() else { return Vec::new() };
    let mut keys: Vec<String> = first.keys().cloned().collect();
    for f in &flat[1..] {
        keys.extend(f.keys().filter(|k| !first.contains_key(*k)).cloned());
    }
    keys.sort();
    keys.dedup();
    keys.into_iter().filter(|k| flat.iter().any(|f| f.get(k) != first.get(k))).collect()
}

/// `key`'s value in `run`'s config, as text.
fn value_text(run: &GroupRun, key: &str) -> String {
    match config_keys(run.config.as_ref()).get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
            .collect::<Vec<_>>()
            .join(", "),
        Some(v) => v.to_string(),
        None => "-".into(),
    }
}

/// At most `n` points of `points`, each the mean of a window, so long runs plot cleanly.
fn thin(points: Vec<(f64, f64)>, n: usize) -> Vec<(f64, f64)> {
    if points.len() <= n {
        return points;
    }
    let per = points.len().div_ceil(n);
    points
        .chunks(per)
        .map(|c| {
            (c.iter().map(|p| p.0).sum::<f64>() / c.len() as f64, c.iter().map(|p| p.1).sum::<f64>() / c.len() as f64)
        })
        .collect()
}

/// The files a report wrote.
#[derive(Clone, Debug)]
pub struct ReportFiles {
    /// The Markdown report.
    pub markdown: PathBuf,
    /// The plots (SVG and PNG of each).
    pub plots: Vec<PathBuf>,
    /// Runs left out (a record could not be read), each naming the file.
    pub skipped: Vec<String>,
}

/// Writes the report of `group` (runs under `output_root/group/`) into `out` (default
/// `output_root/group/report/`).
pub fn write_report(output_root: &Path, group: &str, out: Option<&Path>) -> Result<ReportFiles> {
    let Group { runs, skipped } = load_group(output_root, group)?;
    let out = out.map_or_else(|| output_root.join(group).join("report"), Path::to_path_buf);
    std::fs::create_dir_all(&out).map_err(|e| Error::io(format!("creating {}", out.display()), e))?;
    let measured: Vec<&GroupRun> = runs.iter().filter(|r| !r.metrics.train.is_empty()).collect();
    let study = runs.iter().find_map(|r| r.config.as_ref()?.study.design.clone()).unwrap_or_default();
    let variables = if study.variables.is_empty() { varied_keys(&measured) } else { study.variables.clone() };

    let plots = write_plots(&out, group, &measured, &variables)?;

    let markdown = out.join("report.md");
    let mut text = String::new();
    let sections =
        Sections { group, output_root, runs: &runs, study: &study, variables: &variables, skipped: &skipped };
    sections.write(&mut text).expect("a String takes every write");
    std::fs::write(&markdown, text).map_err(|e| Error::io(format!("writing {}", markdown.display()), e))?;
    Ok(ReportFiles { markdown, plots, skipped })
}

/// The report's plots, each as SVG and PNG in `out`: the curves, the final accuracy against
/// the varied variable, throughput and wall time.
fn write_plots(out: &Path, group: &str, measured: &[&GroupRun], variables: &[String]) -> Result<Vec<PathBuf>> {
    let mut plots = Vec::new();
    let mut save = |name: &str, chart: &dyn Chart| -> Result<()> {
        for (ext, bytes) in [("svg", chart.to_svg(900, 520).into_bytes()), ("png", chart.to_png(900, 520))] {
            let path = out.join(format!("{name}.{ext}"));
            std::fs::write(&path, bytes).map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
            plots.push(path);
        }
        Ok(())
    };
    let curves = |key: &str, records: fn(&RunMetrics) -> &[Record]| -> Vec<Series> {
        measured
            .iter()
            .map(|r| Series {
                name: r.record.name.clone(),
                points: thin(RunMetrics::series(records(&r.metrics), key), 400),
            })
            .collect()
    };
    save(
        "train_loss",
        &LineChart {
            title: format!("{group}: training loss"),
            x_label: "step".into(),
            y_label: "train/lm_loss".into(),
            x_log: false,
            y_log: true,
            series: curves("train/lm_loss", |m| &m.train),
        },
    )?;
    save(
        "eval_accuracy",
        &LineChart {
            title: format!("{group}: test exact accuracy"),
            x_label: "step".into(),
            y_label: PRIMARY.into(),
            x_log: false,
            y_log: false,
            series: curves(PRIMARY, |m| &m.eval),
        },
    )?;
    let variable = variables.first().cloned().unwrap_or_else(|| "config".into());
    save("final_accuracy", final_accuracy(group, measured, &variable).as_ref())?;
    save(
        "throughput",
        &BarChart {
            title: format!("{group}: training throughput (median)"),
            y_label: "examples/s".into(),
            bars: measured
                .iter()
                .map(|r| {
                    (
                        r.record.name.clone(),
                        r.metrics.median_throughput("throughput/examples_per_second").unwrap_or(f64::NAN),
                    )
                })
                .collect(),
        },
    )?;
    save(
        "wall_time",
        &BarChart {
            title: format!("{group}: wall time per config"),
            y_label: "hours".into(),
            bars: measured.iter().map(|r| (r.record.name.clone(), r.seconds / 3600.0)).collect(),
        },
    )?;

    Ok(plots)
}

/// The final test accuracy against `variable`: a curve when it is numeric, else bars.
fn final_accuracy(group: &str, measured: &[&GroupRun], variable: &str) -> Box<dyn Chart> {
    let finals: Vec<(String, Option<f64>, Option<f64>)> = measured
        .iter()
        .map(|r| (r.record.name.clone(), value_text(r, variable).parse::<f64>().ok(), r.metrics.last(PRIMARY)))
        .collect();
    if finals.iter().all(|(_, x, _)| x.is_some()) && !finals.is_empty() {
        let mut points: Vec<(f64, f64)> = finals.iter().filter_map(|(_, x, y)| Some(((*x)?, (*y)?))).collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (lo, hi) = points.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), p| (lo.min(p.0), hi.max(p.0)));
        let chart = LineChart {
            title: format!("{group}: final test exact accuracy vs {variable}"),
            x_label: variable.to_string(),
            y_label: PRIMARY.into(),
            x_log: lo > 0.0 && hi / lo >= 8.0,
            y_log: false,
            series: vec![Series { name: "final".into(), points }],
        };
        Box::new(chart)
    } else {
        let chart = BarChart {
            title: format!("{group}: final test exact accuracy"),
            y_label: PRIMARY.into(),
            bars: finals.iter().map(|(n, _, y)| (n.clone(), y.unwrap_or(f64::NAN))).collect(),
        };
        Box::new(chart)
    }
}

/// A number as a percentage, or `-`.
fn percent(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |v| format!("{:.2} %", v * 100.0))
}

/// What the guide is written from.
struct Sections<'a> {
    group: &'a str,
    output_root: &'a Path,
    runs: &'a [GroupRun],
    study: &'a Study,
    variables: &'a [String],
    /// Runs left out, each with why.
    skipped: &'a [String],
}

impl Sections<'_> {
    /// The guide's sections filled from the runs.
    fn write(&self, md: &mut String) -> std::fmt::Result {
        let Sections { group, output_root, runs, study, variables, skipped } = *self;
        let title = if study.title.is_empty() { group.to_string() } else { study.title.clone() };
        writeln!(md, "# Experiment {group}: {title}\n")?;
        writeln!(md, "Generated by `ouro report {group}` from the runs in `{}`.\n", output_root.join(group).display())?;
        overview(md, study, variables)?;
        configuration(md, runs, variables)?;
        how_to_run(md, runs)?;
        results(md, runs)?;
        criteria(md, runs, study)?;
        time_and_plots(md, runs)?;
        storage_and_status(md, group, output_root, runs)?;
        if !skipped.is_empty() {
            writeln!(md, "\n## Runs left out\n")?;
            for s in skipped {
                writeln!(md, "- {s}")?;
            }
        }
        Ok(())
    }
}

/// The hypothesis, the variables and the expected outcome.
fn overview(md: &mut String, study: &Study, variables: &[String]) -> std::fmt::Result {
    let or_dash = |s: &str| if s.is_empty() { "-".to_string() } else { s.to_string() };
    writeln!(md, "## Overview\n")?;
    writeln!(md, "**Hypothesis:** {}\n", or_dash(&study.hypothesis))?;
    writeln!(
        md,
        "**Variables:** {}\n",
        if variables.is_empty() {
            "-".into()
        } else {
            variables.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", ")
        }
    )?;
    writeln!(md, "**Fixed:** everything else (common settings below)\n")?;
    writeln!(md, "**Expected Outcome:** {}\n", or_dash(&study.expected))?;

    Ok(())
}

/// The configs table and the settings they share.
fn configuration(md: &mut String, runs: &[GroupRun], variables: &[String]) -> std::fmt::Result {
    let measured: Vec<&GroupRun> = runs.iter().filter(|r| !r.metrics.train.is_empty()).collect();
    let fixed = common_settings(&measured, variables);
    writeln!(md, "## Configuration\n")?;
    writeln!(md, "| Config | {} | State | Steps | Notes |", variables.join(" | "))?;
    writeln!(md, "|---|{}---|---|---|", "---|".repeat(variables.len()))?;
    for r in runs {
        let values: Vec<String> = variables.iter().map(|v| format!("`{}`", value_text(r, v))).collect();
        let note = match (&r.record.same_as, &r.record.error) {
            (Some(other), _) => format!("same recipe as `{other}` (run once)"),
            (None, Some(e)) => e.lines().next().unwrap_or("").chars().take(120).collect(),
            _ => String::new(),
        };
        writeln!(
            md,
            "| `{}` | {} | {} | {}/{} | {note} |",
            r.record.name,
            values.join(" | "),
            r.record.shown_state(),
            r.record.steps,
            r.record.total_steps
        )?;
    }
    writeln!(md, "\n### Common Settings\n\n```yaml\n{fixed}```\n")?;

    Ok(())
}

/// The commands that run the group.
fn how_to_run(md: &mut String, runs: &[GroupRun]) -> std::fmt::Result {
    writeln!(md, "## How to Run\n")?;
    let pattern = runs.first().map(|r| r.record.name.clone()).unwrap_or_default();
    writeln!(
        md,
        "```bash\n# every config of the group (skips complete runs, resumes interrupted ones)\nouro batch {}\n",
        runs.iter().map(|r| r.record.name.as_str()).collect::<Vec<_>>().join(" ")
    )?;
    writeln!(
        md,
        "# one config, with overrides\nouro run {pattern} epochs=10000\n\n# what would run, with the estimated time\nouro batch --dry-run {pattern}\n```\n"
    )?;

    Ok(())
}

/// Each config's measured results.
fn results(md: &mut String, runs: &[GroupRun]) -> std::fmt::Result {
    writeln!(md, "## Results\n")?;
    writeln!(
        md,
        "| Config | test exact acc. | test acc. | train exact acc. | avg. halt steps (train) | examples/s | wall time |"
    )?;
    writeln!(md, "|---|---|---|---|---|---|---|")?;
    for r in runs {
        let m = &r.metrics;
        writeln!(
            md,
            "| `{}` | {} | {} | {} | {} | {} | {} |",
            r.record.name,
            percent(m.last(PRIMARY)),
            percent(m.last("all/accuracy")),
            percent(m.last("train/exact_accuracy")),
            m.last("train/steps").map_or("-".into(), |v| format!("{v:.2}")),
            m.median_throughput("throughput/examples_per_second").map_or("-".into(), |v| format!("{v:.0}")),
            if r.seconds > 0.0 { format!("{:.2} h", r.seconds / 3600.0) } else { "-".into() },
        )?;
    }
    Ok(())
}

/// The success criteria, checked against the measurements.
fn criteria(md: &mut String, runs: &[GroupRun], study: &Study) -> std::fmt::Result {
    writeln!(md, "\n### Success Criteria\n")?;
    if study.criteria.is_empty() {
        writeln!(md, "No criteria stated (the configs' `study.criteria`).")?;
    }
    for c in &study.criteria {
        let run = match &c.config {
            Some(name) => runs.iter().find(|r| &r.record.name == name),
            None => runs.iter().filter(|r| r.metrics.last(&c.metric).is_some()).max_by(|a, b| {
                a.metrics.last(&c.metric).unwrap_or(f64::NAN).total_cmp(&b.metrics.last(&c.metric).unwrap_or(f64::NAN))
            }),
        };
        let value = run.and_then(|r| r.metrics.last(&c.metric));
        let bound = match (c.at_least, c.at_most) {
            (Some(lo), _) => format!("≥ {lo}"),
            (None, Some(hi)) => format!("≤ {hi}"),
            (None, None) => "(no bound)".into(),
        };
        let (mark, measured) = match value {
            Some(v) => {
                let pass = c.at_least.is_none_or(|lo| v >= lo) && c.at_most.is_none_or(|hi| v <= hi);
                (if pass { "x" } else { " " }, format!("{v:.4} ({})", if pass { "pass" } else { "fail" }))
            }
            None => (" ", "not measured yet".to_string()),
        };
        let who = run.map_or_else(|| c.config.clone().unwrap_or_default(), |r| r.record.name.clone());
        writeln!(md, "- [{mark}] {}: `{}` of `{who}` {bound}; measured {measured}", c.text, c.metric)?;
    }
    Ok(())
}

/// The training time and the plots.
fn time_and_plots(md: &mut String, runs: &[GroupRun]) -> std::fmt::Result {
    writeln!(md, "\n### Training Time\n")?;
    let total: f64 = runs.iter().filter(|r| r.record.same_as.is_none()).map(|r| r.seconds).sum();
    writeln!(md, "- **Measured, all configs (duplicates counted once):** {:.2} h", total / 3600.0)?;
    for r in runs.iter().filter(|r| r.seconds > 0.0) {
        writeln!(md, "- `{}`: {:.2} h", r.record.name, r.seconds / 3600.0)?;
    }
    writeln!(md, "\n## Analysis\n")?;
    for (name, what) in [
        ("train_loss", "Training loss"),
        ("eval_accuracy", "Test exact accuracy during training"),
        ("final_accuracy", "Final test exact accuracy"),
        ("throughput", "Throughput"),
        ("wall_time", "Wall time"),
    ] {
        writeln!(md, "### {what}\n\n![{what}]({name}.png) ([SVG]({name}.svg))\n")?;
    }
    Ok(())
}

/// Where the results are, and the group's status.
fn storage_and_status(md: &mut String, group: &str, output_root: &Path, runs: &[GroupRun]) -> std::fmt::Result {
    writeln!(md, "## Results Storage\n")?;
    for r in runs {
        let ckpt = r.config.as_ref().map_or_else(
            || r.dir.join(ouro_train::config::CHECKPOINTS_DIR).display().to_string(),
            |c| c.run.checkpoint_location(&r.dir),
        );
        writeln!(md, "- `{}`: `{}` (checkpoints `{ckpt}`)", r.record.name, r.dir.display())?;
    }
    writeln!(md, "\nTensorBoard: `tensorboard --logdir {}`\n", output_root.join(group).display())?;
    let status = if runs.iter().all(|r| matches!(r.record.state, RunState::Complete | RunState::Duplicate)) {
        "✅ Complete"
    } else if runs.iter().any(|r| r.record.state == RunState::Failed) {
        "❌ Failed (see the configs table)"
    } else if runs.iter().any(|r| r.record.alive()) {
        "▶️ Running"
    } else {
        "⏸️ Not finished"
    };
    writeln!(md, "---\n\n**Status:** {status}\n")?;
    Ok(())
}

/// The recipe keys every measured run shares, as YAML lines (the variables left out).
fn common_settings(runs: &[&GroupRun], variables: &[String]) -> String {
    let Some(first) = runs.first() else { return String::new() };
    let flat: Vec<BTreeMap<String, Value>> = runs.iter().map(|r| recipe_keys(r.config.as_ref())).collect();
    let mut out = String::new();
    for (k, v) in &flat[0] {
        let shared = flat.iter().all(|f| f.get(k) == Some(v));
        if shared && !variables.contains(k) && !v.is_null() {
            let _ = writeln!(out, "{k}: {}", value_text(first, k));
        }
    }
    out
}
