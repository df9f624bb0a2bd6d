//! `jira-ops cache status | warm | clear`.

use crate::{Env, sim};

#[tokio::test]
async fn warm_fills_status_counts_clear_removes() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);

    let warm = env
        .run(&["cache", "warm", "--all", "--days", "3650", "--json"])
        .await;
    warm.code(0);
    let report = warm.json();
    let stages: Vec<&str> = report["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert_eq!(stages[..3], ["fields", "projects", "users"]);
    assert!(stages.contains(&"issues APO"), "{stages:?}");
    assert_eq!(
        report["requests"].as_u64().unwrap() as u64,
        sim.stats().requests
    );

    let status = env.run(&["cache", "status", "--json"]).await;
    status.code(0);
    let status = status.json();
    assert_eq!(status["categories"]["issue"]["entries"], 120);
    assert!(status["categories"]["project"]["entries"].as_u64().unwrap() > 0);
    assert!(status["bytes"].as_u64().unwrap() > 0);
    assert_eq!(status["max_bytes"], 500 * 1024 * 1024);
    assert!(status["store"].as_str().unwrap().starts_with("sled "));

    let dry = env
        .run_line("cache clear --category issue --pattern APO-* --dry-run")
        .await;
    dry.code(0);
    assert!(
        dry.stdout.contains("would remove 60 entries"),
        "{}",
        dry.stdout
    );

    // Not a terminal and no --force: refused, nothing removed.
    let refused = env
        .run_line("cache clear --category issue --pattern APO-*")
        .await;
    refused.code(2);
    assert!(
        refused.error_line().contains("--force"),
        "{}",
        refused.stderr
    );

    let cleared = env
        .run_line("cache clear --category issue --pattern APO-* --force")
        .await;
    cleared.code(0);
    assert!(
        cleared.stdout.contains("removed 60 entries"),
        "{}",
        cleared.stdout
    );
    let status = env.run(&["cache", "status", "--json"]).await.json();
    assert_eq!(status["categories"]["issue"]["entries"], 60);

    let all = env.run(&["cache", "clear", "--all", "--force"]).await;
    all.code(0);
    let status = env.run(&["cache", "status", "--json"]).await.json();
    assert_eq!(status["entries"], 0);

    let table = env.run(&["cache", "status"]).await;
    table.code(0);
    assert!(table.stdout.contains("hit rate"), "{}", table.stdout);
}

#[tokio::test]
async fn bad_clear_input_is_a_usage_error() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    let pattern = env
        .run_line("cache clear --category issue --pattern APO-[ --dry-run")
        .await;
    pattern.code(2);
    assert!(
        pattern.error_line().contains("\"APO-[\""),
        "{}",
        pattern.stderr
    );
    // A pattern the glob compiler would choke on (it panicked): refused, exit 2.
    let huge = "*".repeat(93_500);
    let huge = env
        .run(&[
            "cache",
            "clear",
            "--category",
            "issue",
            "--pattern",
            &huge,
            "--dry-run",
        ])
        .await;
    huge.code(2);
    assert!(!huge.stderr.contains("panicked"), "{}", huge.stderr);
    assert!(
        huge.error_line().contains("at most 1024"),
        "{}",
        huge.stderr
    );
    let category = env
        .run(&["cache", "clear", "--category", "nope", "--dry-run"])
        .await;
    category.code(2);
    assert!(
        category.error_line().contains("\"nope\""),
        "{}",
        category.stderr
    );
    let nothing = env.run(&["cache", "clear", "--force"]).await;
    nothing.code(2);
    // clap refuses a key without a category.
    env.run(&["cache", "clear", "--key", "APO-1"]).await.code(2);
    env.run(&["cache", "status", "--no-cache"]).await.code(2);
    assert_eq!(sim.stats().requests, 0, "cache commands need no request");
}

#[tokio::test]
async fn a_command_that_needs_the_cache_waits_then_says_who_holds_it() {
    let sim = sim().await;
    let mut env = Env::for_sim(&sim);
    // Hold the cache open in this process.
    let dir = env.cache_dir();
    let held =
        jira_client::cache::SledStore::open(&dir, std::time::Duration::from_secs(1)).unwrap();
    env.set("JIRA_OPS_CACHE_DIR", dir.display());
    let run = env.run(&["cache", "warm", "--fields"]).await;
    run.code(1);
    let line = run.error_line();
    assert!(line.contains(&dir.display().to_string()), "{line}");
    assert!(line.contains(&std::process::id().to_string()), "{line}");
    // The wait is shown while it lasts; the error gives the fix and a human duration
    // ("waited 5.0 s", not "waited 5.013181516s").
    assert!(run.stderr.contains("waiting up to"), "{}", run.stderr);
    assert!(line.contains("--no-cache"), "{line}");
    let waited = line.split("waited ").nth(1).unwrap_or_default();
    let number: String = waited.chars().take_while(|c| !c.is_whitespace()).collect();
    assert!(
        number.len() <= 4 && waited[number.len()..].starts_with(" s"),
        "{line}"
    );
    drop(held);
    env.run(&["cache", "warm", "--fields"]).await.code(0);
}

/// A cache another process holds (a long fetch, a proxy) fails no command that can go
/// without it: `cache status` says who holds it, reads go to the site with a note, a
/// sync runs without it (and says its copies stay); none of them waits the 5 s a writer
/// would.
#[tokio::test]
async fn a_held_cache_fails_no_command_that_can_go_without_it() {
    let sim = sim().await;
    let mut env = Env::for_sim(&sim);
    let dir = env.cache_dir();
    env.set("JIRA_OPS_CACHE_DIR", dir.display());
    env.run(&["fetch", "APO-1", "--format", "jsonl"])
        .await
        .code(0);
    let held =
        jira_client::cache::SledStore::open(&dir, std::time::Duration::from_secs(1)).unwrap();
    let pid = std::process::id().to_string();

    let status = env.run(&["cache", "status", "--json"]).await;
    status.code(0);
    let report: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert!(
        report["in_use_by"].as_str().unwrap().contains(&pid),
        "{report}"
    );
    assert!(report["disk_bytes"].as_u64().unwrap() > 0, "{report}");
    let shown = env.run(&["cache", "status"]).await;
    shown.code(0);
    assert!(
        shown.stdout.contains("in use by process"),
        "{}",
        shown.stdout
    );

    let before = sim.stats().requests;
    let fetch = env.run(&["fetch", "APO-1", "--format", "jsonl"]).await;
    fetch.code(0);
    assert!(fetch.stdout.contains("\"APO-1\""), "{}", fetch.stdout);
    assert!(fetch.stderr.contains("goes without it"), "{}", fetch.stderr);
    assert!(!fetch.stderr.contains("waiting up to"), "{}", fetch.stderr);
    assert!(sim.stats().requests > before, "read from the site");
    let quiet = env
        .run(&["fetch", "APO-1", "--format", "jsonl", "-q"])
        .await;
    quiet.code(0);
    assert!(quiet.stderr.is_empty(), "{}", quiet.stderr);

    let search = env
        .run(&[
            "search",
            "project = APO",
            "--limit",
            "2",
            "--format",
            "jsonl",
        ])
        .await;
    search.code(0);
    assert_eq!(search.stdout.lines().count(), 2, "{}", search.stdout);

    let db = env.dir.path().join("held.db");
    let to = format!("sqlite:{}", db.display());
    let sync = env
        .run(&["sync", "--jql", "project = APO", "--to", &to])
        .await;
    sync.code(0);
    assert!(!sync.stderr.contains("waiting up to"), "{}", sync.stderr);
    assert!(
        sync.stderr.contains("stay until their TTL"),
        "{}",
        sync.stderr
    );

    // A write waits `cache_lock_wait_secs` for the cache, then goes on without it: a
    // long holder (a proxy) never stops a migration.
    let config = env.config_path();
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, "[profiles.default]\ncache_lock_wait_secs = 1\n").unwrap();
    let changes = env.dir.path().join("held.jsonl");
    std::fs::write(
        &changes,
        "{\"op\": \"comment\", \"issue\": \"APO-2\", \"body\": \"while held\"}\n",
    )
    .unwrap();
    let apply = env.run(&["apply", "-f", changes.to_str().unwrap()]).await;
    apply.code(0);
    assert!(
        apply.stderr.contains("waiting up to 1.0 s"),
        "{}",
        apply.stderr
    );
    assert!(
        apply
            .stderr
            .contains("its copies of what this run changes stay"),
        "{}",
        apply.stderr
    );
    assert_eq!(apply.json_lines()[0]["outcome"], "done", "{}", apply.stdout);
    drop(held);
    let status = env.run(&["cache", "status", "--json"]).await;
    status.code(0);
    let report: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert!(report.get("in_use_by").is_none(), "{report}");
    assert!(report["entries"].as_u64().unwrap() >= 1, "{report}");
}

#[tokio::test]
async fn a_warmed_project_is_fetched_with_default_fields_without_a_request() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    env.run_line("cache warm --issues --project APO --days 3650")
        .await
        .code(0);
    let before = sim.stats().requests;
    let keys: Vec<String> = (1..=60).map(|n| format!("APO-{n}")).collect();
    let mut args = vec!["fetch", "--format", "jsonl"];
    args.extend(keys.iter().map(String::as_str));
    let fetch = env.run(&args).await;
    fetch.code(0);
    assert_eq!(fetch.json_lines().len(), 60);
    assert_eq!(
        sim.stats().requests - before,
        0,
        "every issue served from the warmed cache: {}",
        fetch.stderr
    );
    assert!(
        fetch.stderr.contains("60 from the cache"),
        "{}",
        fetch.stderr
    );
}
