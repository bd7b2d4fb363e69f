//! What the run tells as it goes: each step's metrics read one step late (so reading never
//! stalls the device) into `metrics.jsonl` and TensorBoard, throughput every few steps, the
//! progress bar.

use std::path::Path;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ouro_pjrt::Buffer;
use ouro_runtime::to_host;
use serde_json::Value;

use super::RunOptions;
use super::programs::DepthPrograms;
use crate::config::TrainConfig;
use crate::curriculum::Depth;
use crate::error::{Context, Error, Result};
use crate::metrics::MetricsLog;
use crate::step_metrics::MetricsLayout;

/// Steps whose median rate the progress bar shows.
const RATE_WINDOW: usize = 64;

/// Steps between throughput records.
const THROUGHPUT_EVERY: u64 = 10;

/// Seconds between the progress lines of a run without a progress bar (`ouro batch` logs each
/// run to a file), so its log shows it going between evaluations.
const PROGRESS_EVERY: f64 = 30.0;

/// The median of `values` (NaN for none).
pub(crate) fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Opens the run's metrics on the process that writes the run directory (a sink elsewhere):
/// a resumed run drops what its checkpoint does not back; a new run refuses to replace another
/// run's metrics unless forced. The resolved config goes beside them.
pub(crate) fn open_metrics(
    cfg: &TrainConfig,
    options: &RunOptions,
    resumed_from: Option<u64>,
    leader: bool,
) -> Result<MetricsLog> {
    if !leader {
        return Ok(MetricsLog::sink());
    }
    let metrics_path = options.run_dir.join("metrics.jsonl");
    if let Some(step) = resumed_from {
        truncate_metrics(&metrics_path, step)?;
    } else if options.resume {
        // Nothing committed to resume from (killed during the first save): the run starts
        // over, and records no checkpoint backs are dropped as on any resume.
        truncate_metrics(&metrics_path, 0)?;
    } else if trained_steps_logged(&metrics_path) > 0 && !options.force {
        // A log without a step (a run stopped while it compiled) is no run to keep.
        return Err(Error::Exists { dir: options.run_dir.clone() });
    }
    std::fs::create_dir_all(&options.run_dir)
        .with_context(|| format!("creating the run directory {}", options.run_dir.display()))?;
    let yaml = cfg.to_yaml()?;
    let config_path = options.run_dir.join("config.yaml");
    std::fs::write(&config_path, &yaml).with_context(|| format!("writing {}", config_path.display()))?;
    let mut log = MetricsLog::open(&options.run_dir, resumed_from)?;
    log.text(resumed_from.unwrap_or(0), "config", &format!("```yaml\n{yaml}```"))?;
    Ok(log)
}

/// How many train steps `path` (a run's `metrics.jsonl`) records; 0 when it is missing.
fn trained_steps_logged(path: &Path) -> usize {
    let Ok(text) = std::fs::read_to_string(path) else { return 0 };
    text.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|record| record.get("train/lm_loss").is_some())
        .count()
}

/// Drops what an interrupted run logged past step `step`: its train lines after it and its
/// evaluations from it on (the resumed run logs them again).
fn truncate_metrics(path: &Path, step: u64) -> Result<()> {
    let Ok(text) = std::fs::read_to_string(path) else { return Ok(()) };
    let mut kept = String::new();
    for line in text.lines() {
        let Ok(record) = serde_json::from_str::<Value>(line) else { continue };
        let at = record["step"].as_u64().unwrap_or(u64::MAX);
        let is_train = record.get("train/lm_loss").is_some();
        if (is_train && at <= step) || (!is_train && at < step) {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    // Whole or not at all: a kill mid-rewrite must not lose the records kept.
    let tmp = path.with_extension("jsonl.tmp");
    std::fs::write(&tmp, kept).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming {} into place", tmp.display()))
}

/// A duration in seconds, minutes or hours, whichever reads best.
fn span(seconds: f64) -> String {
    match seconds {
        s if s < 90.0 => format!("{s:.0} s"),
        s if s < 5400.0 => format!("{:.1} min", s / 60.0),
        s => format!("{:.1} h", s / 3600.0),
    }
}

/// The progress bar of a run of `limit` steps (hidden unless asked for, on the leader).
pub(crate) fn progress_bar(limit: u64, visible: bool) -> ProgressBar {
    let target = if visible { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
    let bar = ProgressBar::with_draw_target(Some(limit), target);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {msg}  [{elapsed_precise} < {eta_precise}]")
            .expect("a valid template"),
    );
    bar
}

/// The train steps' metrics on their way from the devices to the log.
pub(crate) struct StepLog {
    pub file: MetricsLog,
    pub bar: ProgressBar,
    /// What the metrics output holds.
    pub layout: MetricsLayout,
    pub global_batch: usize,
    /// Whether the run has a depth curriculum (each step then logs its depth).
    pub curriculum: bool,
    /// The devices' peak FLOP/s, when known (for MFU).
    pub peak: Option<f64>,
    /// Steps dispatched whose metrics are not read yet: the step, its metrics, its depth.
    pending: Vec<(u64, Buffer, Depth)>,
    /// Seconds between reads, one a step.
    pub step_times: Vec<f64>,
    last: Instant,
    /// When the last progress line was logged.
    last_progress: Instant,
    /// Halting counts summed since the last histogram.
    halt_sums: Vec<f64>,
}

impl StepLog {
    pub(crate) fn new(file: MetricsLog, bar: ProgressBar, layout: MetricsLayout, global_batch: usize) -> StepLog {
        StepLog {
            file,
            bar,
            layout,
            global_batch,
            curriculum: false,
            peak: None,
            pending: Vec::new(),
            step_times: Vec::new(),
            last: Instant::now(),
            last_progress: Instant::now(),
            halt_sums: Vec::new(),
        }
    }

    /// Step `step` at `depth` was dispatched; its metrics are `metrics`.
    pub(crate) fn dispatched(&mut self, step: u64, metrics: Buffer, depth: Depth) {
        self.pending.push((step, metrics, depth));
    }

    /// Reads the previous step's metrics while the last one runs, and every few steps records
    /// the throughput.
    pub(crate) fn read_previous(&mut self, programs: &mut DepthPrograms<'_>) -> Result<()> {
        if self.pending.len() < 2 {
            return Ok(());
        }
        let (s, m, d) = self.pending.remove(0);
        self.report(s, &m, d)?;
        let now = Instant::now();
        self.step_times.push(now.duration_since(self.last).as_secs_f64());
        self.last = now;
        // The bar shows the rate of the last steps; the run's median is taken once, at the end.
        let recent = median(&self.step_times[self.step_times.len().saturating_sub(RATE_WINDOW)..]);
        let gbs = self.global_batch as f64;
        if s.is_multiple_of(THROUGHPUT_EVERY) {
            let step_flops = programs.flops(d)?;
            let mut values = vec![
                ("throughput/examples_per_second".to_string(), gbs / recent),
                ("throughput/step_seconds".to_string(), recent),
                ("throughput/tflops".to_string(), step_flops / recent / 1e12),
            ];
            if let Some(peak) = self.peak {
                values.push(("throughput/mfu".to_string(), step_flops / recent / peak));
            }
            self.file.record(s, "", &values)?;
        }
        self.bar.set_position(s);
        self.bar.set_message(format!("{}  {:.0} ex/s", self.bar.message(), gbs / recent));
        if self.bar.is_hidden() && now.duration_since(self.last_progress).as_secs_f64() >= PROGRESS_EVERY {
            self.last_progress = now;
            let total = self.bar.length().unwrap_or(s);
            let left = total.saturating_sub(s) as f64 * recent;
            tracing::info!(
                "step {s}/{total}: {}, {:.2} steps/s, {} left",
                self.bar.message(),
                1.0 / recent,
                span(left)
            );
        }
        Ok(())
    }

    /// Reads every step not read yet and flushes the log.
    pub(crate) fn drain(&mut self) -> Result<()> {
        for (s, m, d) in std::mem::take(&mut self.pending) {
            self.report(s, &m, d)?;
        }
        self.file.flush()
    }

    /// The interval the next step time is measured from starts now (after a save).
    pub(crate) fn restart_clock(&mut self) {
        self.last = Instant::now();
    }

    /// Logs step `steps`'s metrics; a step that was not sound ends the run.
    fn report(&mut self, steps: u64, buffer: &Buffer, depth: Depth) -> Result<()> {
        let values = to_host(buffer)?.to_f64_vec();
        let m = self
            .layout
            .read(&values)
            .ok_or_else(|| Error::Program(format!("step {steps}: {} metrics, not the train step's", values.len())))?;
        if !m.finite {
            return Err(Error::NotFinite { step: steps, lm_loss: m.model.lm_loss });
        }
        let mut logged = m.log(self.global_batch);
        if self.curriculum {
            logged.push(("train/h_cycles".into(), depth.h_cycles as f64));
            logged.push(("train/l_cycles".into(), depth.l_cycles as f64));
        }
        self.file.record(steps, "", &logged)?;
        // Halting counts are summed over the throughput interval into one histogram.
        self.halt_sums.resize(m.halted_after.len(), 0.0);
        for (sum, c) in self.halt_sums.iter_mut().zip(&m.halted_after) {
            *sum += c;
        }
        if steps.is_multiple_of(THROUGHPUT_EVERY) {
            let counts: Vec<(f64, f64)> =
                self.halt_sums.iter().enumerate().map(|(k, &c)| ((k + 1) as f64, c)).collect();
            self.file.histogram(steps, "train/halt_steps", &counts)?;
            self.halt_sums.iter_mut().for_each(|c| *c = 0.0);
        }
        let get = |k: &str| logged.iter().find(|(n, _)| n == k).map_or(f64::NAN, |(_, v)| *v);
        self.bar.set_message(format!("loss {:.4}  exact {:.3}", get("train/lm_loss"), get("train/exact_accuracy")));
        Ok(())
    }
}
