//! `Retrying` against jira-sim: timelines, idempotency, transport faults, vetoes.

use std::time::{Duration, Instant};

use jira_model::{ApiRequest, IssueUpdate};
use jira_sim::{BurstConfig, Fault, LimitConfig};
use jira_transport::{Error, Retry, RetryPolicy, Transport, TransportExt};
use serde_json::json;

use crate::{CREATE, ISSUE, fault_on, faults, http, quick_policy, sim, sim_with};

fn create(summary: &str) -> ApiRequest {
    let mut issue = IssueUpdate::default();
    issue.fields.insert("project".into(), json!({"key": "APO"}));
    issue
        .fields
        .insert("issuetype".into(), json!({"name": "Task"}));
    issue.fields.insert("summary".into(), json!(summary));
    ApiRequest::create_issue(&issue).unwrap()
}

#[tokio::test]
async fn a_429_is_retried_no_earlier_than_retry_after() {
    // One request every three seconds: the second is told Retry-After: 3.
    let sim = sim_with(LimitConfig {
        burst: Some(BurstConfig::uniform(1.0 / 3.0)),
        ..LimitConfig::off()
    })
    .await;
    let jira = http(&sim).with_retries(quick_policy());
    let get = || ApiRequest::get_issue("APO-1", &["summary"], &[]);
    assert_eq!(jira.send(get()).await.unwrap().status, 200);
    let started = Instant::now();
    let response = jira.send(get()).await.unwrap();
    assert_eq!(response.status, 200);
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let stats = sim.stats();
    assert_eq!(stats.rate_limited, 1);
    assert_eq!(stats.early_retries, 0);
}

#[tokio::test]
async fn a_create_under_5xx_never_creates_a_duplicate() {
    let sim = sim().await;
    faults(
        &sim,
        vec![fault_on(Fault::Status { status: 500 }, 0.2, CREATE)],
    );
    let jira = http(&sim).with_retries(quick_policy());
    let outcomes =
        futures_util::future::join_all((0..60).map(|n| jira.send(create(&format!("Create {n}")))))
            .await;
    let created = outcomes.iter().filter(|o| o.is_ok()).count() as u64;
    let failed = outcomes.iter().filter(|o| o.is_err()).count();
    assert!(failed > 0, "the faults must have hit some creates");
    for outcome in &outcomes {
        if let Err(error) = outcome {
            assert_eq!(
                error.attempts(),
                1,
                "a create was retried after a 5xx: {error}"
            );
            assert_eq!(error.status().map(|s| s.as_u16()), Some(500));
        }
    }
    let stats = sim.stats();
    assert_eq!(stats.issues_created, created);
    assert_eq!(stats.duplicate_creates, 0);
    assert_eq!(stats.requests_to("POST", CREATE), 60);
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_not_repeated() {
    let sim = sim().await;
    faults(
        &sim,
        vec![fault_on(Fault::LostResponse { status: 504 }, 0.3, CREATE)],
    );
    let jira = http(&sim).with_retries(quick_policy());
    let outcomes =
        futures_util::future::join_all((0..40).map(|n| jira.send(create(&format!("Lost {n}")))))
            .await;
    let succeeded = outcomes.iter().filter(|o| o.is_ok()).count() as u64;
    let lost = outcomes.iter().filter(|o| o.is_err()).count() as u64;
    assert!(lost > 0);
    let stats = sim.stats();
    // Every lost answer did create its issue; none was created twice.
    assert_eq!(stats.issues_created, succeeded + lost);
    assert_eq!(stats.duplicate_creates, 0);
}

#[tokio::test]
async fn a_create_refused_with_retry_after_is_retried_and_created_once() {
    let sim = sim_with(LimitConfig {
        burst: Some(BurstConfig::uniform(1.0)),
        ..LimitConfig::off()
    })
    .await;
    let jira = http(&sim).with_retries(quick_policy());
    for n in 0..3 {
        let response = jira.send(create(&format!("Paced {n}"))).await.unwrap();
        assert_eq!(response.status, 201);
    }
    let stats = sim.stats();
    assert!(
        stats.rate_limited >= 1,
        "the burst limit must have refused some"
    );
    assert_eq!(stats.issues_created, 3);
    assert_eq!(stats.duplicate_creates, 0);
    assert_eq!(stats.early_retries, 0);
}

#[tokio::test]
async fn resets_and_hangs_are_recovered_for_reads_within_their_timeouts() {
    let sim = sim().await;
    faults(
        &sim,
        vec![
            fault_on(Fault::Reset, 0.2, ISSUE),
            fault_on(Fault::Hang { ms: 10_000 }, 0.2, ISSUE),
        ],
    );
    let mut config = crate::config(&sim);
    config.timeouts.read.single = Duration::from_millis(300);
    config.timeouts.total.single = Duration::from_millis(600);
    let jira = jira_transport::HttpTransport::new(config)
        .unwrap()
        .with_retries(RetryPolicy {
            max_retries: 10,
            ..quick_policy()
        });
    let started = Instant::now();
    let outcomes = futures_util::future::join_all(
        (1..=40).map(|n| jira.send(ApiRequest::get_issue(&format!("APO-{n}"), &[], &[]))),
    )
    .await;
    for outcome in outcomes {
        assert_eq!(outcome.unwrap().status, 200);
    }
    let stats = sim.stats();
    assert!(stats.faults.get("reset").copied().unwrap_or(0) > 0);
    assert!(stats.faults.get("hang").copied().unwrap_or(0) > 0);
    // Nine attempts of at most 600 ms and the backoffs between them bound every request.
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_write_that_timed_out_is_not_repeated() {
    let sim = sim().await;
    faults(&sim, vec![fault_on(Fault::Hang { ms: 2_000 }, 1.0, CREATE)]);
    let mut config = crate::config(&sim);
    config.timeouts.read.write = Duration::from_millis(200);
    let jira = jira_transport::HttpTransport::new(config)
        .unwrap()
        .with_retries(quick_policy());
    let error = jira.send(create("Slow")).await.unwrap_err();
    assert!(matches!(error, Error::Timeout { .. }), "{error}");
    assert_eq!(error.attempts(), 1);
    // A retry would arrive within the 20 ms backoff; none does.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sim.stats().requests, 1);
}

#[tokio::test]
async fn failures_keep_status_body_and_attempts() {
    let sim = sim().await;
    faults(
        &sim,
        vec![fault_on(Fault::Status { status: 503 }, 1.0, ISSUE)],
    );
    let jira = http(&sim).with_retries(RetryPolicy {
        max_retries: 2,
        ..quick_policy()
    });
    let error = jira
        .send(ApiRequest::get_issue("APO-1", &[], &[]))
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::Exhausted { attempts: 3, .. }),
        "{error}"
    );
    assert_eq!(error.status().map(|s| s.as_u16()), Some(503));
    let body = error.error_collection().unwrap();
    assert!(body.error_messages[0].contains("injected"));
    assert!(error.rate_limit_info().is_some());
    assert!(
        error.to_string().contains("gave up after 3 attempts"),
        "{error}"
    );
    assert_eq!(sim.stats().requests_to("GET", ISSUE), 3);
}

#[tokio::test]
async fn a_classifier_can_veto_a_retry() {
    let sim = sim().await;
    faults(
        &sim,
        vec![fault_on(
            Fault::Unavailable {
                retry_after_secs: 1,
            },
            1.0,
            "/rest/api/3/field",
        )],
    );
    let jira = http(&sim)
        .with_retries(quick_policy())
        .with_classifier(|response| {
            if response.status == 503 && response.body.windows(11).any(|w| w == b"unavailable") {
                Retry::Never
            } else {
                Retry::AsUsual
            }
        });
    let error = jira.send(ApiRequest::fields()).await.unwrap_err();
    assert_eq!(error.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(error.attempts(), 1);
    assert_eq!(sim.stats().requests_to("GET", "/rest/api/3/field"), 1);
}

#[tokio::test]
async fn a_wait_longer_than_allowed_fails_at_once_and_says_how_long() {
    let sim = sim().await;
    faults(
        &sim,
        vec![fault_on(
            Fault::Unavailable {
                retry_after_secs: 600,
            },
            1.0,
            ISSUE,
        )],
    );
    let jira = http(&sim).with_retries(RetryPolicy {
        max_wait: Duration::from_secs(60),
        ..quick_policy()
    });
    let started = Instant::now();
    let error = jira
        .send(ApiRequest::get_issue("APO-1", &[], &[]))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    match &error {
        Error::WaitTooLong { asked, allowed, .. } => {
            assert_eq!(*asked, Duration::from_secs(600));
            assert_eq!(*allowed, Duration::from_secs(60));
        }
        other => panic!("expected WaitTooLong, got {other}"),
    }
    let message = error.to_string();
    assert!(
        message.contains("wait 10 min (until ") && message.contains("the 1 min allowed"),
        "{message}"
    );
    assert!(
        message.contains("`max_wait_secs`") && message.contains("--max-wait"),
        "{message}"
    );

    // A deadline shorter than the asked wait fails the same way.
    faults(
        &sim,
        vec![fault_on(
            Fault::Unavailable {
                retry_after_secs: 5,
            },
            1.0,
            ISSUE,
        )],
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    let error = jira
        .send_with_deadline(ApiRequest::get_issue("APO-1", &[], &[]), deadline)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::WaitTooLong { .. }), "{error}");
}

#[tokio::test]
async fn answers_that_are_not_failures_come_back_as_answers() {
    let sim = sim().await;
    let jira = http(&sim).with_retries(quick_policy());
    let response = jira
        .send(ApiRequest::get_issue("NOPE-1", &[], &[]))
        .await
        .unwrap();
    assert_eq!(response.status, 404);
    assert_eq!(sim.stats().requests, 1);
    let error = Error::from_response(&::http::Method::GET, "/rest/api/3/issue/NOPE-1", response)
        .unwrap_err();
    assert!(
        error.to_string().contains("Issue does not exist"),
        "{error}"
    );
}

#[tokio::test]
async fn a_connection_never_made_is_retried_even_for_a_write() {
    // Nothing listens on the port until the simulator starts there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let mut config = jira_transport::HttpConfig::new(
        format!("http://{addr}"),
        jira_transport::Auth::Basic {
            email: "sim@example.com".into(),
            api_token: jira_transport::Secret::new("sim-token"),
        },
    );
    config.timeouts.connect = Duration::from_millis(500);
    let jira = jira_transport::HttpTransport::new(config)
        .unwrap()
        .with_retries(RetryPolicy {
            max_retries: 6,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_millis(400),
            ..RetryPolicy::default()
        });
    let starter = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        jira_sim::SimHandle::bind(
            jira_sim::SimConfig {
                projects: 1,
                issues_per_project: 1,
                limits: LimitConfig::off(),
                ..jira_sim::SimConfig::default()
            },
            addr,
        )
        .await
        .unwrap()
    });
    let response = jira.send(create("After connect errors")).await.unwrap();
    assert_eq!(response.status, 201);
    let sim = starter.await.unwrap();
    assert_eq!(sim.stats().issues_created, 1);
}

#[tokio::test]
async fn retry_after_zero_still_backs_off_and_refusals_of_writes_are_retried() {
    let sim = sim().await;
    faults(
        &sim,
        vec![fault_on(
            Fault::Unavailable {
                retry_after_secs: 0,
            },
            1.0,
            CREATE,
        )],
    );
    let jira = http(&sim).with_retries(RetryPolicy {
        max_retries: 2,
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(1),
        ..RetryPolicy::default()
    });
    let started = Instant::now();
    let error = jira.send(create("Refused")).await.unwrap_err();
    // A 503 with Retry-After refused the create, so it was retried; Retry-After: 0 did not
    // turn the backoff (0.7 × (100 + 200) ms at least) into a hammering loop.
    assert_eq!(error.attempts(), 3);
    assert!(
        started.elapsed() >= Duration::from_millis(210),
        "{:?}",
        started.elapsed()
    );
    let stats = sim.stats();
    assert_eq!(stats.requests_to("POST", CREATE), 3);
    assert_eq!(stats.issues_created, 0);
    assert_eq!(stats.early_retries, 0);
}

#[tokio::test]
async fn not_performed_tells_unsent_and_refused_from_maybe_done() {
    // Never connected: safe to send again.
    let gone = sim().await;
    let dead = http(&gone);
    gone.shutdown().await;
    let error = dead.send(create("never sent")).await.unwrap_err();
    assert!(error.not_performed(), "{error}");

    // Refused with a Retry-After longer than allowed: not done.
    let slow = sim_with(LimitConfig {
        burst: Some(BurstConfig::uniform(1.0 / 30.0)),
        ..LimitConfig::off()
    })
    .await;
    let jira = http(&slow).with_retries(RetryPolicy {
        max_wait: Duration::from_secs(1),
        ..quick_policy()
    });
    jira.send(create("first")).await.unwrap();
    let error = jira.send(create("second")).await.unwrap_err();
    assert!(matches!(error, Error::WaitTooLong { .. }), "{error}");
    assert!(error.not_performed());
    assert_eq!(slow.stats().issues_created, 1);

    // The answer was lost after the work: maybe done.
    let lossy = sim().await;
    faults(
        &lossy,
        vec![fault_on(Fault::LostResponse { status: 504 }, 1.0, CREATE)],
    );
    let error = http(&lossy)
        .with_retries(quick_policy())
        .send(create("lost"))
        .await
        .unwrap_err();
    assert!(!error.not_performed(), "{error}");
    assert_eq!(lossy.stats().issues_created, 1);
}

/// Counts the attempts that reach the layer below.
struct Attempts<T> {
    inner: T,
    sent: std::sync::atomic::AtomicUsize,
}

impl<T: Transport> Transport for Attempts<T> {
    async fn send(&self, request: ApiRequest) -> Result<jira_model::ApiResponse, Error> {
        self.sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.send(request).await
    }
}

/// A site that refuses the connection before it ever answered (a wrong URL, a closed
/// port) fails after a few tries with the cause, not the whole retry schedule; once it has
/// answered, a refused connection is a blip and retried.
#[tokio::test]
async fn a_connection_refused_before_any_answer_is_given_few_tries() {
    let closed = sim().await;
    let never = Attempts {
        inner: http(&closed),
        sent: Default::default(),
    };
    closed.shutdown().await;
    let jira = never.with_retries(quick_policy());
    let get = || ApiRequest::get_issue("APO-1", &["summary"], &[]);
    let error = jira.send(get()).await.unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("cannot connect") && text.contains("is the site URL right"),
        "{text}"
    );
    assert_eq!(
        jira.inner().sent.load(std::sync::atomic::Ordering::SeqCst),
        jira_transport::UNREACHED_ATTEMPTS as usize,
        "not the policy's {} retries",
        quick_policy().max_retries
    );

    let went_away = sim().await;
    let jira = Attempts {
        inner: http(&went_away),
        sent: Default::default(),
    }
    .with_retries(quick_policy());
    assert_eq!(jira.send(get()).await.unwrap().status, 200);
    went_away.shutdown().await;
    assert!(jira.send(get()).await.is_err());
    assert_eq!(
        jira.inner().sent.load(std::sync::atomic::Ordering::SeqCst),
        2 + quick_policy().max_retries,
        "a site that answered before is retried on the policy's schedule"
    );
}
