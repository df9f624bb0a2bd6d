//! Reads: the cache within its TTLs, each credential's own; single flight; `no-cache`;
//! v2 and v3 kept apart; writes through the proxy invalidate what they change.

use std::time::Duration;

use jira_proxy::{CACHE_HEADER, COALESCED_HEADER};
use jira_sim::{
    Credential, Fault, FaultConfig, FaultRule, LimitConfig, Secret, SimConfig, SimHandle,
};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{call, forwarding, sim};

/// `GET path` through the proxy with `sim`'s credentials: the JSON answer.
async fn get_json(proxy: &crate::Running, sim: &SimHandle, path: &str) -> Value {
    call(proxy, sim, Method::GET, path)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn cache_mark(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get(CACHE_HEADER)
        .map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_issue_read_never_reaches_the_site_until_a_write_through_the_proxy_changes_it() {
    let sim = sim(LimitConfig::off()).await;
    let proxy = forwarding(&sim).await;
    let key = sim.issue_keys(&sim.project_keys()[0])[0].clone();
    let path = format!("/rest/api/3/issue/{key}?fields=summary,status");

    let first = call(&proxy, &sim, Method::GET, &path).send().await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(cache_mark(&first), None);
    let before = sim.stats().requests;
    let second = call(&proxy, &sim, Method::GET, &path).send().await.unwrap();
    assert_eq!(cache_mark(&second).as_deref(), Some("hit"));
    let body: Value = second.json().await.unwrap();
    assert_eq!(body["key"], key);
    assert_eq!(sim.stats().requests, before, "a hit reached the site");

    // `Cache-Control: no-cache` goes to the site.
    let fresh = call(&proxy, &sim, Method::GET, &path)
        .header("cache-control", "no-cache")
        .send()
        .await
        .unwrap();
    assert_eq!(cache_mark(&fresh), None);
    assert_eq!(sim.stats().requests, before + 1);

    // An edit and a transition through the proxy: the next read shows each.
    let edit = call(
        &proxy,
        &sim,
        Method::PUT,
        &format!("/rest/api/3/issue/{key}"),
    )
    .json(&json!({"fields": {"summary": "Changed through the proxy"}}))
    .send()
    .await
    .unwrap();
    assert_eq!(edit.status(), 204);
    let after: Value = get_json(&proxy, &sim, &path).await;
    assert_eq!(after["fields"]["summary"], "Changed through the proxy");
    let status_before = after["fields"]["status"]["name"].clone();
    let transitions: Value = get_json(
        &proxy,
        &sim,
        &format!("/rest/api/3/issue/{key}/transitions"),
    )
    .await;
    let transition = &transitions["transitions"][0];
    let moved = call(
        &proxy,
        &sim,
        Method::POST,
        &format!("/rest/api/3/issue/{key}/transitions"),
    )
    .json(&json!({"transition": {"id": transition["id"]}}))
    .send()
    .await
    .unwrap();
    assert_eq!(moved.status(), 204);
    let now: Value = get_json(&proxy, &sim, &path).await;
    assert_eq!(now["fields"]["status"]["name"], transition["to"]["name"]);
    assert_ne!(now["fields"]["status"]["name"], status_before);
    let stats = proxy.stats().await;
    assert!(stats.cache_hits >= 1 && stats.invalidated >= 2, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_credential_reads_its_own_entries_and_v2_is_kept_apart_from_v3() {
    let other = Credential {
        email: "other@example.com".into(),
        api_token: Secret::new("other-token"),
    };
    let sim = SimHandle::start(SimConfig {
        projects: 1,
        issues_per_project: 5,
        limits: LimitConfig::off(),
        credentials: vec![Credential::default(), other.clone()],
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let proxy = forwarding(&sim).await;
    let key = sim.issue_keys(&sim.project_keys()[0])[0].clone();
    let v3 = format!("/rest/api/3/issue/{key}?fields=description");
    let v2 = format!("/rest/api/2/issue/{key}?fields=description");
    for _ in 0..2 {
        call(&proxy, &sim, Method::GET, &v3).send().await.unwrap();
    }
    // Another account's first read goes to the site, never to the first one's entry.
    let before = sim.stats().requests;
    let theirs = reqwest::Client::new()
        .get(format!("{}{v3}", proxy.url))
        .basic_auth(&other.email, Some(other.api_token.expose()))
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.status(), 200);
    assert_eq!(cache_mark(&theirs), None);
    assert_eq!(sim.stats().requests, before + 1);
    // A wrong token is the site's to refuse.
    let wrong = reqwest::Client::new()
        .get(format!("{}{v3}", proxy.url))
        .basic_auth("sim@example.com", Some("not-the-token"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    // v2 renders the description as text, v3 as a document: two entries.
    let v3_body: Value = get_json(&proxy, &sim, &v3).await;
    let v2_first = call(&proxy, &sim, Method::GET, &v2).send().await.unwrap();
    assert_eq!(cache_mark(&v2_first), None);
    let v2_body: Value = v2_first.json().await.unwrap();
    let v2_again = call(&proxy, &sim, Method::GET, &v2).send().await.unwrap();
    assert_eq!(cache_mark(&v2_again).as_deref(), Some("hit"));
    if !v3_body["fields"]["description"].is_null() {
        assert!(v3_body["fields"]["description"].is_object());
        assert!(v2_body["fields"]["description"].is_string(), "{v2_body}");
        let again: Value = v2_again.json().await.unwrap();
        assert!(again["fields"]["description"].is_string());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_reads_in_flight_share_one_upstream_request() {
    let sim = sim(LimitConfig::off()).await;
    // Every answer takes 300 ms, so all twenty arrive while the first is in flight.
    sim.set_faults(FaultConfig {
        rules: vec![FaultRule::new(
            Fault::Latency {
                fixed_ms: 300,
                jitter_ms: 0,
            },
            1.0,
        )],
    });
    let proxy = forwarding(&sim).await;
    let key = sim.issue_keys(&sim.project_keys()[0])[0].clone();
    // Comments are not cached: single flight alone keeps these to one request.
    let path = format!("/rest/api/3/issue/{key}/comment");
    let before = sim.stats().requests;
    let calls = (0..20).map(|_| {
        let request = call(&proxy, &sim, Method::GET, &path);
        tokio::spawn(async move { request.send().await.unwrap() })
    });
    let mut coalesced = 0;
    for handle in calls.collect::<Vec<_>>() {
        let response = handle.await.unwrap();
        assert_eq!(response.status(), 200);
        coalesced += usize::from(response.headers().contains_key(COALESCED_HEADER));
        let body: Value = response.json().await.unwrap();
        assert!(body["comments"].is_array());
    }
    let upstream = sim.stats().requests - before;
    assert!(
        upstream <= 2,
        "{upstream} requests reached the site for 20 identical reads"
    );
    assert_eq!(coalesced as u64, 20 - upstream);
    assert_eq!(proxy.stats().await.coalesced, 20 - upstream);
    // Once the flight is over, the next read goes again.
    tokio::time::sleep(Duration::from_millis(10)).await;
    call(&proxy, &sim, Method::GET, &path).send().await.unwrap();
    assert_eq!(sim.stats().requests - before, upstream + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_lets_the_requests_in_flight_finish() {
    let sim = sim(LimitConfig::off()).await;
    sim.set_faults(FaultConfig {
        rules: vec![FaultRule::new(
            Fault::Latency {
                fixed_ms: 500,
                jitter_ms: 0,
            },
            1.0,
        )],
    });
    let proxy = forwarding(&sim).await;
    let request = call(&proxy, &sim, Method::GET, "/rest/api/3/myself");
    let pending = tokio::spawn(async move { request.send().await });
    tokio::time::sleep(Duration::from_millis(150)).await;
    let url = proxy.url.clone();
    proxy.shutdown().await;
    let answer = pending
        .await
        .unwrap()
        .expect("the request in flight got its answer");
    assert_eq!(answer.status(), 200);
    assert!(
        reqwest::get(format!("{url}/rest/api/3/myself"))
            .await
            .is_err(),
        "still accepting"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searches_reach_the_site_unless_cached_searches_are_asked_for() {
    let sim = sim(LimitConfig::off()).await;
    let project = sim.project_keys()[0].clone();
    let path =
        format!("/rest/api/3/search/jql?jql=project%20%3D%20{project}&fields=summary&maxResults=5");
    for cache_searches in [false, true] {
        let proxy = crate::start_proxy(
            &sim,
            jira_client::Auth::None,
            jira_proxy::ProxyConfig {
                cache_searches,
                ..jira_proxy::ProxyConfig::default()
            },
            Duration::from_secs(60),
        )
        .await;
        for _ in 0..2 {
            let page = call(&proxy, &sim, Method::GET, &path).send().await.unwrap();
            assert_eq!(page.status(), 200);
        }
        let stats = proxy.stats().await;
        assert_eq!(stats.cache_hits, u64::from(cache_searches), "{stats:?}");
        assert_eq!(stats.upstream, 2 - u64::from(cache_searches));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_answers_with_the_length_a_get_brings() {
    let sim = sim(LimitConfig::off()).await;
    let proxy = forwarding(&sim).await;
    let length = |response: &reqwest::Response| {
        response
            .headers()
            .get(reqwest::header::CONTENT_LENGTH)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let path = "/rest/api/3/issue/APO-2?fields=summary,status";
    let head = call(&proxy, &sim, Method::HEAD, path).send().await.unwrap();
    assert_eq!(head.status(), 200);
    let head_length = length(&head);
    let get = call(&proxy, &sim, Method::GET, path)
        .header("cache-control", "no-cache")
        .send()
        .await
        .unwrap();
    let get_length = length(&get);
    let body = get.bytes().await.unwrap();
    assert_eq!(get_length, Some(body.len().to_string()));
    assert_eq!(head_length, get_length, "HEAD says another length than GET");
    assert!(head.bytes().await.unwrap().is_empty());
    proxy.shutdown().await;
}
