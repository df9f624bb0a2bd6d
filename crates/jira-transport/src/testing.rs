//! Test and benchmark tools (feature `testing`): a scripted [`Transport`] for paused-clock
//! unit tests of one layer, and the load generator ([`load`]) pacing tests and benchmarks
//! share.
//!
//! [`Scripted`] answers each request with the next [`Step`] of its script, after the step's
//! delay on tokio's clock, and records every request it saw. It is a test double for the
//! layer *above* it; the HTTP tests against jira-sim stay the judge of the real stack.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::time::Duration;
//! use jira_model::ApiRequest;
//! use jira_transport::testing::{Scripted, Step};
//! use jira_transport::{RetryPolicy, Transport, TransportExt};
//!
//! let wire = Scripted::new([
//!     Step::status(503).header("retry-after", "2"),
//!     Step::json(200, r#"{"accountId":"a"}"#).after(Duration::from_millis(20)),
//! ]);
//! let jira = wire.clone().with_retries(RetryPolicy::default());
//! let started = tokio::time::Instant::now();
//! let answer = jira.send(ApiRequest::myself()).await.unwrap();
//! assert_eq!(answer.status, 200);
//! assert_eq!(wire.requests().len(), 2);
//! assert!(started.elapsed() >= Duration::from_secs(2));
//! # }
//! ```

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use jira_model::{ApiRequest, ApiResponse};
use parking_lot::Mutex;

use crate::{Error, TimeoutPhase, Transport};

/// What the double does for one request.
#[derive(Clone, Debug)]
pub struct Step {
    delay: Duration,
    outcome: Outcome,
}

#[derive(Clone, Debug)]
enum Outcome {
    Answer {
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
    },
    Fail(Failure),
}

/// A transport failure the double can produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// No connection slot freed up: nothing was sent.
    PoolExhausted,
    /// The read timeout fired: the server may have acted.
    ReadTimeout,
}

impl Step {
    /// An answer with `status` and an empty body.
    pub fn status(status: u16) -> Self {
        Step::json(status, "")
    }

    /// An answer with `status` and a JSON `body`.
    pub fn json(status: u16, body: &str) -> Self {
        let mut headers = HeaderMap::new();
        if !body.is_empty() {
            headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        Step {
            delay: Duration::ZERO,
            outcome: Outcome::Answer {
                status: StatusCode::from_u16(status).expect("a valid status"),
                headers,
                body: Bytes::from(body.to_owned()),
            },
        }
    }

    /// A transport failure.
    pub fn fail(failure: Failure) -> Self {
        Step {
            delay: Duration::ZERO,
            outcome: Outcome::Fail(failure),
        }
    }

    /// Adds a response header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let Outcome::Answer { headers, .. } = &mut self.outcome {
            headers.insert(
                HeaderName::from_bytes(name.as_bytes()).expect("a valid header name"),
                HeaderValue::from_str(value).expect("a valid header value"),
            );
        }
        self
    }

    /// Answers only after `delay` (on tokio's clock, so a paused test runs it instantly).
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

#[derive(Default)]
struct State {
    script: VecDeque<Step>,
    fallback: Option<Step>,
    requests: Vec<ApiRequest>,
    arrivals: Vec<tokio::time::Instant>,
}

/// The scripted transport. Clones share the script and the record.
#[derive(Clone, Default)]
pub struct Scripted {
    state: Arc<Mutex<State>>,
}

impl Scripted {
    /// A double that plays `steps` in order; past the end it answers 500 (and the test
    /// that did not expect that many requests sees it).
    pub fn new(steps: impl IntoIterator<Item = Step>) -> Self {
        Scripted {
            state: Arc::new(Mutex::new(State {
                script: steps.into_iter().collect(),
                fallback: None,
                requests: Vec::new(),
                arrivals: Vec::new(),
            })),
        }
    }

    /// Once the script is played, answer every further request with `step`.
    pub fn then_always(self, step: Step) -> Self {
        self.state.lock().fallback = Some(step);
        self
    }

    /// Appends steps to the script.
    pub fn push(&self, steps: impl IntoIterator<Item = Step>) {
        self.state.lock().script.extend(steps);
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<ApiRequest> {
        self.state.lock().requests.clone()
    }

    /// When each request arrived (tokio's clock), in order.
    pub fn arrivals(&self) -> Vec<tokio::time::Instant> {
        self.state.lock().arrivals.clone()
    }

    /// How many requests were received.
    pub fn count(&self) -> usize {
        self.state.lock().requests.len()
    }
}

impl Transport for Scripted {
    async fn send(&self, request: ApiRequest) -> Result<ApiResponse, Error> {
        let step = {
            let mut state = self.state.lock();
            state.requests.push(request.clone());
            state.arrivals.push(tokio::time::Instant::now());
            state
                .script
                .pop_front()
                .or_else(|| state.fallback.clone())
                .unwrap_or_else(|| Step::json(500, r#"{"errorMessages":["script ended"]}"#))
        };
        if !step.delay.is_zero() {
            tokio::time::sleep(step.delay).await;
        }
        match step.outcome {
            Outcome::Answer {
                status,
                headers,
                body,
            } => Ok(ApiResponse::from_wire(
                &request, status, headers, body, step.delay,
            )),
            Outcome::Fail(Failure::PoolExhausted) => Err(Error::PoolExhausted {
                waited: step.delay,
                in_flight: 1,
            }),
            Outcome::Fail(Failure::ReadTimeout) => Err(Error::Timeout {
                method: request.method.clone(),
                path: request.path.clone(),
                phase: TimeoutPhase::Read,
                after: step.delay,
            }),
        }
    }
}

/// What [`load`] saw.
#[derive(Clone, Debug, Default)]
pub struct Load {
    /// When each request finished, seconds from the start, sorted.
    pub finished: Vec<f64>,
    /// Requests that did not end in a 200.
    pub failures: u64,
    /// Wall time.
    pub wall: Duration,
}

impl Load {
    /// Requests a second over the second half of the run (after the initial bucket and
    /// any learning); 0 for fewer than two requests.
    pub fn sustained_rate(&self) -> f64 {
        if self.finished.len() < 2 {
            return 0.0;
        }
        let half = self.finished.len() / 2;
        let span = self.finished.last().copied().unwrap_or(0.0) - self.finished[half];
        (self.finished.len() - half) as f64 / span.max(1e-9)
    }
}

/// A load generator for pacing tests and benchmarks: sends `count` requests through
/// `jira` with `tasks` concurrent tasks (request `n` is `request(n)`), and records when
/// each finished. The one loop the pacing tests, the benchmarks and the scale-out worker
/// share, so they measure the same thing.
pub async fn load<T, F>(jira: Arc<T>, count: usize, tasks: usize, request: F) -> Load
where
    T: Transport + 'static,
    F: Fn(usize) -> ApiRequest + Send + Sync + 'static,
{
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    let request = Arc::new(request);
    let next = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let finished = Arc::new(Mutex::new(Vec::with_capacity(count)));
    let started = tokio::time::Instant::now();
    let handles: Vec<_> = (0..tasks.max(1))
        .map(|_| {
            let (jira, request, next, failures, finished) = (
                jira.clone(),
                request.clone(),
                next.clone(),
                failures.clone(),
                finished.clone(),
            );
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= count {
                        return;
                    }
                    match jira.send(request(n)).await {
                        Ok(response) if response.status == StatusCode::OK => {}
                        _ => {
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    finished.lock().push(started.elapsed().as_secs_f64());
                }
            })
        })
        .collect();
    for handle in handles {
        if handle.await.is_err() {
            failures.fetch_add(1, Ordering::Relaxed);
        }
    }
    let mut finished = std::mem::take(&mut *finished.lock());
    finished.sort_by(f64::total_cmp);
    Load {
        finished,
        failures: failures.load(Ordering::Relaxed),
        wall: started.elapsed(),
    }
}
