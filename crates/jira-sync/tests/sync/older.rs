//! A site without `POST /search/approximate-count` (it answers 404: an older or partial
//! Jira-like server): the window is counted from its id-only listing, and the sync reads
//! every issue, on a first run and on a later one, each request in its report.

use std::time::Duration;

use jira_ops_tests::sim::{rest, uncached_client};
use jira_sim::{Fault, FaultConfig, FaultRule};
use jira_sync::{SqliteSink, SyncOptions};
use reqwest::Method;
use serde_json::json;

use super::tenant;

const COUNT: &str = "/rest/api/3/search/approximate-count";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_without_the_approximate_count_is_counted_by_its_ids() {
    let sim = tenant().await;
    let client = uncached_client(&sim).await;
    sim.set_faults(FaultConfig {
        rules: vec![FaultRule::new(Fault::Status { status: 404 }, 1.0).on(COUNT)],
    });
    let dir = tempfile::tempdir().unwrap();
    let mut sink = SqliteSink::open(dir.path().join("older.db")).unwrap();
    let options = SyncOptions {
        settle: Duration::ZERO,
        ..SyncOptions::new("project in (APO, BEA)")
    };
    sim.reset_stats();
    let first = jira_sync::sync(&client, &mut sink, &options)
        .await
        .expect("a site without the count is synced");
    assert_eq!(first.issues_written, 300);
    assert_eq!(first.expected, Some(300), "the count is the ids listed");
    let stats = sim.stats();
    assert_eq!(
        first.requests as u64, stats.requests,
        "every request the site answered is in the report, the 404 and the listing too"
    );
    assert_eq!(
        stats.requests_to("POST", COUNT),
        1,
        "the count was asked once"
    );

    let (status, answer) = rest(
        &sim,
        Method::PUT,
        "/rest/api/3/issue/BEA-7",
        Some(json!({"fields": {"summary": "edited on an older site"}})),
    )
    .await;
    assert_eq!(status, 204, "{answer}");
    let later = jira_sync::sync(&client, &mut sink, &options)
        .await
        .expect("a later window is counted the same way");
    assert_eq!(later.issues_written, 1, "{later:?}");
    let summary: String = sink
        .connection()
        .query_row(
            "SELECT summary FROM issues WHERE key = 'BEA-7'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(summary, "edited on an older site");
}
