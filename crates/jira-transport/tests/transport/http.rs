//! `HttpTransport` against jira-sim: pool, timeouts, auth, refusals, secrets.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use jira_model::{ApiRequest, ErrorClass, Issue, SearchRequest};
use jira_sim::Fault;
use jira_transport::{
    Auth, Error, HttpConfig, HttpTransport, Secret, TimeoutPhase, Transport, TransportExt,
};

use crate::{ISSUE, auth, config, fault_on, faults, http, quick_policy, sim};

#[tokio::test]
async fn two_hundred_callers_share_a_pool_of_fifty() {
    let sim = sim().await;
    faults(
        &sim,
        vec![fault_on(
            Fault::Latency {
                fixed_ms: 50,
                jitter_ms: 0,
            },
            1.0,
            ISSUE,
        )],
    );
    let mut config = config(&sim);
    config.max_in_flight = 50;
    let transport = Arc::new(HttpTransport::new(config).unwrap());
    // Sample the requests in flight while the callers run.
    let peak = Arc::new(AtomicUsize::new(0));
    let monitor = {
        let (transport, peak) = (transport.clone(), peak.clone());
        tokio::spawn(async move {
            loop {
                peak.fetch_max(transport.in_flight(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let started = Instant::now();
    let outcomes = futures_util::future::join_all((0..200).map(|n| {
        transport.send(ApiRequest::get_issue(
            &format!("APO-{}", n % 50 + 1),
            &[],
            &[],
        ))
    }))
    .await;
    monitor.abort();
    assert!(
        outcomes
            .iter()
            .all(|o| o.as_ref().is_ok_and(|r| r.status == 200))
    );
    // 200 requests of 50 ms, 50 at a time: at least four rounds.
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
    let peak = peak.load(Ordering::Relaxed);
    assert!((40..=50).contains(&peak), "peak in flight {peak}");
    assert_eq!(sim.stats().requests, 200);
}

#[tokio::test]
async fn the_overflow_gets_a_clear_error_not_a_hang() {
    let sim = sim().await;
    faults(
        &sim,
        vec![fault_on(
            Fault::Latency {
                fixed_ms: 500,
                jitter_ms: 0,
            },
            1.0,
            ISSUE,
        )],
    );
    let mut config = config(&sim);
    config.max_in_flight = 10;
    config.acquire_timeout = Duration::from_millis(20);
    let transport = HttpTransport::new(config).unwrap();
    let started = Instant::now();
    let outcomes = futures_util::future::join_all(
        (0..50).map(|_| transport.send(ApiRequest::get_issue("APO-1", &[], &[]))),
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(2));
    let ok = outcomes.iter().filter(|o| o.is_ok()).count();
    let exhausted: Vec<&Error> = outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
    assert_eq!(ok, 10);
    assert_eq!(exhausted.len(), 40);
    for error in exhausted {
        assert!(
            matches!(error, Error::PoolExhausted { in_flight: 10, .. }),
            "{error}"
        );
        assert!(error.to_string().contains("raise `max_in_flight`"));
    }
}

#[tokio::test]
async fn timeouts_follow_the_operation_class() {
    let sim = sim().await;
    faults(
        &sim,
        vec![jira_sim::FaultRule::new(Fault::Hang { ms: 10_000 }, 1.0)],
    );
    let mut config = config(&sim);
    config.timeouts.read.single = Duration::from_millis(200);
    config.timeouts.read.search = Duration::from_millis(800);
    let transport = HttpTransport::new(config).unwrap();

    let started = Instant::now();
    let error = transport
        .send(ApiRequest::get_issue("APO-1", &[], &[]))
        .await
        .unwrap_err();
    let single = started.elapsed();
    assert!(
        matches!(error, Error::Timeout { phase: TimeoutPhase::Read, after, .. } if after == Duration::from_millis(200)),
        "{error}"
    );
    assert!(single < Duration::from_millis(700), "{single:?}");

    let started = Instant::now();
    let search = SearchRequest {
        jql: "project = APO".into(),
        ..SearchRequest::default()
    };
    let error = transport
        .send(ApiRequest::search(&search).unwrap())
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(error, Error::Timeout { .. }), "{error}");
    assert!(
        elapsed >= Duration::from_millis(800) && elapsed < Duration::from_millis(1_500),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn the_total_timeout_bounds_a_slow_body() {
    let sim = sim().await;
    faults(
        &sim,
        vec![fault_on(
            Fault::Latency {
                fixed_ms: 400,
                jitter_ms: 0,
            },
            1.0,
            ISSUE,
        )],
    );
    let mut config = config(&sim);
    config.timeouts.total.single = Duration::from_millis(150);
    let transport = HttpTransport::new(config).unwrap();
    let error = transport
        .send(ApiRequest::get_issue("APO-1", &[], &[]))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Timeout {
                phase: TimeoutPhase::Total,
                ..
            }
        ),
        "{error}"
    );
}

#[tokio::test]
async fn broken_bodies_are_errors_or_undecodable() {
    let sim = sim().await;
    faults(&sim, vec![fault_on(Fault::Truncated, 1.0, ISSUE)]);
    let transport = http(&sim);
    let error = transport
        .send(ApiRequest::get_issue("APO-1", &[], &[]))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Io { .. }), "{error}");
    assert_eq!(error.class(), Some(ErrorClass::Transient));

    faults(&sim, vec![fault_on(Fault::Malformed, 1.0, ISSUE)]);
    let response = transport
        .send(ApiRequest::get_issue("APO-1", &[], &[]))
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    let decoded = response.json::<Issue>();
    assert!(decoded.unwrap_err().to_string().contains("is not a valid"));
}

#[tokio::test]
async fn a_dead_site_is_a_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let transport =
        HttpTransport::new(HttpConfig::new(format!("http://{addr}"), Auth::None)).unwrap();
    let error = transport.send(ApiRequest::myself()).await.unwrap_err();
    assert!(matches!(error, Error::Connect { .. }), "{error}");
    assert!(error.to_string().contains("cannot connect"), "{error}");
}

#[test]
fn plain_http_to_a_remote_host_is_refused() {
    let build = |url: &str, allow: bool| {
        let mut config = HttpConfig::new(url, Auth::None);
        config.allow_insecure_http = allow;
        HttpTransport::new(config).map(|_| ())
    };
    let message = build("http://jira.example.com", false)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("clear text") && message.contains("https://"),
        "{message}"
    );
    assert!(build("http://jira.example.com", true).is_ok());
    assert!(build("http://127.0.0.1:8080", false).is_ok());
    assert!(build("http://localhost:8080", false).is_ok());
    assert!(build("http://[::1]:8080", false).is_ok());
    assert!(build("https://your-domain.atlassian.net", false).is_ok());
    assert!(
        build("ftp://x", false)
            .unwrap_err()
            .to_string()
            .contains("scheme")
    );
    let message = build("not a url", false).unwrap_err().to_string();
    assert!(message.contains("\"not a url\" is not a URL"), "{message}");
    let mut zero = HttpConfig::new("https://x.atlassian.net", Auth::None);
    zero.max_in_flight = 0;
    assert!(
        HttpTransport::new(zero)
            .unwrap_err()
            .to_string()
            .contains("max_in_flight is 0")
    );
}

#[tokio::test]
async fn basic_and_bearer_auth() {
    let sim = jira_sim::SimHandle::start(jira_sim::SimConfig {
        projects: 1,
        issues_per_project: 1,
        bearer_tokens: vec![jira_sim::Secret::new("pat-abc")],
        limits: jira_sim::LimitConfig::off(),
        ..jira_sim::SimConfig::default()
    })
    .await
    .unwrap();
    let send = |auth: Auth| {
        let transport = HttpTransport::new(HttpConfig::new(sim.base_url(), auth)).unwrap();
        async move { transport.send(ApiRequest::myself()).await.unwrap() }
    };
    assert_eq!(send(auth(&sim)).await.status, 200);
    let bearer = Auth::Bearer {
        token: Secret::new("pat-abc"),
    };
    assert_eq!(send(bearer).await.status, 200);
    let wrong = Auth::Basic {
        email: "sim@example.com".into(),
        api_token: Secret::new("wrong"),
    };
    let response = send(wrong).await;
    assert_eq!(response.status, 401);
    assert_eq!(response.classify(), ErrorClass::Auth);
}

#[tokio::test]
async fn the_token_never_appears_in_debug_output_or_errors() {
    let sim = sim().await;
    faults(
        &sim,
        vec![fault_on(Fault::Status { status: 502 }, 1.0, ISSUE)],
    );
    let token = "sim-token";
    let config = config(&sim);
    assert!(!format!("{config:?}").contains(token));
    let transport = HttpTransport::new(config).unwrap();
    assert!(!format!("{transport:?}").contains(token));
    let jira = transport.with_retries(jira_transport::RetryPolicy {
        max_retries: 1,
        ..quick_policy()
    });
    let error = jira
        .send(ApiRequest::get_issue("APO-1", &[], &[]))
        .await
        .unwrap_err();
    for text in [format!("{error}"), format!("{error:?}")] {
        assert!(!text.contains(token), "{text}");
        // Nor the Basic credentials in base64.
        assert!(
            !text.contains("c2ltQGV4YW1wbGUuY29tOnNpbS10b2tlbg"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn https_uses_tls() {
    // jira-sim speaks plain HTTP, so a TLS handshake with it fails before anything is sent:
    // proof that https:// goes through the TLS stack, and that the failure is told as a TLS
    // failure (not retried: trying again gets the same answer), nothing sent.
    let sim = sim().await;
    let url = sim.base_url().replace("http://", "https://");
    let transport = HttpTransport::new(HttpConfig::new(url, auth(&sim))).unwrap();
    let error = transport.send(ApiRequest::myself()).await.unwrap_err();
    assert!(matches!(error, Error::Tls { .. }), "{error}");
    assert!(error.not_performed(), "{error}");
    assert_eq!(sim.stats().requests, 0);
}

#[test]
fn passwords_in_urls_are_redacted() {
    use jira_transport::redact_url;
    assert_eq!(
        redact_url("redis://127.0.0.1:6379/0"),
        "redis://127.0.0.1:6379/0"
    );
    assert_eq!(
        redact_url("redis://:hunter2@host:6379"),
        "redis://:***@host:6379"
    );
    assert_eq!(
        redact_url("redis://ann:hunter2@host"),
        "redis://ann:***@host"
    );
    assert_eq!(redact_url("rediss://token@host"), "rediss://***@host");
}

#[tokio::test]
async fn a_body_past_the_limit_is_a_clear_error_not_memory() {
    let sim = sim().await;
    let mut config = config(&sim);
    // A full issue is a few kilobytes.
    config.max_body_bytes = 1_000;
    let jira = HttpTransport::new(config).unwrap();
    let error = jira
        .send(ApiRequest::get_issue("APO-1", &[], &[]))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            jira_transport::Error::BodyTooLarge { limit: 1_000, .. }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("max_body_bytes"), "{error}");
    // Under the limit, the same answer reads whole.
    let jira = http(&sim);
    let response = jira
        .send(ApiRequest::get_issue("APO-1", &[], &[]))
        .await
        .unwrap();
    assert!(response.body.len() > 1_000);
}

#[tokio::test]
async fn a_file_streams_past_the_body_cap_and_holds_its_slot_until_read() {
    let sim = sim().await;
    let content: Vec<u8> = (0..600_000).map(|i| (i % 241) as u8).collect();
    let (email, token) = sim.basic_auth();
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(content.clone()).file_name("trace.log"),
    );
    let uploaded: serde_json::Value = reqwest::Client::new()
        .post(format!(
            "{}/rest/api/3/issue/APO-1/attachments",
            sim.base_url()
        ))
        .basic_auth(&email, Some(&token))
        .header("X-Atlassian-Token", "no-check")
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = uploaded[0]["id"].as_str().unwrap().to_owned();
    let mut config = config(&sim);
    // Any answer read whole must fit in 100 KB; the file is six times that.
    config.max_body_bytes = 100_000;
    let transport = HttpTransport::new(config).unwrap();
    let file = || {
        ApiRequest::forwarded(
            ::http::Method::GET,
            &format!("/rest/api/3/attachment/content/{id}"),
            vec![("redirect".into(), "false".into())],
            None,
            ::http::HeaderMap::new(),
        )
    };
    // Read whole, it is refused for its size.
    let refused = transport.send(file()).await.unwrap_err();
    assert!(matches!(refused, Error::BodyTooLarge { .. }), "{refused}");
    // Streamed, it comes whole; the request's slot is held until the body is read.
    let slot = jira_model::StreamSlot::new();
    let answer = transport
        .send(file().streaming(slot.clone()))
        .await
        .unwrap();
    assert_eq!(answer.status, 200);
    assert!(answer.body.is_empty());
    assert_eq!(transport.in_flight(), 1);
    let mut body = slot.take().expect("the file was left on the wire");
    let mut read = Vec::new();
    while let Some(chunk) = futures_util::StreamExt::next(&mut body).await {
        read.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(read, content);
    drop(body);
    assert_eq!(transport.in_flight(), 0);
    // A JSON answer is read whole whatever the request asks: the slot stays empty.
    let slot = jira_model::StreamSlot::new();
    let issue = transport
        .send(ApiRequest::get_issue("APO-1", &[], &[]).streaming(slot.clone()))
        .await
        .unwrap();
    assert!(!issue.body.is_empty());
    assert!(!slot.is_filled());
}
