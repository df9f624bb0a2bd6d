//! What a new user meets first: JQL refusals, `--fields` checked against the site,
//! colours, widths, and messages that name the fix.

use crate::{Env, sim};

#[tokio::test]
async fn every_jql_the_server_refuses_exits_2_with_its_message_and_a_matching_hint() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    let cases = [
        ("project = = BEA", "Expecting", "syntax"),
        ("projekt = BEA", "does not exist", "field in JQL"),
        (
            "project = NOPE",
            "does not exist for the field",
            "check the value",
        ),
        ("order by created", "Unbounded", "bound it"),
    ];
    for (jql, message, hint) in cases {
        for format in ["csv", "jsonl", "json", "table"] {
            let run = env.run(&["search", jql, "--format", format]).await;
            run.code(2);
            let line = run.error_line();
            assert!(line.contains(jql), "{jql}: {line}");
            assert!(line.contains(message), "{jql}: {line}");
            assert!(line.contains(hint), "{jql}: {line}");
            assert_eq!(
                run.stdout, "",
                "{jql} --format {format}: nothing before the first result"
            );
        }
    }
    // The same refusal through sync: exit 2, nothing created.
    let dest = format!("{}/", env.dir.path().join("out").display());
    let run = env
        .run(&["sync", "--jql", "projekt = BEA", "--to", &dest])
        .await;
    run.code(2);
    assert!(run.error_line().contains("field in JQL"), "{}", run.stderr);
}

#[tokio::test]
async fn fields_are_trimmed_checked_against_the_site_and_star_all_becomes_columns() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    // A space after the comma is the same list.
    let run = env
        .run(&[
            "fetch",
            "APO-1",
            "--format",
            "csv",
            "--fields",
            "summary, status",
        ])
        .await;
    run.code(0);
    let header = run.stdout.lines().next().unwrap();
    assert_eq!(header, "key,summary,status");
    assert!(
        !run.stdout.lines().nth(1).unwrap().ends_with(','),
        "{}",
        run.stdout
    );

    // A typo: exit 2 naming it, with the close names; nothing written.
    let typo = env
        .run(&[
            "search",
            "project = APO",
            "--format",
            "csv",
            "--fields",
            "summary,stauts",
        ])
        .await;
    typo.code(2);
    let line = typo.error_line();
    assert!(
        line.contains("\"stauts\"") && line.contains("did you mean") && line.contains("status"),
        "{line}"
    );
    assert_eq!(typo.stdout, "");

    // A name is resolved to its id.
    let named = env
        .run(&[
            "fetch",
            "APO-1",
            "--format",
            "jsonl",
            "--fields",
            "Story Points",
        ])
        .await;
    named.code(0);
    let issue = &named.json_lines()[0];
    assert!(
        issue["fields"].get("customfield_10016").is_some(),
        "{issue}"
    );
    assert!(issue.get("names").is_none(), "{issue}");
    // --names adds each field's name, as Jira's expand=names does.
    let with_names = env
        .run(&[
            "search",
            "key = APO-1",
            "--format",
            "json",
            "--fields",
            "summary,Story Points",
            "--names",
        ])
        .await;
    with_names.code(0);
    let issues: serde_json::Value = serde_json::from_str(&with_names.stdout).unwrap();
    assert_eq!(
        issues[0]["names"]["customfield_10016"], "Story Points",
        "{issues}"
    );
    assert_eq!(issues[0]["names"]["summary"], "Summary", "{issues}");
    // In CSV (and tables) its column is titled as it was asked for; JSON keeps Jira's id.
    let titled = env
        .run(&[
            "fetch",
            "APO-1",
            "--format",
            "csv",
            "--fields",
            "summary,Story Points",
        ])
        .await;
    titled.code(0);
    assert_eq!(
        titled.stdout.lines().next(),
        Some("key,summary,Story Points"),
        "{}",
        titled.stdout
    );

    // *all: one column per field, none headed `*all`.
    let all = env
        .run(&["fetch", "APO-1", "--format", "csv", "--fields", "*all"])
        .await;
    all.code(0);
    let header: Vec<&str> = all.stdout.lines().next().unwrap().split(',').collect();
    assert!(!header.contains(&"*all"), "{header:?}");
    for column in ["key", "summary", "status", "priority", "created"] {
        assert!(header.contains(&column), "{column} in {header:?}");
    }
    let row = all.stdout.lines().nth(1).unwrap();
    assert!(row.starts_with("APO-1,"), "{row}");
}

#[tokio::test]
async fn logs_have_no_colours_when_piped_or_with_no_color() {
    let sim = sim().await;
    let mut env = Env::for_sim(&sim);
    let run = env.run(&["-vv", "fetch", "APO-1"]).await;
    run.code(0);
    assert!(run.stderr.contains("DEBUG"), "{}", run.stderr);
    assert!(!run.stderr.contains('\u{1b}'), "{}", run.stderr);
    env.set("NO_COLOR", "1");
    let run = env.run(&["-vv", "fetch", "APO-2"]).await;
    run.code(0);
    assert!(!run.stderr.contains('\u{1b}'));
}

/// The summary object a run printed on stderr with `--log-format json`.
fn summary_of(stderr: &str) -> serde_json::Value {
    stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|v| v.get("summary").cloned())
        .unwrap_or_else(|| panic!("no summary in {stderr}"))
}

#[tokio::test]
async fn every_command_ends_with_a_summary_that_agrees_with_the_servers_counters() {
    use jira_sim::{BurstConfig, Fault, FaultConfig, FaultRule, LimitConfig};
    // A throttled site that fails 10% of its bulk fetches and searches with 503s (more
    // would open the circuit breaker now and then: five failures in a row).
    let sim = crate::sim_with(
        2,
        60,
        LimitConfig {
            burst: Some(BurstConfig::uniform(40.0).with_capacity(4.0)),
            ..LimitConfig::off()
        },
    )
    .await;
    sim.set_faults(FaultConfig {
        rules: ["/rest/api/3/issue/bulkfetch", "/rest/api/3/search/jql"]
            .into_iter()
            .map(|endpoint| FaultRule::new(Fault::Status { status: 503 }, 0.1).on(endpoint))
            .collect(),
    });
    let mut env = Env::for_sim(&sim);
    // Bulk fetches of 5: twelve requests for the 60 keys; quick retries, enough of them.
    env.set("JIRA_BATCH_SIZE", 5);
    let config = env.config_path();
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(
        &config,
        "[profiles.default]\nretry_base_ms = 20\nretries = 10\n",
    )
    .unwrap();
    let keys: Vec<String> = (1..=60).map(|n| format!("APO-{n}")).collect();
    let mut args = vec![
        "--log-format",
        "json",
        "--concurrency",
        "8",
        "fetch",
        "--no-cache",
    ];
    args.extend(keys.iter().map(String::as_str));
    let before = sim.stats().requests;
    let run = env.run(&args).await;
    run.code(0);
    let summary = summary_of(&run.stderr);
    let stats = sim.stats();
    assert_eq!(summary["items"], 60, "{summary}");
    assert_eq!(
        summary["requests"],
        stats.requests - before,
        "{summary} vs {stats:?}"
    );
    assert_eq!(summary["rate_limited"], stats.rate_limited, "{summary}");
    // Each 503 and 429 answered was an attempt beyond the first of its request.
    let refused: u64 = stats.faults.values().sum::<u64>() + stats.rate_limited;
    assert!(
        summary["retries"].as_u64().unwrap() >= refused,
        "{summary} vs {stats:?}"
    );

    // search, then the text line.
    let before = sim.stats();
    let run = env
        .run(&[
            "--log-format",
            "json",
            "search",
            "project = BEA",
            "--fields",
            "summary",
        ])
        .await;
    run.code(0);
    let summary = summary_of(&run.stderr);
    let stats = sim.stats();
    assert_eq!(summary["items"], 60);
    assert_eq!(
        summary["requests"],
        stats.requests - before.requests,
        "{summary}"
    );
    assert_eq!(
        summary["rate_limited"],
        stats.rate_limited - before.rate_limited,
        "{summary}"
    );
    // Every fault the server answered was retried, and the summary counts each attempt.
    let faults: u64 = stats.faults.values().sum();
    assert!(faults + stats.rate_limited > 0, "{stats:?}");
    let text = env.run(&["search", "project = BEA", "--limit", "5"]).await;
    text.code(0);
    let line = text.stderr.lines().last().unwrap_or_default();
    assert!(
        line.starts_with("search: 5 issues · ")
            && line.contains("logical")
            && line.contains("points"),
        "{}",
        text.stderr
    );
}

#[tokio::test]
async fn search_reads_its_query_from_stdin_or_a_file() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    let run = env
        .run_with_stdin(
            &["search", "-", "--format", "jsonl"],
            Some("project = BEA\n"),
        )
        .await;
    run.code(0);
    assert_eq!(run.json_lines().len(), 60);
    let file = env.dir.path().join("q.jql");
    std::fs::write(
        &file,
        "# the BEA backlog\nproject = BEA\n  AND key in (BEA-1, BEA-2)\n",
    )
    .unwrap();
    let run = env
        .run(&[
            "search",
            "--jql-file",
            file.to_str().unwrap(),
            "--format",
            "jsonl",
        ])
        .await;
    run.code(0);
    assert_eq!(run.json_lines().len(), 2);
    std::fs::write(&file, "# nothing\n\n").unwrap();
    let empty = env
        .run(&["search", "--jql-file", file.to_str().unwrap()])
        .await;
    empty.code(2);
    assert!(
        empty.error_line().contains("holds no query"),
        "{}",
        empty.stderr
    );
}

#[tokio::test]
async fn settings_site_urls_and_credentials_are_explained() {
    let sim = sim().await;
    let mut env = Env::for_sim(&sim);
    // Numbers are numbers in JSON.
    let show = env.run(&["config", "show", "--json"]).await;
    show.code(0);
    let settings = &show.json()["settings"];
    assert_eq!(settings["timeout_secs"]["value"], 20, "{settings}");
    assert!(settings["site_url"]["value"].is_string());

    // A URL copied from the browser works, with a note.
    let browser = format!("{}/jira/software/projects/APO/boards/1", sim.base_url());
    env.set("JIRA_SITE_URL", &browser);
    let run = env.run(&["fetch", "APO-1", "--format", "jsonl"]).await;
    run.code(0);
    assert_eq!(run.json_lines().len(), 1);
    assert!(run.stderr.contains("has a path; using"), "{}", run.stderr);
    env.set("JIRA_SITE_URL", sim.base_url());

    // A token without an email: the refusal explains Basic versus Bearer.
    env.unset("JIRA_EMAIL");
    let run = env.run(&["fetch", "APO-1"]).await;
    run.code(3);
    assert!(
        run.stderr.contains("Bearer") && run.stderr.contains("JIRA_EMAIL"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn create_names_lines_and_cache_patterns_ignore_case() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    let file = env.dir.path().join("new.jsonl");
    std::fs::write(
        &file,
        "\n{\"fields\": {\"project\": {\"key\": \"APO\"}, \"issuetype\": {\"name\": \"Task\"}}}\n",
    )
    .unwrap();
    let run = env
        .run(&["create", "--from-file", file.to_str().unwrap()])
        .await;
    run.code(1);
    let result = &run.json_lines()[0];
    assert_eq!(result["line"], 2);
    let error = result["message"].as_str().unwrap();
    assert!(
        error.starts_with("line 2: ") && !error.contains("element"),
        "{error}"
    );

    env.run(&["fetch", "APO-1", "APO-2", "BEA-1"]).await.code(0);
    let run = env
        .run(&[
            "cache",
            "clear",
            "--category",
            "issue",
            "--pattern",
            "apo-*",
            "--force",
        ])
        .await;
    run.code(0);
    assert!(
        run.stdout.contains("removed 2 entries") || run.stderr.contains("removed 2 entries"),
        "{} {}",
        run.stdout,
        run.stderr
    );
}

#[tokio::test]
async fn completions_offer_profiles_categories_and_fields() {
    let env = Env::new();
    let config = env.config_path();
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(
        &config,
        "[profiles.work]\nsite_url = \"https://work.atlassian.net\"\n[profiles.staging]\nsite_url = \"https://staging.atlassian.net\"\n",
    )
    .unwrap();
    let bash = env.run(&["completions", "bash"]).await;
    bash.code(0);
    assert!(bash.stdout.contains("staging work"), "profiles offered");
    assert!(bash.stdout.contains("issue project field user search"));
    assert!(bash.stdout.contains("*navigable"), "fields offered");
    assert!(!bash.stdout.contains("customfield_10016"));

    // With the site's catalogue in the cache, its fields are offered too.
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    env.run(&["cache", "warm", "--fields"]).await.code(0);
    let bash = env.run(&["completions", "bash"]).await;
    bash.code(0);
    assert!(
        bash.stdout.contains("customfield_10016"),
        "the site's fields offered"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn tables_fit_a_terminal_of_70_columns() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    let command = format!(
        "stty cols 70; {} fetch APO-1 APO-2 APO-3 --fields summary,status,assignee,updated,created,priority",
        env!("CARGO_BIN_EXE_jira-ops")
    );
    let output = tokio::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_clear()
        .envs(&env.vars)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("`script` (util-linux) runs");
    let screen = String::from_utf8_lossy(&output.stdout);
    let table: Vec<&str> = screen
        .lines()
        .filter(|l| l.starts_with(['┌', '│', '╞', '├', '└']))
        .collect();
    assert!(table.len() > 4, "{screen}");
    for line in &table {
        assert!(
            line.trim_end_matches('\r').chars().count() <= 70,
            "{} wide: {line}\n{screen}",
            line.chars().count()
        );
    }
}

#[tokio::test]
async fn a_spent_quota_names_the_real_setting_the_reset_time_and_how_to_resume() {
    use jira_sim::{LimitConfig, QuotaConfig, QuotaKind};
    let sim = crate::sim_with(
        1,
        100,
        LimitConfig {
            quota: Some(QuotaConfig {
                points_per_hour: 60,
                kind: QuotaKind::Tenant,
            }),
            ..LimitConfig::off()
        },
    )
    .await;
    let mut env = Env::for_sim(&sim);
    env.set("JIRA_BATCH_SIZE", 5);
    // The quota resets at the top of the hour: a wait of one second at most fails even
    // in the last minutes before it.
    env.set("JIRA_OPS_MAX_WAIT", 1);
    let keys: Vec<String> = (1..=100).map(|n| format!("APO-{n}")).collect();
    let mut args = vec!["fetch", "--no-cache", "--format", "jsonl"];
    args.extend(keys.iter().map(String::as_str));
    let run = env.run(&args).await;
    run.code(1);
    let fetched = run.json_lines().len();
    assert!(fetched > 0 && fetched < 100, "{fetched}");
    let failure = run
        .stderr
        .lines()
        .find(|l| l.contains("issues were not fetched"))
        .unwrap_or_else(|| panic!("{}", run.stderr));
    for part in [
        "`max_wait_secs`",
        "--max-wait",
        "JIRA_OPS_MAX_WAIT",
        " UTC)",
        "fetch them again",
    ] {
        assert!(failure.contains(part), "{part}: {failure}");
    }
    // When the wait ends: the server's (until) or the budget's (at).
    assert!(
        failure.contains("(until ") || failure.contains("(at "),
        "{failure}"
    );
    // The flag and the variable exist and are where config show says.
    env.set("JIRA_OPS_MAX_WAIT", 30);
    let show = env.run(&["config", "show", "--json"]).await.json();
    assert_eq!(show["settings"]["max_wait_secs"]["value"], 30);
    assert_eq!(
        show["settings"]["max_wait_secs"]["source"],
        "env JIRA_OPS_MAX_WAIT"
    );
    let show = env
        .run(&["--max-wait", "5", "config", "show", "--json"])
        .await
        .json();
    assert_eq!(
        show["settings"]["max_wait_secs"]["source"],
        "flag --max-wait"
    );
}
