//! Jira Cloud's three limits: burst buckets, the hourly points quota and per-issue write
//! windows, plus the bookkeeping that catches clients retrying before their `Retry-After`.
//!
//! All waits are measured on tokio's clock, so the limiter runs under a paused clock in
//! tests; wall-clock instants appear only in the `X-RateLimit-Reset` header.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::{Mutex, RwLock};
use tokio::time::Instant;

use crate::config::{LimitConfig, QuotaKind};

/// Why a request was refused, and for how long.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Denial {
    /// `RateLimit-Reason`.
    pub reason: &'static str,
    /// The wait until the limit admits the request again.
    pub retry_after: Duration,
    /// `X-RateLimit-Limit` of the limit that refused.
    pub limit: u64,
    /// The scope a client must respect (for early-retry accounting).
    pub scope: String,
}

/// What an admitted request may tell the client about the limits.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Headroom {
    /// The burst bucket's size and what is left of it.
    pub burst: Option<(u64, u64)>,
    /// The quota, what is left, and seconds to its reset.
    pub quota: Option<(u64, u64, u64, &'static str)>,
}

impl Headroom {
    /// Whether less than 20% of any budget remains.
    pub fn near_limit(&self) -> bool {
        let near = |limit: u64, remaining: u64| (remaining as f64) < 0.2 * limit as f64;
        self.burst.is_some_and(|(l, r)| near(l, r))
            || self.quota.is_some_and(|(l, r, _, _)| near(l, r))
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    rate: f64,
    last: Instant,
}

#[derive(Debug, Default)]
struct QuotaState {
    window: i64,
    spent: u64,
}

/// The limiter of one simulated tenant.
#[derive(Debug)]
pub(crate) struct Limiter {
    config: RwLock<LimitConfig>,
    buckets: Mutex<HashMap<(String, String), Bucket>>,
    quota: Mutex<QuotaState>,
    writes: Mutex<HashMap<u64, VecDeque<Instant>>>,
    /// Per client and scope: when the refusal was sent and until when it holds.
    refusals: Mutex<HashMap<(String, String), (Instant, Instant)>>,
    /// Per scope, for the renew penalty: the running wait (until, its length, the denial
    /// that started it).
    waits: Mutex<HashMap<String, (Instant, Duration, Denial)>>,
    started: Instant,
    started_wall: SystemTime,
}

impl Limiter {
    pub fn new(config: LimitConfig) -> Self {
        Limiter {
            config: RwLock::new(config),
            buckets: Mutex::default(),
            quota: Mutex::default(),
            writes: Mutex::default(),
            refusals: Mutex::default(),
            waits: Mutex::default(),
            started: Instant::now(),
            started_wall: SystemTime::now(),
        }
    }

    pub fn config(&self) -> LimitConfig {
        self.config.read().clone()
    }

    /// Replaces the limits; buckets restart full, the quota keeps what was spent.
    pub fn set_config(&self, config: LimitConfig) {
        *self.config.write() = config;
        self.buckets.lock().clear();
    }

    /// Forgets spent points, buckets, write windows and refusals.
    pub fn reset(&self) {
        self.buckets.lock().clear();
        *self.quota.lock() = QuotaState::default();
        self.writes.lock().clear();
        self.refusals.lock().clear();
        self.waits.lock().clear();
    }

    pub fn advertise(&self) -> bool {
        self.config.read().advertise
    }

    /// How a 429 says when to come back.
    pub fn refusal_headers(&self) -> crate::config::RefusalHeaders {
        self.config.read().refusal
    }

    /// Admits or refuses one request. `template` is the v3 path template; `write_to` the
    /// issue a write targets.
    pub fn admit(
        &self,
        method: &str,
        template: &str,
        write_to: Option<u64>,
    ) -> Result<Headroom, Denial> {
        let (renew, announced) = {
            let config = self.config.read();
            (
                config.renew_penalty,
                config.refusal.retry_after != crate::config::RetryAfterFormat::Absent,
            )
        };
        if !renew {
            return self.admit_by_limits(method, template, write_to);
        }
        let now = Instant::now();
        let scopes = scopes_of(method, template, write_to);
        let mut waits = self.waits.lock();
        if let Some(scope) = scopes
            .iter()
            .find(|scope| waits.get(*scope).is_some_and(|(until, _, _)| now < *until))
        {
            // Arrived during a running wait: refused, and the wait starts over.
            let (until, length, denial) = waits.get_mut(scope).expect("found above");
            *until = now + *length;
            return Err(Denial {
                retry_after: *length,
                ..denial.clone()
            });
        }
        let outcome = self.admit_by_limits(method, template, write_to);
        if let Err(denial) = &outcome {
            // The wait the client is told of: Retry-After's whole seconds when it is sent.
            let length = if announced {
                Duration::from_secs(retry_after_secs(denial.retry_after))
            } else {
                denial.retry_after
            };
            waits.insert(denial.scope.clone(), (now + length, length, denial.clone()));
        }
        outcome
    }

    fn admit_by_limits(
        &self,
        method: &str,
        template: &str,
        write_to: Option<u64>,
    ) -> Result<Headroom, Denial> {
        let config = self.config.read().clone();
        let now = Instant::now();
        let mut headroom = Headroom::default();

        if let Some(quota) = &config.quota {
            let (window, reset_in) = self.quota_window(config.time_scale);
            let mut state = self.quota.lock();
            if state.window != window {
                *state = QuotaState { window, spent: 0 };
            }
            let reason = match quota.kind {
                QuotaKind::Tenant => "jira-quota-tenant-based",
                QuotaKind::Global => "jira-quota-global-based",
            };
            if state.spent >= quota.points_per_hour {
                return Err(Denial {
                    reason,
                    retry_after: reset_in,
                    limit: quota.points_per_hour,
                    scope: "site".into(),
                });
            }
            headroom.quota = Some((
                quota.points_per_hour,
                quota.points_per_hour - state.spent,
                reset_in.as_secs_f64().ceil() as u64,
                reason,
            ));
        }

        if let (Some(limits), Some(issue)) = (&config.per_issue_writes, write_to) {
            let mut writes = self.writes.lock();
            let times = writes.entry(issue).or_default();
            let long = Duration::from_millis(limits.long_window_ms);
            let short = Duration::from_millis(limits.short_window_ms);
            while times
                .front()
                .is_some_and(|t| now.duration_since(*t) >= long)
            {
                times.pop_front();
            }
            let in_short: Vec<Instant> = times
                .iter()
                .copied()
                .filter(|t| now.duration_since(*t) < short)
                .collect();
            let refusal = if in_short.len() >= limits.short_max as usize {
                Some((
                    in_short[in_short.len() - limits.short_max as usize] + short,
                    limits.short_max,
                ))
            } else if times.len() >= limits.long_max as usize {
                Some((
                    times[times.len() - limits.long_max as usize] + long,
                    limits.long_max,
                ))
            } else {
                None
            };
            if let Some((free_at, limit)) = refusal {
                return Err(Denial {
                    reason: "jira-per-issue-on-write",
                    retry_after: free_at.saturating_duration_since(now),
                    limit: limit as u64,
                    scope: format!("issue:{issue}"),
                });
            }
        }

        if let Some(burst) = &config.burst {
            let rate = burst.rate_for(method, template);
            // The bucket holds one second of tokens unless configured otherwise, and at
            // least one, so that a rate under 1/s admits a request now and then.
            let capacity = burst.capacity.unwrap_or(rate).max(1.0);
            let mut buckets = self.buckets.lock();
            let bucket = buckets
                .entry((method.to_owned(), template.to_owned()))
                .or_insert(Bucket {
                    tokens: capacity,
                    rate,
                    last: now,
                });
            let elapsed = now.duration_since(bucket.last).as_secs_f64();
            bucket.tokens = (bucket.tokens + elapsed * bucket.rate).min(capacity);
            bucket.last = now;
            if bucket.tokens < 1.0 {
                return Err(Denial {
                    reason: "jira-burst-based",
                    retry_after: Duration::from_secs_f64((1.0 - bucket.tokens) / bucket.rate),
                    limit: rate as u64,
                    scope: format!("burst:{method} {template}"),
                });
            }
            bucket.tokens -= 1.0;
            headroom.burst = Some((rate as u64, bucket.tokens.floor() as u64));
        }

        if let (Some(_), Some(issue)) = (&config.per_issue_writes, write_to) {
            self.writes.lock().entry(issue).or_default().push_back(now);
        }
        Ok(headroom)
    }

    /// Charges the points a request cost once its answer is known.
    pub fn charge(&self, points: u64) {
        let config = self.config.read();
        if config.quota.is_none() {
            return;
        }
        let (window, _) = self.quota_window(config.time_scale);
        let mut state = self.quota.lock();
        if state.window != window {
            *state = QuotaState { window, spent: 0 };
        }
        state.spent += points;
    }

    /// The current (scaled) hour and the real time until it ends. Windows are aligned to
    /// the top of the UTC hour, as Jira's are, when the scale is 1.
    fn quota_window(&self, time_scale: f64) -> (i64, Duration) {
        let scale = if time_scale > 0.0 { time_scale } else { 1.0 };
        let start = self
            .started_wall
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let simulated = start + self.started.elapsed().as_secs_f64() * scale;
        let window = (simulated / 3600.0).floor();
        let remaining_simulated = (window + 1.0) * 3600.0 - simulated;
        (
            window as i64,
            Duration::from_secs_f64(remaining_simulated / scale),
        )
    }

    /// Remembers that `client` was told to wait `retry_after` in `scope`.
    pub fn note_refusal(&self, client: &str, scope: &str, retry_after: Duration) {
        let now = Instant::now();
        let mut refusals = self.refusals.lock();
        if refusals.len() > 10_000 {
            refusals.retain(|_, (_, until)| *until > now);
        }
        refusals.insert(
            (client.to_owned(), scope.to_owned()),
            (now, now + retry_after),
        );
    }

    /// How a request from `client` arrives relative to the refusals it was sent: clear of
    /// them, during a running wait but within `grace` of the refusal (so already in flight
    /// when it was sent), or early (during the wait, after the client had the refusal).
    pub fn arrival(
        &self,
        client: &str,
        method: &str,
        template: &str,
        write_to: Option<u64>,
        grace: Duration,
    ) -> Arrival {
        let now = Instant::now();
        let refusals = self.refusals.lock();
        if refusals.is_empty() {
            return Arrival::Clear;
        }
        let mut scopes = scopes_of(method, template, write_to);
        scopes.push(format!("endpoint:{method} {template}"));
        let mut arrival = Arrival::Clear;
        for scope in scopes {
            if let Some((sent, until)) = refusals.get(&(client.to_owned(), scope))
                && now < *until
            {
                if now.duration_since(*sent) > grace {
                    return Arrival::Early;
                }
                arrival = Arrival::InFlight;
            }
        }
        arrival
    }
}

/// Where a request arrives relative to the waits its client was told of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Arrival {
    /// No wait covering it is running.
    Clear,
    /// During a running wait, but so soon after the refusal that it was already on the
    /// wire when the refusal was sent.
    InFlight,
    /// During a running wait, sent after the client had the refusal: a true early retry.
    Early,
}

/// The pause scopes a request is subject to, as the client is told them.
fn scopes_of(method: &str, template: &str, write_to: Option<u64>) -> Vec<String> {
    let mut scopes = vec!["site".to_owned(), format!("burst:{method} {template}")];
    if let Some(issue) = write_to {
        scopes.push(format!("issue:{issue}"));
    }
    scopes
}

/// The `Retry-After` seconds for a wait: rounded up, so a client that honours it is never
/// early.
pub(crate) fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BurstConfig, PerIssueConfig, QuotaConfig};

    const ISSUE: &str = "/rest/api/3/issue/{issueIdOrKey}";

    fn only_burst(per_second: f64) -> LimitConfig {
        LimitConfig {
            burst: Some(BurstConfig::uniform(per_second)),
            ..LimitConfig::off()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn burst_bucket_refills_at_its_rate() {
        let limiter = Limiter::new(only_burst(10.0));
        for _ in 0..10 {
            limiter.admit("GET", ISSUE, None).unwrap();
        }
        let denial = limiter.admit("GET", ISSUE, None).unwrap_err();
        assert_eq!(denial.reason, "jira-burst-based");
        assert_eq!(denial.limit, 10);
        assert!(denial.retry_after <= Duration::from_millis(100));
        // Another endpoint has its own bucket.
        limiter.admit("GET", "/rest/api/3/field", None).unwrap();
        tokio::time::advance(Duration::from_millis(100)).await;
        limiter.admit("GET", ISSUE, None).unwrap();
        assert!(limiter.admit("GET", ISSUE, None).is_err());
        tokio::time::advance(Duration::from_secs(5)).await;
        // The bucket holds at most one second of tokens.
        for _ in 0..10 {
            limiter.admit("GET", ISSUE, None).unwrap();
        }
        assert!(limiter.admit("GET", ISSUE, None).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn slow_rates_still_admit_one_request() {
        let limiter = Limiter::new(only_burst(1.0 / 3.0));
        limiter.admit("GET", ISSUE, None).unwrap();
        let denial = limiter.admit("GET", ISSUE, None).unwrap_err();
        assert_eq!(retry_after_secs(denial.retry_after), 3);
        tokio::time::advance(Duration::from_secs(3)).await;
        limiter.admit("GET", ISSUE, None).unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn defaults_and_overrides() {
        let limiter = Limiter::new(LimitConfig {
            burst: Some(BurstConfig::default()),
            ..LimitConfig::off()
        });
        let admitted = |method: &str, template: &str| {
            (0..200)
                .take_while(|_| limiter.admit(method, template, None).is_ok())
                .count()
        };
        assert_eq!(admitted("GET", ISSUE), 150);
        assert_eq!(admitted("GET", "/rest/api/3/field"), 100);
        assert_eq!(admitted("PUT", ISSUE), 50);
        assert_eq!(admitted("DELETE", ISSUE), 50);
        assert_eq!(admitted("POST", "/rest/api/3/issue"), 100);
    }

    #[tokio::test(start_paused = true)]
    async fn per_issue_write_windows() {
        let limiter = Limiter::new(LimitConfig {
            per_issue_writes: Some(PerIssueConfig::default()),
            ..LimitConfig::off()
        });
        for _ in 0..20 {
            limiter.admit("PUT", ISSUE, Some(1)).unwrap();
        }
        let denial = limiter.admit("PUT", ISSUE, Some(1)).unwrap_err();
        assert_eq!(denial.reason, "jira-per-issue-on-write");
        assert_eq!(denial.retry_after, Duration::from_secs(2));
        // Other issues and reads are not affected.
        limiter.admit("PUT", ISSUE, Some(2)).unwrap();
        limiter.admit("GET", ISSUE, None).unwrap();
        // 100 per 30 s: five short windows fill the long one.
        for _ in 0..4 {
            tokio::time::advance(Duration::from_secs(2)).await;
            for _ in 0..20 {
                limiter.admit("PUT", ISSUE, Some(1)).unwrap();
            }
        }
        tokio::time::advance(Duration::from_secs(2)).await;
        let denial = limiter.admit("PUT", ISSUE, Some(1)).unwrap_err();
        assert_eq!(denial.limit, 100);
        assert_eq!(denial.retry_after, Duration::from_secs(20));
        tokio::time::advance(Duration::from_secs(20)).await;
        limiter.admit("PUT", ISSUE, Some(1)).unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn quota_denies_everything_until_the_scaled_hour_ends() {
        let limiter = Limiter::new(LimitConfig {
            quota: Some(QuotaConfig {
                points_per_hour: 10,
                kind: QuotaKind::Global,
            }),
            time_scale: 3600.0,
            ..LimitConfig::off()
        });
        // Align to the start of a scaled hour first.
        let (_, to_next) = limiter.quota_window(3600.0);
        tokio::time::advance(to_next + Duration::from_millis(1)).await;
        let headroom = limiter.admit("GET", ISSUE, None).unwrap();
        assert_eq!(headroom.quota.map(|q| (q.0, q.1)), Some((10, 10)));
        limiter.charge(10);
        let denial = limiter.admit("GET", "/rest/api/3/field", None).unwrap_err();
        assert_eq!(denial.reason, "jira-quota-global-based");
        assert_eq!(denial.scope, "site");
        assert!(denial.retry_after <= Duration::from_secs(1));
        tokio::time::advance(denial.retry_after + Duration::from_millis(1)).await;
        assert!(limiter.admit("GET", ISSUE, None).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn early_retries_respect_scope_and_grace() {
        let limiter = Limiter::new(LimitConfig::off());
        let grace = Duration::from_millis(100);
        limiter.note_refusal("ann", &format!("burst:GET {ISSUE}"), Duration::from_secs(2));
        // In flight when the 429 was sent: not early.
        assert_eq!(
            limiter.arrival("ann", "GET", ISSUE, None, grace),
            Arrival::InFlight
        );
        tokio::time::advance(Duration::from_millis(500)).await;
        assert_eq!(
            limiter.arrival("ann", "GET", ISSUE, None, grace),
            Arrival::Early
        );
        assert_eq!(
            limiter.arrival("bob", "GET", ISSUE, None, grace),
            Arrival::Clear
        );
        assert_eq!(
            limiter.arrival("ann", "GET", "/rest/api/3/field", None, grace),
            Arrival::Clear
        );
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(
            limiter.arrival("ann", "GET", ISSUE, None, grace),
            Arrival::Clear
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_renew_penalty_refuses_and_renews_a_running_wait() {
        let limiter = Limiter::new(LimitConfig {
            burst: Some(BurstConfig::uniform(50.0).with_capacity(2.0)),
            renew_penalty: true,
            ..LimitConfig::off()
        });
        limiter.admit("GET", ISSUE, None).unwrap();
        limiter.admit("GET", ISSUE, None).unwrap();
        let first = limiter.admit("GET", ISSUE, None).unwrap_err();
        // The bucket has a token again after 20 ms, but the client was told one second.
        assert_eq!(retry_after_secs(first.retry_after), 1);
        tokio::time::advance(Duration::from_millis(600)).await;
        let renewed = limiter.admit("GET", ISSUE, None).unwrap_err();
        assert_eq!(renewed.reason, "jira-burst-based");
        assert_eq!(renewed.retry_after, Duration::from_secs(1));
        // 1.1 s after the first refusal, the renewed wait still runs.
        tokio::time::advance(Duration::from_millis(500)).await;
        assert!(limiter.admit("GET", ISSUE, None).is_err());
        // Other endpoints are not in the wait.
        limiter.admit("GET", "/rest/api/3/field", None).unwrap();
        // A client that waits out the whole renewed second is served.
        tokio::time::advance(Duration::from_millis(1_001)).await;
        limiter.admit("GET", ISSUE, None).unwrap();
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(10)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(2001)), 3);
        assert_eq!(retry_after_secs(Duration::from_secs(2)), 2);
    }
}
