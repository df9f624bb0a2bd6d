//! Adaptive concurrency: additive increase, multiplicative decrease (AIMD), as Netflix's
//! concurrency-limits recommends for clients facing limits nobody announced.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::AimdConfig;

/// How one request ended, for the limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Answered (any status but 429) in this long.
    Success(Duration),
    /// Refused (429) or timed out: the limit is too high.
    Drop,
    /// Says nothing about capacity (a connect error, a cancelled request).
    Ignore,
}

/// The adaptive limit and the requests in flight under it.
#[derive(Debug)]
pub struct AdaptiveLimit {
    config: AimdConfig,
    state: Mutex<State>,
    notify: Notify,
    /// The current limit, for metrics (f64 bits).
    published: AtomicU64,
}

#[derive(Debug)]
struct State {
    limit: f64,
    in_flight: usize,
    best_latency: Option<Duration>,
    last_drop: Option<Instant>,
}

/// A slot under the limit; dropping it frees the slot.
#[derive(Debug)]
pub struct Slot {
    limit: Arc<AdaptiveLimit>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.limit.state.lock().in_flight -= 1;
        self.limit.notify.notify_one();
    }
}

impl AdaptiveLimit {
    /// A limit starting at `config.initial`.
    pub fn new(config: AimdConfig) -> Arc<Self> {
        let limit = config.initial.clamp(config.min.max(1), config.max) as f64;
        Arc::new(AdaptiveLimit {
            config,
            state: Mutex::new(State {
                limit,
                in_flight: 0,
                best_latency: None,
                last_drop: None,
            }),
            notify: Notify::new(),
            published: AtomicU64::new(limit.to_bits()),
        })
    }

    /// The current limit.
    pub fn limit(&self) -> usize {
        f64::from_bits(self.published.load(Ordering::Relaxed)) as usize
    }

    /// Requests in flight.
    pub fn in_flight(&self) -> usize {
        self.state.lock().in_flight
    }

    /// Waits for a slot under the limit.
    pub async fn acquire(self: &Arc<Self>) -> Slot {
        loop {
            let notified = self.notify.notified();
            {
                let mut state = self.state.lock();
                if (state.in_flight as f64) < state.limit.floor().max(1.0) {
                    state.in_flight += 1;
                    return Slot {
                        limit: self.clone(),
                    };
                }
            }
            notified.await;
        }
    }

    /// Adjusts the limit after a request.
    pub fn record(&self, outcome: Outcome) {
        let mut state = self.state.lock();
        let now = Instant::now();
        let before = state.limit;
        match outcome {
            Outcome::Ignore => return,
            Outcome::Success(latency) => {
                let best = *state.best_latency.get_or_insert(latency);
                state.best_latency = Some(best.min(latency));
                if latency.as_secs_f64() > best.as_secs_f64() * self.config.tolerance
                    && latency > Duration::from_millis(5)
                {
                    self.decrease(&mut state, now);
                } else {
                    // About one more slot per limit's worth of successes: +1 per round trip.
                    state.limit = (state.limit + 1.0 / state.limit).min(self.config.max as f64);
                }
            }
            Outcome::Drop => self.decrease(&mut state, now),
        }
        if state.limit != before {
            self.published
                .store(state.limit.to_bits(), Ordering::Relaxed);
            if state.limit.floor() != before.floor() {
                tracing::debug!(
                    limit = state.limit.floor() as u64,
                    "adaptive concurrency limit"
                );
            }
            self.notify.notify_waiters();
        }
    }

    /// Cuts the limit, at most once per round trip: the requests already in flight when
    /// the first drop came back will drop too, and must not cut again.
    fn decrease(&self, state: &mut State, now: Instant) {
        let round_trip = state
            .best_latency
            .unwrap_or(Duration::from_millis(100))
            .max(Duration::from_millis(20));
        if state
            .last_drop
            .is_some_and(|last| now.duration_since(last) < round_trip * 2)
        {
            return;
        }
        state.last_drop = Some(now);
        state.limit = (state.limit * self.config.backoff).max(self.config.min.max(1) as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> AimdConfig {
        AimdConfig {
            initial: 4,
            min: 1,
            max: 64,
            backoff: 0.5,
            tolerance: 3.0,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn grows_on_success_and_halves_on_a_drop() {
        let limit = AdaptiveLimit::new(config());
        for _ in 0..40 {
            limit.record(Outcome::Success(Duration::from_millis(20)));
        }
        let grown = limit.limit();
        assert!(grown >= 9, "{grown}");
        limit.record(Outcome::Drop);
        assert_eq!(limit.limit(), grown / 2);
        // A second drop within the same round trip does not cut again.
        limit.record(Outcome::Drop);
        assert_eq!(limit.limit(), grown / 2);
        tokio::time::advance(Duration::from_millis(100)).await;
        limit.record(Outcome::Drop);
        assert_eq!(limit.limit(), grown / 4);
    }

    #[tokio::test(start_paused = true)]
    async fn latency_growth_counts_as_a_drop_and_the_floor_holds() {
        let limit = AdaptiveLimit::new(config());
        limit.record(Outcome::Success(Duration::from_millis(20)));
        limit.record(Outcome::Success(Duration::from_millis(200)));
        assert_eq!(limit.limit(), 2);
        for _ in 0..10 {
            tokio::time::advance(Duration::from_secs(1)).await;
            limit.record(Outcome::Drop);
        }
        assert_eq!(limit.limit(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn slots_wait_for_the_limit() {
        let limit = AdaptiveLimit::new(AimdConfig {
            initial: 2,
            ..config()
        });
        let first = limit.acquire().await;
        let _second = limit.acquire().await;
        assert_eq!(limit.in_flight(), 2);
        let waiter = {
            let limit = limit.clone();
            tokio::spawn(async move { limit.acquire().await })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(!waiter.is_finished());
        drop(first);
        let _third = waiter.await.unwrap();
        assert_eq!(limit.in_flight(), 2);
    }
}
