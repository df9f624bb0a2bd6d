//! [`Retrying`]: retries what Atlassian says may be retried, waits at least what the server
//! asks, and never repeats a write that may have been half done.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use backon::{BackoffBuilder, ExponentialBuilder};
use jira_model::{ApiRequest, ApiResponse, ErrorClass, Idempotency};
use rand::Rng;
use tokio::time::Instant;
use tracing::Instrument;

use crate::metrics::Instruments;
use crate::{Error, PerClass, Transport};

/// When and how often to retry. Defaults follow Atlassian's advice: start near 2 s, double
/// up to 30 s, multiply by a jitter factor in [0.7, 1.3], stop after 4 retries.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: usize,
    /// The first backoff.
    pub base_delay: Duration,
    /// The longest backoff (after jitter too).
    pub max_delay: Duration,
    /// The jitter factor range, multiplied into every backoff.
    pub jitter: (f64, f64),
    /// The longest wait a server may ask for (`Retry-After`, `X-RateLimit-Reset`) before the
    /// request fails at once with [`Error::WaitTooLong`].
    pub max_wait: Duration,
    /// A budget for the whole logical request, retries and waits included, per operation
    /// class (a bulk fetch may take longer than a lookup of one object). `None`: no budget.
    pub deadline: Option<PerClass>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 4,
            base_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(30),
            jitter: (0.7, 1.3),
            max_wait: Duration::from_secs(120),
            deadline: None,
        }
    }
}

impl RetryPolicy {
    /// This policy with [`PerClass::DEFAULT_DEADLINES`] as its deadlines (the default
    /// policy has none, for a transport used on its own; jira-client's clients use these).
    pub fn with_default_deadlines(self) -> Self {
        RetryPolicy {
            deadline: Some(PerClass::DEFAULT_DEADLINES),
            ..self
        }
    }

    /// The backoff before retry number `retry` (0-based), jitter applied with `rng`, and
    /// never less than the server's `min_wait`.
    ///
    /// When the server said how long to wait, the first retry goes when that wait ends
    /// (a tenth more at most, a sixth of the jitter range, so that refused workers do not
    /// return at once): the
    /// server's instruction is the schedule, and a refusal of a request already on the
    /// wire is no reason to wait twice as long. A second refusal in a row backs off by the
    /// schedule as well.
    pub fn delay(&self, retry: usize, min_wait: Duration, rng: &mut impl Rng) -> Duration {
        if retry == 0 && !min_wait.is_zero() {
            // A sixth of the jitter range (0.1 for the default 0.7..1.3; none without jitter).
            let (low, high) = self.jitter;
            let spread = ((high - low) / 6.0).clamp(0.0, 0.1);
            return min_wait.mul_f64(1.0 + rng.random_range(0.0..=spread));
        }
        let backoff = self
            .schedule()
            .nth(retry)
            .unwrap_or(self.max_delay)
            .min(self.max_delay);
        let (low, high) = self.jitter;
        let factor = if high > low {
            rng.random_range(low..=high)
        } else {
            low
        };
        backoff.mul_f64(factor).min(self.max_delay).max(min_wait)
    }

    /// The un-jittered schedule, from backon.
    fn schedule(&self) -> impl Iterator<Item = Duration> {
        ExponentialBuilder::default()
            .with_min_delay(self.base_delay)
            .with_max_delay(self.max_delay)
            .with_factor(2.0)
            .with_max_times(self.max_retries)
            .build()
    }
}

/// Says whether a retryable-looking response may be retried.
pub type Classifier = Arc<dyn Fn(&ApiResponse) -> Retry + Send + Sync>;

/// A classifier's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Apply the usual rules.
    AsUsual,
    /// Do not retry this response (e.g. a 503 whose body says the server is not ready).
    Never,
}

/// Retries `T`'s failures by the rules of [`RetryPolicy`] and Atlassian's guide.
///
/// - Retries 429, 500, 502, 503, 504, connect errors, resets and timeouts; nothing else.
/// - Waits at least `Retry-After` / `X-RateLimit-Reset`; otherwise backs off exponentially
///   with jitter.
/// - Repeats a non-idempotent request (a create, a comment) only when the server refused it
///   with `Retry-After`, or when the connection was never made: never after a 5xx or a
///   timeout that may have half done it.
/// - Returns `Ok` for every answer it does not treat as a failure (2xx, and 4xx such as
///   404 for the caller to handle), and `Err` for a failure it gave up on, with the
///   attempts made and the last response whole.
#[derive(Clone)]
pub struct Retrying<T> {
    inner: T,
    policy: RetryPolicy,
    classifier: Option<Classifier>,
    instruments: Instruments,
    /// Whether the server ever answered through this layer: until it has, a connection
    /// refused means nothing listens at the site (a wrong URL, a closed port), not a blip.
    reached: Arc<std::sync::atomic::AtomicBool>,
}

impl<T> Retrying<T> {
    /// Wraps `inner`.
    pub fn new(inner: T, policy: RetryPolicy) -> Self {
        Retrying {
            inner,
            policy,
            classifier: None,
            instruments: Instruments::new(),
            reached: Arc::default(),
        }
    }

    /// Adds a classifier that can veto retrying a response.
    pub fn with_classifier(
        mut self,
        classifier: impl Fn(&ApiResponse) -> Retry + Send + Sync + 'static,
    ) -> Self {
        self.classifier = Some(Arc::new(classifier));
        self
    }

    /// The wrapped transport.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// The policy.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }
}

/// What to do after one attempt.
enum Next {
    /// Hand this to the caller.
    Done(Result<ApiResponse, Error>),
    /// Retry after at least `min_wait`; `failure` is what the caller gets if we give up.
    Retry {
        failure: Error,
        min_wait: Duration,
        reason: &'static str,
    },
}

impl<T: Transport> Retrying<T> {
    /// Sends with an explicit deadline for the whole logical request.
    pub async fn send_with_deadline(
        &self,
        request: ApiRequest,
        deadline: Instant,
    ) -> Result<ApiResponse, Error> {
        let span = request_span(&request);
        self.run(request, Some(deadline)).instrument(span).await
    }

    async fn run(
        &self,
        request: ApiRequest,
        deadline: Option<Instant>,
    ) -> Result<ApiResponse, Error> {
        let span = tracing::Span::current();
        let mut attempts: u32 = 0;
        let mut announced = false;
        loop {
            attempts += 1;
            // The deadline bounds the attempt in flight too, not only the waits between.
            let outcome = match deadline {
                Some(deadline) => {
                    let started = Instant::now();
                    tokio::time::timeout_at(deadline, self.inner.send(request.clone()))
                        .await
                        .unwrap_or_else(|_| {
                            Err(Error::Timeout {
                                method: request.method.clone(),
                                path: request.path.clone(),
                                phase: crate::TimeoutPhase::Total,
                                after: started.elapsed(),
                            })
                        })
                }
                None => self.inner.send(request.clone()).await,
            };
            let next = self.judge(&request, outcome, attempts);
            let (failure, min_wait, reason) = match next {
                Next::Done(result) => {
                    span.record("attempts", attempts);
                    if let Ok(response) = &result {
                        span.record("status", response.status.as_u16());
                    }
                    return result.map_err(|error| exhausted(attempts, error));
                }
                Next::Retry {
                    failure,
                    min_wait,
                    reason,
                } => (failure, min_wait, reason),
            };
            span.record("attempts", attempts);
            let retry = attempts as usize - 1;
            if retry >= self.policy.max_retries {
                return Err(exhausted(attempts, failure));
            }
            if min_wait > self.policy.max_wait {
                return Err(wait_too_long(
                    &request,
                    failure,
                    min_wait,
                    self.policy.max_wait,
                ));
            }
            let delay = self.policy.delay(retry, min_wait, &mut rand::rng());
            if let Some(deadline) = deadline {
                let remaining = deadline.saturating_duration_since(Instant::now());
                if min_wait > remaining {
                    return Err(wait_too_long(&request, failure, min_wait, remaining));
                }
                if delay > remaining {
                    return Err(exhausted(attempts, failure));
                }
            }
            // A server that takes the request and says nothing is worth a word while the
            // user waits (the first time only; later attempts are at info).
            if let Error::Timeout {
                phase: crate::TimeoutPhase::Read | crate::TimeoutPhase::Total,
                after,
                ..
            } = &failure
                && !announced
            {
                announced = true;
                let until = match deadline {
                    Some(deadline) => format!(
                        "retrying for up to {} more",
                        jira_model::HumanDuration(
                            deadline.saturating_duration_since(Instant::now())
                        )
                    ),
                    None => format!(
                        "retrying (at most {} more times)",
                        self.policy.max_retries - retry
                    ),
                };
                tracing::warn!(
                    "no answer from {} {} within {}; {until}",
                    request.method,
                    request.path,
                    jira_model::HumanDuration(*after)
                );
            }
            tracing::info!(
                attempt = attempts,
                reason,
                wait_ms = delay.as_millis() as u64,
                server_wait_ms = min_wait.as_millis() as u64,
                error = %failure,
                "retrying jira request"
            );
            self.instruments.retry(&request, reason);
            tokio::time::sleep(delay).await;
        }
    }

    fn judge(
        &self,
        request: &ApiRequest,
        outcome: Result<ApiResponse, Error>,
        attempts: u32,
    ) -> Next {
        let idempotent = request.idempotency == Idempotency::Idempotent;
        match outcome {
            Ok(response) => {
                self.reached
                    .store(true, std::sync::atomic::Ordering::Relaxed);
                let class = response.classify();
                if !class.is_retryable() {
                    return Next::Done(Ok(response));
                }
                let failure = |response| Error::Status {
                    method: request.method.clone(),
                    path: request.path.clone(),
                    response: Box::new(response),
                };
                if let Some(classifier) = &self.classifier
                    && classifier(&response) == Retry::Never
                {
                    return Next::Done(Err(failure(response)));
                }
                // A non-idempotent request is repeated only when the server refused it (a
                // 429, a 503 with Retry-After), never after a 5xx that may have done the work.
                if !idempotent && !response.is_refusal() {
                    return Next::Done(Err(failure(response)));
                }
                let min_wait = response
                    .rate_limit_info()
                    .refusal_wait(SystemTime::now(), Duration::ZERO);
                let reason = if class == ErrorClass::RateLimited {
                    "rate_limited"
                } else {
                    "server_error"
                };
                Next::Retry {
                    failure: failure(response),
                    min_wait,
                    reason,
                }
            }
            // Refused again and again before the server ever answered: nothing listens
            // there (a wrong URL, a closed port), and the full schedule of retries would
            // only make the user wait half a minute for the same answer. A server still
            // starting gets its few tries.
            Err(error @ Error::Connect { .. })
                if attempts >= UNREACHED_ATTEMPTS
                    && refused(&error)
                    && !self.reached.load(std::sync::atomic::Ordering::Relaxed) =>
            {
                Next::Done(Err(error))
            }
            // The connection was never made, so the request was not sent: safe to repeat.
            Err(error @ Error::Connect { .. }) => Next::Retry {
                failure: error,
                min_wait: Duration::ZERO,
                reason: "connect",
            },
            Err(error @ (Error::Io { .. } | Error::Timeout { .. })) if idempotent => Next::Retry {
                failure: error,
                min_wait: Duration::ZERO,
                reason: "transport",
            },
            Err(error) => Next::Done(Err(error)),
        }
    }
}

/// Attempts made at a site that has refused every connection and never answered, before
/// the refusal is the answer.
pub const UNREACHED_ATTEMPTS: u32 = 3;

/// Whether `error` is a connection the other end refused (nothing listening).
fn refused(error: &Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
        {
            return true;
        }
        source = cause.source();
    }
    false
}

/// The span of one logical request; `attempts` and `status` are filled in as it goes.
fn request_span(request: &ApiRequest) -> tracing::Span {
    tracing::info_span!(
        "jira.request",
        method = %request.method,
        path = request.path_template,
        attempts = tracing::field::Empty,
        status = tracing::field::Empty,
    )
}

fn exhausted(attempts: u32, error: Error) -> Error {
    if attempts <= 1 {
        error
    } else {
        Error::Exhausted {
            attempts,
            last: Box::new(error),
        }
    }
}

fn wait_too_long(
    request: &ApiRequest,
    failure: Error,
    asked: Duration,
    allowed: Duration,
) -> Error {
    match failure {
        Error::Status { response, .. } => Error::WaitTooLong {
            method: request.method.clone(),
            path: request.path.clone(),
            asked,
            allowed,
            response,
        },
        other => other,
    }
}

impl<T: Transport> Transport for Retrying<T> {
    async fn send(&self, request: ApiRequest) -> Result<ApiResponse, Error> {
        let deadline = self
            .policy
            .deadline
            .map(|budget| Instant::now() + budget.get(request.class));
        let span = request_span(&request);
        self.run(request, deadline).instrument(span).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    fn policy() -> RetryPolicy {
        RetryPolicy::default()
    }

    #[test]
    fn schedule_doubles_to_the_cap() {
        let schedule: Vec<u64> = policy().schedule().map(|d| d.as_secs()).collect();
        assert_eq!(schedule, [2, 4, 8, 16]);
        let long = RetryPolicy {
            max_retries: 8,
            ..policy()
        };
        let schedule: Vec<u64> = long.schedule().map(|d| d.as_secs()).collect();
        assert_eq!(schedule, [2, 4, 8, 16, 30, 30, 30, 30]);
    }

    #[test]
    fn jitter_stays_in_range_and_the_cap_holds() {
        let policy = RetryPolicy {
            max_retries: 10,
            ..policy()
        };
        let mut rng = SmallRng::seed_from_u64(7);
        for retry in 0..10 {
            let nominal = policy.schedule().nth(retry).unwrap();
            let (mut low, mut high) = (Duration::MAX, Duration::ZERO);
            for _ in 0..2_000 {
                let delay = policy.delay(retry, Duration::ZERO, &mut rng);
                assert!(
                    delay >= nominal.mul_f64(0.7),
                    "{delay:?} < 0.7 × {nominal:?}"
                );
                assert!(
                    delay <= nominal.mul_f64(1.3),
                    "{delay:?} > 1.3 × {nominal:?}"
                );
                assert!(delay <= policy.max_delay);
                low = low.min(delay);
                high = high.max(delay);
            }
            // Over 2,000 draws the jitter is really used, not a constant.
            assert!(high > low + Duration::from_millis(100), "{low:?}..{high:?}");
        }
    }

    #[test]
    fn the_server_wait_is_a_minimum() {
        let mut rng = SmallRng::seed_from_u64(1);
        let policy = policy();
        // The first retry goes when the server's wait ends, a tenth more at most.
        let first = policy.delay(0, Duration::from_secs(9), &mut rng);
        assert!(first >= Duration::from_secs(9), "{first:?}");
        assert!(first <= Duration::from_millis(9_900), "{first:?}");
        // A one-second wait is not stretched to the 2 s schedule on the first retry...
        let short = policy.delay(0, Duration::from_secs(1), &mut rng);
        assert!(short <= Duration::from_millis(1_100), "{short:?}");
        // ...but a second refusal in a row backs off by the schedule.
        let again = policy.delay(1, Duration::from_secs(1), &mut rng);
        assert!(again >= Duration::from_millis(2_800), "{again:?}");
        // Retry-After 0 does not shorten the backoff below its jittered value.
        let delay = policy.delay(0, Duration::ZERO, &mut rng);
        assert!(delay >= Duration::from_millis(1400));
        // A server wait past the cap wins over the cap.
        assert_eq!(
            policy.delay(3, Duration::from_secs(45), &mut rng),
            Duration::from_secs(45)
        );
    }
}
