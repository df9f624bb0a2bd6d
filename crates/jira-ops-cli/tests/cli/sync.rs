//! `jira-ops sync`: into SQLite, incremental, with clear errors for bad destinations.

use crate::{Env, sim};

fn issue_count(path: &std::path::Path) -> i64 {
    let db = rusqlite::Connection::open(path).unwrap();
    db.query_row("SELECT COUNT(*) FROM issues", [], |row| row.get(0))
        .unwrap()
}

#[tokio::test]
async fn sync_exports_then_takes_only_what_changed() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    let db = env.dir.path().join("jira.db");
    let to = format!("sqlite:{}", db.display());
    let args = [
        "sync",
        "--jql",
        "project = APO",
        "--to",
        &to,
        "--settle-secs",
        "0",
    ];
    let first = env.run(&args).await;
    first.code(0);
    assert!(
        first.stderr.contains("synced 60 issues"),
        "{}",
        first.stderr
    );
    assert_eq!(issue_count(&db), 60);
    let changelog_calls = sim
        .stats()
        .requests_to("POST", "/rest/api/3/changelog/bulkfetch");
    assert!(changelog_calls >= 1);

    let mut json_args = args.to_vec();
    json_args.push("--json");
    let again = env.run(&json_args).await;
    again.code(0);
    let summary: serde_json::Value = serde_json::from_str(again.stdout.trim()).unwrap();
    assert_eq!(summary["issues_written"], 0, "{summary}");
    assert_eq!(issue_count(&db), 60);

    let full = env.run(&[&args[..], &["--full"]].concat()).await;
    full.code(0);
    assert!(full.stderr.contains("synced 60 issues"), "{}", full.stderr);
}

#[tokio::test]
async fn sync_refuses_what_it_cannot_do_with_exit_2() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    let bad = env
        .run(&["sync", "--jql", "project = APO", "--to", "out-dir"])
        .await;
    bad.code(2);
    assert!(bad.error_line().contains("sqlite:PATH"), "{}", bad.stderr);
    let ordered = env
        .run(&[
            "sync",
            "--jql",
            "project = APO ORDER BY key",
            "--to",
            "sqlite:x.db",
        ])
        .await;
    ordered.code(2);
    assert!(
        ordered.error_line().contains("ORDER BY"),
        "{}",
        ordered.stderr
    );
    assert_eq!(sim.stats().requests, 0);
}
