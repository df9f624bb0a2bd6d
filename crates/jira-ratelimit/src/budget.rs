//! The [`Budget`] trait and its in-process store.
//!
//! A budget answers one question atomically: may this request go now, given every limit it
//! is subject to (its endpoint's burst bucket, the hourly points, its issue's write windows,
//! and any pause a 429 put on its scopes)? If yes, it takes what the request needs from each;
//! if no, it takes nothing and says how long to wait. Callers sleep *outside* the store, so
//! no lock is ever held while waiting.

use std::collections::VecDeque;
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use tokio::time::Instant;

use crate::Error;

/// Everything one request needs from the budget.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Demand {
    /// The burst bucket of the request's endpoint and method.
    pub burst: Option<BurstDemand>,
    /// Points against the hourly quota.
    pub points: Option<PointsDemand>,
    /// A write to one issue.
    pub issue_write: Option<IssueWriteDemand>,
    /// Pause scopes that hold this request back (`site`, the burst key, the issue key).
    pub scopes: Vec<String>,
}

/// One token from a bucket refilled at `rate` per second, holding at most `capacity`.
#[derive(Clone, Debug, PartialEq)]
pub struct BurstDemand {
    /// The bucket's key (`burst:GET /rest/api/3/issue/{issueIdOrKey}`).
    pub key: String,
    /// Tokens per second.
    pub rate: f64,
    /// Tokens at most (the size of a burst).
    pub capacity: f64,
}

/// Points from a quota that resets every `window`, aligned to the Unix epoch (so an hour
/// window resets at the top of each UTC hour, as Jira's does).
#[derive(Clone, Debug, PartialEq)]
pub struct PointsDemand {
    /// The points this request costs.
    pub cost: u64,
    /// Points per window.
    pub quota: u64,
    /// The window.
    pub window: Duration,
}

/// A write to one issue, subject to sliding windows (Jira: 20 per 2 s, 100 per 30 s).
#[derive(Clone, Debug, PartialEq)]
pub struct IssueWriteDemand {
    /// The issue's key (`issue:PROJ-1`).
    pub key: String,
    /// `(window, writes allowed in it)`.
    pub windows: Vec<(Duration, u32)>,
}

/// A budget's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grant {
    /// Taken: send now.
    Granted,
    /// Nothing taken: ask again after this long.
    RetryIn(Duration),
}

/// What a response taught us, to share with every user of the budget.
#[derive(Clone, Debug, PartialEq)]
pub enum Feedback {
    /// Hold back every request in `scope` for `duration` (after a 429 or a 503 with
    /// `Retry-After`).
    Pause {
        /// `site`, a burst key or an issue key.
        scope: String,
        /// How long.
        duration: Duration,
    },
    /// The server says only `remaining` tokens are left in this bucket.
    BurstRemaining {
        /// The bucket.
        burst: BurstDemand,
        /// What the server says remains.
        remaining: f64,
    },
    /// What was learned of a burst bucket: every user of the budget paces `key` at this
    /// rate and capacity from now on, whatever its own demand says (so a process that has
    /// not learned it yet is neither faster than the others nor starved by them).
    Bucket {
        /// The bucket's key.
        key: String,
        /// Tokens per second.
        rate: f64,
        /// Tokens at most.
        capacity: f64,
    },
    /// The request cost `delta` more (or, negative, fewer) points than estimated.
    PointsCorrection {
        /// The quota.
        points: PointsDemand,
        /// Actual minus estimated.
        delta: i64,
    },
}

/// Where budgets live: in this process, or in Redis for many processes and machines.
pub trait Budget: Send + Sync {
    /// Takes what `demand` needs from every limit at once, or nothing and says how long to
    /// wait.
    fn acquire(&self, demand: &Demand) -> impl Future<Output = Result<Grant, Error>> + Send;

    /// Records what a response taught us, for every user of this budget.
    fn observe(&self, feedback: &Feedback) -> impl Future<Output = Result<(), Error>> + Send;
}

/// The in-process store: one short critical section per call, no IO, no waiting inside.
#[derive(Debug)]
pub struct InProcessBudget {
    state: Mutex<State>,
    started: Instant,
    started_wall: Duration,
}

#[derive(Debug, Default)]
struct State {
    /// GCRA: the theoretical arrival time of the next request, per bucket.
    tats: crate::Map<String, Instant>,
    pauses: crate::Map<String, Instant>,
    writes: crate::Map<String, VecDeque<Instant>>,
    /// (window index, points spent) per quota.
    points: crate::Map<u64, (u64, u64)>,
    /// What was learned of each burst bucket: (rate, capacity).
    buckets: crate::Map<String, (f64, f64)>,
}

impl Default for InProcessBudget {
    fn default() -> Self {
        Self::new()
    }
}

impl InProcessBudget {
    /// An empty budget.
    pub fn new() -> Self {
        InProcessBudget {
            state: Mutex::default(),
            started: Instant::now(),
            started_wall: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default(),
        }
    }

    /// Wall time since the epoch, advanced by tokio's clock (so tests can pause it).
    fn wall(&self, now: Instant) -> Duration {
        self.started_wall + now.duration_since(self.started)
    }

    /// Decides `demand` at `now`; pure bookkeeping, exposed for benchmarks.
    pub fn acquire_at(&self, demand: &Demand, now: Instant) -> Grant {
        let mut state = self.state.lock();
        let mut wait = Duration::ZERO;

        for scope in &demand.scopes {
            if let Some(until) = state.pauses.get(scope) {
                wait = wait.max(until.saturating_duration_since(now));
            }
        }

        let learned = demand
            .burst
            .as_ref()
            .map(|burst| match state.buckets.get(&burst.key) {
                Some(&(rate, capacity)) => (rate, capacity),
                None => (burst.rate, burst.capacity),
            });
        if let (Some(burst), Some((rate, capacity))) = (&demand.burst, learned) {
            // Computed in f64 seconds: at very high rates the interval rounds to 0 ns, and
            // multiplying the rounded interval would lose the whole tolerance.
            let tolerance = Duration::from_secs_f64((capacity - 1.0).max(0.0) / rate.max(1e-9));
            let tat = state.tats.get(&burst.key).copied().unwrap_or(now).max(now);
            let earliest = tat.checked_sub(tolerance).unwrap_or(now);
            wait = wait.max(earliest.saturating_duration_since(now));
        }

        if let Some(write) = &demand.issue_write {
            let log = state.writes.entry(write.key.clone()).or_default();
            let longest = write
                .windows
                .iter()
                .map(|(w, _)| *w)
                .max()
                .unwrap_or_default();
            while log
                .front()
                .is_some_and(|t| now.duration_since(*t) >= longest)
            {
                log.pop_front();
            }
            for (window, allowed) in &write.windows {
                let in_window: Vec<&Instant> = log
                    .iter()
                    .filter(|t| now.duration_since(**t) < *window)
                    .collect();
                if in_window.len() >= *allowed as usize && *allowed > 0 {
                    let oldest_that_counts = in_window[in_window.len() - *allowed as usize];
                    wait = wait.max((*oldest_that_counts + *window).saturating_duration_since(now));
                }
            }
        }

        let mut window_index = 0;
        if let Some(points) = &demand.points {
            let window = points.window.as_secs_f64().max(1e-3);
            let wall = self.wall(now).as_secs_f64();
            window_index = (wall / window).floor() as u64;
            let spent = match state.points.get(&points.quota) {
                Some((index, spent)) if *index == window_index => *spent,
                _ => 0,
            };
            if spent + points.cost > points.quota && spent > 0 {
                let reset = Duration::from_secs_f64((window_index + 1) as f64 * window - wall);
                wait = wait.max(reset);
            }
        }

        if !wait.is_zero() {
            return Grant::RetryIn(wait);
        }

        if let (Some(burst), Some((rate, _))) = (&demand.burst, learned) {
            let interval = Duration::from_secs_f64(1.0 / rate.max(1e-9));
            let tat = state.tats.get(&burst.key).copied().unwrap_or(now).max(now);
            state.tats.insert(burst.key.clone(), tat + interval);
        }
        if let Some(write) = &demand.issue_write {
            state
                .writes
                .entry(write.key.clone())
                .or_default()
                .push_back(now);
        }
        if let Some(points) = &demand.points {
            let entry = state
                .points
                .entry(points.quota)
                .or_insert((window_index, 0));
            if entry.0 != window_index {
                *entry = (window_index, 0);
            }
            entry.1 += points.cost;
        }
        Grant::Granted
    }

    /// Records `feedback` at `now`.
    pub fn observe_at(&self, feedback: &Feedback, now: Instant) {
        let mut state = self.state.lock();
        match feedback {
            Feedback::Pause { scope, duration } => {
                let until = now + *duration;
                let entry = state.pauses.entry(scope.clone()).or_insert(until);
                *entry = (*entry).max(until);
            }
            Feedback::BurstRemaining { burst, remaining } => {
                // Owe enough that at most `remaining` tokens are free now.
                let owed = Duration::from_secs_f64(
                    (burst.capacity - remaining).max(0.0) / burst.rate.max(1e-9),
                );
                let tat = state.tats.entry(burst.key.clone()).or_insert(now);
                *tat = (*tat).max(now + owed);
            }
            Feedback::Bucket {
                key,
                rate,
                capacity,
            } => {
                state.buckets.insert(key.clone(), (*rate, *capacity));
            }
            Feedback::PointsCorrection { points, delta } => {
                let window_index = (self.wall(now).as_secs_f64()
                    / points.window.as_secs_f64().max(1e-3))
                .floor() as u64;
                let entry = state
                    .points
                    .entry(points.quota)
                    .or_insert((window_index, 0));
                if entry.0 == window_index {
                    entry.1 = entry.1.saturating_add_signed(*delta);
                }
            }
        }
        // Keep the maps small: forget pauses that ended.
        if state.pauses.len() > 1_000 {
            state.pauses.retain(|_, until| *until > now);
        }
    }
}

impl Budget for InProcessBudget {
    async fn acquire(&self, demand: &Demand) -> Result<Grant, Error> {
        Ok(self.acquire_at(demand, Instant::now()))
    }

    async fn observe(&self, feedback: &Feedback) -> Result<(), Error> {
        self.observe_at(feedback, Instant::now());
        Ok(())
    }
}

impl<B: Budget> Budget for std::sync::Arc<B> {
    fn acquire(&self, demand: &Demand) -> impl Future<Output = Result<Grant, Error>> + Send {
        (**self).acquire(demand)
    }

    fn observe(&self, feedback: &Feedback) -> impl Future<Output = Result<(), Error>> + Send {
        (**self).observe(feedback)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn burst(rate: f64, capacity: f64) -> Demand {
        Demand {
            burst: Some(BurstDemand {
                key: "burst:GET /x".into(),
                rate,
                capacity,
            }),
            scopes: vec!["site".into(), "burst:GET /x".into()],
            ..Demand::default()
        }
    }

    fn granted(budget: &InProcessBudget, demand: &Demand) -> usize {
        (0..10_000)
            .take_while(|_| budget.acquire_at(demand, Instant::now()) == Grant::Granted)
            .count()
    }

    #[tokio::test(start_paused = true)]
    async fn a_bucket_allows_its_capacity_then_its_rate() {
        let budget = InProcessBudget::new();
        let demand = burst(10.0, 10.0);
        assert_eq!(granted(&budget, &demand), 10);
        match budget.acquire_at(&demand, Instant::now()) {
            Grant::RetryIn(wait) => assert_eq!(wait, Duration::from_millis(100)),
            other => panic!("{other:?}"),
        }
        tokio::time::advance(Duration::from_millis(100)).await;
        assert_eq!(granted(&budget, &demand), 1);
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(
            granted(&budget, &demand),
            10,
            "never more than the capacity"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_paused_bucket_resumes_with_what_it_refilled_then_at_its_pace() {
        let budget = InProcessBudget::new();
        let demand = burst(10.0, 10.0);
        let bucket = demand.burst.clone().unwrap();
        // Refused: dry now, and held for 300 ms.
        let pause = Duration::from_millis(300);
        budget.observe_at(
            &Feedback::Pause {
                scope: bucket.key.clone(),
                duration: pause,
            },
            Instant::now(),
        );
        budget.observe_at(
            &Feedback::BurstRemaining {
                burst: bucket,
                remaining: 0.0,
            },
            Instant::now(),
        );
        tokio::time::advance(pause).await;
        // What 300 ms refilled (3 tokens), not the bucket's ten ...
        assert_eq!(granted(&budget, &demand), 3);
        // ... then one a tenth of a second, its refill rate.
        assert_eq!(
            budget.acquire_at(&demand, Instant::now()),
            Grant::RetryIn(Duration::from_millis(100))
        );
        for _ in 0..5 {
            tokio::time::advance(Duration::from_millis(100)).await;
            assert_eq!(granted(&budget, &demand), 1);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn pauses_hold_their_scope_only() {
        let budget = InProcessBudget::new();
        let demand = burst(100.0, 100.0);
        budget.observe_at(
            &Feedback::Pause {
                scope: "burst:GET /x".into(),
                duration: Duration::from_secs(2),
            },
            Instant::now(),
        );
        assert_eq!(
            budget.acquire_at(&demand, Instant::now()),
            Grant::RetryIn(Duration::from_secs(2))
        );
        let other = Demand {
            scopes: vec!["site".into(), "burst:GET /y".into()],
            ..Demand::default()
        };
        assert_eq!(budget.acquire_at(&other, Instant::now()), Grant::Granted);
        // A shorter pause never shortens a longer one.
        budget.observe_at(
            &Feedback::Pause {
                scope: "burst:GET /x".into(),
                duration: Duration::from_secs(1),
            },
            Instant::now(),
        );
        tokio::time::advance(Duration::from_millis(1_500)).await;
        assert!(matches!(
            budget.acquire_at(&demand, Instant::now()),
            Grant::RetryIn(_)
        ));
        tokio::time::advance(Duration::from_millis(500)).await;
        assert_eq!(budget.acquire_at(&demand, Instant::now()), Grant::Granted);
    }

    #[tokio::test(start_paused = true)]
    async fn remaining_from_the_server_slows_the_bucket() {
        let budget = InProcessBudget::new();
        let demand = burst(10.0, 10.0);
        let Some(burst_demand) = demand.burst.clone() else {
            unreachable!()
        };
        budget.observe_at(
            &Feedback::BurstRemaining {
                burst: burst_demand,
                remaining: 2.0,
            },
            Instant::now(),
        );
        assert_eq!(granted(&budget, &demand), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn issue_write_windows() {
        let budget = InProcessBudget::new();
        let demand = Demand {
            issue_write: Some(IssueWriteDemand {
                key: "issue:P-1".into(),
                windows: vec![(Duration::from_secs(2), 20), (Duration::from_secs(30), 100)],
            }),
            ..Demand::default()
        };
        assert_eq!(granted(&budget, &demand), 20);
        assert_eq!(
            budget.acquire_at(&demand, Instant::now()),
            Grant::RetryIn(Duration::from_secs(2))
        );
        for _ in 0..4 {
            tokio::time::advance(Duration::from_secs(2)).await;
            assert_eq!(granted(&budget, &demand), 20);
        }
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(
            budget.acquire_at(&demand, Instant::now()),
            Grant::RetryIn(Duration::from_secs(20))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn points_reset_with_the_window() {
        let budget = InProcessBudget::new();
        let points = PointsDemand {
            cost: 2,
            quota: 10,
            window: Duration::from_secs(3600),
        };
        let demand = Demand {
            points: Some(points.clone()),
            ..Demand::default()
        };
        let admitted = granted(&budget, &demand);
        // Five requests of 2 points, unless the hour turned in between.
        assert!((5..=10).contains(&admitted), "{admitted}");
        let Grant::RetryIn(wait) = budget.acquire_at(&demand, Instant::now()) else {
            panic!("the quota must be spent");
        };
        assert!(wait <= Duration::from_secs(3600));
        tokio::time::advance(wait + Duration::from_millis(1)).await;
        assert_eq!(budget.acquire_at(&demand, Instant::now()), Grant::Granted);
        // Corrections refund points.
        budget.observe_at(
            &Feedback::PointsCorrection { points, delta: -2 },
            Instant::now(),
        );
        assert_eq!(granted(&budget, &demand), 5);
    }
}
