//! A site without the worklog feeds (`/worklog/updated`, `/worklog/deleted` answer 404:
//! an older or partial Jira): every worklog still arrives, from the issues, and one
//! deleted on the site is marked deleted in every kind of sink; a site that loses its
//! feed after a sink took worklogs from it is read again from the feed's cursor.

use std::sync::Arc;

use jira_ops_tests::postgres::PostgresServer;
use jira_ops_tests::sim::{rest, uncached_client};
use jira_sim::{Fault, FaultConfig, FaultRule, SimHandle};
use jira_sync::{JsonlSink, PostgresSink, Sink, SqliteSink};
use reqwest::Method;
use serde_json::json;

use super::completeness::{every_run, held_worklogs, issue_id, site_worklogs, with_worklogs};
use super::tenant;

/// Every request to `path` answers `status`.
fn without(sim: &SimHandle, paths: &[&str]) {
    sim.set_faults(FaultConfig {
        rules: paths
            .iter()
            .map(|path| FaultRule::new(Fault::Status { status: 404 }, 1.0).on(path))
            .collect(),
    });
}

/// Keys of the query's issues.
fn keys() -> Vec<String> {
    (1..=150).map(|n| format!("APO-{n}")).collect()
}

/// Sends `body` with `method` to `path` and checks the status.
async fn edit(sim: &SimHandle, method: Method, path: &str, body: Option<serde_json::Value>) {
    let (status, answer) = rest(sim, method.clone(), path, body).await;
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {answer}"
    );
}

/// On the site: a worklog added to an issue with one and to one with more than a page
/// embeds (20), one deleted and one changed. Returns the deleted worklog's id.
async fn change_worklogs(sim: &SimHandle) -> i64 {
    let short = with_worklogs(sim, 2, 2).await;
    let long = &with_worklogs(sim, 21, 1).await[0];
    for key in [&short[0], long] {
        edit(
            sim,
            Method::POST,
            &format!("/rest/api/3/issue/{key}/worklog"),
            Some(json!({"timeSpentSeconds": 1800})),
        )
        .await;
    }
    let doomed = site_worklogs(sim, &short[1]).await[0];
    edit(
        sim,
        Method::DELETE,
        &format!("/rest/api/3/issue/{}/worklog/{doomed}", short[1]),
        None,
    )
    .await;
    let changed = site_worklogs(sim, long).await[0];
    edit(
        sim,
        Method::PUT,
        &format!("/rest/api/3/issue/{long}/worklog/{changed}"),
        Some(json!({"timeSpentSeconds": 5400})),
    )
    .await;
    doomed
}

/// Every issue of the query: what `sink` holds live equals what the site has.
async fn holds_the_site<S: Sink + ?Sized>(sim: &SimHandle, sink: &mut S, what: &str) {
    for key in keys() {
        let id = issue_id(sim, &key).await as u64;
        let mut held: Vec<i64> = sink
            .worklogs_held(&[id])
            .unwrap()
            .into_iter()
            .map(|(issue, worklog)| {
                assert_eq!(issue, id);
                worklog as i64
            })
            .collect();
        held.sort_unstable();
        assert_eq!(held, site_worklogs(sim, &key).await, "{what}: {key}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_without_worklog_feeds_gives_every_worklog_from_the_issues() {
    let sim = tenant().await;
    let client = uncached_client(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let server = Arc::new(PostgresServer::start());
    let url = server.create_database("jira");
    let options = every_run("project = APO");
    let opened = || -> Vec<(&str, Box<dyn Sink>)> {
        vec![
            (
                "sqlite",
                Box::new(SqliteSink::open(dir.path().join("export.db")).unwrap()),
            ),
            (
                "jsonl",
                Box::new(JsonlSink::open(dir.path().join("export")).unwrap()),
            ),
            ("postgres", Box::new(PostgresSink::open(&url).unwrap())),
        ]
    };
    let (updated, deleted) = ("/rest/api/3/worklog/updated", "/rest/api/3/worklog/deleted");
    let sent = |before: &jira_sim::StatsSnapshot, template: &str| {
        sim.stats().requests_to("GET", template) - before.requests_to("GET", template)
    };
    // Either feed missing is enough to read worklogs from the issues, and each is asked
    // once, on the sink's first run.
    let missing = [vec![updated], vec![deleted], vec![updated, deleted]];
    for ((what, mut sink), missing) in opened().into_iter().zip(missing) {
        without(&sim, &missing);
        let stats = sim.stats();
        let first = jira_sync::sync(&client, &mut *sink, &options)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(first.issues_written, 150, "{what}: {first:?}");
        assert_eq!(sent(&stats, updated), 1, "{what}");
        assert_eq!(
            sent(&stats, deleted),
            u64::from(missing == [deleted]),
            "{what}"
        );
        holds_the_site(&sim, &mut *sink, what).await;
    }
    let doomed = change_worklogs(&sim).await;
    let stats = sim.stats();
    for (what, mut sink) in opened() {
        let next = jira_sync::sync(&client, &mut *sink, &options)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(
            (2..10).contains(&next.issues_written),
            "{what}: the edited issues: {next:?}"
        );
        assert_eq!(next.worklogs_deleted, 1, "{what}: {next:?}");
        drop(sink);
    }
    // Remembered: neither feed asked again.
    assert_eq!(sent(&stats, updated), 0);
    assert_eq!(sent(&stats, deleted), 0);
    // Opened again, each holds what the site has: the added, the changed, not the deleted.
    for (what, mut sink) in opened() {
        holds_the_site(&sim, &mut *sink, what).await;
    }
    let sqlite = SqliteSink::open(dir.path().join("export.db")).unwrap();
    let tombstoned: i64 = sqlite
        .connection()
        .query_row(
            "SELECT COUNT(*) FROM worklogs WHERE id = ?1 AND deleted_at IS NOT NULL",
            [doomed],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(tombstoned, 1, "the deleted worklog is a tombstone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_that_loses_its_worklog_feed_is_read_again_from_the_feeds_cursor() {
    let sim = tenant().await;
    let client = uncached_client(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let mut sink = SqliteSink::open(dir.path().join("export.db")).unwrap();
    let options = every_run("project = APO");
    jira_sync::sync(&client, &mut sink, &options).await.unwrap();
    // The sink's issues take their worklogs from the feed; then the site has none.
    without(&sim, &["/rest/api/3/worklog/updated"]);
    change_worklogs(&sim).await;
    let error = jira_sync::sync(&client, &mut sink, &options)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("no worklog feed") && error.contains("/rest/api/3/worklog/updated"),
        "{error}"
    );
    assert!(error.contains("Run the sync again"), "{error}");
    let again = jira_sync::sync(&client, &mut sink, &options).await.unwrap();
    assert_eq!(again.worklogs_deleted, 1, "{again:?}");
    assert!(
        again.issues_written < 150,
        "from the feed's cursor, not the whole query: {again:?}"
    );
    for key in keys() {
        assert_eq!(
            held_worklogs(&sim, &sink, &key).await,
            site_worklogs(&sim, &key).await,
            "{key}"
        );
    }
}
