//! [`RateLimitInfo`]: everything Jira Cloud says about rate limits in response headers.
//!
//! The parser never fails and never panics: a header it cannot read is treated as absent
//! and logged at `warn` (through `tracing`), and absurd values are clamped, because a
//! client must keep working when a proxy or a new Jira release sends something odd.

use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderValue};

use crate::JiraTimestamp;

/// The longest wait a header may ask for. Jira's longest window is the hourly quota, so a
/// longer `Retry-After` or `X-RateLimit-Reset` is clamped to this (with a warning).
pub const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(3600);

/// Why a request was rate limited (`RateLimit-Reason`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RateLimitReason {
    /// `jira-quota-global-based`: the global app pool's hourly points are spent.
    QuotaGlobal,
    /// `jira-quota-tenant-based`: the tenant's hourly points are spent.
    QuotaTenant,
    /// `jira-burst-based`: the per-second bucket of one endpoint and method is empty.
    Burst,
    /// `jira-per-issue-on-write`: too many writes to one issue.
    PerIssueOnWrite,
    /// A value this version does not know (including the older `jira-cost-based` and
    /// `jira-quota-based`), kept verbatim and treated as quota-class.
    Other(String),
}

/// How far a rate-limit pause reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RateLimitScope {
    /// Everything to the site: quota limits, and reasons we do not know.
    Site,
    /// One endpoint template and method.
    Endpoint,
    /// Writes to one issue.
    IssueWrites,
}

impl RateLimitReason {
    /// Parses a header value; never fails.
    pub fn parse(value: &str) -> Self {
        match value.trim() {
            "jira-quota-global-based" => RateLimitReason::QuotaGlobal,
            "jira-quota-tenant-based" => RateLimitReason::QuotaTenant,
            "jira-burst-based" => RateLimitReason::Burst,
            "jira-per-issue-on-write" => RateLimitReason::PerIssueOnWrite,
            other => RateLimitReason::Other(other.to_owned()),
        }
    }

    /// The header value.
    pub fn as_str(&self) -> &str {
        match self {
            RateLimitReason::QuotaGlobal => "jira-quota-global-based",
            RateLimitReason::QuotaTenant => "jira-quota-tenant-based",
            RateLimitReason::Burst => "jira-burst-based",
            RateLimitReason::PerIssueOnWrite => "jira-per-issue-on-write",
            RateLimitReason::Other(other) => other,
        }
    }

    /// What a client should pause: RATE-LIMITS.md says burst slows that endpoint, per-issue
    /// delays writes to that issue, and quota or anything unknown pauses everything.
    pub fn scope(&self) -> RateLimitScope {
        match self {
            RateLimitReason::Burst => RateLimitScope::Endpoint,
            RateLimitReason::PerIssueOnWrite => RateLimitScope::IssueWrites,
            _ => RateLimitScope::Site,
        }
    }
}

/// `Retry-After`: a number of seconds or an HTTP date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryAfter {
    /// Wait this long from when the response arrived.
    Delay(Duration),
    /// Wait until this instant.
    At(SystemTime),
}

impl RetryAfter {
    /// The wait that remains at `now` (zero for an instant in the past), clamped to
    /// [`MAX_RATE_LIMIT_WAIT`].
    pub fn delay_from(&self, now: SystemTime) -> Duration {
        match *self {
            RetryAfter::Delay(delay) => delay,
            RetryAfter::At(at) => at.duration_since(now).unwrap_or(Duration::ZERO),
        }
        .min(MAX_RATE_LIMIT_WAIT)
    }
}

/// One limit window as `X-RateLimit-*` (or the legacy `X-Beta-RateLimit-*`) describe it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LimitWindow {
    /// `*-Limit`: the scope's maximum.
    pub limit: Option<u64>,
    /// `*-Remaining`: capacity left in the window.
    pub remaining: Option<u64>,
    /// `*-Reset`: when the window resets.
    pub reset: Option<SystemTime>,
    /// How precise `*-Reset` was: Atlassian documents `yyyy-MM-ddTHH:mmZ`, so a reset at
    /// minute precision says "not before this minute", give or take 60 s.
    pub reset_precision: Option<ResetPrecision>,
    /// `*-NearLimit`: under 20% of the budget remains.
    pub near_limit: Option<bool>,
}

impl LimitWindow {
    /// `remaining / limit`, when both are known and the limit is not zero.
    pub fn remaining_fraction(&self) -> Option<f64> {
        match (self.remaining, self.limit) {
            (Some(remaining), Some(limit)) if limit > 0 => Some(remaining as f64 / limit as f64),
            _ => None,
        }
    }

    fn is_empty(&self) -> bool {
        *self == LimitWindow::default()
    }
}

/// The precision of an `X-RateLimit-Reset` instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetPrecision {
    /// Seconds (or finer): an exact instant.
    Seconds,
    /// Minutes (`2026-03-26T16:00Z`): the reset happens by then, possibly up to a minute
    /// earlier.
    Minute,
}

/// A policy from `Beta-RateLimit-Policy` (`"global-app-quota";q=65000;w=3600`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimitPolicy {
    /// The policy name, unquoted.
    pub name: String,
    /// `q`: the quota.
    pub quota: Option<u64>,
    /// `w`: the window in seconds.
    pub window: Option<Duration>,
}

/// A state from `Beta-RateLimit` (`"global-app-quota";r=11000;t=600`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimitState {
    /// The policy name, unquoted.
    pub name: String,
    /// `r`: what remains (sent only near the limit).
    pub remaining: Option<u64>,
    /// `t`: seconds until the window resets.
    pub reset_in: Option<Duration>,
}

/// Everything the rate-limit headers of one response say.
///
/// ```
/// use http::{HeaderMap, HeaderValue};
/// use jira_model::{RateLimitInfo, RateLimitReason};
///
/// let mut headers = HeaderMap::new();
/// headers.insert("retry-after", "3".parse().unwrap());
/// headers.insert("ratelimit-reason", "jira-burst-based".parse().unwrap());
/// let info = RateLimitInfo::from_headers(&headers);
/// assert_eq!(info.reason, Some(RateLimitReason::Burst));
/// assert_eq!(info.requested_wait(std::time::SystemTime::now()), Some(std::time::Duration::from_secs(3)));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RateLimitInfo {
    /// `Retry-After`.
    pub retry_after: Option<RetryAfter>,
    /// `X-RateLimit-Limit`, `-Remaining`, `-Reset`, `-NearLimit`.
    pub window: LimitWindow,
    /// The legacy `X-Beta-RateLimit-*` set (informational).
    pub beta_window: LimitWindow,
    /// `RateLimit-Reason`.
    pub reason: Option<RateLimitReason>,
    /// `Beta-RateLimit-Policy`, in the order sent.
    pub policies: Vec<RateLimitPolicy>,
    /// `Beta-RateLimit`, in the order sent.
    pub states: Vec<RateLimitState>,
    /// `Beta-Retry-After`: the wait that would apply, were the limit enforced.
    pub beta_retry_after: Option<Duration>,
}

/// A rate-limit header's value as trimmed text, `None` when it is absent or blank; one
/// that is not visible ASCII is warned of (its name, `prefix` and `suffix` joined, is
/// spelled out only then) and ignored.
fn header_text<'v>(
    (prefix, suffix): (&str, &str),
    value: Option<&'v HeaderValue>,
) -> Option<&'v str> {
    match value?.to_str() {
        Ok(text) if !text.trim().is_empty() => Some(text.trim()),
        Ok(_) => None,
        Err(_) => {
            tracing::warn!(
                header = %format_args!("{prefix}{suffix}"),
                "rate-limit header is not visible ASCII; ignored"
            );
            None
        }
    }
}

/// The rate-limit headers of one answer, found in one pass: the first value of each
/// (as `HeaderMap::get` gives), every value of the structured lists.
#[derive(Default)]
struct Found<'a> {
    retry_after: Option<&'a HeaderValue>,
    /// `X-RateLimit-Limit`, `-Remaining`, `-Reset`, `-NearLimit`.
    window: [Option<&'a HeaderValue>; 4],
    /// The same of `X-Beta-RateLimit-*`.
    beta_window: [Option<&'a HeaderValue>; 4],
    reason: Option<&'a HeaderValue>,
    policies: Vec<&'a HeaderValue>,
    states: Vec<&'a HeaderValue>,
    beta_retry_after: Option<&'a HeaderValue>,
}

impl<'a> Found<'a> {
    fn of(headers: &'a HeaderMap) -> Self {
        let mut found = Found::default();
        for (name, value) in headers {
            // Header names are lower case in an `http::HeaderMap`.
            let slot = match name.as_str() {
                "retry-after" => &mut found.retry_after,
                "x-ratelimit-limit" => &mut found.window[0],
                "x-ratelimit-remaining" => &mut found.window[1],
                "x-ratelimit-reset" => &mut found.window[2],
                "x-ratelimit-nearlimit" => &mut found.window[3],
                "x-beta-ratelimit-limit" => &mut found.beta_window[0],
                "x-beta-ratelimit-remaining" => &mut found.beta_window[1],
                "x-beta-ratelimit-reset" => &mut found.beta_window[2],
                "x-beta-ratelimit-nearlimit" => &mut found.beta_window[3],
                "ratelimit-reason" => &mut found.reason,
                "beta-retry-after" => &mut found.beta_retry_after,
                "beta-ratelimit-policy" => {
                    found.policies.push(value);
                    continue;
                }
                "beta-ratelimit" => {
                    found.states.push(value);
                    continue;
                }
                _ => continue,
            };
            slot.get_or_insert(value);
        }
        found
    }
}

impl RateLimitInfo {
    /// Reads every rate-limit header; unreadable values become `None` with a warning.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        // One pass over the answer's headers, matching names (this runs on every answer:
        // a dozen lookups by name would hash each name against the map).
        let found = Found::of(headers);
        let text = header_text;
        let window = |prefix: &str, values: &[Option<&HeaderValue>; 4]| {
            let named = |n: usize, suffix: &str| text((prefix, suffix), values[n]);
            let reset = named(2, "-reset");
            LimitWindow {
                limit: named(0, "-limit").and_then(|v| parse_count(prefix, v)),
                remaining: named(1, "-remaining").and_then(|v| parse_count(prefix, v)),
                reset: reset.and_then(parse_reset),
                reset_precision: reset
                    .filter(|v| parse_reset_quietly(v).is_some())
                    .map(reset_precision),
                near_limit: named(3, "-nearlimit").and_then(parse_bool),
            }
        };
        RateLimitInfo {
            retry_after: text(("retry-after", ""), found.retry_after).and_then(parse_retry_after),
            window: window("x-ratelimit", &found.window),
            beta_window: window("x-beta-ratelimit", &found.beta_window),
            reason: text(("ratelimit-reason", ""), found.reason).map(RateLimitReason::parse),
            policies: found
                .policies
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(parse_structured_list)
                .map(|(name, params)| RateLimitPolicy {
                    quota: param(&params, "q"),
                    window: param(&params, "w").map(Duration::from_secs),
                    name,
                })
                .collect(),
            states: found
                .states
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(parse_structured_list)
                .map(|(name, params)| RateLimitState {
                    remaining: param(&params, "r"),
                    reset_in: param(&params, "t").map(Duration::from_secs),
                    name,
                })
                .collect(),
            beta_retry_after: text(("beta-retry-after", ""), found.beta_retry_after)
                .and_then(parse_retry_after)
                .map(|after| after.delay_from(SystemTime::now())),
        }
    }

    /// Whether the response says anything about rate limits.
    pub fn is_empty(&self) -> bool {
        self.retry_after.is_none()
            && self.window.is_empty()
            && self.beta_window.is_empty()
            && self.reason.is_none()
            && self.policies.is_empty()
            && self.states.is_empty()
            && self.beta_retry_after.is_none()
    }

    /// The wait the server asked for at `now`, by the one rule every layer uses:
    ///
    /// - `Retry-After` (seconds or an HTTP date) is the server's instruction when present.
    /// - Without it, `X-RateLimit-Reset` decides, read by reason and precision. For a burst
    ///   or per-issue reason (short windows), a reset at second precision is the wait and
    ///   one at minute precision is ignored (`None`: back off by the client's own schedule),
    ///   because "not before this minute" would freeze every task for up to 60 s over a
    ///   one-second bucket. For a quota reason, or none, or one this version does not know,
    ///   the reset is the wait at either precision: the budget is spent until then.
    /// - Neither: `None`.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use http::{HeaderMap, HeaderValue};
    /// use jira_model::RateLimitInfo;
    /// let mut headers = HeaderMap::new();
    /// headers.insert("ratelimit-reason", "jira-burst-based".parse().unwrap());
    /// headers.insert("x-ratelimit-reset", "2099-01-01T00:00Z".parse().unwrap());
    /// let info = RateLimitInfo::from_headers(&headers);
    /// assert_eq!(info.requested_wait(SystemTime::now()), None); // minute precision, burst
    /// headers.insert("retry-after", "2".parse().unwrap());
    /// let info = RateLimitInfo::from_headers(&headers);
    /// assert_eq!(info.requested_wait(SystemTime::now()), Some(Duration::from_secs(2)));
    /// ```
    pub fn requested_wait(&self, now: SystemTime) -> Option<Duration> {
        if let Some(after) = self.retry_after {
            return Some(after.delay_from(now));
        }
        let reset = self.window.reset?;
        let short_window = self
            .reason
            .as_ref()
            .is_some_and(|reason| reason.scope() != RateLimitScope::Site);
        if short_window && self.window.reset_precision == Some(ResetPrecision::Minute) {
            return None;
        }
        Some(
            reset
                .duration_since(now)
                .unwrap_or(Duration::ZERO)
                .min(MAX_RATE_LIMIT_WAIT),
        )
    }

    /// How long a refusal makes a caller wait: [`Self::requested_wait`], else `fallback`
    /// (the caller's own pause when the server gave no usable wait). The retry layer
    /// (`fallback` zero: its backoff follows) and the rate limiter (its default pause) both
    /// wait by this one rule.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use http::{HeaderMap, HeaderValue};
    /// use jira_model::RateLimitInfo;
    /// let mut headers = HeaderMap::new();
    /// headers.insert("retry-after", "2".parse().unwrap());
    /// let info = RateLimitInfo::from_headers(&headers);
    /// let wait = info.refusal_wait(SystemTime::now(), Duration::from_secs(1));
    /// assert_eq!(wait, Duration::from_secs(2));
    /// let none = RateLimitInfo::from_headers(&HeaderMap::new());
    /// assert_eq!(none.refusal_wait(SystemTime::now(), Duration::ZERO), Duration::ZERO);
    /// ```
    pub fn refusal_wait(&self, now: SystemTime, fallback: Duration) -> Duration {
        self.requested_wait(now).unwrap_or(fallback)
    }

    /// Whether the server says we are near a limit: `NearLimit: true`, or less than 20% of
    /// an advertised window left.
    pub fn is_near_limit(&self) -> bool {
        self.window.near_limit == Some(true)
            || self
                .window
                .remaining_fraction()
                .is_some_and(|fraction| fraction < 0.2)
    }
}

fn parse_count(prefix: &str, value: &str) -> Option<u64> {
    match value.parse::<u64>() {
        Ok(count) => Some(count),
        Err(_) => {
            tracing::warn!(
                header = prefix,
                value,
                "rate-limit count is not a whole number; ignored"
            );
            None
        }
    }
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => {
            tracing::warn!(
                value,
                "X-RateLimit-NearLimit is neither true nor false; ignored"
            );
            None
        }
    }
}

/// `Retry-After` is seconds (`0` is seen in practice; fractions are tolerated) or an
/// HTTP date. Values past [`MAX_RATE_LIMIT_WAIT`] are clamped.
fn parse_retry_after(value: &str) -> Option<RetryAfter> {
    if let Ok(seconds) = value.parse::<f64>() {
        if !seconds.is_finite() || seconds < 0.0 {
            tracing::warn!(value, "Retry-After is negative or not finite; ignored");
            return None;
        }
        let delay = Duration::from_secs_f64(seconds.min(MAX_RATE_LIMIT_WAIT.as_secs_f64() + 1.0));
        if delay > MAX_RATE_LIMIT_WAIT {
            tracing::warn!(
                value,
                max_seconds = MAX_RATE_LIMIT_WAIT.as_secs(),
                "Retry-After is absurdly long; clamped"
            );
            return Some(RetryAfter::Delay(MAX_RATE_LIMIT_WAIT));
        }
        return Some(RetryAfter::Delay(delay));
    }
    match httpdate::parse_http_date(value) {
        Ok(at) => Some(RetryAfter::At(clamp_instant(at, "Retry-After", value))),
        Err(_) => {
            tracing::warn!(
                value,
                "Retry-After is neither seconds nor an HTTP date; ignored"
            );
            None
        }
    }
}

/// Minute precision when the time of day has no seconds (`...T16:00Z`, `...T16:00+0000`).
fn reset_precision(value: &str) -> ResetPrecision {
    let time = value.split_once('T').map_or("", |(_, time)| time);
    let clock = time.split(['Z', 'z', '+', '-']).next().unwrap_or_default();
    if clock.matches(':').count() >= 2 {
        ResetPrecision::Seconds
    } else {
        ResetPrecision::Minute
    }
}

fn parse_reset_quietly(value: &str) -> Option<JiraTimestamp> {
    value.parse::<JiraTimestamp>().ok()
}

/// `X-RateLimit-Reset` is an ISO 8601 instant at second or minute precision.
fn parse_reset(value: &str) -> Option<SystemTime> {
    match value.parse::<JiraTimestamp>() {
        Ok(instant) => {
            let at = SystemTime::from(instant.as_offset_date_time());
            Some(clamp_instant(at, "X-RateLimit-Reset", value))
        }
        Err(_) => {
            tracing::warn!(
                value,
                "X-RateLimit-Reset is not an ISO 8601 instant; ignored"
            );
            None
        }
    }
}

fn clamp_instant(at: SystemTime, header: &str, value: &str) -> SystemTime {
    let latest = SystemTime::now() + MAX_RATE_LIMIT_WAIT;
    if at > latest {
        tracing::warn!(
            header,
            value,
            "rate-limit instant is absurdly far away; clamped"
        );
        latest
    } else {
        at
    }
}

/// Parses `"name";k=v;k=v, "other";k=v` (a structured-field list as Atlassian sends it).
/// Items that do not parse are skipped with a warning.
fn parse_structured_list(value: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut items = Vec::new();
    for item in value.split(',') {
        let mut parts = item.split(';').map(str::trim);
        let name = parts.next().unwrap_or_default().trim_matches('"');
        if name.is_empty() {
            tracing::warn!(value, "rate-limit policy item without a name; skipped");
            continue;
        }
        let params = parts
            .filter_map(|part| part.split_once('='))
            .map(|(key, value)| {
                (
                    key.trim().to_owned(),
                    value.trim().trim_matches('"').to_owned(),
                )
            })
            .collect();
        items.push((name.to_owned(), params));
    }
    items
}

fn param(params: &[(String, String)], key: &str) -> Option<u64> {
    let (_, value) = params.iter().find(|(name, _)| name == key)?;
    match value.parse() {
        Ok(number) => Some(number),
        Err(_) => {
            tracing::warn!(
                key,
                value,
                "rate-limit policy parameter is not a whole number; ignored"
            );
            None
        }
    }
}

#[cfg(test)]
mod tests;
