//! `ouro validate NAME`: the experiment guide's short validation run, scaled to run in
//! minutes and written to the stores the experiment itself will use.

use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use ouro_lab::metrics::RunMetrics;
use ouro_lab::{Catalog, OutputRoot};
use ouro_train::TrainConfig;
use ouro_train::run::Summary;

use super::{Layout, Placement, Planned, first_line};
use crate::BackendArgs;
use crate::train::{HowToRun, load_config, train_config};

/// The experiment group validation runs go to, beside the real runs (and, for a checkpoint
/// location the config names, the directory beside that location).
const GROUP: &str = "_validate";

/// Steps the resumed run takes past the first run's last checkpoint.
const RESUMED_STEPS: u64 = 2;

/// Check that an experiment works before spending a long run on it: a short run, scaled down
/// (and saying how), that must start, decrease its loss, evaluate, commit checkpoints to the
/// experiment's checkpoint store, resume from them, and put its metrics in the output root.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  ouro validate baseline\n  ouro validate exp04a_100 --steps 40 --batch 32\n  \
                        ouro validate baseline --output-root gs://bucket/runs   # checks the bucket too")]
pub struct ValidateArgs {
    /// The experiment: a name in the catalog or a config file.
    name: String,
    /// Overrides, as for `ouro run` (a smaller dataset, a smaller model).
    overrides: Vec<String>,
    #[command(flatten)]
    layout: Layout,
    /// Steps to run (then a resumed run takes 2 more).
    #[arg(long, default_value_t = 20)]
    steps: u64,
    /// The largest global batch of the short run: a larger `global_batch_size` is cut to this
    /// (rounded up to a multiple of mesh.data × grad_accum_steps).
    #[arg(long, value_name = "ROWS", default_value_t = 16)]
    batch: usize,
    /// Scale nothing: run the config's batch, warmup and evaluation as they are.
    #[arg(long)]
    unscaled: bool,
}

/// Runs `ouro validate`.
pub fn validate(backend: &BackendArgs, args: &ValidateArgs) -> Result<()> {
    if args.steps < 4 {
        bail!("--steps must be at least 4 (the loss's trend is fitted over the steps)");
    }
    if args.batch == 0 {
        bail!("--batch must be at least 1");
    }
    if ouro_lab::sweep::Sweep::parse(&args.overrides)?.is_sweep() {
        bail!("validate runs one config, and {} is a sweep: validate one of its values", args.overrides.join(" "));
    }
    let root = Arc::new(args.layout.root()?);
    let p = short_run(args, &root)?;
    let checkpoints = p.config.run.checkpoint_location(&p.run_dir);
    clear(&root, &p, &checkpoints)?;
    println!(
        "validating {} with {} steps: the run in {}, its checkpoints in {checkpoints}",
        args.name,
        args.steps,
        root.url(&p.relative)
    );

    let first = HowToRun {
        max_steps: Some(args.steps),
        force: true,
        persist: ouro_lab::lifecycle::persist_to(root.clone(), &p.relative),
        evaluate_at_limit: true,
        ..HowToRun::default()
    };
    let summary = match train_config(backend, &p.config, &p.run_dir, first) {
        Ok(summary) => summary,
        Err(e) => {
            report(&[("starts and trains", Err(e))]);
            bail!("{} validation failed", args.name);
        }
    };
    let mut checks: Vec<(&str, Result<String>)> = vec![("starts and trains", trains(&summary, &p.config))];
    let metrics = RunMetrics::read(&p.run_dir).map_err(|e| anyhow!("{e:#}"));
    checks.push(("loss decreases", metrics.as_ref().map_err(|e| anyhow!("{e:#}")).and_then(loss_decreases)));
    checks.push(("evaluates", evaluates(&summary)));
    checks.push(("checkpoints reach the store", committed(&checkpoints)));
    let again = HowToRun {
        max_steps: Some(summary.steps + RESUMED_STEPS),
        force: true,
        resume: true,
        persist: ouro_lab::lifecycle::persist_to(root.clone(), &p.relative),
        ..HowToRun::default()
    };
    let resumed = train_config(backend, &p.config, &p.run_dir, again);
    checks.push(("a checkpoint resumes", resumed.and_then(|r| resumes(&summary, &r))));
    let pushed = root.push(&p.relative).with_context(|| format!("copying the run to {}", root.url(&p.relative)));
    checks.push(("metrics reach the output root", pushed.and_then(|_| metrics_stored(&root, &p))));
    let failed = report(&checks);
    if failed > 0 {
        bail!("{} validation failed: {failed} of {} checks", args.name, checks.len());
    }
    println!("{} is ready for its full run: `ouro run {}`", args.name, run_command(args));
    Ok(())
}

/// The experiment resolved as the validation runs it: scaled (and saying so), in the
/// validation group, its checkpoints beside the experiment's own.
fn short_run(args: &ValidateArgs, root: &OutputRoot) -> Result<Planned> {
    let file = Catalog::new(&args.layout.catalog).find(&args.name)?;
    let mut config = load_config(&file, &args.overrides).with_context(|| format!("experiment {}", args.name))?;
    if !args.unscaled {
        let catalog_data = TrainConfig::load(&file, &[])?.recipe.data_paths;
        let changes = scale(&mut config, &catalog_data, args.steps, args.batch);
        if !changes.is_empty() {
            println!("scaled for a {}-step run (--unscaled runs it as it is): {}", args.steps, changes.join("; "));
        }
    }
    let configured = config.run.checkpoint.location.clone();
    let placement = Placement { group: Some(GROUP.into()), name: None };
    let mut p = args.layout.place(root, file, config, &args.overrides, &placement)?;
    // The config's own location is the real run's: its validation goes beside it.
    if let Some(own) = configured.filter(|own| p.config.run.checkpoint.location.as_ref() == Some(own)) {
        p.config.run.checkpoint.location = Some(beside(&own));
    }
    p.config.run.checkpoint.every_steps = (args.steps / 2).max(1);
    Ok(p)
}

/// Scales `config` to a short run of `steps` steps at most `batch` rows each; what it changed.
fn scale(config: &mut TrainConfig, catalog_data: &[String], steps: u64, batch: usize) -> Vec<String> {
    let mut changes = Vec::new();
    let recipe = &mut config.recipe;
    let unit = recipe.mesh.data.max(1) * recipe.grad_accum_steps.max(1);
    let rows = batch.div_ceil(unit) * unit;
    if recipe.global_batch_size > rows {
        changes.push(format!("global_batch_size {} → {rows}", recipe.global_batch_size));
        recipe.global_batch_size = rows;
    }
    // Warmup done in the first quarter, so the last quarter trains at the full rate.
    let warmup = (steps / 4) as usize;
    if recipe.lr_warmup_steps > warmup {
        changes.push(format!("lr_warmup_steps {} → {warmup}", recipe.lr_warmup_steps));
        recipe.lr_warmup_steps = warmup;
    }
    const EVAL_BATCHES: usize = 1;
    if recipe.eval_max_batches.is_none_or(|b| b > EVAL_BATCHES) {
        let before = recipe.eval_max_batches.map_or("all".to_string(), |b| b.to_string());
        changes.push(format!("eval_max_batches {before} → {EVAL_BATCHES}"));
        recipe.eval_max_batches = Some(EVAL_BATCHES);
    }
    // The catalog's data_shape describes the catalog's data; other data has its own.
    if config.run.data_shape.is_some() && recipe.data_paths != catalog_data {
        changes.push("data_shape dropped (data_paths overridden)".into());
        config.run.data_shape = None;
    }
    changes
}

/// `<parent>/_validate/<last>` for a location `<parent>/<last>` (a bucket alone gets
/// `<bucket>/_validate`).
fn beside(location: &str) -> String {
    let trimmed = location.trim_end_matches('/');
    let path_start = trimmed.find("://").map_or(0, |i| i + 3);
    match trimmed[path_start..].rfind('/') {
        Some(i) => {
            let (parent, last) = trimmed.split_at(path_start + i);
            format!("{parent}/{GROUP}{last}")
        }
        None if path_start > 0 => format!("{trimmed}/{GROUP}"),
        None => format!("{GROUP}/{trimmed}"),
    }
}

/// Removes what an earlier validation left, so every check sees this one's files alone.
fn clear(root: &OutputRoot, p: &Planned, checkpoints: &str) -> Result<()> {
    // Only the validation's own places are ever emptied.
    for place in [checkpoints, &p.relative] {
        if !place.split('/').any(|part| part == GROUP) {
            bail!("refusing to clear {place}: not a validation location (no {GROUP} in it)");
        }
    }
    if p.run_dir.exists() {
        std::fs::remove_dir_all(&p.run_dir).with_context(|| format!("clearing {}", p.run_dir.display()))?;
    }
    let mut places = vec![checkpoints.to_string()];
    if root.is_remote() {
        places.push(root.url(&p.relative));
    }
    for url in places {
        let location = ouro_store::Location::open(&url)?;
        if let Some(dir) = location.local_dir() {
            // Staging files of a killed write are on disk but in no listing.
            std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
            continue;
        }
        for (relative, _, _) in location.list().with_context(|| format!("listing {url}"))? {
            location.delete(&relative).with_context(|| format!("clearing {url}"))?;
        }
    }
    Ok(())
}

/// Prints each check's outcome; the number failed.
fn report(checks: &[(&str, Result<String>)]) -> usize {
    let mut failed = 0;
    for (what, result) in checks {
        match result {
            Ok(detail) => println!("  PASS  {what}: {detail}"),
            Err(e) => {
                failed += 1;
                println!("  FAIL  {what}: {}", first_line(&crate::error_chain(e.as_ref())));
            }
        }
    }
    failed
}

fn trains(summary: &Summary, config: &TrainConfig) -> Result<String> {
    let rows = config.recipe.global_batch_size;
    let step = if summary.median_step_seconds.is_finite() {
        format!(", median step {:.0} ms", summary.median_step_seconds * 1e3)
    } else {
        String::new()
    };
    Ok(format!("{} steps of {rows} rows, compile {:.1} s{step}", summary.steps, summary.compile_seconds))
}

/// Whether the training loss falls: its least-squares slope over the steps is more than two
/// standard errors below zero (a short run's batch-to-batch noise is as large as its trend).
fn loss_decreases(m: &RunMetrics) -> Result<String> {
    let loss: Vec<f64> = RunMetrics::series(&m.train, "train/lm_loss").into_iter().map(|p| p.1).collect();
    if loss.len() < 4 {
        bail!("only {} loss values", loss.len());
    }
    let fit = Slope::of(&loss);
    let q = loss.len() / 4;
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
    let told = format!(
        "mean lm_loss {:.4} over the first quarter of the steps, {:.4} over the last; {:+.5} per step (t = {:.1})",
        mean(&loss[..q]),
        mean(&loss[loss.len() - q..]),
        fit.per_step,
        fit.t()
    );
    match fit.t() {
        t if t <= -2.0 => Ok(told),
        t if t >= 2.0 => bail!("{told}: it rises"),
        _ => bail!("{told}: no clear fall in {} steps (more --steps or a larger --batch tells)", loss.len()),
    }
}

/// A least-squares line through `(step, value)`: its slope and the slope's standard error.
struct Slope {
    per_step: f64,
    error: f64,
}

impl Slope {
    fn of(values: &[f64]) -> Slope {
        let n = values.len() as f64;
        let mean_x = (n - 1.0) / 2.0;
        let mean_y = values.iter().sum::<f64>() / n;
        let sxx: f64 = (0..values.len()).map(|i| (i as f64 - mean_x).powi(2)).sum();
        let sxy: f64 = values.iter().enumerate().map(|(i, y)| (i as f64 - mean_x) * (y - mean_y)).sum();
        let per_step = sxy / sxx;
        let residuals: f64 =
            values.iter().enumerate().map(|(i, y)| (y - mean_y - per_step * (i as f64 - mean_x)).powi(2)).sum();
        Slope { per_step, error: (residuals / (n - 2.0) / sxx).sqrt() }
    }

    /// The slope in standard errors (infinite for a noiseless line).
    fn t(&self) -> f64 {
        if self.error == 0.0 { self.per_step.signum() * f64::INFINITY } else { self.per_step / self.error }
    }
}

fn evaluates(summary: &Summary) -> Result<String> {
    let Some((key, value)) = summary.last_eval.iter().find(|(k, _)| k.ends_with("exact_accuracy")) else {
        if summary.last_eval.is_empty() {
            bail!("no evaluation ran: the config has no test split");
        }
        bail!("the evaluation has no exact_accuracy among {:?}", summary.last_eval.keys().collect::<Vec<_>>());
    };
    Ok(format!("{} metrics at step {}, {key} {value:.4}", summary.last_eval.len(), summary.steps))
}

fn committed(location: &str) -> Result<String> {
    let steps = ouro_ckpt::committed(&ouro_store::Location::open(location)?)?;
    // Newest first.
    let names: Vec<String> = steps.iter().map(|s| format!("step_{s}")).collect();
    match steps.first() {
        Some(_) => Ok(format!("committed {} in {location}", names.join(", "))),
        None => bail!("no committed checkpoint in {location}"),
    }
}

fn resumes(first: &Summary, resumed: &Summary) -> Result<String> {
    let from = first.checkpoints.last().map(|c| c.step).context("the first run saved no checkpoint")?;
    if resumed.resumed_from != Some(from) {
        bail!("the second run resumed from {:?}, not the saved step {from}", resumed.resumed_from);
    }
    if resumed.steps != from + RESUMED_STEPS {
        bail!("the resumed run stopped at step {}, not {}", resumed.steps, from + RESUMED_STEPS);
    }
    Ok(format!("resumed from step {from} and trained to step {}", resumed.steps))
}

/// Whether the output root holds the run's metrics as this machine wrote them: metrics.jsonl
/// and every TensorBoard event file (a resumed process writes one of its own).
fn metrics_stored(root: &OutputRoot, p: &Planned) -> Result<String> {
    let url = root.url(&p.relative);
    let stored = ouro_store::Location::open(&url)?.list().with_context(|| format!("listing {url}"))?;
    let size_in_store = |name: &str| stored.iter().find(|(r, _, _)| r == name).map(|(_, size, _)| *size);
    let mut events: Vec<String> = std::fs::read_dir(&p.run_dir)?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("events.out.tfevents."))
        .collect();
    events.sort();
    if events.is_empty() {
        bail!("no TensorBoard event file in {}", p.run_dir.display());
    }
    for name in std::iter::once("metrics.jsonl").chain(events.iter().map(String::as_str)) {
        let local = std::fs::metadata(p.run_dir.join(name)).with_context(|| format!("reading {name}"))?.len();
        match size_in_store(name) {
            Some(size) if size == local => {}
            Some(size) => bail!("{url}/{name} holds {size} bytes, the run wrote {local}"),
            None => bail!("{url} has no {name}"),
        }
    }
    let train = RunMetrics::read(&p.run_dir).map_err(|e| anyhow!("{e:#}"))?.train.len();
    let mut scalars = 0;
    for name in &events {
        let read = ouro_tboard::read_events(&p.run_dir.join(name))?;
        scalars += read.iter().filter(|e| matches!(e.what, ouro_tboard::What::Scalars(_))).count();
    }
    if scalars == 0 {
        bail!("the event files hold no scalars");
    }
    Ok(format!(
        "metrics.jsonl ({train} train records) and {} TensorBoard event files ({scalars} scalar events) in {url}",
        events.len()
    ))
}

/// The `ouro run` arguments of the full run: the experiment, its overrides and layout.
fn run_command(args: &ValidateArgs) -> String {
    let mut words = vec![args.name.clone()];
    words.extend(args.overrides.iter().cloned());
    words.extend(args.layout.flags());
    shell_words::join(words)
}

#[cfg(test)]
mod tests {
    use super::{Slope, beside, scale};

    #[test]
    fn a_slope_is_fitted_with_its_standard_error() {
        let line = Slope::of(&[3.0, 2.0, 1.0, 0.0]);
        assert_eq!((line.per_step, line.error, line.t()), (-1.0, 0.0, f64::NEG_INFINITY));
        // y = 1, 0, 1, 0: slope -0.2; residuals 0.2, -0.6, 0.6, -0.2 (sum of squares 0.8).
        let noisy = Slope::of(&[1.0, 0.0, 1.0, 0.0]);
        assert!((noisy.per_step + 0.2).abs() < 1e-12);
        assert!((noisy.error - (0.8f64 / 2.0 / 5.0).sqrt()).abs() < 1e-12);
        assert!(noisy.t() > -2.0, "noise is no trend");
    }

    #[test]
    fn the_baseline_is_scaled_to_a_short_run_and_each_change_is_told() {
        let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/experiments/baseline.yaml");
        let catalog = ouro_train::TrainConfig::load(&file, &[]).unwrap();
        let mut config = catalog.clone();
        let changes = scale(&mut config, &catalog.recipe.data_paths, 20, 16);
        assert_eq!(
            changes,
            ["global_batch_size 6144 → 16", "lr_warmup_steps 2000 → 5", "eval_max_batches all → 1"],
            "the data is the catalog's: its data_shape stays"
        );
        assert_eq!(config.recipe.global_batch_size, 16);
        assert!(config.run.data_shape.is_some());
        // Other data drops the shape; a batch that divides no device count is rounded up.
        let other = ["data/other".to_string()];
        let mut config = catalog.clone();
        config.recipe.data_paths = other.to_vec();
        config.recipe.mesh.data = 8;
        let changes = scale(&mut config, &catalog.recipe.data_paths, 40, 12);
        assert_eq!(config.recipe.global_batch_size, 16);
        assert_eq!(config.recipe.lr_warmup_steps, 10);
        assert!(
            changes.contains(&"data_shape dropped (data_paths overridden)".to_string())
                && config.run.data_shape.is_none()
        );
        // What is small already is left alone.
        let mut config = catalog.clone();
        config.recipe.global_batch_size = 8;
        config.recipe.lr_warmup_steps = 0;
        config.recipe.eval_max_batches = Some(1);
        assert!(scale(&mut config, &catalog.recipe.data_paths, 20, 16).is_empty());
    }

    #[test]
    fn a_configured_location_is_validated_beside_itself() {
        assert_eq!(beside("gs://bucket/exp/baseline"), "gs://bucket/exp/_validate/baseline");
        assert_eq!(beside("s3://bucket/exp/baseline/"), "s3://bucket/exp/_validate/baseline");
        assert_eq!(beside("gs://bucket"), "gs://bucket/_validate");
        assert_eq!(beside("/mnt/ckpt/baseline"), "/mnt/ckpt/_validate/baseline");
        assert_eq!(beside("ckpt"), "_validate/ckpt");
    }
}
