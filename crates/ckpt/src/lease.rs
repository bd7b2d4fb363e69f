//! One writer per checkpoint location on an object store, where no lock file can be held:
//! a lease. The `LEASE` object names its holder and when it expires; it is taken with a
//! conditional create (or, once expired, a compare-and-swap on its version), renewed by a
//! background thread well before it expires, and marked expired when the holder lets go. A second
//! writer finds it and is refused naming the holder; a holder that died (a preempted VM) stops
//! renewing, and a writer that finds it stale waits for it to expire, then takes it over.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ouro_store::{Location, UpdateVersion};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::process::ProcessId;
use crate::write::retry;

/// The lease's key under the location.
pub const LEASE: &str = "LEASE";

/// What the lease object holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Record {
    /// Who holds it, for the message of the next writer.
    holder: String,
    /// The holding process, so that one known to have ended is taken over at once.
    #[serde(default)]
    process: Option<ProcessId>,
    renewed_unix: f64,
    expires_unix: f64,
}

impl Record {
    /// Whether its holder is known to have ended (killed on this machine, say).
    fn holder_has_ended(&self) -> bool {
        self.process.as_ref().is_some_and(ProcessId::has_ended)
    }

    /// Whether its holder renewed it in the last two renewal periods (a quarter of `ttl` each).
    fn is_renewed(&self, ttl: Duration) -> bool {
        now_unix() - self.renewed_unix < ttl.as_secs_f64() / 2.0
    }

    /// The refusal of a second writer of `location`.
    fn refusal(&self, location: &Location, ttl: Duration) -> Error {
        Error::Held(format!(
            "{} is being written by {}: its lease ({}/{LEASE}) was renewed {:.0} s ago and lasts {} s. Let that \
             run finish (or stop it: it saves a checkpoint), then continue with --resume; if it is gone, its \
             lease expires on its own",
            location.url,
            self.holder,
            location.url,
            now_unix() - self.renewed_unix,
            ttl.as_secs()
        ))
    }
}

/// A held lease; renewed until dropped, then released.
pub struct Lease {
    shared: Arc<Shared>,
    renewer: Option<std::thread::JoinHandle<()>>,
}

struct Shared {
    location: Location,
    ttl: Duration,
    record: Mutex<(Record, UpdateVersion)>,
    /// Why the lease is no longer this process's, if it is not.
    lost: Mutex<Option<String>>,
    stopping: (Mutex<bool>, Condvar),
}

fn now_unix() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Lease({}/{LEASE})", self.shared.location.url)
    }
}

impl Lease {
    /// Takes the lease of `location` for `holder` (a description: process, host, command),
    /// lasting `ttl` past each renewal; refuses naming the current holder while its lease is
    /// being renewed, and waits out one that is no longer renewed.
    pub fn acquire(location: &Location, holder: &str, ttl: Duration) -> Result<Lease> {
        let url = format!("{}/{LEASE}", location.url);
        for _ in 0..8 {
            let record = Record {
                holder: holder.to_string(),
                process: Some(ProcessId::this()),
                renewed_unix: now_unix(),
                expires_unix: now_unix() + ttl.as_secs_f64(),
            };
            let bytes = serde_json::to_vec_pretty(&record).expect("a lease serialises");
            let put = || location.put_if_absent(LEASE, bytes.clone());
            if let Some(version) = retry(&format!("creating {url}"), put)? {
                return Ok(Lease::held(location, ttl, record, version));
            }
            let Some((found, version)) = retry(&format!("reading {url}"), || location.get_versioned(LEASE))? else {
                continue; // released in between
            };
            let now = now_unix();
            match serde_json::from_slice::<Record>(&found) {
                Ok(current) if current.expires_unix > now && !current.holder_has_ended() => {
                    let since = now - current.renewed_unix;
                    if current.is_renewed(ttl) {
                        return Err(current.refusal(location, ttl));
                    }
                    // Not renewed for two renewal periods: its holder is gone; wait out the rest,
                    // but never longer than a lease of this run lasts (a record that claims more
                    // is someone else's setting, or damage: the holder is named instead).
                    let wait = current.expires_unix - now + 0.5;
                    if wait > ttl.as_secs_f64() + 1.0 {
                        return Err(Error::Held(format!(
                            "{url} is held by {}, not renewed for {since:.0} s but said to last {wait:.0} s more, \
                             longer than this run's lease ({} s): if that writer is gone, delete {url}",
                            current.holder,
                            ttl.as_secs()
                        )));
                    }
                    tracing::warn!(
                        "{url} is held by {}, not renewed for {since:.0} s: waiting {wait:.0} s for it to expire",
                        current.holder
                    );
                    std::thread::sleep(Duration::from_secs_f64(wait));
                }
                // Expired, its holder gone, or not a lease this version writes: taken over if
                // nobody else did first.
                _ => {
                    let put = || location.put_if_version(LEASE, bytes.clone(), version.clone());
                    if let Some(version) = retry(&format!("taking over {url}"), put)? {
                        return Ok(Lease::held(location, ttl, record, version));
                    }
                }
            }
        }
        Err(Error::Held(format!("{url}: other writers kept taking the lease; try again")))
    }

    /// Refuses, naming the holder, if another writer holds `location`'s lease and renews it
    /// (what [`Lease::acquire`] would refuse), without taking it.
    pub fn refuse_if_held(location: &Location, ttl: Duration) -> Result<()> {
        let url = format!("{}/{LEASE}", location.url);
        let Some((found, _)) = retry(&format!("reading {url}"), || location.get_versioned(LEASE))? else {
            return Ok(());
        };
        match serde_json::from_slice::<Record>(&found) {
            Ok(current)
                if current.expires_unix > now_unix() && current.is_renewed(ttl) && !current.holder_has_ended() =>
            {
                Err(current.refusal(location, ttl))
            }
            _ => Ok(()),
        }
    }

    fn held(location: &Location, ttl: Duration, record: Record, version: UpdateVersion) -> Lease {
        let shared = Arc::new(Shared {
            location: location.clone(),
            ttl,
            record: Mutex::new((record, version)),
            lost: Mutex::new(None),
            stopping: (Mutex::new(false), Condvar::new()),
        });
        let renewing = shared.clone();
        let renewer = std::thread::Builder::new()
            .name("ouro-lease".into())
            .spawn(move || renewing.renew_until_stopped())
            .expect("a thread starts");
        Lease { shared, renewer: Some(renewer) }
    }

    /// `Ok` while the lease is still this process's; otherwise why not (another writer took it
    /// after it could not be renewed in time): nothing more may be written.
    pub fn check(&self) -> Result<()> {
        match &*self.shared.lost.lock().unwrap_or_else(|p| p.into_inner()) {
            None => Ok(()),
            Some(why) => Err(Error::Held(why.clone())),
        }
    }
}

impl Shared {
    /// Renews the lease every quarter of its life until stopped or lost.
    fn renew_until_stopped(&self) {
        let (flag, wake) = &self.stopping;
        loop {
            {
                let stopped = flag.lock().unwrap_or_else(|p| p.into_inner());
                // The flag is read before each wait, so a stop while renewing is not missed.
                let (stopped, _) =
                    wake.wait_timeout_while(stopped, self.ttl / 4, |s| !*s).unwrap_or_else(|p| p.into_inner());
                if *stopped {
                    return;
                }
            }
            if let Err(why) = self.renew() {
                *self.lost.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
                return;
            }
        }
    }

    /// One renewal; `Err` when the lease is lost. A failing store is retried at the next
    /// renewal while the lease lasts.
    fn renew(&self) -> std::result::Result<(), String> {
        let url = format!("{}/{LEASE}", self.location.url);
        let mut held = self.record.lock().unwrap_or_else(|p| p.into_inner());
        let (record, version) = &mut *held;
        let now = now_unix();
        let renewed = Record { renewed_unix: now, expires_unix: now + self.ttl.as_secs_f64(), ..record.clone() };
        let bytes = serde_json::to_vec_pretty(&renewed).expect("a lease serialises");
        match self.location.put_if_version(LEASE, bytes, version.clone()) {
            Ok(Some(v)) => {
                (*record, *version) = (renewed, v);
                Ok(())
            }
            Ok(None) => Err(format!("another writer took the lease {url}: this run may write no more")),
            Err(e) if now < record.expires_unix => {
                tracing::warn!("renewing {url} failed, retrying: {e}");
                Ok(())
            }
            Err(e) => Err(format!("the lease {url} expired: it could not be renewed ({e})")),
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let (flag, wake) = &self.shared.stopping;
        *flag.lock().unwrap_or_else(|p| p.into_inner()) = true;
        wake.notify_all();
        if let Some(renewer) = self.renewer.take() {
            let _ = renewer.join();
        }
        if self.shared.lost.lock().unwrap_or_else(|p| p.into_inner()).is_some() {
            return;
        }
        // Released by marking it expired, only while it is still this one's version: the
        // next writer takes it over. (Deleting it could delete a lease taken in between.) A
        // failure leaves it to expire.
        let (record, version) = self.shared.record.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let released = Record { expires_unix: 0.0, ..record };
        let bytes = serde_json::to_vec_pretty(&released).expect("a lease serialises");
        let _ = self.shared.location.put_if_version(LEASE, bytes, version);
    }
}
