//! Where a run's metrics go: `metrics.jsonl` (one object per record, the format `ouro report`
//! and `ouro status` read) and a TensorBoard event file beside it (`tensorboard --logdir` on the
//! output root shows every run).

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::error::{Context, Result};

/// The run's metric writers (process 0 only; the others get [`MetricsLog::sink`]).
pub struct MetricsLog {
    jsonl: Box<dyn Write>,
    /// Where `jsonl` goes, for errors (a full disk names the file).
    jsonl_path: PathBuf,
    events: Option<ouro_tboard::EventWriter>,
}

impl MetricsLog {
    /// Appends to `run_dir/metrics.jsonl` and starts a new event file in `run_dir`, TensorBoard
    /// merging a resumed run's files by step; a run resumed from step `S` first drops from the
    /// older event files what it logs again (train steps after `S`, the rest from `S` on, as
    /// the JSONL log is cut). A run not resumed (`None`) replaces both.
    pub fn open(run_dir: &Path, resumed_from: Option<u64>) -> Result<MetricsLog> {
        let path = run_dir.join("metrics.jsonl");
        let fresh = resumed_from.is_none();
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(!fresh)
            .write(true)
            .truncate(fresh)
            .open(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        for events in event_files(run_dir)? {
            match resumed_from {
                // A replaced run's event files would mix with the new one's curves.
                None => std::fs::remove_file(&events).with_context(|| format!("removing {}", events.display()))?,
                Some(step) => {
                    ouro_tboard::retain_events(&events, |e| logged_before(e, step))
                        .with_context(|| format!("dropping the steps after {step} from {}", events.display()))?;
                }
            }
        }
        let events = ouro_tboard::EventWriter::create(run_dir)
            .with_context(|| format!("creating a TensorBoard event file in {}", run_dir.display()))?;
        Ok(MetricsLog { jsonl: Box::new(std::io::BufWriter::new(file)), jsonl_path: path, events: Some(events) })
    }

    /// Writes nothing (hosts other than process 0).
    pub fn sink() -> MetricsLog {
        MetricsLog { jsonl: Box::new(std::io::sink()), jsonl_path: PathBuf::new(), events: None }
    }

    /// One record of `step`: a JSONL line, and TensorBoard scalars tagged `tb_prefix` + key.
    pub fn record(&mut self, step: u64, tb_prefix: &str, values: &[(String, f64)]) -> Result<()> {
        let mut record = serde_json::Map::new();
        record.insert("step".into(), json!(step));
        for (k, v) in values {
            record.insert(k.clone(), json!(v));
        }
        writeln!(self.jsonl, "{}", Value::Object(record))
            .with_context(|| format!("writing {}", self.jsonl_path.display()))?;
        if let Some(events) = &mut self.events {
            let tagged: Vec<(String, f64)> = values.iter().map(|(k, v)| (format!("{tb_prefix}{k}"), *v)).collect();
            events
                .scalars(step as i64, ouro_tboard::now(), &tagged)
                .with_context(|| format!("writing {}", events.path().display()))?;
        }
        Ok(())
    }

    /// A histogram (TensorBoard only): `counts` of each discrete value.
    pub fn histogram(&mut self, step: u64, tag: &str, counts: &[(f64, f64)]) -> Result<()> {
        if let Some(events) = &mut self.events {
            events
                .histogram(tag, step as i64, ouro_tboard::now(), &ouro_tboard::Histogram::from_counts(counts))
                .with_context(|| format!("writing {}", events.path().display()))?;
        }
        Ok(())
    }

    /// Text (TensorBoard only), e.g. the resolved config.
    pub fn text(&mut self, step: u64, tag: &str, text: &str) -> Result<()> {
        if let Some(events) = &mut self.events {
            events
                .text(tag, step as i64, ouro_tboard::now(), text)
                .with_context(|| format!("writing {}", events.path().display()))?;
        }
        Ok(())
    }

    /// Makes everything written so far visible to readers.
    pub fn flush(&mut self) -> Result<()> {
        self.jsonl.flush().with_context(|| format!("writing {}", self.jsonl_path.display()))?;
        if let Some(events) = &mut self.events {
            events.flush().with_context(|| format!("writing {}", events.path().display()))?;
        }
        Ok(())
    }
}

/// The TensorBoard event files in `run_dir`.
fn event_files(run_dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(run_dir).with_context(|| format!("listing {}", run_dir.display()))?;
    Ok(entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("events.out.tfevents."))
        .map(|e| e.path())
        .collect())
}

/// Whether an event a run logged stays when it resumes from `step`: a train step's up to it,
/// anything else (evaluations, throughput, the config) before it.
fn logged_before(event: &ouro_tboard::Event, step: u64) -> bool {
    let train = match &event.what {
        ouro_tboard::What::Scalars(values) => values.iter().any(|(tag, _)| tag.starts_with("train/")),
        ouro_tboard::What::Histogram { tag, .. } => tag.starts_with("train/"),
        _ => false,
    };
    let at = u64::try_from(event.step).unwrap_or(0);
    if train { at <= step } else { at < step }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The steps of each kind of event in `run_dir`'s event files, over every file.
    fn logged(run_dir: &Path) -> (Vec<i64>, Vec<i64>) {
        let (mut train, mut other) = (Vec::new(), Vec::new());
        let mut files = event_files(run_dir).unwrap();
        files.sort();
        for f in files {
            for e in ouro_tboard::read_events(&f).unwrap() {
                match &e.what {
                    ouro_tboard::What::Scalars(v) if v[0].0.starts_with("train/") => train.push(e.step),
                    ouro_tboard::What::FileVersion(_) => {}
                    _ => other.push(e.step),
                }
            }
        }
        train.sort();
        other.sort();
        (train, other)
    }

    #[test]
    fn a_resumed_run_leaves_tensorboard_one_point_per_step() {
        let dir = std::env::temp_dir().join(format!("ouro-metrics-log-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let write = |log: &mut MetricsLog, steps: std::ops::RangeInclusive<u64>| {
            for s in steps {
                log.record(s, "", &[("train/lm_loss".into(), 1.0)]).unwrap();
                if s % 4 == 0 {
                    log.record(s, "", &[("all/exact_accuracy".into(), 0.5)]).unwrap();
                }
            }
            log.flush().unwrap();
        };
        let mut first = MetricsLog::open(&dir, None).unwrap();
        write(&mut first, 1..=10);
        drop(first);
        // Killed after step 10; the checkpoint is at step 8, and the run logs 9.. (and the
        // evaluation at 8) again.
        let mut resumed = MetricsLog::open(&dir, Some(8)).unwrap();
        resumed.record(8, "", &[("all/exact_accuracy".into(), 0.5)]).unwrap();
        write(&mut resumed, 9..=12);
        drop(resumed);
        let (train, other) = logged(&dir);
        assert_eq!(train, (1..=12).collect::<Vec<_>>());
        assert_eq!(other, [4, 8, 12]);
        // A fresh start replaces every event file.
        drop(MetricsLog::open(&dir, None).unwrap());
        assert_eq!(logged(&dir), (vec![], vec![]));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
