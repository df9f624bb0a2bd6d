//! `jira-ops health` and `jira-ops diagnose`: reports and the exit codes monitors use.

use jira_sim::LimitConfig;

use crate::{Env, TOKEN, sim, sim_with};

#[tokio::test]
async fn a_healthy_site_exits_0_with_every_check() {
    let sim = sim_with(1, 20, LimitConfig::atlassian()).await;
    let env = Env::for_sim(&sim);
    let run = env.run(&["health", "--json"]).await;
    run.code(0);
    let report = run.json();
    assert_eq!(report["status"], "healthy");
    assert_eq!(report["failure"], serde_json::Value::Null);
    let names: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "connectivity",
            "server",
            "latency",
            "rate_limit",
            "error_rate",
            "cache_hit_rate",
            "cache_size"
        ]
    );
    assert!(report["user"].as_str().unwrap().contains("ops@example.com"));
    assert_eq!(report["latencies_ms"].as_array().unwrap().len(), 5);
    assert_eq!(sim.stats().requests, 5);

    let table = env.run(&["health"]).await;
    table.code(0);
    assert!(table.stdout.contains("healthy as"), "{}", table.stdout);
    assert!(table.stdout.contains("rate_limit"));
}

#[tokio::test]
async fn a_wrong_token_exits_3() {
    let sim = sim().await;
    let mut env = Env::for_sim(&sim);
    env.set("JIRA_API_TOKEN", "not-the-token");
    let run = env.run(&["health", "--json"]).await;
    run.code(3);
    assert_eq!(run.json()["failure"], "auth");
    assert!(run.error_line().contains("API token"), "{}", run.stderr);
}

/// A site that answers 200 with something other than Jira's user (a captive portal's page)
/// is not healthy: exit 2, saying what came back.
#[tokio::test]
async fn a_200_that_is_not_jira_is_unhealthy() {
    let sim = sim().await;
    sim.set_faults(jira_sim::FaultConfig {
        rules: vec![
            jira_sim::FaultRule::new(jira_sim::Fault::Malformed, 1.0).on("/rest/api/3/myself"),
        ],
    });
    let env = Env::for_sim(&sim);
    let run = env.run(&["health", "--json"]).await;
    run.code(2);
    let report = run.json();
    assert_eq!(report["status"], "unhealthy", "{report}");
    assert!(
        report["checks"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("not with a Jira user"),
        "{report}"
    );
}

#[tokio::test]
async fn an_unreachable_site_exits_2_as_unhealthy() {
    let sim = sim().await;
    let url = sim.base_url().to_string();
    sim.shutdown().await;
    let mut env = Env::new();
    env.set("JIRA_SITE_URL", &url)
        .set("JIRA_EMAIL", "a@b.c")
        .set("JIRA_API_TOKEN", TOKEN);
    let run = env.run(&["health", "--json"]).await;
    run.code(2);
    let report = run.json();
    assert_eq!(report["status"], "unhealthy");
    assert_eq!(report["failure"], "unreachable");
}

#[tokio::test]
async fn diagnose_times_sequential_against_batched() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    let run = env.run(&["diagnose", "--json"]).await;
    run.code(0);
    let report = run.json();
    let timing = &report["timing"];
    assert_eq!(timing["keys"].as_array().unwrap().len(), 5);
    assert_eq!(timing["sequential_requests"], 5);
    assert_eq!(timing["sequential_ok"], 5);
    assert_eq!(timing["batched_requests"], 1);
    assert_eq!(timing["batched_ok"], 5);
    // The pool the library configures by default.
    let default = jira_client::HttpConfig::new("", jira_client::Auth::None).max_in_flight;
    assert_eq!(report["transport"]["max_in_flight"], default);
    let token = &report["settings"]["api_token"];
    assert_eq!(token["source"], "env JIRA_API_TOKEN");
    assert!(!run.stdout.contains(TOKEN));

    let keys = env.run(&["diagnose", "--keys", "APO-1,APO-2"]).await;
    keys.code(0);
    assert!(
        keys.stdout.contains("Sequential vs batched"),
        "{}",
        keys.stdout
    );
    assert!(keys.stdout.contains("Effective settings"));
}

#[tokio::test]
async fn no_site_is_a_configuration_error() {
    let env = Env::new();
    let run = env.run(&["health"]).await;
    run.code(2);
    assert!(run.error_line().contains("JIRA_SITE_URL"), "{}", run.stderr);
}

#[tokio::test]
async fn logs_are_json_lines_when_asked_and_quiet_by_default() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    let quiet = env.run(&["health", "--json"]).await;
    quiet.code(0);
    assert_eq!(quiet.stderr, "", "no log lines without -v");

    let run = env
        .run(&[
            "-vv",
            "--log-format",
            "json",
            "fetch",
            "APO-1",
            "--no-cache",
        ])
        .await;
    run.code(0);
    // Every line of stderr, the command's own notes and counts included, is JSON.
    let logs: Vec<serde_json::Value> = run
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    assert!(
        logs.iter().any(|l| l["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("fetched 1 of 1"))),
        "{}",
        run.stderr
    );
    // An error too, with its level.
    let failed = env
        .run(&["--log-format", "json", "fetch", "APO-1", "--fields", ""])
        .await;
    failed.code(2);
    let error: serde_json::Value = serde_json::from_str(failed.stderr.trim()).unwrap();
    assert_eq!(error["level"], "ERROR", "{error}");
    assert!(
        error["fields"]["message"]
            .as_str()
            .unwrap()
            .contains("--fields")
    );
    assert!(!logs.is_empty(), "{}", run.stderr);
    assert!(
        logs.iter()
            .all(|l| l["level"].is_string() && l["target"].is_string())
    );
    // The request's span travels with its events.
    assert!(
        logs.iter().any(|l| l["span"]["name"] == "jira.request"),
        "{}",
        run.stderr
    );
}

/// `--samples` is bounded (each is a request to the site), and a signal ends a long
/// health check at once rather than after its samples.
#[cfg(unix)]
#[tokio::test]
async fn health_samples_are_bounded_and_a_signal_ends_them() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    let too_many = env.run(&["health", "--samples", "100000"]).await;
    too_many.code(2);
    assert!(too_many.stderr.contains("100000"), "{}", too_many.stderr);
    assert_eq!(sim.stats().requests, 0);

    sim.set_faults(crate::latency(50, ""));
    for signal in ["INT", "TERM"] {
        let started = std::time::Instant::now();
        let run = env
            .run_interrupted(
                &["health", "--samples", "1000"],
                std::time::Duration::from_millis(1_500),
                signal,
            )
            .await;
        run.code(if signal == "INT" { 130 } else { 143 });
        // 1,000 samples at 50 ms would take 50 s.
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "{:?}",
            started.elapsed()
        );
        assert!(
            run.stderr.contains("stopped before they ended"),
            "{}",
            run.stderr
        );
    }
}
