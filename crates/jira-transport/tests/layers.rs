//! Paused-clock unit tests of `Retrying` and `CircuitBreaker` over the scripted double
//! (feature `testing`), beside the HTTP tests against jira-sim in `tests/transport/`.

use std::time::Duration;

use jira_model::{ApiRequest, IssueUpdate, OperationClass};
use jira_transport::testing::{Failure, Scripted, Step};
use jira_transport::{
    BreakerConfig, BreakerState, Error, PerClass, RetryPolicy, Transport, TransportExt,
};
use tokio::time::Instant;

fn create() -> ApiRequest {
    ApiRequest::create_issue(&IssueUpdate::default()).unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_create_refused_with_retry_after_until_retries_run_out_was_not_performed() {
    let wire = Scripted::new([]).then_always(Step::status(503).header("retry-after", "1"));
    let jira = wire.clone().with_retries(RetryPolicy {
        max_retries: 2,
        ..RetryPolicy::default()
    });
    let error = jira.send(create()).await.unwrap_err();
    assert_eq!(
        wire.count(),
        3,
        "a refusal may be repeated: first try + 2 retries"
    );
    assert!(
        matches!(error, Error::Exhausted { attempts: 3, .. }),
        "{error:?}"
    );
    assert!(
        error.not_performed(),
        "503 + Retry-After: the server did not act"
    );
}

#[tokio::test(start_paused = true)]
async fn a_create_is_never_repeated_after_a_plain_5xx_or_a_timeout() {
    for step in [
        Step::status(502),
        Step::status(500).header("retry-after", "1"),
        Step::fail(Failure::ReadTimeout),
    ] {
        let wire = Scripted::new([step.clone()]);
        let jira = wire.clone().with_retries(RetryPolicy::default());
        let error = jira.send(create()).await.unwrap_err();
        assert_eq!(wire.count(), 1, "{step:?}");
        assert!(!error.not_performed(), "{step:?}: it may have been created");
    }
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_the_minimum_wait_and_backoff_follows_the_schedule() {
    let wire = Scripted::new([
        Step::status(429).header("retry-after", "7"),
        Step::status(502),
        Step::json(200, "{}"),
    ]);
    let jira = wire.clone().with_retries(RetryPolicy {
        jitter: (1.0, 1.0),
        ..RetryPolicy::default()
    });
    let started = Instant::now();
    jira.send(ApiRequest::myself()).await.unwrap();
    // 7 s (the server's wait beats the 2 s first backoff) + 4 s (the second backoff).
    assert_eq!(started.elapsed(), Duration::from_secs(11));
    assert_eq!(wire.count(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_wait_longer_than_allowed_fails_at_once_and_counts_as_not_performed() {
    let wire = Scripted::new([Step::status(429).header("retry-after", "600")]);
    let jira = wire.clone().with_retries(RetryPolicy::default());
    let error = jira.send(create()).await.unwrap_err();
    assert!(matches!(error, Error::WaitTooLong { .. }), "{error:?}");
    assert!(error.not_performed());
    assert_eq!(wire.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_breaker_opens_on_failures_ignores_refusals_and_recovers() {
    let config = BreakerConfig {
        consecutive_failures: 3,
        open_for: Duration::from_secs(30),
        ..BreakerConfig::default()
    };
    let wire = Scripted::new([
        Step::status(503).header("retry-after", "1"),
        Step::status(429),
        Step::status(500),
        Step::status(500),
        Step::status(500),
        Step::json(200, "{}"),
    ]);
    let breaker = wire.clone().with_circuit_breaker("site", config);
    for _ in 0..2 {
        breaker.send(ApiRequest::myself()).await.unwrap();
        assert_eq!(
            breaker.state(),
            BreakerState::Closed,
            "refusals are neutral"
        );
    }
    for _ in 0..3 {
        breaker.send(ApiRequest::myself()).await.unwrap();
    }
    assert!(matches!(breaker.state(), BreakerState::Open { .. }));
    let error = breaker.send(ApiRequest::myself()).await.unwrap_err();
    assert!(matches!(error, Error::CircuitOpen { .. }) && error.not_performed());
    assert_eq!(wire.count(), 5, "an open circuit sends nothing");
    tokio::time::advance(Duration::from_secs(30)).await;
    breaker.send(ApiRequest::myself()).await.unwrap();
    assert_eq!(breaker.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn points_come_with_the_answer_and_the_tally_adds_them() {
    let tally = jira_transport::Tally::new();
    let wire = Scripted::new([
        Step::json(200, r#"{"issues":[{"id":"1"},{"id":"2"}]}"#),
        Step::status(429),
    ]);
    let jira = wire.counted(tally.clone());
    let search = ApiRequest::search(&jira_model::SearchRequest {
        jql: "project = A".into(),
        ..Default::default()
    })
    .unwrap();
    let answer = jira.send(search.clone()).await.unwrap();
    assert_eq!(answer.points, 3);
    jira.send(search).await.unwrap();
    let snapshot = tally.snapshot();
    assert_eq!(
        (snapshot.requests, snapshot.points, snapshot.rate_limited),
        (2, 3, 1)
    );
}

#[tokio::test(start_paused = true)]
async fn the_deadline_cuts_the_attempt_in_flight() {
    // A server that answers only after a minute, and a deadline of 5 s.
    let wire = Scripted::new([]).then_always(Step::json(200, "{}").after(Duration::from_secs(60)));
    let jira = wire.clone().with_retries(RetryPolicy {
        deadline: Some(PerClass::uniform(Duration::from_secs(5))),
        ..RetryPolicy::default()
    });
    let started = Instant::now();
    let error = jira.send(ApiRequest::myself()).await.unwrap_err();
    assert_eq!(started.elapsed(), Duration::from_secs(5));
    assert!(
        matches!(
            error,
            Error::Timeout {
                phase: jira_transport::TimeoutPhase::Total,
                ..
            }
        ),
        "{error:?}"
    );
    // Cut in flight: it may have been performed.
    assert!(!error.not_performed());
}

#[tokio::test(start_paused = true)]
async fn each_operation_class_has_its_own_deadline() {
    // A server that never answers in time: a lookup ends at its class's 2 s, a bulk fetch
    // at its 8 s, a search page at its 6 s.
    let wire = Scripted::new([]).then_always(Step::json(200, "{}").after(Duration::from_secs(600)));
    let jira = wire.clone().with_retries(RetryPolicy {
        deadline: Some(PerClass {
            single: Duration::from_secs(2),
            search: Duration::from_secs(6),
            bulk: Duration::from_secs(8),
            ..PerClass::uniform(Duration::from_secs(4))
        }),
        ..RetryPolicy::default()
    });
    for (request, budget) in [
        (ApiRequest::get_issue("APO-1", &[], &[]), 2),
        (
            ApiRequest::get_issue("APO-1", &[], &[]).with_class(OperationClass::Search),
            6,
        ),
        (
            ApiRequest::get_issue("APO-1", &[], &[]).with_class(OperationClass::Bulk),
            8,
        ),
    ] {
        let started = Instant::now();
        let error = jira.send(request.clone()).await.unwrap_err();
        assert_eq!(
            started.elapsed(),
            Duration::from_secs(budget),
            "{} {}",
            request.method,
            request.path
        );
        assert!(matches!(error, Error::Timeout { .. }), "{error:?}");
    }
}
