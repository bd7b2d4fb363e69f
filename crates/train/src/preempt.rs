//! One stop for all the hosts of a job. A preempted job gets SIGTERM on some or all of its
//! hosts, at different moments; each host runs the same steps in lockstep (every step's
//! collectives need all of them), so a host that stopped alone would leave the others waiting
//! in their next step, and a save needs every host's shards of one step.
//!
//! The agreement, over the job's key-value store: a host that sees its signal publishes the
//! number of steps it has started and a notice; every other host's watcher thread sees the
//! notice and publishes its own count. From then on no host starts a step before the agreed
//! point is known: the largest published count. A host's count is frozen once published, so
//! the largest is at least every host's, and each host runs on until it has done that many
//! steps, then stops; the hosts then save that step together. No key-value traffic happens
//! until a signal: a step only takes a lock and reads a flag.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ouro_pjrt::{KeyValueStore, KvErrorKind};

use crate::error::{Error, Result};

/// How long a host waits for the others to publish their step counts.
const AGREE_TIMEOUT: Duration = Duration::from_secs(120);

/// How often a blocked wait looks up from the store (to end with the run).
const POLL: Duration = Duration::from_millis(500);

/// The stop signal of one process, or of every process of a job.
pub struct StopAgreement {
    shared: Arc<Shared>,
}

struct Shared {
    local: Arc<AtomicBool>,
    /// `None` for a job of one process.
    job: Option<Job>,
    state: Mutex<State>,
    agreed: Condvar,
    /// The run is over: the watcher ends.
    done: AtomicBool,
}

struct Job {
    store: Arc<dyn KeyValueStore>,
    host: usize,
    hosts: usize,
    prefix: String,
}

#[derive(Default)]
struct State {
    /// Steps this host has started.
    started: u64,
    /// Whether this host has published `started` (it starts no step before the agreement).
    published: bool,
    /// The agreed step count, or why there is none.
    agreed: Option<Result<u64, String>>,
}

impl StopAgreement {
    /// A process alone: it stops when `local` is set.
    pub fn alone(local: Arc<AtomicBool>) -> StopAgreement {
        StopAgreement::with(local, None)
    }

    /// Host `host` of `hosts`, agreeing through `store` under the keys `prefix/…` (unique to the
    /// run), stopping when any host's flag is set.
    pub fn in_job(
        local: Arc<AtomicBool>,
        store: Arc<dyn KeyValueStore>,
        host: usize,
        hosts: usize,
        prefix: &str,
    ) -> StopAgreement {
        let job = Job { store, host, hosts, prefix: prefix.trim_end_matches('/').to_string() };
        let agreement = StopAgreement::with(local, Some(job));
        let shared = agreement.shared.clone();
        // Detached: it ends with the run (`done`) or with the process.
        std::thread::Builder::new()
            .name("ouro-stop-watch".into())
            .spawn(move || shared.watch())
            .expect("a thread starts");
        agreement
    }

    fn with(local: Arc<AtomicBool>, job: Option<Job>) -> StopAgreement {
        StopAgreement {
            shared: Arc::new(Shared {
                local,
                job,
                state: Mutex::default(),
                agreed: Condvar::new(),
                done: AtomicBool::new(false),
            }),
        }
    }

    /// Called before each step with the steps done so far: whether to stop here instead of
    /// starting another. In a job, true at the same count on every host.
    pub fn stop_before(&self, steps: u64) -> Result<bool> {
        let shared = &self.shared;
        let Some(job) = &shared.job else { return Ok(shared.local.load(Ordering::Relaxed)) };
        let mut state = shared.lock();
        if !state.published && shared.local.load(Ordering::Relaxed) {
            job.publish(&mut state, steps)?;
            job.put("notice", job.host.to_string().as_bytes())?;
        }
        if !state.published {
            state.started = steps + 1;
            return Ok(false);
        }
        let deadline = Instant::now() + AGREE_TIMEOUT + POLL;
        while state.agreed.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::Hosts(format!(
                    "agreeing on the step to stop at: no answer within {:?}",
                    AGREE_TIMEOUT
                )));
            }
            state = shared.agreed.wait_timeout(state, left).unwrap_or_else(|p| p.into_inner()).0;
        }
        match state.agreed.clone().expect("checked above") {
            Ok(at) => Ok(steps >= at),
            Err(e) => Err(Error::Hosts(format!("agreeing on the step to stop at: {e}"))),
        }
    }
}

impl Drop for StopAgreement {
    fn drop(&mut self) {
        self.shared.done.store(true, Ordering::Relaxed);
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The watcher: waits for a notice, publishes this host's count if it has not yet, then
    /// reads every host's and makes the largest the agreed point.
    fn watch(&self) {
        let job = self.job.as_ref().expect("only a job has a watcher");
        let agreed = (|| -> Result<Option<u64>, String> {
            if job.get(&self.done, "notice", None)?.is_none() {
                return Ok(None);
            }
            {
                let mut state = self.lock();
                if !state.published {
                    let started = state.started;
                    job.publish(&mut state, started).map_err(|e| e.to_string())?;
                }
            }
            let mut at = 0;
            for host in 0..job.hosts {
                let deadline = Some(Instant::now() + AGREE_TIMEOUT);
                let count = job.value_of(&self.done, &format!("at/{host}"), deadline);
                let Some(count) = count.map_err(|e| format!("process {host}: {e}"))? else { return Ok(None) };
                at = at.max(count);
            }
            Ok(Some(at))
        })();
        let agreed = match agreed {
            Ok(None) => return,
            Ok(Some(at)) => {
                tracing::warn!(step = at, "a host of the job was signalled: every host stops after step {at}");
                Ok(at)
            }
            Err(e) => Err(e),
        };
        self.lock().agreed = Some(agreed);
        self.agreed.notify_all();
    }
}

impl Job {
    fn key(&self, name: &str) -> String {
        format!("{}/{name}", self.prefix)
    }

    fn put(&self, name: &str, value: &[u8]) -> Result<()> {
        self.store
            .put(&self.key(name), value)
            .map_err(|e| Error::Hosts(format!("publishing {}: {}", self.key(name), e.message)))
    }

    /// Publishes `started` as this host's count; it starts no step until the agreement.
    fn publish(&self, state: &mut State, started: u64) -> Result<()> {
        self.put(&format!("at/{}", self.host), started.to_string().as_bytes())?;
        state.published = true;
        Ok(())
    }

    /// The step count under `name`, or `None` when the run ended first.
    fn value_of(&self, done: &AtomicBool, name: &str, deadline: Option<Instant>) -> Result<Option<u64>, String> {
        let Some(bytes) = self.get(done, name, deadline)? else { return Ok(None) };
        let text = String::from_utf8_lossy(&bytes);
        text.parse().map(Some).map_err(|_| format!("{} holds {text:?}, not a step count", self.key(name)))
    }

    /// The value of key `name`, waiting for it until `deadline` (`None`: as long as the run
    /// lasts); `None` when the run ended first.
    fn get(&self, done: &AtomicBool, name: &str, deadline: Option<Instant>) -> Result<Option<Vec<u8>>, String> {
        let key = self.key(name);
        loop {
            if done.load(Ordering::Relaxed) {
                return Ok(None);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(format!("{key} was not published within {AGREE_TIMEOUT:?}"));
            }
            match self.store.get(&key, POLL) {
                Ok(value) => return Ok(Some(value)),
                Err(e) if e.kind == KvErrorKind::DeadlineExceeded => {}
                Err(e) => return Err(format!("reading {key}: {}", e.message)),
            }
        }
    }
}
