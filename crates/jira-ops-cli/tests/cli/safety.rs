//! Nothing lost, nothing duplicated, nothing hung: interrupts, lost answers, a closed
//! stdout, hostile input.

use std::time::Duration;

use jira_sim::{Fault, FaultConfig, FaultRule};

use crate::{Env, sim, sim_with};

fn issues(count: usize, tag: &str) -> String {
    (0..count)
        .map(|n| {
            format!(
                "{{\"fields\": {{\"project\": {{\"key\": \"APO\"}}, \"issuetype\": {{\"name\": \"Task\"}}, \"summary\": \"{tag} {n}\"}}}}\n"
            )
        })
        .collect()
}

#[tokio::test]
async fn the_same_input_twice_creates_each_issue_once() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    let file = env.dir.path().join("new.jsonl");
    std::fs::write(&file, issues(120, "twice")).unwrap();
    let path = file.to_str().unwrap();
    let first = env.run(&["create", "--from-file", path]).await;
    first.code(0);
    let keys: Vec<String> = first
        .json_lines()
        .iter()
        .map(|r| r["key"].as_str().unwrap().to_owned())
        .collect();
    let again = env.run(&["create", "--from-file", path]).await;
    again.code(0);
    let results = again.json_lines();
    assert_eq!(results.len(), 120);
    for (result, key) in results.iter().zip(&keys) {
        assert_eq!(result["key"], key.as_str(), "the same issue reported");
        assert_eq!(result["outcome"], "existing");
    }
    assert!(
        again.stderr.contains("120 already created")
            && again
                .stderr
                .contains("created to the end by an earlier run")
            && again.stderr.contains("--again"),
        "{}",
        again.stderr
    );
    let stats = sim.stats();
    assert_eq!(stats.issues_created, 120);
    assert_eq!(stats.duplicate_creates, 0);
    // Asked for again: a new run, each issue created once more, and only once.
    let third = env.run(&["create", "--from-file", path, "--again"]).await;
    third.code(0);
    let made: Vec<String> = third
        .json_lines()
        .iter()
        .map(|r| r["key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(made.len(), 120);
    assert!(made.iter().all(|k| !keys.contains(k)), "new issues");
    env.run(&["create", "--from-file", path]).await.code(0);
    assert_eq!(sim.stats().issues_created, 240);
}

#[tokio::test]
async fn answers_lost_on_the_way_are_found_again_by_their_idempotency_key() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    let file = env.dir.path().join("new.jsonl");
    std::fs::write(&file, issues(80, "lost")).unwrap();
    let path = file.to_str().unwrap();
    // The work is done, then a 504 is answered: the outcome is unknown.
    sim.set_faults(FaultConfig {
        rules: vec![
            FaultRule::new(Fault::LostResponse { status: 504 }, 1.0).on("/rest/api/3/issue/bulk"),
        ],
    });
    let first = env.run(&["create", "--from-file", path]).await;
    first.code(1);
    assert!(
        first.json_lines().iter().all(|r| r["outcome"] == "unknown"),
        "{}",
        first.stdout
    );
    assert_eq!(sim.stats().issues_created, 80);
    // Running again looks each up before sending anything: all found, none created twice.
    sim.set_faults(FaultConfig::default());
    let again = env.run(&["create", "--from-file", path]).await;
    again.code(0);
    let results = again.json_lines();
    assert_eq!(results.len(), 80);
    assert!(
        results.iter().all(|r| r["outcome"] == "existing"),
        "{}",
        again.stdout
    );
    let stats = sim.stats();
    assert_eq!(stats.issues_created, 80);
    assert_eq!(stats.duplicate_creates, 0);
    assert_eq!(stats.requests_to("POST", "/rest/api/3/issue/bulk"), 2);
}

#[cfg(unix)]
#[tokio::test]
async fn an_interrupted_create_then_a_rerun_creates_each_issue_once() {
    let sim = sim().await;
    // Each bulk create takes 300 ms: the interrupt lands with chunks in flight and to go.
    sim.set_faults(crate::latency(300, "/rest/api/3/issue/bulk"));
    let mut env = Env::for_sim(&sim);
    env.set("MAX_CONCURRENT_JIRA_CALLS", 2);
    let file = env.dir.path().join("new.jsonl");
    std::fs::write(&file, issues(500, "interrupted")).unwrap();
    let path = file.to_str().unwrap();
    let run = env
        .run_interrupted(
            &["create", "--from-file", path],
            Duration::from_millis(700),
            "INT",
        )
        .await;
    run.code(130);
    let written = run.json_lines();
    assert_eq!(written.len(), 500, "every line has a result");
    let created_now = written.iter().filter(|r| r["outcome"] == "created").count();
    assert!(
        created_now > 0 && created_now < 500,
        "{created_now} created before the stop"
    );
    assert!(
        written
            .iter()
            .filter(|r| r["outcome"] != "created")
            .all(|r| r["outcome"] == "not_sent"),
        "{}",
        run.stdout
    );
    assert_eq!(sim.stats().issues_created as usize, created_now);
    sim.set_faults(FaultConfig::default());
    let again = env.run(&["create", "--from-file", path]).await;
    again.code(0);
    let results = again.json_lines();
    let existing = results
        .iter()
        .filter(|r| r["outcome"] == "existing")
        .count();
    assert_eq!(existing, created_now);
    let stats = sim.stats();
    assert_eq!(stats.issues_created, 500);
    assert_eq!(stats.duplicate_creates, 0);
}

#[cfg(unix)]
#[tokio::test]
async fn an_interrupted_search_closes_its_json_array() {
    let sim = sim_with(1, 3_000, jira_sim::LimitConfig::off()).await;
    sim.set_faults(crate::latency(150, "/rest/api/3/search/jql"));
    let env = Env::for_sim(&sim);
    let run = env
        .run_interrupted(
            &["search", "project = APO ORDER BY key", "--format", "json"],
            Duration::from_millis(1_000),
            "TERM",
        )
        .await;
    run.code(143);
    let issues = run.json();
    let count = issues.as_array().unwrap().len();
    assert!(count > 0 && count < 3_000, "{count} issues written");
    assert!(
        run.stderr.contains(&format!("{count} issues written")),
        "{}",
        run.stderr
    );
}

#[cfg(unix)]
#[tokio::test]
async fn an_interrupted_fetch_writes_or_lists_every_key() {
    let sim = sim_with(1, 3_000, jira_sim::LimitConfig::off()).await;
    sim.set_faults(crate::latency(400, "/rest/api/3/issue/bulkfetch"));
    let mut env = Env::for_sim(&sim);
    env.set("MAX_CONCURRENT_JIRA_CALLS", 2);
    let keys: String = (1..=3_000).map(|n| format!("APO-{n}\n")).collect();
    let file = env.dir.path().join("keys.txt");
    std::fs::write(&file, keys).unwrap();
    let run = env
        .run_interrupted(
            &[
                "fetch",
                "--from-file",
                file.to_str().unwrap(),
                "--format",
                "csv",
            ],
            Duration::from_millis(1_500),
            "INT",
        )
        .await;
    run.code(130);
    let written = run.stdout.lines().count() - 1;
    let not_done = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("jira-ops: not done: APO-"))
        .count();
    assert!(written > 0, "{}", run.stderr);
    assert_eq!(written + not_done, 3_000, "every key written or listed");
}

#[tokio::test]
async fn a_closed_stdout_ends_an_output_command_quietly() {
    let sim = sim_with(1, 3_000, jira_sim::LimitConfig::off()).await;
    let env = Env::for_sim(&sim);
    let run = env
        .run_reading_first_line(&["search", "project = APO", "--format", "jsonl"])
        .await;
    run.code(0);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert!(!run.stderr.contains("Broken pipe"), "{}", run.stderr);
}

/// `jira-ops completions bash | head -1`: the script's reader goes away after a line, and
/// the command ends quietly with 0 (it panicked inside clap_complete).
#[tokio::test]
async fn a_completion_script_to_a_closed_pipe_ends_quietly() {
    let env = Env::new();
    for shell in ["bash", "zsh", "fish"] {
        let run = env.run_reading_first_line(&["completions", shell]).await;
        run.code(0);
        assert!(!run.stderr.contains("panicked"), "{shell}: {}", run.stderr);
        assert!(!run.stdout.is_empty(), "{shell}");
    }
}

/// `| head -1` after every command that prints: each ends as it would have (its own exit
/// code), without a panic or a "Broken pipe" error, however much was left to write.
#[tokio::test]
async fn every_printing_command_ends_quietly_when_its_reader_goes() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    let changes = env.dir.path().join("changes.jsonl");
    std::fs::write(
        &changes,
        "{\"op\": \"label\", \"issue\": \"APO-1\", \"add\": [\"head\"]}\n",
    )
    .unwrap();
    let changes = changes.to_str().unwrap();
    let db = env.dir.path().join("head.db");
    let to = format!("sqlite:{}", db.display());
    let commands: &[&[&str]] = &[
        &["fetch", "APO-1", "APO-2", "APO-3", "--format", "csv"],
        &["fetch", "APO-1", "APO-2", "--format", "table"],
        &["search", "project = APO", "--format", "table"],
        &["health"],
        &["health", "--json"],
        &["diagnose", "--keys", "APO-1,APO-2"],
        &["cache", "status"],
        &["cache", "warm", "--fields"],
        &["config", "show"],
        &["apply", "-f", changes, "--plan"],
        &["apply", "-f", changes, "--dry-run"],
        &["apply", "-f", changes],
        &["journal", "list", "--format", "table"],
        &["sync", "--jql", "project = APO", "--to", &to, "--plan"],
        &["man"],
        &["--help"],
    ];
    for args in commands {
        let run = env.run_reading_first_line(args).await;
        assert!(
            run.code == 0 || run.code == 1,
            "{args:?} exited {}: {}",
            run.code,
            run.stderr
        );
        assert!(!run.stderr.contains("panicked"), "{args:?}: {}", run.stderr);
        assert!(
            !run.stderr.contains("Broken pipe"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(!run.stdout.is_empty(), "{args:?} printed nothing");
    }
}

#[tokio::test]
async fn keys_are_checked_before_anything_is_sent() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    let file = env.dir.path().join("keys.txt");
    // A byte-order mark and CRLF endings are tolerated.
    std::fs::write(&file, "\u{feff}APO-1\r\nAPO-2\r\n").unwrap();
    let run = env
        .run(&[
            "fetch",
            "--from-file",
            file.to_str().unwrap(),
            "--format",
            "jsonl",
        ])
        .await;
    run.code(0);
    assert_eq!(run.json_lines().len(), 2);
    for (content, fragment) in [
        ("APO-1\nAPO-\n", "line 2"),
        ("../../etc/passwd\n", "line 1"),
        ("APO-2,APO-3\n", "one key per line"),
    ] {
        std::fs::write(&file, content).unwrap();
        let before = sim.stats().requests;
        let bad = env
            .run(&["fetch", "--from-file", file.to_str().unwrap()])
            .await;
        bad.code(2);
        assert!(
            bad.error_line().contains(fragment),
            "{content:?}: {}",
            bad.stderr
        );
        assert_eq!(sim.stats().requests, before, "nothing sent");
    }
    // One enormous line is refused without being echoed.
    std::fs::write(&file, format!("APO-{}\n", "1".repeat(1_000_000))).unwrap();
    let long = env
        .run(&["fetch", "--from-file", file.to_str().unwrap()])
        .await;
    long.code(2);
    assert!(
        long.stderr.len() < 1_000,
        "{} bytes of stderr",
        long.stderr.len()
    );
    let arg = env.run(&["fetch", "APO-"]).await;
    arg.code(2);
}

#[tokio::test]
async fn limits_and_fields_mean_what_they_say() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    let none = env
        .run(&[
            "search",
            "project = APO",
            "--limit",
            "0",
            "--format",
            "json",
        ])
        .await;
    none.code(0);
    assert_eq!(none.json().as_array().unwrap().len(), 0);
    let empty = env.run(&["fetch", "APO-1", "--fields", ""]).await;
    empty.code(2);
    assert!(empty.error_line().contains("--fields"), "{}", empty.stderr);
}

#[tokio::test]
async fn csv_cells_a_spreadsheet_would_run_are_neutralised() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    let file = env.dir.path().join("new.jsonl");
    std::fs::write(
        &file,
        "{\"fields\": {\"project\": {\"key\": \"APO\"}, \"issuetype\": {\"name\": \"Task\"}, \"summary\": \"=HYPERLINK(\\\"http://evil\\\")\"}}\n",
    )
    .unwrap();
    let created = env
        .run(&["create", "--from-file", file.to_str().unwrap()])
        .await;
    created.code(0);
    let key = created.json_lines()[0]["key"].as_str().unwrap().to_owned();
    let csv = env
        .run(&["fetch", &key, "--format", "csv", "--fields", "summary"])
        .await;
    csv.code(0);
    assert!(csv.stdout.contains(",\"'=HYPERLINK("), "{}", csv.stdout);
    let raw = env
        .run(&[
            "fetch",
            &key,
            "--format",
            "csv",
            "--fields",
            "summary",
            "--csv-raw",
        ])
        .await;
    assert!(raw.stdout.contains(",\"=HYPERLINK("), "{}", raw.stdout);
}

#[tokio::test]
async fn a_hanging_server_ends_a_fetch_within_its_deadline() {
    let sim = sim().await;
    sim.set_faults(FaultConfig {
        rules: vec![FaultRule::new(Fault::Hang { ms: 120_000 }, 1.0)],
    });
    let mut env = Env::for_sim(&sim);
    env.set("JIRA_OPS_REQUEST_DEADLINE", 4);
    env.set("JIRA_REQUEST_TIMEOUT", 1);
    let started = std::time::Instant::now();
    let run = env.run(&["fetch", "APO-1", "--format", "jsonl"]).await;
    let took = started.elapsed();
    run.code(1);
    // The deadline bounds the whole request (a correctness bound, far from the 4 s).
    assert!(took < Duration::from_secs(30), "took {took:?}");
    assert!(run.stderr.contains("APO-1"), "{}", run.stderr);
}

#[tokio::test]
async fn another_account_never_reads_this_accounts_cache() {
    let sim = sim().await;
    let mut env = Env::for_sim(&sim);
    env.run(&["fetch", "APO-1", "--format", "jsonl"])
        .await
        .code(0);
    let again = env.run(&["fetch", "APO-1", "--format", "jsonl"]).await;
    again.code(0);
    assert!(
        again.stderr.contains("1 from the cache"),
        "{}",
        again.stderr
    );
    // Another email on the same site and cache directory: a miss, so it asks the site,
    // which refuses these credentials.
    env.set("JIRA_EMAIL", "someone-else@example.com");
    let other = env.run(&["fetch", "APO-1", "--format", "jsonl"]).await;
    other.code(3);
    assert!(other.stdout.is_empty(), "{}", other.stdout);
    // This account's email with a wrong token: a miss too, not this account's entries.
    env.set("JIRA_EMAIL", crate::EMAIL);
    env.set("JIRA_API_TOKEN", "not-the-token");
    let guessed = env.run(&["fetch", "APO-1", "--format", "jsonl"]).await;
    guessed.code(3);
    assert!(guessed.stdout.is_empty(), "{}", guessed.stdout);
}

#[tokio::test]
async fn a_damaged_cache_names_its_recovery_and_the_recovery_works() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    env.run(&["fetch", "APO-1", "--format", "jsonl"])
        .await
        .code(0);
    let conf = env.cache_dir().join("conf");
    let len = std::fs::metadata(&conf).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&conf)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let damaged = env.run(&["fetch", "APO-1", "--format", "jsonl"]).await;
    damaged.code(1);
    assert!(
        damaged.error_line().contains("cache clear --reset"),
        "{}",
        damaged.stderr
    );
    assert!(!damaged.stderr.contains("panicked"), "{}", damaged.stderr);
    let reset = env.run(&["cache", "clear", "--reset"]).await;
    reset.code(0);
    assert!(reset.stdout.contains("aside"), "{}", reset.stdout);
    env.run(&["fetch", "APO-1", "--format", "jsonl"])
        .await
        .code(0);
}
