//! `jira-ops sync`: into SQLite and JSON Lines, incremental, a plan, fields by name, clear
//! errors for bad input.

use crate::{Env, sim};

fn issue_count(path: &std::path::Path) -> i64 {
    let db = rusqlite::Connection::open(path).unwrap();
    db.query_row("SELECT COUNT(*) FROM issues", [], |row| row.get(0))
        .unwrap()
}

/// `sync --jql JQL --to TO --settle-secs 0`, then `rest`.
fn settled<'a>(jql: &'a str, to: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    [
        &["sync", "--jql", jql, "--to", to, "--settle-secs", "0"][..],
        rest,
    ]
    .concat()
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
    // A small memory budget reads the same issues (in smaller steps).
    let first = env.run(&[&args[..], &["--memory-mb", "8"]].concat()).await;
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
    assert!(!full.stderr.contains("--settle-secs"), "{}", full.stderr);

    // With a settle time, a run says how far it read and that later edits wait for the
    // next run (a sync right after an edit otherwise reads as "synced 0 issues" alone).
    let held_back = env
        .run(&[
            "sync",
            "--jql",
            "project = APO",
            "--to",
            &to,
            "--settle-secs",
            "30",
        ])
        .await;
    held_back.code(0);
    assert!(
        held_back
            .stderr
            .contains("taken by the next run (--settle-secs)"),
        "{}",
        held_back.stderr
    );
}

#[tokio::test]
async fn sync_refuses_what_it_cannot_do_with_exit_2() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    std::fs::write(env.dir.path().join("a-file"), "x").unwrap();
    let file = env.dir.path().join("a-file");
    // Each: the query and what follows it, and what the error must name.
    let apo = "project = APO";
    let missing = env.dir.path().join("no-such-dir/jira.db");
    let missing = format!("sqlite:{}", missing.display());
    let here = format!("sqlite:{}", env.dir.path().display());
    let cases: [(&str, &[&str], &str); 7] = [
        (apo, &["--to", "mysql://db/jira"], "sqlite:PATH"),
        (apo, &["--to", file.to_str().unwrap()], "is a file"),
        (
            apo,
            &["--to", "x/", "--since", "yesterday"],
            "\"yesterday\"",
        ),
        (
            apo,
            &["--to", "sqlite:x.db", "--memory-mb", "4"],
            "8..=65536",
        ),
        (
            "project = APO ORDER BY key",
            &["--to", "sqlite:x.db"],
            "ORDER BY",
        ),
        (apo, &["--to", &missing], "no-such-dir does not exist"),
        (apo, &["--to", &here], "is a directory, not a SQLite file"),
    ];
    for (jql, rest, named) in cases {
        let args = [&["sync", "--jql", jql][..], rest].concat();
        let refused = env.run(&args).await;
        refused.code(2);
        assert!(
            refused.stderr.contains(named),
            "{args:?}: {}",
            refused.stderr
        );
    }
    assert_eq!(sim.stats().requests, 0);
}

#[tokio::test]
async fn sync_into_json_lines_with_fields_by_name_and_a_plan_that_writes_nothing() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    let dir = env.dir.path().join("export");
    let to = format!("{}/", dir.display());
    let base = [
        "sync",
        "--jql",
        "project = APO",
        "--to",
        &to,
        "--settle-secs",
        "0",
    ];

    let plan = env.run(&[&base[..], &["--plan", "--json"]].concat()).await;
    plan.code(0);
    let plan = plan.json();
    assert_eq!(plan["count"], 60, "{plan}");
    assert_eq!(plan["estimates"].as_array().unwrap().len(), 3);
    assert!(
        plan["reason"]
            .as_str()
            .unwrap()
            .starts_with(plan["chosen"].as_str().unwrap())
    );
    assert!(!dir.exists(), "a plan creates nothing");
    let table = env.run(&[&base[..], &["--plan"]].concat()).await;
    table.code(0);
    assert!(table.stdout.contains("(chosen)"), "{}", table.stdout);
    assert!(table.stdout.contains("slices"), "{}", table.stdout);

    let unknown = env
        .run(&[&base[..], &["--fields", "Summary,Stroy Points"]].concat())
        .await;
    unknown.code(2);
    assert!(
        unknown.error_line().contains("\"Stroy Points\""),
        "{}",
        unknown.stderr
    );

    let run = env
        .run(
            &[
                &base[..],
                &[
                    "--fields",
                    "Summary, status",
                    "--with",
                    "changelog",
                    "--json",
                ],
            ]
            .concat(),
        )
        .await;
    run.code(0);
    let summary = run.json();
    assert_eq!(summary["issues_written"], 60, "{summary}");
    assert_eq!(summary["comments"], 0, "comments were not asked for");
    assert!(summary["history_entries"].as_u64().unwrap() > 0);
    assert!(
        summary["requests_on_the_wire"].as_u64().unwrap() >= summary["requests"].as_u64().unwrap()
    );
    let lines = std::fs::read_to_string(dir.join("issues.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    let fields = first["json"]["fields"].as_object().unwrap();
    assert!(
        fields.contains_key("summary") && fields.contains_key("status"),
        "{first}"
    );
    assert!(
        !fields.contains_key("priority"),
        "only the fields asked for: {first}"
    );
    assert_eq!(lines.lines().count(), 60);
    assert!(
        std::fs::read_to_string(dir.join("worklogs.jsonl"))
            .unwrap()
            .is_empty()
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["counts"]["issues"], 60);
}

#[tokio::test]
async fn a_sync_past_the_hourly_quota_says_so_first_then_waits_for_the_reset() {
    use jira_sim::{LimitConfig, QuotaConfig, QuotaKind};
    // 100 points an "hour" of 10 s: the export of 120 issues needs more than that.
    let sim = crate::sim_with(
        2,
        60,
        LimitConfig {
            quota: Some(QuotaConfig {
                points_per_hour: 100,
                kind: QuotaKind::Tenant,
            }),
            time_scale: 360.0,
            ..LimitConfig::off()
        },
    )
    .await;
    let env = Env::for_sim(&sim);
    let db = env.dir.path().join("quota.db");
    let to = format!("sqlite:{}", db.display());
    let base = [
        "sync",
        "--jql",
        "project in (APO, BEA)",
        "--to",
        &to,
        "--settle-secs",
        "0",
        "--with",
        "none",
    ];
    let plan = env.run(&[&base[..], &["--plan"]].concat()).await;
    plan.code(0);
    assert!(
        plan.stdout.contains("waits for the reset"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("quota resets"), "{}", plan.stdout);

    let run = env.run(&base).await;
    run.code(0);
    assert!(run.stderr.contains("hourly quota"), "{}", run.stderr);
    assert!(run.stderr.contains("synced 120 issues"), "{}", run.stderr);
    assert!(sim.stats().rate_limited > 0, "the quota ran out on the way");
    assert_eq!(issue_count(&db), 120);
}

/// A query the site refuses is said once, as the user wrote it: not a warning and then
/// the error, not the window query the run composed from it.
#[tokio::test]
async fn a_refused_query_is_said_once_as_written() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    let db = env.dir.path().join("bad.db");
    let to = format!("sqlite:{}", db.display());
    for extra in [&[][..], &["--plan"][..], &["--strategy", "pages"][..]] {
        let mut args = vec![
            "sync",
            "--jql",
            "project = APO AND nonsense = 1",
            "--to",
            &to,
        ];
        args.extend_from_slice(extra);
        let run = env.run(&args).await;
        run.code(2);
        assert_eq!(
            run.stderr.matches("was refused").count(),
            1,
            "{}",
            run.stderr
        );
        assert!(
            run.stderr
                .contains("JQL \"project = APO AND nonsense = 1\" was refused"),
            "{}",
            run.stderr
        );
        assert!(!run.stderr.contains("ORDER BY"), "{}", run.stderr);
    }
}

/// Two syncs into one sink at once: the second is refused at once, naming the first; the
/// first goes on and ends well.
#[cfg(unix)]
#[tokio::test]
async fn a_second_sync_into_a_sink_in_use_is_refused_naming_the_first() {
    let sim = sim().await;
    sim.set_faults(crate::latency(300, ""));
    let env = Env::for_sim(&sim);
    let db = env.dir.path().join("shared.db");
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
    let first = env.command(&args).spawn().unwrap();
    let lock = env.dir.path().join("shared.db.sync-lock");
    for _ in 0..100 {
        if std::fs::read_to_string(&lock).is_ok_and(|t| t.starts_with("process")) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let second = env.run(&args).await;
    second.code(1);
    assert!(
        second.stderr.contains(&format!(
            "is being synced by process {}",
            first.id().unwrap()
        )),
        "{}",
        second.stderr
    );
    // `sync status` reads beside it, naming it, and takes nothing from it.
    let status = env.run(&["sync", "status", "--to", &to, "--json"]).await;
    status.code(0);
    let report: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert!(
        report["in_use_by"]
            .as_str()
            .is_some_and(|h| h.starts_with(&format!("process {}", first.id().unwrap()))),
        "{report}"
    );
    // One that may wait goes on once the first has ended.
    let mut waiting_args = args.to_vec();
    waiting_args.extend(["--wait", "120"]);
    let waiting = env.command(&waiting_args).spawn().unwrap();
    let first = first.wait_with_output().await.unwrap();
    let waiting = waiting.wait_with_output().await.unwrap();
    assert!(
        waiting.status.success(),
        "{}",
        String::from_utf8_lossy(&waiting.stderr)
    );
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert_eq!(issue_count(&db), 60);
}

#[tokio::test]
async fn a_database_path_is_a_sqlite_sink() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    // `--to mydata.db` is the database it names, not a directory of that name, and a later
    // `--to sqlite:mydata.db` is the same sink.
    let db_name = env.dir.path().join("mydata.db");
    let plain = env
        .run(&settled("project = APO", db_name.to_str().unwrap(), &[]))
        .await;
    plain.code(0);
    assert!(db_name.is_file(), "a SQLite file, not a directory");
    assert_eq!(issue_count(&db_name), 60);
    let prefixed = format!("sqlite:{}", db_name.display());
    env.run(&settled("project = APO", &prefixed, &["--json"]))
        .await
        .code(0);
    // It is at this version's schema: `sync migrate` has nothing to do.
    let migrate = env.run(&["sync", "migrate", "--to", &prefixed]).await;
    migrate.code(0);
    assert!(
        migrate.stderr.contains("schema version 2 already"),
        "{}",
        migrate.stderr
    );
    // A bare name that is neither a directory nor a database file is refused with the
    // choices, and nothing is created.
    let bare = env.dir.path().join("mydata");
    let refused = env
        .run(&[
            "sync",
            "--jql",
            "project = APO",
            "--to",
            bare.to_str().unwrap(),
        ])
        .await;
    refused.code(2);
    let line = refused.error_line();
    assert!(
        line.contains("mydata/") && line.contains("mydata.db"),
        "{}",
        refused.stderr
    );
    assert!(!bare.exists());
    let missing = env
        .run(&["sync", "migrate", "--to", "sqlite:/nonexistent/x.db"])
        .await;
    // A path whose directory is missing is the input's error, named before anything opens.
    missing.code(2);
    assert!(
        missing.error_line().contains("does not exist"),
        "{}",
        missing.stderr
    );
}

/// `sync status`: each query's runs, mark and census, the issues it holds, from the sink
/// alone (no site, no credentials), in SQLite and in JSON Lines alike.
#[tokio::test]
async fn sync_status_says_what_a_sink_holds_and_what_its_runs_did() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    let db = env.dir.path().join("status.db");
    let files = env.dir.path().join("status-files");
    for to in [
        format!("sqlite:{}", db.display()),
        format!("{}/", files.display()),
    ] {
        for jql in ["project = APO", "project = APO", "project = BEA"] {
            env.run(&settled(jql, &to, &[])).await.code(0);
        }
        let mut offline = Env::new();
        offline.set("JIRA_SITE_URL", "http://127.0.0.1:9");
        let before = sim.stats().requests;
        let status = offline
            .run(&["sync", "status", "--to", &to, "--json"])
            .await;
        status.code(0);
        assert_eq!(sim.stats().requests, before, "status sends nothing");
        let report: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
        assert_eq!(report["counts"]["issues"], 120, "{report}");
        assert!(report["in_use_by"].is_null(), "{report}");
        let queries = report["queries"].as_array().unwrap();
        assert_eq!(queries.len(), 2, "{report}");
        let apo = queries
            .iter()
            .find(|q| q["jql"] == "project = APO")
            .unwrap();
        assert_eq!(apo["runs"], 2, "{apo}");
        let runs = apo["last_runs"].as_array().unwrap();
        assert_eq!(runs.len(), 2, "{apo}");
        assert_eq!(runs[0]["issues_written"], 60, "{apo}");
        assert_eq!(runs[1]["issues_written"], 0, "{apo}");
        assert!(runs[0]["requests"].as_u64().unwrap() > 0, "{apo}");
        assert!(
            apo["mark"].as_str().is_some() && apo["census"].as_str().is_some(),
            "{apo}"
        );
        let text = offline.run(&["sync", "status", "--to", &to]).await;
        text.code(0);
        assert!(text.stdout.contains("120 issues live"), "{}", text.stdout);
        assert!(
            text.stdout.contains("query \"project = BEA\""),
            "{}",
            text.stdout
        );
    }
    // A site without the worklog feed: the sync says so and completes, the status tells.
    sim.set_faults(jira_sim::FaultConfig {
        rules: vec![
            jira_sim::FaultRule::new(jira_sim::Fault::Status { status: 404 }, 1.0)
                .on("/rest/api/3/worklog/updated"),
        ],
    });
    let to = format!("sqlite:{}", env.dir.path().join("no-feed.db").display());
    let synced = env.run(&settled("project = BEA", &to, &[])).await;
    synced.code(0);
    assert!(
        synced.stderr.contains("no worklog feed"),
        "{}",
        synced.stderr
    );
    let status = env.run(&["sync", "status", "--to", &to, "--json"]).await;
    let report: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(
        report["queries"][0]["worklogs_without_feed"], true,
        "{report}"
    );
    assert!(
        report["counts"]["worklogs"].as_u64().unwrap() > 0,
        "{report}"
    );
    let text = env.run(&["sync", "status", "--to", &to]).await;
    assert!(
        text.stdout.contains("the site has no worklog feed"),
        "{}",
        text.stdout
    );
    sim.set_faults(jira_sim::FaultConfig::default());
    let missing = env
        .run(&["sync", "status", "--to", "sqlite:/nonexistent/x.db"])
        .await;
    missing.code(2);
    assert!(
        missing.stderr.contains("does not exist"),
        "{}",
        missing.stderr
    );
}

/// `sync compact`: a JSON Lines sink with superseded lines (as an older jira-ops left
/// them) rewritten to one line per row; a database and a compact sink have nothing to
/// do; a directory that is no sink is refused.
#[tokio::test]
async fn sync_compact_leaves_one_line_per_entity() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    let dir = env.dir.path().join("export");
    let to = format!("{}/", dir.display());
    env.run(&settled("project = APO", &to, &[])).await.code(0);
    let nothing = env.run(&["sync", "compact", "--to", &to]).await;
    nothing.code(0);
    assert!(
        nothing.stderr.contains("nothing to compact"),
        "{}",
        nothing.stderr
    );

    // A superseded line, committed: the first issue's line again.
    let issues = dir.join("issues.jsonl");
    let first = std::fs::read_to_string(&issues)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_owned();
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&issues)
        .unwrap();
    std::io::Write::write_all(&mut file, format!("{first}\n").as_bytes()).unwrap();
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let committed = manifest["bytes"]["issues.jsonl"].as_u64().unwrap();
    manifest["bytes"]["issues.jsonl"] = (committed + first.len() as u64 + 1).into();
    std::fs::write(dir.join("manifest.json"), manifest.to_string()).unwrap();
    assert_eq!(
        std::fs::read_to_string(&issues).unwrap().lines().count(),
        61
    );

    let compacted = env.run(&["sync", "compact", "--to", &to]).await;
    compacted.code(0);
    assert!(
        compacted.stderr.contains("compacted"),
        "{}",
        compacted.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&issues).unwrap().lines().count(),
        60
    );
    let status = env.run(&["sync", "status", "--to", &to, "--json"]).await;
    status.code(0);
    assert_eq!(status.json()["counts"]["issues"], 60);
    // At this layout already: `sync migrate` has nothing to do.
    let migrate = env.run(&["sync", "migrate", "--to", &to]).await;
    migrate.code(0);
    assert!(
        migrate.stderr.contains("JSON Lines format 2 already"),
        "{}",
        migrate.stderr
    );

    let db = env.dir.path().join("c.db");
    let database = env
        .run(&["sync", "compact", "--to", db.to_str().unwrap()])
        .await;
    database.code(0);
    assert!(
        database.stderr.contains("is a database"),
        "{}",
        database.stderr
    );
    let empty = env.dir.path().join("empty/");
    std::fs::create_dir_all(&empty).unwrap();
    env.run(&["sync", "compact", "--to", empty.to_str().unwrap()])
        .await
        .code(2);
}
