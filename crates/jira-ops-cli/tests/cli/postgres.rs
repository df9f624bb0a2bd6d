//! `jira-ops sync --to postgres://...` against a real PostgreSQL server (initdb into a
//! temporary directory): the password from `PGPASSWORD` or the URL, never shown; a sync
//! killed with SIGKILL and run again equals a fresh one; `sync status` reads it.

use jira_ops_tests::postgres::{PASSWORD, PostgresServer, off_runtime};

use crate::{Env, sim_with};

fn refs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

fn issues(server: &PostgresServer, database: &str) -> i64 {
    off_runtime(|| {
        server
            .client(database)
            .query_one("SELECT COUNT(*) FROM issues", &[])
            .map_or(0, |row| row.get(0))
    })
}

#[cfg(unix)]
#[tokio::test]
async fn a_postgres_sync_killed_mid_run_then_run_again_equals_a_fresh_one() {
    let sim = sim_with(2, 120, jira_sim::LimitConfig::off()).await;
    let server = PostgresServer::start();
    server.create_database("fresh");
    server.create_database("killed");
    let mut env = Env::for_sim(&sim);
    env.set("PGPASSWORD", PASSWORD);
    let sync = |database: &str| {
        vec![
            "sync".to_owned(),
            "--jql".to_owned(),
            "project in (APO, BEA)".to_owned(),
            "--to".to_owned(),
            server.url(database),
            "--settle-secs".to_owned(),
            "0".to_owned(),
            "--strategy".to_owned(),
            "pages".to_owned(),
        ]
    };

    let fresh_args = sync("fresh");
    let fresh = env.run(&refs(&fresh_args)).await;
    fresh.code(0);
    assert!(!fresh.stdout.contains(PASSWORD) && !fresh.stderr.contains(PASSWORD));
    assert_eq!(issues(&server, "fresh"), 240);

    // Slow answers (the worklog feed, which comes after the issues, slowest), and SIGKILL
    // once some pages are committed.
    let mut faults = crate::latency(4_000, "/rest/api/3/worklog/updated");
    faults.rules.extend(crate::latency(150, "").rules);
    sim.set_faults(faults);
    let killed_args = sync("killed");
    let mut child = env.command(&refs(&killed_args)).spawn().unwrap();
    let mut held = 0;
    for _ in 0..400 {
        held = issues(&server, "killed");
        if held > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    child.start_kill().unwrap();
    let status = child.wait().await.unwrap();
    assert!(!status.success(), "killed mid-run");
    assert!(held > 0, "killed once something was committed");
    // ... and before the run ended (its state counts no run that ended).
    let runs: i64 = off_runtime(|| {
        server
            .client("killed")
            .query_one("SELECT (json->>'runs')::bigint FROM sync_state", &[])
            .unwrap()
            .get(0)
    });
    assert_eq!(runs, 0, "the sync was killed mid-run");
    sim.set_faults(jira_sim::FaultConfig::default());

    let again = env.run(&refs(&killed_args)).await;
    again.code(0);
    assert_eq!(
        server.sync_contents("killed"),
        server.sync_contents("fresh")
    );

    // The status reads it; a URL with the password in it works and never shows it.
    let with_password = server.url_with_password("killed");
    let status = env
        .run(&["sync", "status", "--to", &with_password, "--json"])
        .await;
    status.code(0);
    assert!(!status.stdout.contains(PASSWORD) && !status.stderr.contains(PASSWORD));
    let report: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(report["kind"], "postgres", "{report}");
    assert_eq!(report["counts"]["issues"], 240, "{report}");
    assert_eq!(report["format"], 2, "{report}");
    assert_eq!(report["queries"][0]["runs"], 1, "{report}");

    // A wrong password: exit 1, the server's reason, the URL without the password.
    let mut wrong = Env::for_sim(&sim);
    wrong.set("PGPASSWORD", "not-the-password");
    let refused = wrong.run(&refs(&sync("fresh"))).await;
    refused.code(1);
    assert!(
        refused
            .error_line()
            .contains("password authentication failed")
            && refused.error_line().contains(&server.url("fresh")),
        "{}",
        refused.stderr
    );
    // The password from a password file (libpq's format), as PGPASSFILE names it.
    let pgpass = env.dir.path().join("pgpass");
    std::fs::write(
        &pgpass,
        format!(
            "# host:port:database:user:password\n127.0.0.1:{}:*:jira:{PASSWORD}\n",
            server.port
        ),
    )
    .unwrap();
    let mut from_file = Env::for_sim(&sim);
    from_file.set("PGPASSFILE", pgpass.display());
    let read = from_file
        .run(&["sync", "status", "--to", &server.url("killed"), "--json"])
        .await;
    read.code(0);
    assert_eq!(read.json()["counts"]["issues"], 240);
    let shown_url = format!(
        "postgres://jira:not-{PASSWORD}@127.0.0.1:{}/fresh",
        server.port
    );
    let refused = env.run(&["sync", "status", "--to", &shown_url]).await;
    refused.code(2);
    assert!(!refused.stderr.contains(PASSWORD), "{}", refused.stderr);
}
