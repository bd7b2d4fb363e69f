//! Running a group of experiments N at a time: in order, each in a slot of its own, a recipe
//! shared by several names once (the followers start only after their leader has ended, and
//! then find it complete), complete runs skipped, going on past failures, and on a stop
//! request every running job asked to stop and nothing new started.
//!
//! What a job is (a process, a thread, a fake in a test) is the [`Launcher`]'s business.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Starts, watches and stops the jobs of a schedule.
pub trait Launcher {
    /// A running job.
    type Job;
    /// Why a job could not be started or watched.
    type Error: std::fmt::Display;

    /// Whether job `i` has nothing left to do (it is not started then).
    fn is_complete(&mut self, i: usize) -> bool;

    /// Starts job `i` in `slot` (`0..slots`, each held by one job at a time).
    fn start(&mut self, i: usize, slot: usize) -> Result<Self::Job, Self::Error>;

    /// Whether `job` has ended, and if so whether it succeeded.
    fn poll(&mut self, job: &mut Self::Job) -> Result<Option<bool>, Self::Error>;

    /// Asks `job` to stop soon (it ends on its own, and is polled until it has).
    fn stop(&mut self, job: &Self::Job);
}

/// What became of one job.
#[derive(Debug, PartialEq)]
pub enum Event {
    /// Complete before it would have started.
    Skipped(usize),
    /// It could not be started.
    NotStarted(usize, String),
    /// It ran and ended after `seconds`.
    Ended {
        /// The job.
        index: usize,
        /// Whether it succeeded.
        success: bool,
        /// Its wall time.
        seconds: f64,
    },
    /// It was still waiting when the schedule was stopped.
    Stopped(usize),
}

/// For each job, the earlier job with the same recipe that runs it (`None`: it leads).
pub fn leaders<T: PartialEq>(recipes: &[T]) -> Vec<Option<usize>> {
    recipes.iter().enumerate().map(|(i, r)| recipes[..i].iter().position(|q| q == r)).collect()
}

/// A schedule of jobs.
pub struct Schedule {
    /// Each job's leader (see [`leaders`]).
    pub leader: Vec<Option<usize>>,
    /// Jobs at once.
    pub slots: usize,
    /// How often running jobs are polled.
    pub poll_every: Duration,
}

/// The schedule's bookkeeping while it runs.
struct State<J> {
    done: Vec<bool>,
    running: Vec<(usize, usize, J, Instant)>,
    free: Vec<usize>,
    next: usize,
    waiting: Vec<usize>,
    events: Vec<Event>,
}

impl Schedule {
    /// Runs every job through `launcher` until all have ended, or `stop` is set and the running
    /// ones have ended; what became of each, in the order it happened.
    pub fn run<L: Launcher>(&self, launcher: &mut L, stop: &AtomicBool) -> Result<Vec<Event>, L::Error> {
        let n = self.leader.len();
        let mut s = State {
            done: vec![false; n],
            running: Vec::new(),
            free: (0..self.slots.max(1)).rev().collect(),
            next: 0,
            waiting: Vec::new(),
            events: Vec::new(),
        };
        let mut stopping = false;
        loop {
            if !stopping && stop.load(Ordering::Relaxed) {
                stopping = true;
                for (_, _, job, _) in &s.running {
                    launcher.stop(job);
                }
            }
            if !stopping {
                self.start_ready(launcher, &mut s);
            }
            if s.running.is_empty() {
                break;
            }
            std::thread::sleep(self.poll_every);
            self.reap(launcher, &mut s)?;
        }
        let left: Vec<usize> = s.waiting.iter().copied().chain(s.next..n).collect();
        s.events.extend(left.into_iter().map(Event::Stopped));
        Ok(s.events)
    }

    /// Starts jobs while slots are free: in order, a follower only once its leader has ended.
    fn start_ready<L: Launcher>(&self, launcher: &mut L, s: &mut State<L::Job>) {
        while !s.free.is_empty() {
            let ready = s.waiting.iter().position(|&i| self.leader[i].is_none_or(|l| s.done[l]));
            let i = match ready {
                Some(k) => s.waiting.remove(k),
                None if s.next < self.leader.len() => {
                    s.next += 1;
                    let i = s.next - 1;
                    if self.leader[i].is_some_and(|l| !s.done[l]) {
                        s.waiting.push(i);
                        continue;
                    }
                    i
                }
                None => break,
            };
            if launcher.is_complete(i) {
                s.done[i] = true;
                s.events.push(Event::Skipped(i));
                continue;
            }
            let slot = s.free.pop().expect("a free slot");
            match launcher.start(i, slot) {
                Ok(job) => s.running.push((i, slot, job, Instant::now())),
                Err(e) => {
                    s.free.push(slot);
                    s.done[i] = true;
                    s.events.push(Event::NotStarted(i, format!("{e:#}")));
                }
            }
        }
    }

    /// Collects the jobs that have ended and frees their slots.
    fn reap<L: Launcher>(&self, launcher: &mut L, s: &mut State<L::Job>) -> Result<(), L::Error> {
        let mut k = 0;
        while k < s.running.len() {
            let Some(success) = launcher.poll(&mut s.running[k].2)? else {
                k += 1;
                continue;
            };
            let (index, slot, _, started) = s.running.remove(k);
            s.free.push(slot);
            s.done[index] = true;
            s.events.push(Event::Ended { index, success, seconds: started.elapsed().as_secs_f64() });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Jobs that end after a number of polls, recording what ran when.
    struct Fake {
        /// Polls each job takes, and whether it succeeds.
        plan: Vec<(u32, bool)>,
        complete: Vec<usize>,
        /// `(a, b)`: job `a` is complete once job `b` has ended.
        complete_once_ended: Vec<(usize, usize)>,
        ended: Vec<usize>,
        fail_to_start: Vec<usize>,
        /// (job, slot) in start order.
        started: Vec<(usize, usize)>,
        /// Jobs running at once, at most.
        peak: usize,
        running: usize,
        /// Set the stop flag once this many jobs have started.
        stop_after: Option<(usize, &'static AtomicBool)>,
        stopped: Vec<usize>,
    }

    impl Fake {
        fn new(plan: Vec<(u32, bool)>) -> Fake {
            Fake {
                plan,
                complete: vec![],
                complete_once_ended: vec![],
                ended: vec![],
                fail_to_start: vec![],
                started: vec![],
                peak: 0,
                running: 0,
                stop_after: None,
                stopped: vec![],
            }
        }
    }

    impl Launcher for Fake {
        type Job = (usize, u32);
        type Error = String;

        fn is_complete(&mut self, i: usize) -> bool {
            self.complete.contains(&i)
                || self.complete_once_ended.iter().any(|&(a, b)| a == i && self.ended.contains(&b))
        }

        fn start(&mut self, i: usize, slot: usize) -> Result<(usize, u32), String> {
            if self.fail_to_start.contains(&i) {
                return Err("no such config".into());
            }
            self.started.push((i, slot));
            self.running += 1;
            self.peak = self.peak.max(self.running);
            if let Some((n, flag)) = self.stop_after
                && self.started.len() == n
            {
                flag.store(true, Ordering::Relaxed);
            }
            Ok((i, self.plan[i].0))
        }

        fn poll(&mut self, job: &mut (usize, u32)) -> Result<Option<bool>, String> {
            if job.1 == 0 {
                self.running -= 1;
                self.ended.push(job.0);
                return Ok(Some(self.plan[job.0].1));
            }
            job.1 -= 1;
            Ok(None)
        }

        fn stop(&mut self, job: &(usize, u32)) {
            self.stopped.push(job.0);
        }
    }

    fn schedule(recipes: &[&str], slots: usize) -> Schedule {
        Schedule { leader: leaders(recipes), slots, poll_every: Duration::ZERO }
    }

    fn ended(events: &[Event]) -> Vec<(usize, bool)> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Ended { index, success, .. } => Some((*index, *success)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn jobs_run_in_order_at_most_n_at_once_past_failures() {
        let mut fake = Fake::new(vec![(3, true), (0, false), (1, true), (0, true)]);
        let events = schedule(&["a", "b", "c", "d"], 2).run(&mut fake, &AtomicBool::new(false)).unwrap();
        assert_eq!(fake.started.iter().map(|s| s.0).collect::<Vec<_>>(), [0, 1, 2, 3]);
        assert_eq!(fake.peak, 2);
        // Job 1 fails at once; its slot goes to job 2 while job 0 still runs in slot 0.
        assert_eq!(fake.started[..3], [(0, 0), (1, 1), (2, 1)]);
        let mut all = ended(&events);
        all.sort();
        assert_eq!(all, [(0, true), (1, false), (2, true), (3, true)]);
    }

    #[test]
    fn a_shared_recipe_runs_once_its_followers_after_it() {
        // Jobs 0 and 2 share a recipe: 2 waits for 0 while 1 and 3 go ahead, then finds it
        // complete (as a run directory holding the leader's finished run would be).
        let mut fake = Fake::new(vec![(5, true), (0, true), (0, true), (8, true)]);
        fake.complete_once_ended = vec![(2, 0)];
        let events = schedule(&["x", "y", "x", "z"], 3).run(&mut fake, &AtomicBool::new(false)).unwrap();
        let order: Vec<usize> = fake.started.iter().map(|s| s.0).collect();
        assert_eq!(order, [0, 1, 3], "the follower never starts");
        let skipped_at = events.iter().position(|e| *e == Event::Skipped(2)).expect("the follower is skipped");
        let leader_ended = events.iter().position(|e| matches!(e, Event::Ended { index: 0, .. })).unwrap();
        assert!(leader_ended < skipped_at, "{events:?}");
    }

    #[test]
    fn complete_and_unstartable_jobs_free_their_slot() {
        let mut fake = Fake::new(vec![(0, true); 3]);
        fake.complete = vec![0];
        fake.fail_to_start = vec![1];
        let events = schedule(&["a", "b", "c"], 1).run(&mut fake, &AtomicBool::new(false)).unwrap();
        assert_eq!(events[0], Event::Skipped(0));
        assert!(matches!(&events[1], Event::NotStarted(1, e) if e.contains("no such config")));
        assert_eq!(ended(&events), [(2, true)]);
    }

    #[test]
    fn a_stop_asks_the_running_to_stop_and_starts_nothing_more() {
        static STOP: AtomicBool = AtomicBool::new(false);
        let mut fake = Fake::new(vec![(4, true), (6, true), (0, true), (0, true)]);
        fake.stop_after = Some((2, &STOP));
        let events = schedule(&["a", "b", "c", "d"], 2).run(&mut fake, &STOP).unwrap();
        assert_eq!(fake.stopped, [0, 1]);
        assert_eq!(fake.started.len(), 2);
        assert!(events.contains(&Event::Stopped(2)) && events.contains(&Event::Stopped(3)), "{events:?}");
        assert_eq!(ended(&events).len(), 2, "the running jobs are waited for");
    }
}
