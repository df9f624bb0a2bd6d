//! What the rate limiter knows in advance: Atlassian's documented limits, and how to react.

use std::time::Duration;

use http::Method;

/// Per-second burst limits per endpoint template and method. Defaults are Atlassian's:
/// GET and POST 100/s, PUT and DELETE 50/s, `GET /issue/{id}` 150/s.
#[derive(Clone, Debug, PartialEq)]
pub struct BurstLimits {
    /// GET requests per second.
    pub get: f64,
    /// POST requests per second.
    pub post: f64,
    /// PUT requests per second.
    pub put: f64,
    /// DELETE requests per second.
    pub delete: f64,
    /// `(method, path template, per second)` overrides.
    pub overrides: Vec<(Method, String, f64)>,
}

impl Default for BurstLimits {
    fn default() -> Self {
        BurstLimits {
            get: 100.0,
            post: 100.0,
            put: 50.0,
            delete: 50.0,
            overrides: vec![(
                Method::GET,
                "/rest/api/3/issue/{issueIdOrKey}".into(),
                150.0,
            )],
        }
    }
}

impl BurstLimits {
    /// The same rate for every endpoint and method.
    pub fn uniform(per_second: f64) -> Self {
        BurstLimits {
            get: per_second,
            post: per_second,
            put: per_second,
            delete: per_second,
            overrides: Vec::new(),
        }
    }

    /// The configured rate of an endpoint and method.
    pub fn rate_for(&self, method: &Method, template: &str) -> f64 {
        if let Some((_, _, rate)) = self
            .overrides
            .iter()
            .find(|(m, t, _)| m == method && t == template)
        {
            return *rate;
        }
        match *method {
            Method::PUT | Method::PATCH => self.put,
            Method::DELETE => self.delete,
            Method::POST => self.post,
            _ => self.get,
        }
    }
}

/// The hourly points quota (apps: Forge, Connect, OAuth 2.0). API-token traffic is mainly
/// governed by burst limits, so it is off by default.
#[derive(Clone, Debug, PartialEq)]
pub struct QuotaLimit {
    /// Points per window.
    pub points: u64,
    /// The window (Jira: an hour, reset at the top of each UTC hour).
    pub window: Duration,
}

/// Sliding windows for writes to one issue (Jira: 20 per 2 s and 100 per 30 s).
#[derive(Clone, Debug, PartialEq)]
pub struct PerIssueLimit {
    /// `(window, writes)` pairs.
    pub windows: Vec<(Duration, u32)>,
}

impl Default for PerIssueLimit {
    fn default() -> Self {
        PerIssueLimit {
            windows: vec![(Duration::from_secs(2), 20), (Duration::from_secs(30), 100)],
        }
    }
}

/// Adaptive concurrency (AIMD) for budgets nobody told us: start low, add while requests
/// succeed at steady latency, cut on 429s, timeouts and latency growth.
#[derive(Clone, Debug, PartialEq)]
pub struct AimdConfig {
    /// The starting limit.
    pub initial: usize,
    /// The limit never goes below this.
    pub min: usize,
    /// Nor above this.
    pub max: usize,
    /// Multiplier on a drop (Netflix's concurrency-limits uses 0.9; we cut harder because a
    /// 429 means the server is already refusing).
    pub backoff: f64,
    /// Latency above this multiple of the best seen counts as a drop.
    pub tolerance: f64,
}

impl Default for AimdConfig {
    fn default() -> Self {
        AimdConfig {
            initial: 4,
            min: 1,
            max: 256,
            backoff: 0.75,
            tolerance: 3.0,
        }
    }
}

/// Everything [`crate::RateLimited`] is configured with.
#[derive(Clone, Debug, PartialEq)]
pub struct LimitsConfig {
    /// Burst limits; learned ones (from `X-RateLimit-Limit`) replace these per endpoint.
    pub burst: BurstLimits,
    /// Pace at this share of a limit, to absorb clock and network jitter (0.97: 3% under).
    pub headroom: f64,
    /// The hourly points quota, when the caller is subject to one.
    pub quota: Option<QuotaLimit>,
    /// Per-issue write limits.
    pub per_issue: Option<PerIssueLimit>,
    /// Whether the figures a server announces (`X-RateLimit-Limit`, and `Remaining` on
    /// successes) replace the configured burst rate and capacity of their endpoint. What
    /// refusals teach (see [`crate::RateLimited`]) is learned either way.
    pub learn_limits: bool,
    /// Adaptive concurrency, for limits the server does not announce.
    pub adaptive: Option<AimdConfig>,
    /// The longest the limiter waits for budget before failing with
    /// [`crate::Error::WaitTooLong`].
    pub max_wait: Duration,
    /// The pause after a 429 that says nothing about how long to wait.
    pub default_pause: Duration,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            burst: BurstLimits::default(),
            headroom: 0.97,
            quota: None,
            per_issue: Some(PerIssueLimit::default()),
            learn_limits: true,
            adaptive: None,
            max_wait: Duration::from_secs(120),
            default_pause: Duration::from_secs(1),
        }
    }
}
