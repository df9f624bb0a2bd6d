//! [`RateLimited`]: every attempt that reaches the wire first gets its budget.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use jira_model::{ApiRequest, ApiResponse, Endpoint, RateLimitReason, RateLimitScope};
use jira_transport::Transport;
use opentelemetry::metrics::Gauge;
use tokio::time::Instant;

use crate::aimd::{AdaptiveLimit, Outcome};
use crate::budget::{
    Budget, BurstDemand, Demand, Feedback, Grant, InProcessBudget, IssueWriteDemand, PointsDemand,
};
use crate::learn::Learning;
use crate::window::Windows;
use crate::{Error, LimitsConfig};

/// Paces `T` to the budgets of [`LimitsConfig`], kept in `B`.
///
/// Before sending, it takes a token from the request's burst bucket, its points from the
/// quota and a slot from its issue's write windows, waiting (without holding any lock) until
/// all are free, then a place in its endpoint's concurrency window. After the answer it
/// teaches the budget what the server said: each endpoint's bucket is learned, its refill
/// rate and its capacity apart (`X-RateLimit-Limit`, `Remaining`, and the runs of
/// successes before a refusal; see `learn.rs`), `X-RateLimit-Remaining` and `NearLimit`
/// slow the bucket down before any 429, a 429 pauses its scope (the endpoint for a burst
/// limit, the issue for per-issue writes, everything for a quota or an unknown reason) for
/// every task sharing the budget, and refusals that come back in clusters narrow the
/// endpoint's concurrency window. It never retries: that is `Retrying`'s job, one layer up.
pub struct RateLimited<T, B = InProcessBudget> {
    inner: T,
    budget: B,
    config: LimitsConfig,
    learning: Learning,
    windows: Windows,
    adaptive: Option<Arc<AdaptiveLimit>>,
    limit_gauge: Gauge<u64>,
    renewals: parking_lot::Mutex<HashMap<String, Renewal>>,
    /// Whether `renewals` holds anything, so answers need not take its lock until a
    /// refusal has been seen.
    any_renewals: std::sync::atomic::AtomicBool,
}

/// The latest pause of one scope, to tell a refusal of a request sent after that pause
/// ended (the server renewed its wait) from one already on the wire during it.
#[derive(Clone, Copy, Debug)]
struct Renewal {
    /// When the scope's latest pause ends.
    ends: Instant,
    /// Its length.
    length: std::time::Duration,
    /// Refusals in a row of requests sent right after a pause ended, with nothing served
    /// in between.
    streak: u32,
    /// Whether a request of the scope succeeded since the pause ended: then a refusal is
    /// the client's own burst draining the bucket, not the server renewing its wait.
    answered_since: bool,
}

/// The longest a renewed refusal stretches a pause to (it never shortens what the server
/// asked for).
const MAX_RENEWED_PAUSE: std::time::Duration = std::time::Duration::from_secs(60);

impl<T> RateLimited<T, InProcessBudget> {
    /// Wraps `inner` with an in-process budget.
    pub fn new(inner: T, config: LimitsConfig) -> Self {
        Self::with_budget(inner, config, InProcessBudget::new())
    }
}

impl<T, B: Budget> RateLimited<T, B> {
    /// Wraps `inner` with `budget` (e.g. a shared [`crate::RedisBudget`]).
    pub fn with_budget(inner: T, config: LimitsConfig, budget: B) -> Self {
        let adaptive = config.adaptive.clone().map(AdaptiveLimit::new);
        let limit_gauge = opentelemetry::global::meter("jira-ratelimit")
            .u64_gauge("jira.client.concurrency.limit")
            .with_description("The adaptive concurrency limit")
            .build();
        RateLimited {
            inner,
            budget,
            config,
            learning: Learning::default(),
            windows: Windows::default(),
            adaptive,
            limit_gauge,
            renewals: parking_lot::Mutex::default(),
            any_renewals: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The budget.
    pub fn budget(&self) -> &B {
        &self.budget
    }

    /// The adaptive concurrency limit now, when adaptive concurrency is on.
    pub fn concurrency_limit(&self) -> Option<usize> {
        self.adaptive.as_ref().map(|a| a.limit())
    }

    /// The rate this endpoint is paced at now, before headroom: learned from the server
    /// (its `X-RateLimit-Limit`, or measured from its refusals), else configured.
    pub fn rate_for(&self, request: &ApiRequest) -> f64 {
        self.pace(&burst_key(request), request).0
    }

    /// The concurrency window of this request's endpoint: `None` while unbounded, else its
    /// size (narrowed when refusals came back in clusters).
    pub fn window_for(&self, request: &ApiRequest) -> Option<usize> {
        self.windows.get(&burst_key(request)).limit().0
    }

    /// Rate and burst capacity of `key`, before headroom.
    fn pace(&self, key: &str, request: &ApiRequest) -> (f64, f64) {
        let configured = self
            .config
            .burst
            .rate_for(&request.method, request.path_template);
        let pace = self.learning.pace(key, configured);
        (pace.rate, pace.capacity)
    }

    fn burst_demand(&self, key: String, request: &ApiRequest) -> BurstDemand {
        let (rate, capacity) = self.pace(&key, request);
        let rate = rate * self.config.headroom;
        BurstDemand {
            key,
            rate,
            capacity: (capacity * self.config.headroom).clamp(1.0, rate.max(1.0)),
        }
    }

    fn demand(&self, request: &ApiRequest, key: &str) -> Demand {
        let burst = self.burst_demand(key.to_owned(), request);
        let mut scopes = vec!["site".to_owned(), burst.key.clone()];
        // A write to an issue is held by that issue's pause even when its windows are not
        // configured: a per-issue 429 teaches the pause.
        let issue_key = request
            .issue_key
            .as_ref()
            .filter(|_| request.is_write())
            .map(|issue| format!("issue:{}", issue.to_ascii_uppercase()));
        if let Some(key) = &issue_key {
            scopes.push(key.clone());
        }
        let issue_write = match (&self.config.per_issue, issue_key) {
            (Some(limits), Some(key)) => Some(IssueWriteDemand {
                key,
                windows: limits.windows.clone(),
            }),
            _ => None,
        };
        Demand {
            burst: Some(burst),
            points: self.points(request.estimated_points as u64),
            issue_write,
            scopes,
        }
    }

    fn points(&self, cost: u64) -> Option<PointsDemand> {
        self.config.quota.as_ref().map(|quota| PointsDemand {
            cost,
            quota: quota.points,
            window: quota.window,
        })
    }

    /// Tells every user of the budget what this process learned of `key`'s bucket.
    async fn share_bucket(&self, key: &str, request: &ApiRequest) -> Result<(), Error> {
        let burst = self.burst_demand(key.to_owned(), request);
        self.budget
            .observe(&Feedback::Bucket {
                key: burst.key,
                rate: burst.rate,
                capacity: burst.capacity,
            })
            .await
    }

    /// Waits until the budget admits `request`; the demand it was admitted with (asked
    /// again after every wait, so that what a refusal taught meanwhile applies) and whether
    /// it had to wait.
    async fn wait_for_budget(
        &self,
        request: &ApiRequest,
        key: &str,
    ) -> Result<(Demand, bool), Error> {
        let started = Instant::now();
        let mut held = false;
        let mut demand = self.demand(request, key);
        loop {
            match self.budget.acquire(&demand).await? {
                Grant::Granted => return Ok((demand, held)),
                Grant::RetryIn(wait) => {
                    let waited = started.elapsed();
                    if waited + wait > self.config.max_wait {
                        return Err(Error::WaitTooLong {
                            what: format!("{} {}", request.method, request.path_template),
                            wait,
                            allowed: self.config.max_wait.saturating_sub(waited),
                        });
                    }
                    tracing::trace!(wait_ms = wait.as_millis() as u64, "waiting for rate budget");
                    held = true;
                    tokio::time::sleep(wait).await;
                    demand = self.demand(request, key);
                }
            }
        }
    }

    /// The pause a refusal of `scope` earns: what the server asked for (`asked`), doubled
    /// for each refusal in a row of a request sent right after the scope's previous pause
    /// ended and refused with nothing served in between (a server renewing
    /// its wait, as Atlassian warns it may), jittered so that workers do not come back
    /// together, at most [`MAX_RENEWED_PAUSE`]. Refusals of requests already on the wire
    /// during a pause do not stretch it, and a success resets the count: a bucket drained
    /// by the client's own burst is not a renewed wait.
    fn pause_for(
        &self,
        scope: &str,
        asked: std::time::Duration,
        sent_at: Instant,
    ) -> std::time::Duration {
        use rand::Rng as _;
        let now = Instant::now();
        let mut renewals = self.renewals.lock();
        let streak = match renewals.get(scope) {
            // Sent during the running pause: the refusal was already on its way. The pause
            // runs at least `asked` from now (a server may have renewed its wait for it).
            Some(previous) if sent_at < previous.ends => {
                let length = previous.ends.saturating_duration_since(now).max(asked);
                if let Some(previous) = renewals.get_mut(scope) {
                    previous.ends = previous.ends.max(now + length);
                }
                return length;
            }
            // Sent right after the pause ended (a retry after its wait) and refused again,
            // with nothing served in between: the server renewed its wait.
            Some(previous)
                if !previous.answered_since
                    && sent_at
                        <= previous.ends
                            + previous.length.max(std::time::Duration::from_secs(1)) =>
            {
                (previous.streak + 1).min(6)
            }
            _ => 0,
        };
        let length = if streak == 0 {
            asked
        } else {
            let factor = f64::from(1_u32 << streak) * rand::rng().random_range(1.0..1.5);
            asked
                .max(self.config.default_pause)
                .mul_f64(factor)
                .min(MAX_RENEWED_PAUSE)
                .max(asked)
        };
        self.any_renewals
            .store(true, std::sync::atomic::Ordering::Relaxed);
        renewals.insert(
            scope.to_owned(),
            Renewal {
                ends: now + length,
                length,
                streak,
                answered_since: false,
            },
        );
        length
    }

    /// Teaches the budget what the response said.
    async fn learn(
        &self,
        request: &ApiRequest,
        key: &str,
        response: &ApiResponse,
        sent: crate::learn::Sent,
        paced: f64,
    ) -> Result<(), Error> {
        let sent_at = sent.at;
        // Most answers say nothing about limits: skip the parsing (it is most of this
        // layer's cost per request).
        let quiet = !matches!(response.status.as_u16(), 429 | 503)
            && self.config.quota.is_none()
            && !teaches(&response.headers);
        if quiet {
            return Ok(());
        }
        let info = response.rate_limit_info();
        let key = key.to_owned();
        // The server named this endpoint's limit (and, on a success, what is left of it).
        if self.config.learn_limits
            && info
                .reason
                .as_ref()
                .is_none_or(|r| r.scope() == RateLimitScope::Endpoint)
            && (info.window.limit.is_some() || info.window.remaining.is_some())
        {
            let remaining = info.window.remaining.filter(|_| !response.is_refusal());
            if self.learning.announced(&key, info.window.limit, remaining) {
                self.share_bucket(&key, request).await?;
            }
        }
        if response.is_refusal() {
            let status = response.status.as_u16();
            let scope = match info.reason.as_ref().map(RateLimitReason::scope) {
                Some(RateLimitScope::Endpoint) => key.clone(),
                Some(RateLimitScope::IssueWrites) => match &request.issue_key {
                    Some(issue) => format!("issue:{}", issue.to_ascii_uppercase()),
                    None => key.clone(),
                },
                Some(RateLimitScope::Site) if status == 429 => "site".to_owned(),
                // A 503 with Retry-After, or a 429 without a reason: the endpoint.
                _ if status == 503 => key.clone(),
                _ => "site".to_owned(),
            };
            // A burst refusal (or a 429 that names no reason) ends the endpoint's run:
            // what it teaches of the bucket, and whether others were on the wire with it.
            if status == 429
                && info
                    .reason
                    .as_ref()
                    .is_none_or(|r| r.scope() == RateLimitScope::Endpoint)
                && let Some(lesson) = self.learning.refused(&key, sent, paced)
            {
                self.share_bucket(&key, request).await?;
                let window = self.windows.get(&key);
                window.clustered();
                tracing::info!(
                    %key,
                    rate = lesson.rate,
                    capacity = lesson.capacity,
                    window = window.limit().0,
                    "learned the endpoint's bucket from a refusal"
                );
            }
            // The one wait rule: without a usable wait (a burst refusal with a
            // minute-precision reset), the default pause. The pause is a twentieth longer,
            // at most 50 ms: a server that renews its wait for requests met during it ends
            // that wait a latency after the refusal we read.
            let asked = info.refusal_wait(SystemTime::now(), self.config.default_pause);
            let asked = asked + (asked / 20).min(std::time::Duration::from_millis(50));
            let duration = self.pause_for(&scope, asked, sent_at);
            tracing::info!(
                scope = %scope,
                pause_ms = duration.as_millis() as u64,
                asked_ms = asked.as_millis() as u64,
                reason = info.reason.as_ref().map(RateLimitReason::as_str).unwrap_or("none"),
                "rate limited: pausing scope for every task"
            );
            let endpoint = scope == key;
            self.budget
                .observe(&Feedback::Pause { scope, duration })
                .await?;
            if endpoint {
                // The bucket was dry when it refused: when the pause ends it holds what it
                // refilled meanwhile, and its requests go at its refill pace from there,
                // not as a full burst.
                self.budget
                    .observe(&Feedback::BurstRemaining {
                        burst: self.burst_demand(key.clone(), request),
                        remaining: 0.0,
                    })
                    .await?;
            }
        }
        if response.status != 429
            && let Some(remaining) = info.window.remaining
            && (info.is_near_limit() || info.window.limit.is_some())
        {
            self.budget
                .observe(&Feedback::BurstRemaining {
                    burst: self.burst_demand(key.clone(), request),
                    remaining: remaining as f64,
                })
                .await?;
        }
        // The answer carries what it really cost (`ApiResponse::points`): nothing for a
        // refusal, the objects listed for a list read.
        if let Some(points) = self.points(request.estimated_points as u64) {
            let delta = response.points as i64 - request.estimated_points as i64;
            if delta != 0 {
                self.budget
                    .observe(&Feedback::PointsCorrection { points, delta })
                    .await?;
            }
        }
        Ok(())
    }
}

/// The headers whose presence means an answer has something to teach.
const RATE_LIMIT_HEADERS: [&str; 5] = [
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-nearlimit",
    "retry-after",
    "ratelimit-reason",
];

/// Whether `headers` hold any of [`RATE_LIMIT_HEADERS`]: one pass over the answer's few
/// names (a lookup by a `&str` name parses and hashes it, five times an answer).
fn teaches(headers: &http::HeaderMap) -> bool {
    headers
        .keys()
        .any(|name| RATE_LIMIT_HEADERS.contains(&name.as_str()))
}

/// The bucket key of a request: its endpoint when jira-model knows it (so `/rest/api/2/`
/// and `/rest/api/3/` spellings share a bucket, as they share Jira's), else method and
/// path template.
fn burst_key(request: &ApiRequest) -> String {
    match request.endpoint {
        Endpoint::Other => format!("burst:{} {}", request.method, request.path_template),
        endpoint => ["burst:", endpoint.name()].concat(),
    }
}

impl<T: Transport, B: Budget> Transport for RateLimited<T, B> {
    async fn send(&self, request: ApiRequest) -> Result<ApiResponse, jira_transport::Error> {
        // A place in the endpoint's window and a concurrency slot first, the budget last:
        // what the budget grants is sent at once, never after a wait that a pause began
        // during.
        let key = burst_key(&request);
        let place = self.windows.enter(&key).await;
        let slot = match &self.adaptive {
            Some(adaptive) => Some(adaptive.acquire().await),
            None => None,
        };
        let (demand, held) = self
            .wait_for_budget(&request, &key)
            .await
            .map_err(|error| jira_transport::Error::layer_before_sending("rate limiter", error))?;
        let paced = demand.burst.as_ref().map_or(0.0, |burst| burst.rate);
        // What `learn` needs of the request, without copying its path, query and body.
        let facts = ApiRequest {
            method: request.method.clone(),
            path: String::new(),
            path_template: request.path_template,
            endpoint: request.endpoint,
            query: Vec::new(),
            body: None,
            idempotency: request.idempotency,
            class: request.class,
            estimated_points: request.estimated_points,
            issue_key: request.issue_key.clone(),
            headers: http::HeaderMap::new(),
            stream_to: None,
        };
        // Numbered in its bucket: a refusal counts those of its run sent before it.
        let sent = self.learning.sending(&key);
        let outcome = self.inner.send(request).await;
        let request = facts;
        if let Some(adaptive) = &self.adaptive {
            adaptive.record(match &outcome {
                Ok(response) if response.status == 429 => Outcome::Drop,
                Ok(response) => Outcome::Success(response.elapsed),
                Err(jira_transport::Error::Timeout { .. }) => Outcome::Drop,
                Err(_) => Outcome::Ignore,
            });
            self.limit_gauge.record(adaptive.limit() as u64, &[]);
        }
        drop(slot);
        if let Ok(response) = &outcome
            && !response.is_refusal()
        {
            let configured = self
                .config
                .burst
                .rate_for(&request.method, request.path_template);
            if self.learning.succeeded(&key, sent, held, configured)
                && let Err(error) = self.share_bucket(&key, &request).await
            {
                tracing::warn!(%error, "could not share what was learned of the bucket");
            }
            place.window().succeeded();
            if self.any_renewals.load(std::sync::atomic::Ordering::Relaxed) {
                let mut renewals = self.renewals.lock();
                for scope in &demand.scopes {
                    if let Some(renewal) = renewals.get_mut(scope) {
                        renewal.answered_since = true;
                        renewal.streak = 0;
                    }
                }
            }
        }
        // The answer is the caller's whatever happens to the feedback: turning a created
        // issue into an error because Redis hiccupped would invite a duplicate create.
        // The window's place is held until then, so a refusal counts itself in flight.
        if let Ok(response) = &outcome
            && let Err(error) = self.learn(&request, &key, response, sent, paced).await
        {
            tracing::warn!(%error, "could not share rate-limit feedback; the answer stands");
        }
        drop(place);
        outcome
    }
}

/// Builder methods that put a [`RateLimited`] layer over any transport:
/// `http.with_rate_limit(LimitsConfig::default())`, or with a shared budget.
pub trait RateLimitExt: Transport + Sized {
    /// Paces `self` to `config` with an in-process budget.
    fn with_rate_limit(self, config: LimitsConfig) -> RateLimited<Self, InProcessBudget> {
        RateLimited::new(self, config)
    }

    /// Paces `self` to `config` with `budget` (a [`crate::RedisBudget`] shared by many
    /// processes, or an [`crate::AnyBudget`]).
    fn with_rate_limit_budget<B: Budget>(
        self,
        config: LimitsConfig,
        budget: B,
    ) -> RateLimited<Self, B> {
        RateLimited::with_budget(self, config, budget)
    }
}

impl<T: Transport> RateLimitExt for T {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_teaches_when_any_rate_limit_header_is_there_whatever_its_spelling() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            "application/json".parse().unwrap(),
        );
        headers.insert("x-request-id", "abc".parse().unwrap());
        assert!(!teaches(&headers));
        for name in RATE_LIMIT_HEADERS {
            let mut with = headers.clone();
            // Names arrive in any case; the map keeps them in lower case.
            let name = http::HeaderName::from_bytes(name.to_ascii_uppercase().as_bytes()).unwrap();
            with.insert(name, "1".parse().unwrap());
            assert!(teaches(&with), "{with:?}");
        }
    }

    #[test]
    fn a_known_endpoints_bucket_key_is_spelled_as_before() {
        // Processes sharing a budget through Redis must name buckets alike across versions.
        assert_eq!(burst_key(&ApiRequest::myself()), "burst:Myself");
        assert_eq!(format!("{:?}", Endpoint::BulkFetch), "BulkFetch");
    }
}
