//! A query across projects, read whole every way. JQL's `id` is the issue key field's
//! alias: `id > N` keeps to issue N's project, as on Jira (jira-sim follows it), so a
//! read that paged by `id > <last id>` stopped at the end of the first project. Every way
//! now lists the window's ids by page token and keeps its cursor itself.

use std::time::Duration;

use jira_ops_tests::sim::{rest, uncached_client};
use jira_sim::{LimitConfig, SimConfig, SimHandle};
use jira_sync::{SqliteSink, Strategy, SyncOptions};
use reqwest::Method;
use serde_json::json;

use super::count;

async fn three_projects() -> SimHandle {
    SimHandle::start(SimConfig {
        projects: 3,
        issues_per_project: 150,
        limits: LimitConfig::off(),
        ..SimConfig::default()
    })
    .await
    .expect("jira-sim starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_across_projects_is_read_whole_every_way() {
    let sim = three_projects().await;
    let client = uncached_client(&sim).await;
    // The site is strict as Jira: an id range stays in the project of the id's issue.
    let (status, page) = rest(
        &sim,
        Method::POST,
        "/rest/api/3/search/jql",
        Some(json!({"jql": "project in (APO, BEA, COM) AND id > 10000", "maxResults": 5000})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        page["issues"].as_array().unwrap().len(),
        149,
        "APO-2 to APO-150"
    );
    let dir = tempfile::tempdir().unwrap();
    let options = SyncOptions {
        settle: Duration::ZERO,
        census_every: Some(Duration::ZERO),
        ..SyncOptions::new("project in (APO, BEA, COM)")
    };
    for strategy in [Strategy::Ids, Strategy::Pages, Strategy::Slices] {
        let mut sink = SqliteSink::open(dir.path().join(format!("{strategy:?}.db"))).unwrap();
        let options = SyncOptions {
            strategy: Some(strategy),
            ..options.clone()
        };
        let first = jira_sync::sync(&client, &mut sink, &options).await.unwrap();
        assert_eq!(first.issues_written, 450, "{strategy:?}: {first:?}");
        assert_eq!(count(&sink, "SELECT COUNT(*) FROM issues"), 450);
        // A census of the query (every run here) finds every issue still there.
        let again = jira_sync::sync(&client, &mut sink, &options).await.unwrap();
        assert_eq!(again.issues_deleted, 0, "{strategy:?}: {again:?}");
        assert_eq!(
            count(
                &sink,
                "SELECT COUNT(*) FROM issues WHERE deleted_at IS NULL"
            ),
            450
        );
    }
}
