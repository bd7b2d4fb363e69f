//! One run's life in its directory: the record says it runs on this process before training
//! starts, and how it ended after; each change is copied to the output root. A run that lost
//! its checkpoint location to another machine leaves that machine's record in place.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::error::{Error, Result};
use ouro_train::run::{Persist, Summary};

use crate::root::OutputRoot;
use crate::runs::{RunRecord, RunState, now};

/// Where a run lives: its directory, and the same as a path under the output root.
#[derive(Clone, Debug)]
pub struct RunPlace {
    /// The run directory (the root's local copy).
    pub dir: PathBuf,
    /// `<group>/<name>` under the root.
    pub relative: String,
}

/// How a run's training ended.
pub enum Ended<'a> {
    /// It trained; stopped by `--max-steps` if it reached them before the end.
    Trained {
        /// What it did.
        summary: &'a Summary,
        /// The step limit it was given.
        max_steps: Option<u64>,
    },
    /// Another machine holds the run's checkpoint location: the run is that machine's.
    HeldElsewhere,
    /// It failed with this error.
    Failed(String),
}

/// A run under way.
pub struct Lifecycle {
    root: Arc<OutputRoot>,
    place: RunPlace,
    /// The record before this attempt.
    prior: Option<RunRecord>,
    record: RunRecord,
    started: Instant,
}

impl Lifecycle {
    /// Records the run as running on this process (its identity from `identity`), keeping
    /// the time it has run so far when it resumes the same recipe, and copies the record to
    /// the root.
    pub fn begin(root: Arc<OutputRoot>, place: RunPlace, identity: RunRecord, resume: bool) -> Result<Lifecycle> {
        let prior = RunRecord::read(&place.dir).ok().flatten();
        let same_recipe = prior.as_ref().filter(|r| r.hash == identity.hash);
        let seconds = if resume { same_recipe.map_or(0.0, |r| r.seconds) } else { 0.0 };
        let record = RunRecord { seconds, state: RunState::Running, ..identity }.owned_by_this_process();
        record.write(&place.dir)?;
        root.push(&place.relative)?;
        Ok(Lifecycle { root, place, prior, record, started: Instant::now() })
    }

    /// The persist hook of this run (see [`persist_to`]).
    pub fn persist(&self) -> Option<Persist> {
        persist_to(self.root.clone(), &self.place.relative)
    }

    /// Records how the run ended and copies the run to the root.
    pub fn end(mut self, ended: Ended<'_>) -> Result<()> {
        let record = &mut self.record;
        record.seconds += self.started.elapsed().as_secs_f64();
        record.finished = Some(now());
        record.pid = None;
        match ended {
            Ended::Trained { summary, max_steps } => {
                record.steps = summary.steps;
                record.total_steps = summary.total_steps;
                // The sampler may end a run a step short of `total_steps` (whole batches only):
                // a run is cut short only by a signal or by --max-steps.
                let cut = summary.stopped
                    || max_steps.is_some_and(|m| summary.steps >= m && summary.steps < summary.total_steps);
                record.state = if cut { RunState::Stopped } else { RunState::Complete };
                record.write(&self.place.dir)?;
            }
            Ended::HeldElsewhere => match &self.prior {
                Some(prior) => prior.write(&self.place.dir)?,
                None => return Ok(()),
            },
            Ended::Failed(error) => {
                record.state = RunState::Failed;
                record.error = Some(error);
                record.write(&self.place.dir)?;
            }
        }
        let url = self.root.url(&self.place.relative);
        self.root.push(&self.place.relative).map_err(|e| Error::Push { url, source: Box::new(e) })?;
        Ok(())
    }
}

/// A persist hook for training into `relative` on a remote root: copies the run directory up
/// on a thread of its own, so a slow or unreachable store never holds training; a copy asked
/// for while one is under way is skipped (the next one, or the final copy, takes the files as
/// they are then). `None` for a local root.
pub fn persist_to(root: Arc<OutputRoot>, relative: &str) -> Option<Persist> {
    if !root.is_remote() {
        return None;
    }
    let relative = relative.to_string();
    let busy = Arc::new(AtomicBool::new(false));
    Some(Arc::new(move || {
        if busy.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let (root, relative, busy) = (root.clone(), relative.clone(), busy.clone());
        std::thread::spawn(move || {
            if let Err(e) = root.push(&relative) {
                tracing::warn!("copying the run to {} failed (the run goes on): {e:#}", root.url(&relative));
            }
            busy.store(false, Ordering::Release);
        });
        Ok(())
    }))
}

/// Records a run whose recipe is complete in `other` as its duplicate (the steps of that run),
/// and copies the record to the root.
pub fn record_duplicate(root: &OutputRoot, place: &RunPlace, identity: RunRecord, other: &Path) -> Result<()> {
    let vanished = || Error::NotFound(format!("the complete run's record in {} vanished", other.display()));
    let previous = RunRecord::read(other)?.ok_or_else(vanished)?;
    let record = RunRecord {
        state: RunState::Duplicate,
        finished: Some(now()),
        steps: previous.steps,
        total_steps: previous.total_steps,
        same_as: Some(other.display().to_string()),
        ..identity
    };
    record.write(&place.dir)?;
    root.push(&place.relative)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(tag: &str) -> (Arc<OutputRoot>, RunPlace, RunRecord) {
        let base = std::env::temp_dir().join(format!("ouro-lifecycle-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let root = Arc::new(OutputRoot::open(base.to_str().unwrap()).unwrap());
        let place = RunPlace { dir: base.join("g/exp"), relative: "g/exp".into() };
        std::fs::create_dir_all(&place.dir).unwrap();
        let identity = RunRecord::new("exp", Path::new("exp.yaml"), &[], "abc", RunState::Running);
        (root, place, identity)
    }

    fn summary(steps: u64, total_steps: u64, stopped: bool) -> Summary {
        Summary { steps, total_steps, stopped, ..Summary::default() }
    }

    #[test]
    fn a_run_is_running_while_it_trains_and_complete_or_stopped_after() {
        let (root, place, identity) = setup("trained");
        for (s, max_steps, want) in [
            (summary(10, 10, false), None, RunState::Complete),
            // A whole-batch sampler may end a step short: still complete.
            (summary(9, 10, false), None, RunState::Complete),
            (summary(4, 10, false), Some(4), RunState::Stopped),
            (summary(6, 10, true), None, RunState::Stopped),
        ] {
            let run = Lifecycle::begin(root.clone(), place.clone(), identity.clone(), false).unwrap();
            let during = RunRecord::read(&place.dir).unwrap().unwrap();
            assert_eq!(during.state, RunState::Running);
            assert!(during.pid.is_some(), "owned by this process");
            assert!(run.persist().is_none(), "a local root needs no copies");
            run.end(Ended::Trained { summary: &s, max_steps }).unwrap();
            let after = RunRecord::read(&place.dir).unwrap().unwrap();
            assert_eq!((after.state, after.steps, after.pid), (want, s.steps, None));
        }
    }

    #[test]
    fn a_resumed_run_keeps_its_time_and_a_failure_its_error() {
        let (root, place, identity) = setup("resume");
        RunRecord { seconds: 100.0, ..identity.clone() }.write(&place.dir).unwrap();
        let run = Lifecycle::begin(root.clone(), place.clone(), identity.clone(), true).unwrap();
        run.end(Ended::Failed("step 3: not finite".into())).unwrap();
        let after = RunRecord::read(&place.dir).unwrap().unwrap();
        assert_eq!((after.state, after.error.as_deref()), (RunState::Failed, Some("step 3: not finite")));
        assert!(after.seconds >= 100.0, "{}", after.seconds);
        // A fresh start (or another recipe) starts the clock again.
        let run = Lifecycle::begin(root, place.clone(), identity, false).unwrap();
        assert!(RunRecord::read(&place.dir).unwrap().unwrap().seconds < 100.0);
        drop(run);
    }

    #[test]
    fn a_run_held_elsewhere_leaves_that_runs_record() {
        let (root, place, identity) = setup("held");
        let elsewhere = RunRecord { host: Some("other-machine".into()), pid: Some(42), ..identity.clone() };
        elsewhere.write(&place.dir).unwrap();
        let run = Lifecycle::begin(root, place.clone(), identity, true).unwrap();
        run.end(Ended::HeldElsewhere).unwrap();
        assert_eq!(RunRecord::read(&place.dir).unwrap().unwrap(), elsewhere);
    }

    #[test]
    fn a_duplicate_names_the_run_it_repeats() {
        let (root, place, identity) = setup("duplicate");
        let other = place.dir.parent().unwrap().join("first");
        std::fs::create_dir_all(&other).unwrap();
        RunRecord { state: RunState::Complete, steps: 7, total_steps: 7, ..identity.clone() }.write(&other).unwrap();
        record_duplicate(&root, &place, identity, &other).unwrap();
        let r = RunRecord::read(&place.dir).unwrap().unwrap();
        assert_eq!((r.state, r.steps, r.same_as), (RunState::Duplicate, 7, Some(other.display().to_string())));
    }
}
