//! A commit does not hold up the reads: while the sink writes (synchronously, fsynced),
//! the next units keep being asked, as many waiting for the commit loop as half the units
//! that may be in flight.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jira_batch::BatchConfig;
use jira_ops_tests::sim::client_builder;
use jira_sim::{BurstConfig, LimitConfig, SimConfig, SimHandle};
use jira_sync::{SqliteSink, Strategy, SyncBatch, SyncOptions};

use super::{Hooked, count};

const BULK_FETCHES: &str = "POST /rest/api/3/issue/bulkfetch 200";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn units_are_read_on_while_a_commit_is_made() {
    let sim = Arc::new(
        SimHandle::start(SimConfig {
            projects: 3,
            issues_per_project: 1_000,
            // Atlassian's burst limits: the bucket paces the units, so the read is still
            // under way when its first commit comes.
            limits: LimitConfig {
                burst: Some(BurstConfig::default()),
                ..LimitConfig::off()
            },
            ..SimConfig::default()
        })
        .await
        .expect("jira-sim starts"),
    );
    // Units of 10 issues: 3,000 issues are 300 bulk fetches (and the plan's few). Up to
    // 100 units may be in flight, so 50 may wait for the commit loop.
    let client = client_builder(&sim)
        .batch(BatchConfig {
            fetch_chunk: 10,
            max_concurrent: 100,
            ..BatchConfig::default()
        })
        .build()
        .await
        .expect("a client for jira-sim builds");
    let options = SyncOptions {
        settle: Duration::ZERO,
        strategy: Some(Strategy::Ids),
        changelogs: false,
        comments: false,
        worklogs: false,
        commit_issues: 10,
        ..SyncOptions::new("project in (APO, BEA, COM)")
    };
    let fetches = |sim: &SimHandle| sim.stats().by_endpoint.get(BULK_FETCHES).copied();
    let dir = tempfile::tempdir().unwrap();
    let watched = sim.clone();
    let mut first = true;
    let mut sink = Hooked {
        inner: SqliteSink::open(dir.path().join("export.db")).unwrap(),
        // The first commit (one unit: `commit_issues` 10) lasts until 145 units were
        // fetched: those in flight and those that may wait make 150 past it, where a
        // reader that stops once ten units wait (as it did) gets to about 120.
        before: move |batch: &SyncBatch| {
            if !first || batch.issues.is_empty() {
                return Ok(());
            }
            first = false;
            let wanted = 145;
            let deadline = Instant::now() + Duration::from_secs(30);
            while fetches(&watched).unwrap_or(0) < wanted {
                if Instant::now() > deadline {
                    let stats = watched.stats();
                    return Err(jira_sync::Error::Sync(format!(
                        "the reads stopped behind a commit: {:?} bulk fetches, {wanted} wanted (the site answered {:?}, refused {} with 429)",
                        fetches(&watched),
                        stats.by_endpoint,
                        stats.rate_limited
                    )));
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Ok(())
        },
    };
    let report = jira_sync::sync(&client, &mut sink, &options)
        .await
        .expect("the read goes on through a long commit");
    assert_eq!(report.issues_written, 3_000, "{report:?}");
    assert_eq!(count(&sink.inner, "SELECT COUNT(*) FROM issues"), 3_000);
}
