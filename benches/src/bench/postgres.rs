//! Scenario 16: the same sync into PostgreSQL beside SQLite, in one run: wall time and
//! the client's peak RSS, each sync a child process of its own (this binary,
//! `sync-rss-child`), the PostgreSQL server a real one on this machine (initdb into a
//! temporary directory, as the tests do).

use std::time::Instant;

use jira_ops_tests::postgres::{PostgresServer, off_runtime};

use crate::common;
use crate::report::{Figure, Scenario};

/// One child sync of every issue of `sim` into `sink` (`sqlite`, or a `postgres://` URL)
/// by the `ids` way: its wall time (s) and peak RSS (kB).
async fn timed(sim: &jira_sim::SimHandle, sink: &str) -> (f64, u64) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let started = Instant::now();
    let kb = common::child_peak_rss_kb(&[
        "sync-rss-child",
        sim.base_url(),
        &sim.project_keys().join(", "),
        dir.path().to_str().expect("a UTF-8 path"),
        sink,
        "ids",
    ])
    .await;
    (started.elapsed().as_secs_f64(), kb)
}

pub async fn run(quick: bool) -> Scenario {
    let issues = if quick { 10_000 } else { 100_000 };
    let sim = super::sync::tenant(issues, false).await;
    let server = PostgresServer::start();
    let url = server.create_database("bench");
    let (sqlite_s, sqlite_kb) = timed(&sim, "sqlite").await;
    let (postgres_s, postgres_kb) = timed(&sim, &url).await;
    let held: i64 = off_runtime(|| {
        server
            .client("bench")
            .query_one("SELECT COUNT(*) FROM current_issues", &[])
            .map_or(-1, |row| row.get(0))
    });
    sim.shutdown().await;
    let mut scenario = Scenario::new(
        16,
        "Sync into PostgreSQL beside SQLite: the same issues, histories, comments and worklogs",
        &["sink", "issues", "wall", "peak RSS of the client"],
    );
    scenario.row(vec![
        "SQLite (a file)".into(),
        issues.to_string(),
        format!("{sqlite_s:.2} s"),
        format!("{sqlite_kb} kB"),
    ]);
    scenario.row(vec![
        "PostgreSQL (a local server)".into(),
        held.to_string(),
        format!("{postgres_s:.2} s"),
        format!("{postgres_kb} kB"),
    ]);
    scenario.figures = vec![
        Figure::at_most("wall: PostgreSQL ÷ SQLite", postgres_s / sqlite_s, 1.2),
        Figure::at_most(
            "peak RSS: PostgreSQL ÷ SQLite",
            postgres_kb as f64 / sqlite_kb.max(1) as f64,
            1.2,
        ),
        Figure::exactly("issues in PostgreSQL", held as f64, issues as f64),
    ];
    scenario.notes.push(
        "Each sync is a child process (its wall time and VmHWM), reading by the `ids` way without limits or latency, so the sink's cost is what differs; the PostgreSQL server (fsync off, as for tests) runs on the same cores as the client and jira-sim. One `INSERT ... SELECT FROM unnest(...)` per table per commit; SQLite's statements are prepared once and run per row in its process.".into(),
    );
    scenario
}
