//! [`CircuitBreaker`]: stops sending to a site that keeps failing, then probes it.
//!
//! Closed: requests pass; failures are counted. It opens after `consecutive_failures`
//! failures in a row, or when the failure rate over the last `window` outcomes reaches
//! `failure_rate` (once `window` outcomes are known). Open: requests fail at once with
//! [`Error::CircuitOpen`], saying when the next trial will be let through. After
//! `open_for`, half-open: up to `trial_requests` requests pass; if they all succeed the
//! circuit closes, and any failure opens it again.
//!
//! A failure is a server failure (5xx, connect error, reset, timeout). 4xx answers are the
//! client's fault and count as successes of the site; 429s count as neither, because rate
//! limiting is jira-ratelimit's job, not a sign of a dead site.

use std::collections::VecDeque;
use std::time::Duration;

use jira_model::{ApiRequest, ApiResponse, ErrorClass};
use parking_lot::Mutex;
use tokio::time::Instant;

use crate::metrics::Instruments;
use crate::{Error, Transport};

/// When the breaker opens and how it recovers.
#[derive(Clone, Debug, PartialEq)]
pub struct BreakerConfig {
    /// Failures in a row that open the circuit.
    pub consecutive_failures: u32,
    /// Outcomes in the sliding window.
    pub window: usize,
    /// Failure share of a full window that opens the circuit (0.0 to 1.0).
    pub failure_rate: f64,
    /// How long the circuit stays open before a trial.
    pub open_for: Duration,
    /// Requests let through while half-open.
    pub trial_requests: u32,
}

impl Default for BreakerConfig {
    /// Opens after 5 failures in a row (the incident write-up's fix) or half of the last
    /// 100 outcomes; stays open 30 s; one trial request. (A window of 20 opened by chance
    /// on a site failing 30% of requests, which retries get through: the soak's 5xx cell.)
    fn default() -> Self {
        BreakerConfig {
            consecutive_failures: 5,
            window: 100,
            failure_rate: 0.5,
            open_for: Duration::from_secs(30),
            trial_requests: 1,
        }
    }
}

/// The breaker's state, as reported by [`CircuitBreaker::state`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    /// Requests pass.
    Closed,
    /// Requests fail fast until the instant given.
    Open {
        /// When the next trial is let through.
        until: Instant,
    },
    /// Trial requests pass.
    HalfOpen,
}

#[derive(Debug)]
struct State {
    mode: Mode,
    /// Tickets handed out at admission, in order.
    next_ticket: u64,
    /// Requests admitted before the latest success finished (tickets below this) cannot
    /// extend a run of failures: the site answered since they were sent.
    success_horizon: u64,
    consecutive: u32,
    window: VecDeque<bool>,
    failures_when_opened: u32,
    /// The latest failure, as its error says it: named by [`Error::CircuitOpen`] so that
    /// a run stopped by the open circuit still says what the site did.
    last_failure: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Closed,
    Open { until: Instant },
    HalfOpen { admitted: u32, succeeded: u32 },
}

/// A circuit breaker around `T`, for one site.
pub struct CircuitBreaker<T> {
    inner: T,
    config: BreakerConfig,
    site: String,
    state: Mutex<State>,
    instruments: Instruments,
}

/// What an outcome means to the breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Success,
    Failure,
    Neutral,
}

impl<T> CircuitBreaker<T> {
    /// Wraps `inner`; `site` names it in errors and metrics.
    pub fn new(inner: T, site: impl Into<String>, config: BreakerConfig) -> Self {
        CircuitBreaker {
            inner,
            config,
            site: site.into(),
            state: Mutex::new(State {
                mode: Mode::Closed,
                next_ticket: 0,
                success_horizon: 0,
                consecutive: 0,
                window: VecDeque::new(),
                failures_when_opened: 0,
                last_failure: None,
            }),
            instruments: Instruments::new(),
        }
    }

    /// The state now.
    pub fn state(&self) -> BreakerState {
        match self.state.lock().mode {
            Mode::Closed => BreakerState::Closed,
            Mode::Open { until } if Instant::now() < until => BreakerState::Open { until },
            Mode::Open { .. } | Mode::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// The wrapped transport.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// Lets a request through with its ticket, or says why not.
    fn admit(&self) -> Result<u64, Error> {
        let mut state = self.state.lock();
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        self.admit_locked(&mut state).map(|()| ticket)
    }

    fn admit_locked(&self, state: &mut State) -> Result<(), Error> {
        let now = Instant::now();
        match state.mode {
            Mode::Closed => Ok(()),
            Mode::Open { until } if now < until => Err(self.refusal(state, until - now)),
            Mode::Open { .. } => {
                state.mode = Mode::HalfOpen {
                    admitted: 1,
                    succeeded: 0,
                };
                self.transition("half_open");
                Ok(())
            }
            Mode::HalfOpen {
                admitted,
                succeeded,
            } if admitted < self.config.trial_requests => {
                state.mode = Mode::HalfOpen {
                    admitted: admitted + 1,
                    succeeded,
                };
                Ok(())
            }
            Mode::HalfOpen { .. } => Err(self.refusal(state, Duration::ZERO)),
        }
    }

    /// The error of a request the open circuit refuses.
    fn refusal(&self, state: &State, retry_in: Duration) -> Error {
        Error::CircuitOpen {
            site: self.site.clone(),
            failures: state.failures_when_opened,
            last_failure: state
                .last_failure
                .clone()
                .unwrap_or_else(|| "unknown".into()),
            retry_in,
        }
    }

    /// Gives back a half-open trial slot whose request ended without a verdict (a 429, or
    /// a caller that stopped waiting).
    fn release_trial(&self) {
        let mut state = self.state.lock();
        if let Mode::HalfOpen {
            admitted,
            succeeded,
        } = state.mode
        {
            state.mode = Mode::HalfOpen {
                admitted: admitted.saturating_sub(1),
                succeeded,
            };
        }
    }

    /// Records the outcome of the newest request (the tests' sequential case).
    #[cfg(test)]
    fn record(&self, verdict: Verdict) {
        let cause = (verdict == Verdict::Failure).then(|| "a test failure".to_owned());
        self.record_ticket(verdict, cause, u64::MAX);
    }

    /// Records the outcome of the request admitted with `ticket`.
    ///
    /// A run of failures counts only requests sent after the latest success: slow failures
    /// (a body cut short after 50 ms, a hang until the timeout) pile up while fast successes
    /// come and go, and would otherwise finish back to back as a "run" on a working site.
    /// `cause` says what a failure was.
    fn record_ticket(&self, verdict: Verdict, cause: Option<String>, ticket: u64) {
        if verdict == Verdict::Neutral {
            self.release_trial();
            return;
        }
        let failed = verdict == Verdict::Failure;
        let mut state = self.state.lock();
        if cause.is_some() {
            state.last_failure = cause;
        }
        match state.mode {
            Mode::HalfOpen {
                admitted,
                succeeded,
            } => {
                if failed {
                    self.open(&mut state);
                } else if succeeded + 1 >= self.config.trial_requests {
                    state.mode = Mode::Closed;
                    state.consecutive = 0;
                    state.window.clear();
                    self.transition("closed");
                } else {
                    state.mode = Mode::HalfOpen {
                        admitted,
                        succeeded: succeeded + 1,
                    };
                }
            }
            // An answer to a request sent before the circuit opened changes nothing.
            Mode::Open { .. } => {}
            Mode::Closed => {
                if !failed {
                    state.consecutive = 0;
                    state.success_horizon = state.next_ticket;
                } else if ticket >= state.success_horizon {
                    state.consecutive += 1;
                }
                state.window.push_back(failed);
                while state.window.len() > self.config.window {
                    state.window.pop_front();
                }
                let full = state.window.len() >= self.config.window && self.config.window > 0;
                let rate = state.window.iter().filter(|f| **f).count() as f64
                    / state.window.len().max(1) as f64;
                if state.consecutive >= self.config.consecutive_failures
                    || (full && rate >= self.config.failure_rate)
                {
                    self.open(&mut state);
                }
            }
        }
    }

    fn open(&self, state: &mut State) {
        state.failures_when_opened = state
            .consecutive
            .max(state.window.iter().filter(|f| **f).count() as u32)
            .max(1);
        state.mode = Mode::Open {
            until: Instant::now() + self.config.open_for,
        };
        state.consecutive = 0;
        state.window.clear();
        tracing::warn!(site = %self.site, open_for = ?self.config.open_for, "circuit opened");
        self.transition("open");
    }

    fn transition(&self, to: &'static str) {
        tracing::info!(site = %self.site, state = to, "circuit breaker transition");
        self.instruments.breaker_transition(&self.site, to);
    }
}

fn verdict(outcome: &Result<ApiResponse, Error>) -> Verdict {
    let response = match outcome {
        Ok(response) => Some(response),
        Err(error) => error.response(),
    };
    // A refusal (a 429, a 503 with Retry-After) is the site asking for a pause: the rate
    // limiter's business, not a sign that the site is down.
    if response.is_some_and(ApiResponse::is_refusal) {
        return Verdict::Neutral;
    }
    let class = match outcome {
        Ok(response) => Some(response.classify()),
        Err(error) => error.class(),
    };
    match class {
        None | Some(ErrorClass::RateLimited) => Verdict::Neutral,
        Some(class) if class.is_server_failure() => Verdict::Failure,
        Some(_) => Verdict::Success,
    }
}

/// What a failed outcome was, for [`Error::CircuitOpen`]: the error's own words, or the
/// status a 5xx answer carried.
fn failure_text(outcome: &Result<ApiResponse, Error>) -> String {
    match outcome {
        Ok(response) => format!("HTTP {}", response.status),
        Err(error) => error.to_string(),
    }
}

/// Releases a trial slot if the request is dropped before it is judged.
struct Pending<'a, T> {
    breaker: &'a CircuitBreaker<T>,
    judged: bool,
}

impl<T> Drop for Pending<'_, T> {
    fn drop(&mut self) {
        if !self.judged {
            self.breaker.release_trial();
        }
    }
}

impl<T: Transport> Transport for CircuitBreaker<T> {
    async fn send(&self, request: ApiRequest) -> Result<ApiResponse, Error> {
        let ticket = self.admit()?;
        let mut pending = Pending {
            breaker: self,
            judged: false,
        };
        let outcome = self.inner.send(request).await;
        pending.judged = true;
        let verdict = verdict(&outcome);
        let cause = (verdict == Verdict::Failure).then(|| failure_text(&outcome));
        self.record_ticket(verdict, cause, ticket);
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(config: BreakerConfig) -> CircuitBreaker<()> {
        CircuitBreaker::new((), "site", config)
    }

    fn config() -> BreakerConfig {
        BreakerConfig {
            consecutive_failures: 3,
            window: 10,
            failure_rate: 0.5,
            open_for: Duration::from_secs(30),
            trial_requests: 2,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_state_machine_on_a_paused_clock() {
        let b = breaker(config());
        for _ in 0..2 {
            b.admit().unwrap();
            b.record(Verdict::Failure);
        }
        b.admit().unwrap();
        b.record(Verdict::Success);
        // A success resets the run of failures.
        for _ in 0..2 {
            b.admit().unwrap();
            b.record(Verdict::Failure);
        }
        assert_eq!(b.state(), BreakerState::Closed);
        b.admit().unwrap();
        b.record(Verdict::Failure);
        assert!(matches!(b.state(), BreakerState::Open { .. }));
        match b.admit() {
            Err(Error::CircuitOpen { retry_in, .. }) => {
                assert_eq!(retry_in, Duration::from_secs(30))
            }
            other => panic!("{other:?}"),
        }
        tokio::time::advance(Duration::from_secs(10)).await;
        match b.admit() {
            Err(Error::CircuitOpen { retry_in, .. }) => {
                assert_eq!(retry_in, Duration::from_secs(20))
            }
            other => panic!("{other:?}"),
        }
        tokio::time::advance(Duration::from_secs(20)).await;
        assert_eq!(b.state(), BreakerState::HalfOpen);
        // Two trials pass, a third waits.
        b.admit().unwrap();
        b.admit().unwrap();
        assert!(b.admit().is_err());
        // A neutral answer gives its slot back.
        b.record(Verdict::Neutral);
        b.admit().unwrap();
        b.record(Verdict::Success);
        assert_eq!(b.state(), BreakerState::HalfOpen);
        b.record(Verdict::Success);
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn slow_failures_sent_before_a_success_do_not_make_a_run() {
        let b = breaker(config());
        // Three requests go out; a fourth, sent later, succeeds first; then the three fail.
        let slow: Vec<u64> = (0..3).map(|_| b.admit().unwrap()).collect();
        let fast = b.admit().unwrap();
        b.record_ticket(Verdict::Success, None, fast);
        for ticket in slow {
            b.record_ticket(Verdict::Failure, Some("reset".into()), ticket);
        }
        assert_eq!(b.state(), BreakerState::Closed);
        // Three sent after that success, all failing: a run.
        let later: Vec<u64> = (0..3).map(|_| b.admit().unwrap()).collect();
        for ticket in later {
            b.record_ticket(Verdict::Failure, Some("reset".into()), ticket);
        }
        assert!(matches!(b.state(), BreakerState::Open { .. }));
    }

    #[test]
    fn a_503_asking_for_a_pause_is_neither_success_nor_failure() {
        let answer = |status: u16, retry_after: bool| {
            let mut headers = http::HeaderMap::new();
            if retry_after {
                headers.insert(http::header::RETRY_AFTER, http::HeaderValue::from(1));
            }
            Ok(ApiResponse::local(
                http::StatusCode::from_u16(status).unwrap(),
                headers,
                bytes::Bytes::new(),
            ))
        };
        assert_eq!(verdict(&answer(503, true)), Verdict::Neutral);
        assert_eq!(verdict(&answer(503, false)), Verdict::Failure);
        assert_eq!(verdict(&answer(429, true)), Verdict::Neutral);
        assert_eq!(verdict(&answer(500, true)), Verdict::Failure);
        assert_eq!(verdict(&answer(404, false)), Verdict::Success);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_trial_opens_it_again() {
        let b = breaker(BreakerConfig {
            consecutive_failures: 1,
            ..config()
        });
        b.admit().unwrap();
        b.record(Verdict::Failure);
        tokio::time::advance(Duration::from_secs(30)).await;
        b.admit().unwrap();
        b.record(Verdict::Failure);
        assert!(matches!(b.state(), BreakerState::Open { until } if until > Instant::now()));
    }

    #[tokio::test(start_paused = true)]
    async fn the_failure_rate_needs_a_full_window() {
        let b = breaker(BreakerConfig {
            consecutive_failures: 100,
            ..config()
        });
        for n in 0..9 {
            b.admit().unwrap();
            b.record(if n % 2 == 0 {
                Verdict::Failure
            } else {
                Verdict::Success
            });
        }
        // 5 of 9: over half, but the window is not full yet.
        assert_eq!(b.state(), BreakerState::Closed);
        b.admit().unwrap();
        b.record(Verdict::Success);
        // 5 of 10.
        assert!(matches!(b.state(), BreakerState::Open { .. }));
    }
}
