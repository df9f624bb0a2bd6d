//! Paused-clock unit tests of `RateLimited` over the scripted transport double, beside the
//! pacing tests against jira-sim in `tests/pacing.rs`.

use std::sync::Arc;
use std::time::Duration;

use jira_model::ApiRequest;
use jira_ratelimit::{BurstLimits, LimitsConfig, RateLimitExt};
use jira_transport::Transport;
use jira_transport::testing::{Scripted, Step};
use tokio::time::Instant;

/// A 429 with `Retry-After` and `RateLimit-Reason`.
fn refused(retry_after: &str, reason: &str) -> Step {
    Step::status(429)
        .header("retry-after", retry_after)
        .header("ratelimit-reason", reason)
}

fn config(per_second: f64) -> LimitsConfig {
    LimitsConfig {
        burst: BurstLimits::uniform(per_second),
        headroom: 1.0,
        ..LimitsConfig::default()
    }
}

#[tokio::test(start_paused = true)]
async fn requests_are_paced_to_the_bucket() {
    let wire = Scripted::new([]).then_always(Step::json(200, "{}"));
    let jira = wire.clone().with_rate_limit(config(10.0));
    let started = Instant::now();
    for _ in 0..30 {
        jira.send(ApiRequest::myself()).await.unwrap();
    }
    // 10 a second; before the server's bucket is known, a burst takes a tenth of a second
    // of the rate: 1 at once, then 29 more at 10 a second.
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(2_800), "{elapsed:?}");
    assert!(elapsed <= Duration::from_millis(3_000), "{elapsed:?}");
}

#[tokio::test(start_paused = true)]
async fn a_bucket_the_server_shows_is_used_whole() {
    // The server names its rate and shows what is left: 10 a second, 9 left after one.
    let wire = Scripted::new([Step::json(200, "{}")
        .header("x-ratelimit-limit", "10")
        .header("x-ratelimit-remaining", "9")])
    .then_always(Step::json(200, "{}"));
    let jira = wire.clone().with_rate_limit(config(100.0));
    jira.send(ApiRequest::myself()).await.unwrap();
    let request = ApiRequest::myself();
    assert_eq!(jira.rate_for(&request), 10.0);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let started = Instant::now();
    for _ in 0..30 {
        jira.send(ApiRequest::myself()).await.unwrap();
    }
    // A full bucket of 10 at once, then 20 more at 10 a second.
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(1_900), "{elapsed:?}");
    assert!(elapsed <= Duration::from_millis(2_100), "{elapsed:?}");
}

#[tokio::test(start_paused = true)]
async fn a_429_pauses_its_scope_for_every_task() {
    let wire =
        Scripted::new([refused("5", "jira-quota-tenant-based")]).then_always(Step::json(200, "{}"));
    let jira = Arc::new(wire.clone().with_rate_limit(config(1_000.0)));
    let refused = jira.send(ApiRequest::myself()).await.unwrap();
    assert_eq!(refused.status, 429);
    assert_eq!(refused.points, 0, "a refusal costs nothing");
    let started = Instant::now();
    // Other tasks, other endpoints: a quota refusal pauses the whole site.
    let tasks: Vec<_> = (0..5)
        .map(|n| {
            let jira = jira.clone();
            tokio::spawn(async move {
                let request = if n % 2 == 0 {
                    ApiRequest::server_info()
                } else {
                    ApiRequest::fields()
                };
                jira.send(request).await.unwrap();
                Instant::now()
            })
        })
        .collect();
    for task in tasks {
        let sent = task.await.unwrap();
        assert!(
            sent - started >= Duration::from_secs(5),
            "{:?}",
            sent - started
        );
    }
    assert_eq!(wire.count(), 6);
}

#[tokio::test(start_paused = true)]
async fn a_burst_refusal_pauses_only_its_endpoint() {
    let wire = Scripted::new([refused("3", "jira-burst-based")]).then_always(Step::json(200, "{}"));
    let jira = wire.clone().with_rate_limit(config(1_000.0));
    jira.send(ApiRequest::get_issue("A-1", &[], &[]))
        .await
        .unwrap();
    let started = Instant::now();
    jira.send(ApiRequest::fields()).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(10),
        "another endpoint is free"
    );
    jira.send(ApiRequest::get_issue("A-2", &[], &[]))
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "the same endpoint waited"
    );
}

#[tokio::test(start_paused = true)]
async fn a_wait_past_max_wait_fails_before_sending() {
    let wire = Scripted::new([refused("300", "jira-quota-global-based")])
        .then_always(Step::json(200, "{}"));
    let jira = wire.clone().with_rate_limit(LimitsConfig {
        max_wait: Duration::from_secs(10),
        ..config(100.0)
    });
    jira.send(ApiRequest::myself()).await.unwrap();
    let error = jira.send(ApiRequest::myself()).await.unwrap_err();
    assert!(error.not_performed(), "{error}");
    assert!(error.to_string().contains("rate limiter"), "{error}");
    assert_eq!(wire.count(), 1, "nothing was sent");
}

#[tokio::test(start_paused = true)]
async fn a_server_that_renews_its_wait_is_met_with_longer_pauses() {
    // Every retry right after its wait is refused again with the same Retry-After.
    let wire = Scripted::new((0..4).map(|_| refused("1", "jira-burst-based")))
        .then_always(Step::json(200, "{}"));
    let jira =
        wire.clone()
            .with_rate_limit(config(1_000.0))
            .with_retries(jira_transport::RetryPolicy {
                max_retries: 6,
                base_delay: Duration::from_millis(100),
                jitter: (1.0, 1.0),
                ..Default::default()
            });
    jira.send(ApiRequest::get_issue("A-1", &[], &[]))
        .await
        .unwrap();
    let arrivals = wire.arrivals();
    assert_eq!(arrivals.len(), 5);
    let gaps: Vec<Duration> = arrivals.windows(2).map(|w| w[1] - w[0]).collect();
    // The first wait is what the server asked (a twentieth more: 1.05 s); the n-th
    // renewal waits 2^n times that, jittered up by at most half.
    for (n, gap) in gaps.iter().enumerate() {
        let nominal = Duration::from_millis(1_050 << n);
        assert!(*gap >= nominal, "{gaps:?}");
        assert!(
            *gap <= nominal.mul_f64(1.5) + Duration::from_millis(100),
            "{gaps:?}"
        );
    }
}

/// How long a second GET waits after the first was refused with no `Retry-After`, a reset
/// at minute precision a minute or more away, and `reason`.
async fn wait_after_a_minute_reset(reason: &str) -> Duration {
    let reset = (time::OffsetDateTime::now_utc() + time::Duration::minutes(2))
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]Z"
        ))
        .unwrap();
    let wire = Scripted::new([Step::status(429)
        .header("x-ratelimit-reset", &reset)
        .header("ratelimit-reason", reason)])
    .then_always(Step::json(200, "{}"));
    let jira = wire.clone().with_rate_limit(config(1_000.0));
    jira.send(ApiRequest::get_issue("A-1", &[], &[]))
        .await
        .unwrap();
    let started = Instant::now();
    jira.send(ApiRequest::get_issue("A-2", &[], &[]))
        .await
        .unwrap();
    started.elapsed()
}

#[tokio::test(start_paused = true)]
async fn a_burst_refusal_with_a_minute_reset_does_not_freeze_the_endpoint() {
    // A burst bucket refills in a second: the default pause, not the minute.
    let waited = wait_after_a_minute_reset("jira-burst-based").await;
    assert!(waited <= Duration::from_secs(2), "waited {waited:?}");
    // A quota refusal with the same reset pauses until it.
    let waited = wait_after_a_minute_reset("jira-quota-tenant-based").await;
    assert!(waited >= Duration::from_secs(60), "waited {waited:?}");
}

use jira_transport::TransportExt as _;
