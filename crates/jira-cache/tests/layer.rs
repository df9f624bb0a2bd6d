//! Paused-clock unit tests of the `Cached` layer over the scripted transport double, on a
//! real sled store; the HTTP tests against jira-sim are in `tests/sled.rs`.

use std::sync::Arc;
use std::time::Duration;

use jira_cache::{CACHE_HEADER, CacheConfig, CacheExt, JiraCache, SledStore};
use jira_model::ApiRequest;
use jira_transport::Transport;
use jira_transport::testing::{Scripted, Step};

async fn cache(dir: &tempfile::TempDir) -> JiraCache<SledStore> {
    let store = SledStore::open(dir.path(), Duration::from_secs(1)).unwrap();
    JiraCache::open(store, CacheConfig::new("double.example"))
        .await
        .unwrap()
}

const ISSUE: &str = r#"{"id":"1","key":"A-1","fields":{"summary":"one"}}"#;

fn how(response: &jira_model::ApiResponse) -> Option<&str> {
    response
        .headers
        .get(CACHE_HEADER)
        .and_then(|v| v.to_str().ok())
}

#[tokio::test(start_paused = true)]
async fn a_hundred_callers_missing_one_issue_send_one_request() {
    let dir = tempfile::tempdir().unwrap();
    let wire = Scripted::new([Step::json(200, ISSUE).after(Duration::from_millis(50))]);
    let jira = Arc::new(wire.clone().with_cache(cache(&dir).await));
    let callers: Vec<_> = (0..100)
        .map(|_| {
            let jira = jira.clone();
            tokio::spawn(async move {
                jira.send(ApiRequest::get_issue("A-1", &["summary"], &[]))
                    .await
                    .unwrap()
            })
        })
        .collect();
    for caller in callers {
        let answer = caller.await.unwrap();
        assert_eq!(answer.status, 200);
        assert!(answer.body.starts_with(b"{\"id\":\"1\""));
    }
    assert_eq!(wire.count(), 1);
    // And the next read is a hit.
    let hit = jira
        .send(ApiRequest::get_issue("A-1", &["summary"], &[]))
        .await
        .unwrap();
    assert_eq!(how(&hit), Some("hit"));
    assert_eq!(wire.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_shared_miss_that_fails_fails_for_every_caller_once() {
    let dir = tempfile::tempdir().unwrap();
    let wire = Scripted::new([Step::status(404).after(Duration::from_millis(50))]);
    let jira = Arc::new(wire.clone().with_cache(cache(&dir).await));
    let callers: Vec<_> = (0..10)
        .map(|_| {
            let jira = jira.clone();
            tokio::spawn(async move { jira.send(ApiRequest::get_issue("A-9", &[], &[])).await })
        })
        .collect();
    for caller in callers {
        assert_eq!(caller.await.unwrap().unwrap().status, 404);
    }
    assert_eq!(wire.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn just_expired_entries_are_served_while_one_refresh_runs() {
    let dir = tempfile::tempdir().unwrap();
    let wire = Scripted::new([
        Step::json(200, ISSUE),
        Step::json(200, r#"{"id":"1","key":"A-1","fields":{"summary":"two"}}"#)
            .after(Duration::from_millis(100)),
    ]);
    let jira = wire.clone().with_cache(cache(&dir).await);
    let get = || ApiRequest::get_issue("A-1", &["summary"], &[]);
    jira.send(get()).await.unwrap();
    // Past the issue TTL (5 min), within the 30 s grace.
    tokio::time::advance(Duration::from_secs(5 * 60 + 10)).await;
    for _ in 0..5 {
        let stale = jira.send(get()).await.unwrap();
        assert_eq!(how(&stale), Some("stale"));
        assert!(String::from_utf8_lossy(&stale.body).contains("one"));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        wire.count(),
        2,
        "one background refresh for five stale reads"
    );
    let fresh = jira.send(get()).await.unwrap();
    assert_eq!(how(&fresh), Some("hit"));
    assert!(String::from_utf8_lossy(&fresh.body).contains("two"));
}

#[tokio::test(start_paused = true)]
async fn a_stale_entry_stands_in_when_the_fetch_fails() {
    let dir = tempfile::tempdir().unwrap();
    let wire = Scripted::new([Step::json(200, ISSUE), Step::status(502)]);
    let jira = wire
        .clone()
        .with_retries(jira_transport::RetryPolicy {
            max_retries: 0,
            ..Default::default()
        })
        .with_cache(cache(&dir).await);
    let get = || ApiRequest::get_issue("A-1", &["summary"], &[]);
    jira.send(get()).await.unwrap();
    // Past TTL and grace: a fetch is needed, and it fails.
    tokio::time::advance(Duration::from_secs(10 * 60)).await;
    let answer = jira.send(get()).await.unwrap();
    assert_eq!(how(&answer), Some("stale-if-error"));
    assert!(String::from_utf8_lossy(&answer.body).contains("one"));
    assert_eq!(wire.count(), 2);
}

use jira_transport::TransportExt as _;
