//! A commit does not hold up the reads: while the sink writes (synchronously, fsynced),
//! the next units keep being asked, as many waiting for the commit loop as half the units
//! that may be in flight. And a slow unit does not hold up the commits: those that came
//! back after it was sent are committed while it is on the wire.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jira_batch::BatchConfig;
use jira_ops_tests::sim::client_builder;
use jira_sim::{BurstConfig, Fault, FaultConfig, FaultRule, LimitConfig, SimConfig, SimHandle};
use jira_sync::{SqliteSink, Strategy, SyncBatch, SyncOptions, SyncState};

use super::{Hooked, contents, count, tenant};

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
        before: move |batch: &SyncBatch, state: &SyncState| {
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
                        "the reads stopped behind a commit: {:?} bulk fetches, {wanted} wanted (the site answered {:?}, refused {} with 429; the window read {:?})",
                        fetches(&watched),
                        stats.by_endpoint,
                        stats.rate_limited,
                        state.window.as_ref().map(|w| (
                            w.strategy,
                            w.unit_issues,
                            w.concurrency,
                            w.memory_budget
                        )),
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

/// Each bulk fetch waits 0–600 ms more, so units come back out of id order: those back
/// are committed while a slower one below them is on the wire (nothing else makes a
/// commit due here: a commit holds up to 1,000 issues), each commit saving the id ranges
/// read ahead of the cursor; a run killed after such a commit goes on without reading
/// them again, and ends as one run would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn units_back_before_a_slower_one_are_committed_and_not_read_again() {
    let sim = tenant().await;
    let client = client_builder(&sim)
        .batch(BatchConfig {
            fetch_chunk: 10,
            max_concurrent: 5,
            ..BatchConfig::default()
        })
        .build()
        .await
        .expect("a client for jira-sim builds");
    let options = SyncOptions {
        strategy: Some(Strategy::Ids),
        ..super::options()
    };
    let dir = tempfile::tempdir().unwrap();
    let mut fresh = SqliteSink::open(dir.path().join("fresh.db")).unwrap();
    jira_sync::sync(&client, &mut fresh, &options)
        .await
        .unwrap();
    sim.set_faults(FaultConfig {
        rules: vec![
            FaultRule::new(
                Fault::Latency {
                    fixed_ms: 0,
                    jitter_ms: 600,
                },
                1.0,
            )
            .on("/rest/api/3/issue/bulkfetch"),
        ],
    });
    // The run is killed at the commit after the first one that held a range read ahead
    // of the cursor; `durable` is what the commits made hold.
    let (mut durable, mut ahead_seen, mut killed) = (0usize, false, false);
    let mut sink = Hooked {
        inner: SqliteSink::open(dir.path().join("killed.db")).unwrap(),
        before: |batch: &SyncBatch, state: &SyncState| {
            if ahead_seen {
                killed = true;
                return Err(jira_sync::Error::Sync("killed".into()));
            }
            let ahead = state
                .window
                .as_ref()
                .is_some_and(|w| w.slices.iter().any(|s| !s.ahead.is_empty()));
            if ahead {
                assert!(
                    state.window.as_ref().unwrap().slices[0]
                        .ahead
                        .iter()
                        .all(|(first, last)| first <= last
                            && *first > state.window.as_ref().unwrap().slices[0].after_id),
                    "ranges read ahead lie past the cursor: {:?}",
                    state.window
                );
            }
            ahead_seen |= ahead;
            durable += batch.issues.len();
            Ok(())
        },
    };
    let stopped = jira_sync::sync(&client, &mut sink, &options).await;
    let mut resumed = sink.inner;
    assert!(
        stopped.is_err() && killed,
        "no commit held a unit that came back before a slower one below it: {stopped:?}"
    );
    assert!(
        (1..300).contains(&durable),
        "{durable} issues were durable when the run was killed"
    );
    assert_eq!(contents(&resumed).len(), durable);
    let report = jira_sync::sync(&client, &mut resumed, &options)
        .await
        .unwrap();
    assert!(report.resumed, "{report:?}");
    assert_eq!(
        report.issues_written,
        300 - durable,
        "what the killed run committed, ahead of its cursor or not, is not read again: {report:?}"
    );
    assert_eq!(contents(&resumed), contents(&fresh));
    for table in ["comments", "worklogs", "changelog"] {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        assert_eq!(count(&resumed, &sql), count(&fresh, &sql), "{table}");
    }
}
