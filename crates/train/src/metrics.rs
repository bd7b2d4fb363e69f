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
    /// Appends to (or, `fresh`, replaces) `run_dir/metrics.jsonl` and starts a new event file in
    /// `run_dir` (TensorBoard merges a resumed run's files by step).
    pub fn open(run_dir: &Path, fresh: bool) -> Result<MetricsLog> {
        let path = run_dir.join("metrics.jsonl");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(!fresh)
            .write(true)
            .truncate(fresh)
            .open(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        if fresh {
            // A replaced run's event files would mix with the new one's curves.
            let entries = std::fs::read_dir(run_dir).with_context(|| format!("listing {}", run_dir.display()))?;
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().starts_with("events.out.tfevents.") {
                    std::fs::remove_file(entry.path())
                        .with_context(|| format!("removing {}", entry.path().display()))?;
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
