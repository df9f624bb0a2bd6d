//! Health checks of a site and a cache, judged by the thresholds of the operations guide.
//!
//! [`check_health`] asks `/myself` (connectivity and auth) and `/serverInfo`, samples the
//! latency, reads the rate-limit headroom from the answers' headers and the cache's hit
//! rate (over the reads of the last `jira_cache::RECENT_MINUTES` minutes, so one cold run
//! does not mark it unhealthy for good) and size, and grades each against [`Thresholds`];
//! the report's overall [`Status`] is the worst of its checks, so cron jobs and monitors
//! can act on one value. The report carries the time it was made.

use std::time::{Duration, Instant};

use jira_cache::{CacheStore, JiraCache};
use jira_model::{ApiRequest, ApiResponse, RateLimitInfo, ServerInfo, User};
use jira_transport::{Error as TransportError, Transport};
use serde::Serialize;

/// How healthy something is; ordered from best to worst.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Within the target.
    Healthy,
    /// Past the target, not yet past the critical threshold.
    Degraded,
    /// Past the critical threshold, or not working at all.
    Unhealthy,
}

impl Status {
    /// `healthy`, `degraded` or `unhealthy`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Healthy => "healthy",
            Status::Degraded => "degraded",
            Status::Unhealthy => "unhealthy",
        }
    }
}

/// Targets and critical thresholds (defaults: the operations guide's table).
#[derive(Clone, Debug, PartialEq)]
pub struct Thresholds {
    /// Cache hit rate: healthy above this (0.70)...
    pub hit_rate_target: f64,
    /// ...unhealthy below this (0.50).
    pub hit_rate_critical: f64,
    /// Reads needed before the hit rate is graded at all (100): a cache that has served
    /// a handful of reads says nothing yet.
    pub hit_rate_min_reads: u64,
    /// Mean request time: healthy below this (500 ms)...
    pub latency_target: Duration,
    /// ...unhealthy above this (2 s).
    pub latency_critical: Duration,
    /// Share of the rate limit remaining: healthy above this (0.20)...
    pub remaining_target: f64,
    /// ...unhealthy below this (0.05).
    pub remaining_critical: f64,
    /// Cache size over its cap: healthy below this (0.80)...
    pub size_target: f64,
    /// ...unhealthy above this (0.95).
    pub size_critical: f64,
    /// Share of failed requests: healthy below this (0.01)...
    pub error_rate_target: f64,
    /// ...unhealthy above this (0.05).
    pub error_rate_critical: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            hit_rate_target: 0.70,
            hit_rate_critical: 0.50,
            hit_rate_min_reads: 100,
            latency_target: Duration::from_millis(500),
            latency_critical: Duration::from_secs(2),
            remaining_target: 0.20,
            remaining_critical: 0.05,
            size_target: 0.80,
            size_critical: 0.95,
            error_rate_target: 0.01,
            error_rate_critical: 0.05,
        }
    }
}

impl Thresholds {
    fn higher_is_better(value: f64, target: f64, critical: f64) -> Status {
        if value > target {
            Status::Healthy
        } else if value >= critical {
            Status::Degraded
        } else {
            Status::Unhealthy
        }
    }

    fn lower_is_better(value: f64, target: f64, critical: f64) -> Status {
        if value < target {
            Status::Healthy
        } else if value <= critical {
            Status::Degraded
        } else {
            Status::Unhealthy
        }
    }
}

/// What to check.
#[derive(Clone, Debug, PartialEq)]
pub struct HealthOptions {
    /// Latency samples (`GET /myself`), after the first call (default 3).
    pub samples: usize,
    /// The grading.
    pub thresholds: Thresholds,
}

impl Default for HealthOptions {
    fn default() -> Self {
        HealthOptions {
            samples: 3,
            thresholds: Thresholds::default(),
        }
    }
}

/// One graded check.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Check {
    /// `connectivity`, `server`, `latency`, `rate_limit`, `error_rate`, `cache_hit_rate`,
    /// `cache_size`.
    pub name: &'static str,
    /// The grade.
    pub status: Status,
    /// The measured value as a number (ms, a fraction), when there is one.
    pub value: Option<f64>,
    /// One line for a human.
    pub detail: String,
}

/// Why a check could not even reach the site.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Failure {
    /// The site answered 401 or 403: the credentials are wrong.
    Auth,
    /// No answer (connect error, timeout) or a server error.
    Unreachable,
}

/// The result of [`check_health`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HealthReport {
    /// When the checks ran (RFC 3339, UTC).
    pub checked_at: String,
    /// The worst status of the checks.
    pub status: Status,
    /// Set when the site could not be used at all, and why.
    pub failure: Option<Failure>,
    /// Every check, in the order above.
    pub checks: Vec<Check>,
    /// The user the credentials belong to.
    pub user: Option<String>,
    /// The site's version and deployment.
    pub server: Option<String>,
    /// Every latency sample, in milliseconds.
    pub latencies_ms: Vec<f64>,
}

impl HealthReport {
    /// The check called `name`.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|check| check.name == name)
    }
}

/// Checks the site behind `transport` and, when given, `cache`.
///
/// Give it a transport without retries (or with few), so a failing site shows up as
/// failing rather than as slow.
pub async fn check_health<T: Transport, S: CacheStore>(
    transport: &T,
    cache: Option<&JiraCache<S>>,
    options: &HealthOptions,
) -> HealthReport {
    let t = &options.thresholds;
    let mut checks = Vec::new();
    let mut report = HealthReport {
        checked_at: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        status: Status::Healthy,
        failure: None,
        checks: Vec::new(),
        user: None,
        server: None,
        latencies_ms: Vec::new(),
    };
    let mut sent = 0_usize;
    let mut failed = 0_usize;
    let mut last_limits: Option<RateLimitInfo> = None;

    // Connectivity and auth.
    let first = timed(transport, ApiRequest::myself()).await;
    sent += 1;
    // A failure: why, and what the check says.
    let unreachable = |detail: String| Some((Failure::Unreachable, detail));
    let failure = match &first {
        // A 2xx that is not Jira's user (a proxy's or a captive portal's page, an empty
        // body) proves neither connectivity to Jira nor the credentials.
        Ok((response, _)) if response.is_success() && response.json::<User>().is_err() => {
            unreachable(format!(
                "GET /myself answered HTTP {} but not with a Jira user ({}): is the site URL a Jira Cloud site, with nothing in between answering for it?",
                response.status.as_u16(),
                response.body_description()
            ))
        }
        Ok((response, elapsed)) if response.is_success() => {
            report.latencies_ms.push(ms(*elapsed));
            last_limits = Some(response.rate_limit_info());
            let user: Option<User> = response.json().ok();
            report.user = user.map(|user| match (user.display_name, user.email_address) {
                (Some(name), Some(email)) => format!("{name} <{email}>"),
                (Some(name), None) => name,
                (None, _) => user.account_id,
            });
            checks.push(Check {
                name: "connectivity",
                status: Status::Healthy,
                value: Some(ms(*elapsed)),
                detail: format!(
                    "GET /myself answered 200 in {:.0} ms as {}",
                    ms(*elapsed),
                    report.user.as_deref().unwrap_or("an unnamed user")
                ),
            });
            None
        }
        Ok((response, _)) => {
            let status = response.status.as_u16();
            if matches!(status, 401 | 403) {
                Some((
                    Failure::Auth,
                    format!(
                        "GET /myself answered {status}: the email or API token is wrong or lacks access"
                    ),
                ))
            } else if let Some(refusal) = response.refusal() {
                unreachable(refusal_detail(&refusal))
            } else {
                unreachable(format!("GET /myself answered {status}"))
            }
        }
        Err(error) => unreachable(error.to_string()),
    };
    if let Some((failure, detail)) = failure {
        failed += 1;
        report.failure = Some(failure);
        checks.push(Check {
            name: "connectivity",
            status: Status::Unhealthy,
            value: None,
            detail,
        });
    }

    if report.failure.is_none() {
        // The server.
        let info = timed(transport, ApiRequest::server_info()).await;
        sent += 1;
        checks.push(match info {
            Ok((response, elapsed)) if response.is_success() => {
                report.latencies_ms.push(ms(elapsed));
                last_limits = Some(response.rate_limit_info());
                let info: Option<ServerInfo> = response.json().ok();
                report.server = info.as_ref().map(|info| {
                    format!(
                        "{} {}",
                        info.deployment_type.as_deref().unwrap_or("Jira"),
                        info.version
                    )
                });
                Check {
                    name: "server",
                    status: Status::Healthy,
                    value: None,
                    detail: format!(
                        "GET /serverInfo: {}",
                        report.server.as_deref().unwrap_or("an unreadable answer")
                    ),
                }
            }
            Ok((response, _)) => {
                failed += 1;
                Check {
                    name: "server",
                    status: Status::Degraded,
                    value: None,
                    detail: format!("GET /serverInfo answered {}", response.status.as_u16()),
                }
            }
            Err(error) => {
                failed += 1;
                Check {
                    name: "server",
                    status: Status::Degraded,
                    value: None,
                    detail: error.to_string(),
                }
            }
        });

        // Latency.
        for _ in 0..options.samples {
            sent += 1;
            match timed(transport, ApiRequest::myself()).await {
                Ok((response, elapsed)) if response.is_success() => {
                    report.latencies_ms.push(ms(elapsed));
                    last_limits = Some(response.rate_limit_info());
                }
                _ => failed += 1,
            }
        }
        let mean =
            report.latencies_ms.iter().sum::<f64>() / report.latencies_ms.len().max(1) as f64;
        checks.push(Check {
            name: "latency",
            status: Thresholds::lower_is_better(mean, ms(t.latency_target), ms(t.latency_critical)),
            value: Some(mean),
            detail: format!(
                "mean {mean:.0} ms over {} requests (target < {:.0} ms)",
                report.latencies_ms.len(),
                ms(t.latency_target)
            ),
        });

        // Rate-limit headroom.
        let window = last_limits.map(|info| info.window);
        checks.push(match window.as_ref().and_then(|w| w.remaining_fraction()) {
            Some(fraction) => Check {
                name: "rate_limit",
                status: Thresholds::higher_is_better(
                    fraction,
                    t.remaining_target,
                    t.remaining_critical,
                ),
                value: Some(fraction),
                detail: format!(
                    "{} of {} remaining ({:.0}%, target > {:.0}%)",
                    window.as_ref().and_then(|w| w.remaining).unwrap_or(0),
                    window.as_ref().and_then(|w| w.limit).unwrap_or(0),
                    fraction * 100.0,
                    t.remaining_target * 100.0
                ),
            },
            None if window.as_ref().and_then(|w| w.near_limit) == Some(true) => Check {
                name: "rate_limit",
                status: Status::Degraded,
                value: None,
                detail: "the site says it is near its limit (X-RateLimit-NearLimit)".into(),
            },
            None => Check {
                name: "rate_limit",
                status: Status::Healthy,
                value: None,
                detail: "no X-RateLimit headers: the site is not near a limit".into(),
            },
        });
    }

    // Error rate over the requests made here.
    let rate = failed as f64 / sent as f64;
    checks.push(Check {
        name: "error_rate",
        status: Thresholds::lower_is_better(rate, t.error_rate_target, t.error_rate_critical),
        value: Some(rate),
        detail: format!(
            "{failed} of {sent} requests failed (target < {:.0}%)",
            t.error_rate_target * 100.0
        ),
    });

    if let Some(cache) = cache {
        checks.extend(cache_checks(cache, t).await);
    }
    report.status = checks
        .iter()
        .map(|check| check.status)
        .max()
        .unwrap_or(Status::Healthy);
    report.checks = checks;
    report
}

async fn cache_checks<S: CacheStore>(cache: &JiraCache<S>, t: &Thresholds) -> Vec<Check> {
    let stats = match cache.stats().await {
        Ok(stats) => stats,
        Err(error) => {
            return vec![Check {
                name: "cache",
                status: Status::Unhealthy,
                value: None,
                detail: format!("cannot read the cache: {error}"),
            }];
        }
    };
    // The present, not the cache's whole life: one cold fetch of thousands of issues must
    // not mark every later check unhealthy.
    let (hits, misses) = stats.recent_reads(cache.clock_ms());
    let reads = hits + misses;
    let minutes = jira_cache::RECENT_MINUTES;
    let hit_rate = if reads < t.hit_rate_min_reads {
        Check {
            name: "cache_hit_rate",
            status: Status::Healthy,
            value: None,
            detail: format!(
                "not graded: {reads} reads in the last {minutes} minutes (graded from {})",
                t.hit_rate_min_reads
            ),
        }
    } else {
        let rate = hits as f64 / reads as f64;
        Check {
            name: "cache_hit_rate",
            status: Thresholds::higher_is_better(rate, t.hit_rate_target, t.hit_rate_critical),
            value: Some(rate),
            detail: format!(
                "{:.1}% over the last {minutes} minutes ({hits} hits, {misses} misses; target > {:.0}%)",
                rate * 100.0,
                t.hit_rate_target * 100.0
            ),
        }
    };
    let cap = cache.config().max_size_bytes.max(1);
    let fill = stats.bytes as f64 / cap as f64;
    let size = Check {
        name: "cache_size",
        status: Thresholds::lower_is_better(fill, t.size_target, t.size_critical),
        value: Some(fill),
        detail: format!(
            "{} of {} ({:.1}%, target < {:.0}%)",
            human_bytes(stats.bytes),
            human_bytes(cap),
            fill * 100.0,
            t.size_target * 100.0
        ),
    };
    vec![hit_rate, size]
}

/// Which budget a refusal names and when it resets.
fn refusal_detail(refusal: &jira_model::Refusal) -> String {
    let info = &refusal.info;
    let budget = match &info.reason {
        Some(reason) => format!("the {} budget", reason.as_str()),
        None => "a budget it did not name".to_owned(),
    };
    let now = std::time::SystemTime::now();
    let when = match (info.retry_after, info.window.reset) {
        (Some(after), _) => format!("retry in {} s", after.delay_from(now).as_secs()),
        (None, Some(reset)) => {
            let reset = time::OffsetDateTime::from(reset)
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default();
            format!("it resets at {reset}")
        }
        (None, None) => "no reset time given".to_owned(),
    };
    format!(
        "GET /myself answered {}: the site is rate limiting this account ({budget}; {when})",
        refusal.status.as_u16()
    )
}

async fn timed<T: Transport>(
    transport: &T,
    request: ApiRequest,
) -> Result<(ApiResponse, Duration), TransportError> {
    let started = Instant::now();
    let response = transport.send(request).await?;
    Ok((response, started.elapsed()))
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// `12.5 MiB`, `300 B`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grades_follow_the_guide() {
        let t = Thresholds::default();
        assert_eq!(
            Thresholds::higher_is_better(0.78, t.hit_rate_target, t.hit_rate_critical),
            Status::Healthy
        );
        assert_eq!(
            Thresholds::higher_is_better(0.60, t.hit_rate_target, t.hit_rate_critical),
            Status::Degraded
        );
        assert_eq!(
            Thresholds::higher_is_better(0.40, t.hit_rate_target, t.hit_rate_critical),
            Status::Unhealthy
        );
        assert_eq!(
            Thresholds::lower_is_better(0.001, t.error_rate_target, t.error_rate_critical),
            Status::Healthy
        );
        assert_eq!(
            Thresholds::lower_is_better(0.03, t.error_rate_target, t.error_rate_critical),
            Status::Degraded
        );
        assert_eq!(
            Thresholds::lower_is_better(0.30, t.error_rate_target, t.error_rate_critical),
            Status::Unhealthy
        );
        assert!(Status::Unhealthy > Status::Degraded && Status::Degraded > Status::Healthy);
    }

    #[test]
    fn bytes_read_as_humans_write_them() {
        assert_eq!(human_bytes(300), "300 B");
        assert_eq!(human_bytes(12 * 1024 * 1024 + 512 * 1024), "12.5 MiB");
        assert_eq!(human_bytes(500 * 1024 * 1024), "500.0 MiB");
    }
}
