//! `jira-ops demo` on a smaller tenant: its summary agrees with jira-sim's counters.

use crate::Env;

#[tokio::test]
async fn the_demo_accounts_for_every_request_the_simulator_saw() {
    let env = Env::new();
    let run = env
        .run(&[
            "demo",
            "--projects",
            "3",
            "--issues-per-project",
            "2000",
            "--latency-ms",
            "2",
            "--unavailable",
            "0.3",
            // 21 searches and bulk fetches at 30% 503s: some fail (1 in 2,000 runs has
            // none), and eleven attempts make giving up unlikely (1 in 25,000).
            "--retries",
            "10",
            "--json",
        ])
        .await;
    run.code(0);
    let summary = run.json();
    let (total, server) = (&summary["total"], &summary["server"]);
    assert_eq!(summary["client_and_server_agree"], true, "{summary:#}");
    assert_eq!(total["requests"], server["requests"]);
    assert_eq!(total["points"], server["points"]);
    assert_eq!(total["rate_limited"], server["rate_limited"]);
    assert_eq!(total["server_errors"], server["unavailable"]);
    // The 503s were retried, none before its Retry-After.
    assert!(total["server_errors"].as_u64().unwrap() > 0, "{summary:#}");
    assert_eq!(total["retries"], total["server_errors"]);
    assert_eq!(server["early_retries"], 0);

    let stages = summary["stages"].as_array().unwrap();
    let names: Vec<&str> = stages
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["health check", "cache warm", "fetch APO", "fetch APO again"]
    );
    assert_eq!(summary["issues"], 2000);
    assert_eq!(stages[2]["items"], 2000);
    // 2,000 issues of four plain fields: one id search and two lean bulk fetches of 1,000
    // (plus retried 503s).
    let fetch_requests = stages[2]["requests"].as_u64().unwrap();
    let fetch_retries = stages[2]["retries"].as_u64().unwrap();
    assert_eq!(fetch_requests - fetch_retries, 3, "{:#}", stages[2]);
    // The same fetch again: all from the cache, nothing on the wire.
    assert_eq!(stages[3]["requests"], 0);
    assert_eq!(stages[3]["cache_hits"], 2000);
    assert_eq!(summary["health"]["status"], "healthy");
    assert!(summary["cache"]["entries"].as_u64().unwrap() >= 2000);
    assert!(
        summary["next"]
            .as_str()
            .unwrap()
            .contains("--site https://")
    );
}

#[tokio::test]
async fn the_demo_prints_a_table_and_the_command_for_a_real_site() {
    let env = Env::new();
    let run = env
        .run(&[
            "demo",
            "--projects",
            "2",
            "--issues-per-project",
            "150",
            "--latency-ms",
            "1",
        ])
        .await;
    run.code(0);
    assert!(run.stdout.contains("fetch APO again"), "{}", run.stdout);
    assert!(
        run.stdout.contains("the same as the client"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("Run the same against your site"));
    // Not a terminal: no progress bars, only the step lines on stderr.
    assert!(
        run.stderr.contains("3. fetch APO: 150 issues"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains('\r'), "{:?}", run.stderr);
}

#[tokio::test]
async fn bad_demo_flags_are_usage_errors() {
    let env = Env::new();
    let run = env.run(&["demo", "--unavailable", "1.5"]).await;
    run.code(2);
    assert!(
        run.error_line().contains("--unavailable 1.5"),
        "{}",
        run.stderr
    );
    env.run(&["demo", "--projects", "lots"]).await.code(2);
}

#[tokio::test]
async fn the_demo_ignores_profiles_meant_for_real_sites() {
    let mut env = Env::new();
    env.set("JIRA_PROFILE", "work");
    let run = env
        .run(&[
            "--profile",
            "work",
            "demo",
            "--projects",
            "1",
            "--issues-per-project",
            "50",
            "--latency-ms",
            "0",
            "--json",
        ])
        .await;
    run.code(0);
    assert_eq!(run.json()["issues"], 50);
}
