//! The experiment guide of a group (reference/experiment-guide-template.md) as data: before any
//! run, the plan (hypothesis, variables, configs, commands, criteria, estimated time); after,
//! the same guide with what the runs measured. `report` renders it through the templates.

use std::collections::BTreeMap;

use ouro_train::TrainConfig;
use ouro_train::config::{Criterion, Study};
use serde::Serialize;

use crate::group::{Group, GroupRun, recipe_keys, value_text, varied_keys};
use crate::root::OutputRoot;
use crate::runs::RunState;

/// The metric the program is judged by (test exact accuracy).
pub const PRIMARY: &str = "all/exact_accuracy";

/// The fraction of a run's last training steps its train metrics are averaged over.
pub const RECENT: f64 = 0.1;

/// What a group is planned to run: each config with the command that runs it and its cost,
/// and the commands that run the group (the CLI's syntax, so the CLI writes them).
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// The experiment group.
    pub group: String,
    /// The configs of the group, in the order they run.
    pub configs: Vec<PlannedConfig>,
    /// The commands of "How to run", each `(what it does, command)`.
    pub commands: Vec<(String, String)>,
    /// The command that wrote the guide.
    pub generated_by: String,
    /// The keys a sweep of the group varies (config keys: `arch.hidden_size`).
    pub swept: Vec<String>,
}

/// One config of the plan.
#[derive(Clone, Debug)]
pub struct PlannedConfig {
    /// The run's name.
    pub name: String,
    /// Its resolved config.
    pub config: TrainConfig,
    /// Its recipe hash.
    pub hash: String,
    /// The command that runs it alone.
    pub command: String,
    /// Its estimated time, if it could be estimated.
    pub estimate: Option<Estimate>,
    /// Other experiments with the same recipe (`group/name`), run once between them.
    pub same_recipe: Vec<String>,
}

/// A run's estimated cost.
#[derive(Clone, Debug, Serialize)]
pub struct Estimate {
    /// Wall-clock seconds.
    pub seconds: f64,
    /// What it is costed on (`1 × 989 TFLOP/s at 30 % MFU`), and the cost model's figures.
    pub basis: String,
}

/// The guide, as the templates see it.
#[derive(Debug, Serialize)]
pub struct Guide {
    pub group: String,
    pub title: String,
    pub generated_by: String,
    pub hypothesis: String,
    pub expected: String,
    pub tags: Vec<String>,
    pub variables: Vec<Variable>,
    /// The recipe keys every config shares, as YAML lines.
    pub fixed: String,
    pub configs: Vec<ConfigRow>,
    pub commands: Vec<Command>,
    pub criteria: Vec<CriterionRow>,
    pub primary: String,
    pub secondary: Vec<String>,
    pub time: Time,
    /// Whether any run has measured anything (the guide is a plan until then).
    pub measured: bool,
    pub results: Vec<ResultRow>,
    pub plots: Vec<Plot>,
    pub storage: Storage,
    pub related: Vec<String>,
    pub notes: Vec<NoteRow>,
    pub status: String,
    pub skipped: Vec<String>,
}

/// A variable and the values the configs give it.
#[derive(Debug, Serialize)]
pub struct Variable {
    pub key: String,
    pub values: Vec<String>,
}

/// A row of the configs table.
#[derive(Debug, Serialize)]
pub struct ConfigRow {
    pub name: String,
    /// The variables' values, in the order of [`Guide::variables`].
    pub values: Vec<String>,
    pub hash: String,
    /// `planned` before it runs; then the run's state.
    pub state: String,
    pub steps: String,
    pub estimate: String,
    pub command: String,
    pub note: String,
    pub tags: Vec<String>,
}

/// A command of "How to run".
#[derive(Debug, Serialize)]
pub struct Command {
    pub what: String,
    pub command: String,
}

/// A success criterion and, once measured, whether it holds.
#[derive(Debug, Serialize)]
pub struct CriterionRow {
    pub text: String,
    pub metric: String,
    pub who: String,
    pub bound: String,
    /// The measured value (`None` before it is measured).
    pub measured: Option<String>,
    pub passed: Option<bool>,
}

/// Time per config and in total.
#[derive(Debug, Serialize)]
pub struct Time {
    /// The estimate of the whole group (duplicates once), if every config has one.
    pub estimated_total: Option<String>,
    /// What the estimates assume.
    pub basis: Option<String>,
    /// Training time used so far (duplicates once).
    pub measured_total: String,
}

/// A row of the results table.
#[derive(Debug, Serialize)]
pub struct ResultRow {
    pub name: String,
    pub values: Vec<String>,
    pub test_exact: String,
    pub test_tokens: String,
    pub train_exact: String,
    pub halt_steps: String,
    pub examples_per_second: String,
    pub wall: String,
    pub evaluations: usize,
}

/// A plot: its files beside the report and, for the HTML page, its SVG inline.
#[derive(Debug, Serialize)]
pub struct Plot {
    pub name: String,
    pub title: String,
    pub svg_file: String,
    pub png_file: String,
    pub svg: String,
}

/// Where the results are.
#[derive(Debug, Serialize)]
pub struct Storage {
    pub root: String,
    pub runs: Vec<StoredRun>,
    pub tensorboard: String,
}

/// One run's files.
#[derive(Debug, Serialize)]
pub struct StoredRun {
    pub name: String,
    pub url: String,
    pub checkpoints: String,
    /// The command that copies the run here (none for a local root).
    pub download: Option<String>,
}

/// A note attached to a run.
#[derive(Debug, Serialize)]
pub struct NoteRow {
    pub run: String,
    pub when: String,
    pub text: String,
}

/// One config of the guide: as planned, as run, or both.
struct Entry<'a> {
    name: &'a str,
    planned: Option<&'a PlannedConfig>,
    run: Option<&'a GroupRun>,
}

impl Entry<'_> {
    fn config(&self) -> Option<&TrainConfig> {
        self.planned.map(|p| &p.config).or_else(|| self.run.and_then(|r| r.config.as_ref()))
    }

    fn measured(&self) -> bool {
        self.run.is_some_and(|r| !r.metrics.train.is_empty())
    }
}

/// The variables of a group of `configs`: those of its design and the keys it is swept over
/// that take more than one value (the design's alone when none does), else every key whose
/// value differs.
pub fn variables(design: &Study, swept: &[String], configs: &[&TrainConfig]) -> Vec<String> {
    if design.variables.is_empty() && swept.is_empty() {
        return varied_keys(configs);
    }
    let mut keys: Vec<String> = design.variables.iter().chain(swept).cloned().collect();
    let mut seen = std::collections::BTreeSet::new();
    keys.retain(|k| seen.insert(k.clone()));
    let varies = |key: &String| {
        let mut values = configs.iter().map(|c| value_text(Some(c), key));
        values.next().is_some_and(|first| values.any(|v| v != first))
    };
    let varied: Vec<String> = keys.iter().filter(|k| varies(k)).cloned().collect();
    if varied.is_empty() { design.variables.clone() } else { varied }
}

/// What the estimates are costed on, each basis once (measured ones differ by config).
fn estimate_bases(plan: &Plan) -> Option<String> {
    let mut bases: Vec<&str> = Vec::new();
    for e in plan.configs.iter().filter_map(|p| p.estimate.as_ref()) {
        if !bases.contains(&e.basis.as_str()) {
            bases.push(&e.basis);
        }
    }
    (!bases.is_empty()).then(|| bases.join("; "))
}

/// The guide of `plan`, with what `group`'s runs (under `root`) measured so far.
pub fn guide(plan: &Plan, group: &Group, root: &OutputRoot, plots: Vec<Plot>) -> Guide {
    let entries = entries(plan, group);
    let configs: Vec<&TrainConfig> = entries.iter().filter_map(Entry::config).collect();
    let study = configs.iter().find_map(|c| c.study.design.clone()).unwrap_or_default();
    let variables = variables(&study, &plan.swept, &configs);
    let mut tags: Vec<String> = configs.iter().flat_map(|c| c.study.tags.iter().cloned()).collect();
    tags.sort();
    tags.dedup();
    let measured = entries.iter().any(Entry::measured);
    Guide {
        group: plan.group.clone(),
        title: if study.title.is_empty() { plan.group.clone() } else { study.title.clone() },
        generated_by: plan.generated_by.clone(),
        hypothesis: study.hypothesis.clone(),
        expected: study.expected.clone(),
        tags,
        variables: variables
            .iter()
            .map(|key| {
                let mut values: Vec<String> = configs.iter().map(|c| value_text(Some(c), key)).collect();
                values.dedup();
                Variable { key: key.clone(), values }
            })
            .collect(),
        fixed: common_settings(&configs, &variables),
        configs: entries.iter().map(|e| config_row(e, &variables)).collect(),
        commands: plan
            .commands
            .iter()
            .map(|(what, command)| Command { what: what.clone(), command: command.clone() })
            .collect(),
        criteria: study.criteria.iter().map(|c| criterion_row(c, &entries)).collect(),
        primary: format!("test exact accuracy (`{PRIMARY}`): every cell of a test puzzle right"),
        secondary: secondary(&study),
        time: time(plan, &entries),
        measured,
        results: entries.iter().filter(|e| e.run.is_some()).map(|e| result_row(e, &variables)).collect(),
        plots,
        storage: storage(root, &plan.group, &entries),
        related: related(plan),
        notes: notes(&entries),
        status: status(&entries),
        skipped: group.skipped.clone(),
    }
}

/// The plan's configs in order, each with its run; then runs the plan does not name.
fn entries<'a>(plan: &'a Plan, group: &'a Group) -> Vec<Entry<'a>> {
    let mut entries: Vec<Entry<'a>> = plan
        .configs
        .iter()
        .map(|p| Entry { name: &p.name, planned: Some(p), run: group.runs.iter().find(|r| r.record.name == p.name) })
        .collect();
    for run in &group.runs {
        if !plan.configs.iter().any(|p| p.name == run.record.name) {
            entries.push(Entry { name: &run.record.name, planned: None, run: Some(run) });
        }
    }
    entries
}

fn config_row(e: &Entry<'_>, variables: &[String]) -> ConfigRow {
    let (state, steps, note) = match e.run {
        None => ("planned".to_string(), "-".to_string(), String::new()),
        Some(r) => {
            // A complete run's total is the steps it took (a whole-batch sampler may end short).
            let total = if r.record.state == RunState::Complete { r.record.steps } else { r.record.total_steps };
            let steps = r.metrics.train.last().map_or(r.record.steps, |(s, _)| *s);
            let total = if total > 0 { total.to_string() } else { "?".into() };
            let note = match (&r.record.same_as, &r.record.error) {
                (Some(other), _) => format!("same recipe as `{other}` (run once)"),
                (None, Some(err)) => err.lines().next().unwrap_or("").chars().take(120).collect(),
                _ => String::new(),
            };
            (r.record.shown_state(), format!("{steps}/{total}"), note)
        }
    };
    ConfigRow {
        name: e.name.to_string(),
        values: variables.iter().map(|v| value_text(e.config(), v)).collect(),
        hash: e.planned.map(|p| p.hash.clone()).or(e.run.map(|r| r.record.hash.clone())).unwrap_or_default(),
        state,
        steps,
        estimate: e.planned.and_then(|p| p.estimate.as_ref()).map_or_else(|| "-".into(), |est| duration(est.seconds)),
        command: e.planned.map(|p| p.command.clone()).unwrap_or_default(),
        note,
        tags: e.config().map(|c| c.study.tags.clone()).unwrap_or_default(),
    }
}

fn criterion_row(c: &Criterion, entries: &[Entry<'_>]) -> CriterionRow {
    let last = |e: &Entry<'_>| e.run.and_then(|r| r.metrics.last(&c.metric));
    let who = match &c.config {
        Some(name) => entries.iter().find(|e| e.name == name.as_str()),
        None => entries
            .iter()
            .filter(|e| last(e).is_some())
            .max_by(|a, b| last(a).unwrap_or(f64::NAN).total_cmp(&last(b).unwrap_or(f64::NAN))),
    };
    let value = who.and_then(last);
    let bound = match (c.at_least, c.at_most) {
        (Some(lo), Some(hi)) => format!("between {} and {}", metric_value(&c.metric, lo), metric_value(&c.metric, hi)),
        (Some(lo), None) => format!("≥ {}", metric_value(&c.metric, lo)),
        (None, Some(hi)) => format!("≤ {}", metric_value(&c.metric, hi)),
        (None, None) => "(no bound)".into(),
    };
    CriterionRow {
        text: c.text.clone(),
        metric: c.metric.clone(),
        who: who.map_or_else(|| c.config.clone().unwrap_or_else(|| "the best run".into()), |e| e.name.to_string()),
        bound,
        measured: value.map(|v| metric_value(&c.metric, v)),
        passed: value.map(|v| c.at_least.is_none_or(|lo| v >= lo) && c.at_most.is_none_or(|hi| v <= hi)),
    }
}

/// A metric's value as it reads best: accuracies as percentages.
fn metric_value(metric: &str, v: f64) -> String {
    if metric.contains("accuracy") { format!("{:.1} %", v * 100.0) } else { format!("{v:.4}") }
}

fn secondary(study: &Study) -> Vec<String> {
    let mut out = vec![
        "test token accuracy (`all/accuracy`)".to_string(),
        format!("train exact accuracy and ACT halt steps, over the last {:.0} % of steps", RECENT * 100.0),
        "training throughput (examples/s, median) and wall time".to_string(),
    ];
    for c in &study.criteria {
        if c.metric != PRIMARY && !out.iter().any(|m| m.contains(&c.metric)) {
            out.push(format!("`{}` (a success criterion)", c.metric));
        }
    }
    out
}

fn time(plan: &Plan, entries: &[Entry<'_>]) -> Time {
    let mut seen = Vec::new();
    let mut total = Some(0.0);
    for p in &plan.configs {
        if seen.contains(&&p.hash) {
            continue;
        }
        seen.push(&p.hash);
        total = total.zip(p.estimate.as_ref()).map(|(t, e)| t + e.seconds);
    }
    let measured: f64 =
        entries.iter().filter_map(|e| e.run).filter(|r| r.record.same_as.is_none()).map(|r| r.seconds).sum();
    Time {
        estimated_total: total.filter(|_| !plan.configs.is_empty()).map(duration),
        basis: estimate_bases(plan),
        // An empty sum is -0.0.
        measured_total: duration(measured.max(0.0)),
    }
}

fn result_row(e: &Entry<'_>, variables: &[String]) -> ResultRow {
    let r = e.run.expect("results are of runs");
    let m = &r.metrics;
    let percent = |x: Option<f64>| x.map_or_else(|| "-".into(), |v| format!("{:.1} %", v * 100.0));
    ResultRow {
        name: e.name.to_string(),
        values: variables.iter().map(|v| value_text(e.config(), v)).collect(),
        test_exact: percent(m.last(PRIMARY)),
        test_tokens: percent(m.last("all/accuracy")),
        train_exact: percent(m.recent("train/exact_accuracy", RECENT)),
        halt_steps: m.recent("train/steps", RECENT).map_or_else(|| "-".into(), |v| format!("{v:.2}")),
        examples_per_second: m
            .median_throughput("throughput/examples_per_second")
            .map_or_else(|| "-".into(), |v| format!("{v:.0}")),
        wall: if r.seconds > 0.0 { duration(r.seconds) } else { "-".into() },
        evaluations: m.eval.iter().filter(|(_, v)| v.contains_key(PRIMARY)).count(),
    }
}

fn storage(root: &OutputRoot, group: &str, entries: &[Entry<'_>]) -> Storage {
    let runs = entries
        .iter()
        .map(|e| {
            let relative = format!("{group}/{}", e.name);
            let url = root.url(&relative);
            let dir = root.local().join(&relative);
            let checkpoints = e.config().map_or_else(
                || dir.join(ouro_train::config::CHECKPOINTS_DIR).display().to_string(),
                |c| c.run.checkpoint_location(&dir),
            );
            StoredRun { name: e.name.to_string(), download: download(&url, &relative), url, checkpoints }
        })
        .collect();
    Storage {
        root: root.url(""),
        runs,
        tensorboard: format!("tensorboard --logdir {}", root.local().join(group).display()),
    }
}

/// The command that copies a run stored at `url` to `./<relative>` (none for a local path).
fn download(url: &str, relative: &str) -> Option<String> {
    if url.starts_with("s3://") {
        Some(format!("aws s3 sync {url} ./{relative}"))
    } else if url.starts_with("gs://") {
        Some(format!("gcloud storage rsync --recursive {url} ./{relative}"))
    } else {
        None
    }
}

fn related(plan: &Plan) -> Vec<String> {
    let mut out: Vec<String> = plan
        .configs
        .iter()
        .filter(|p| !p.same_recipe.is_empty())
        .map(|p| format!("{} has the recipe of {} (run once)", p.name, p.same_recipe.join(", ")))
        .collect();
    out.dedup();
    out
}

fn notes(entries: &[Entry<'_>]) -> Vec<NoteRow> {
    let mut out: Vec<(f64, NoteRow)> = entries
        .iter()
        .filter_map(|e| e.run)
        .flat_map(|r| {
            r.notes.iter().map(|n| {
                (n.time, NoteRow { run: r.record.name.clone(), when: crate::runs::utc(n.time), text: n.text.clone() })
            })
        })
        .collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out.into_iter().map(|(_, n)| n).collect()
}

fn status(entries: &[Entry<'_>]) -> String {
    let runs: Vec<&GroupRun> = entries.iter().filter_map(|e| e.run).collect();
    let done = |r: &&&GroupRun| matches!(r.record.state, RunState::Complete | RunState::Duplicate);
    if runs.is_empty() {
        "📋 Planned: nothing has run yet".into()
    } else if runs.len() == entries.len() && runs.iter().all(|r| done(&r)) {
        "✅ Complete".into()
    } else if runs.iter().any(|r| r.record.state == RunState::Failed) {
        "❌ Failed (see the configs table)".into()
    } else if runs.iter().any(|r| r.record.alive()) {
        format!("▶️ Running ({} of {} configs done)", runs.iter().filter(done).count(), entries.len())
    } else {
        format!("⏸️ Not finished ({} of {} configs done)", runs.iter().filter(done).count(), entries.len())
    }
}

/// The recipe keys every config shares, as YAML lines (the variables left out).
fn common_settings(configs: &[&TrainConfig], variables: &[String]) -> String {
    let Some(first) = configs.first() else { return String::new() };
    let flat: Vec<BTreeMap<String, serde_json::Value>> = configs.iter().map(|c| recipe_keys(Some(c))).collect();
    let mut out = String::new();
    for (k, v) in &flat[0] {
        if flat.iter().all(|f| f.get(k) == Some(v)) && !variables.contains(k) && !v.is_null() {
            out.push_str(&format!("{k}: {}\n", value_text(Some(first), k)));
        }
    }
    out
}

/// Seconds as they read best: seconds, minutes or hours.
pub fn duration(seconds: f64) -> String {
    match seconds {
        s if s < 90.0 => format!("{s:.0} s"),
        s if s < 5400.0 => format!("{:.1} min", s / 60.0),
        s => format!("{:.2} h", s / 3600.0),
    }
}
