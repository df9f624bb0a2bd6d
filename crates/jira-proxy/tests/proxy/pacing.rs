//! Pacing: callers that would together drain a strict bucket see no 429, and a wait past
//! the allowed one comes back as a 429 with a true `Retry-After`.

use std::time::Duration;

use jira_client::Auth;
use jira_proxy::ProxyConfig;
use jira_sim::{BurstConfig, LimitConfig, RefusalHeaders, ResetFormat, RetryAfterFormat};
use reqwest::Method;

use crate::{call, forwarding, sim, start_proxy};

/// The strict server: a bucket of 20 refilled at 50 a second, nothing announced on
/// success, a reset at minute precision on a 429.
fn strict() -> LimitConfig {
    LimitConfig {
        burst: Some(BurstConfig::uniform(50.0).with_capacity(20.0)),
        advertise: false,
        refusal: RefusalHeaders {
            retry_after: RetryAfterFormat::Seconds,
            reset: ResetFormat::Minute,
        },
        ..LimitConfig::off()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_callers_against_a_strict_bucket_see_no_429() {
    let sim = sim(strict()).await;
    let proxy = forwarding(&sim).await;
    let keys: Vec<String> = sim
        .project_keys()
        .iter()
        .flat_map(|p| sim.issue_keys(p))
        .collect();
    // Eight callers, each reading 30 issues one GET at a time (half the keys shared).
    let callers = (0..8).map(|caller| {
        let requests: Vec<_> = (0..30)
            .map(|i| {
                let key = if i % 2 == 0 {
                    &keys[i]
                } else {
                    &keys[(caller * 15 + i) % keys.len()]
                };
                call(
                    &proxy,
                    &sim,
                    Method::GET,
                    &format!("/rest/api/3/issue/{key}?fields=summary"),
                )
            })
            .collect();
        tokio::spawn(async move {
            let mut statuses = Vec::new();
            for request in requests {
                statuses.push(request.send().await.unwrap().status().as_u16());
            }
            statuses
        })
    });
    let mut statuses = Vec::new();
    for caller in callers.collect::<Vec<_>>() {
        statuses.extend(caller.await.unwrap());
    }
    assert_eq!(statuses.len(), 240);
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let stats = proxy.stats().await;
    let site = sim.stats();
    assert_eq!(stats.passed_429, 0);
    assert_eq!(site.early_retries, 0);
    // What the site refused (the one cluster that taught the bucket) the proxy absorbed.
    assert_eq!(stats.absorbed_429, site.rate_limited);
    // Distinct issues were read once each; the rest came from the cache or a flight.
    assert!(stats.upstream <= site.requests);
    assert!(
        site.requests - site.rate_limited <= 8 * 15 + 15,
        "{} answered requests for at most 135 distinct keys",
        site.requests - site.rate_limited
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_past_the_allowed_one_is_a_429_that_says_when() {
    // Two requests a second, and callers allowed to wait 100 ms.
    let sim = sim(LimitConfig {
        burst: Some(BurstConfig::uniform(2.0).with_capacity(2.0)),
        ..LimitConfig::off()
    })
    .await;
    let proxy = start_proxy(
        &sim,
        Auth::None,
        ProxyConfig::default(),
        Duration::from_millis(100),
    )
    .await;
    let mut refused = 0;
    for _ in 0..8 {
        // Not cacheable: each one needs the budget.
        let response = call(&proxy, &sim, Method::GET, "/rest/api/3/myself")
            .send()
            .await
            .unwrap();
        match response.status().as_u16() {
            200 => {}
            429 => {
                refused += 1;
                let after: u64 = response.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!((1..=2).contains(&after), "Retry-After: {after}");
                let body: serde_json::Value = response.json().await.unwrap();
                assert!(body["errorMessages"][0].as_str().unwrap().contains("wait"));
            }
            other => panic!("status {other}"),
        }
    }
    assert!(refused >= 4, "{refused} of 8 refused at 2 a second");
    assert_eq!(proxy.stats().await.passed_429, refused);
    assert_eq!(sim.stats().early_retries, 0);
}
