//! Every command's summary says the points jira-sim charged for its run (within 2%):
//! the client and the server count by one rule, `jira_model::points`.

use crate::{Env, sim};

/// The points of a run's summary: in its `--json` document (stdout), or in the JSON line
/// `--log-format json` makes of it (stderr).
fn summary_points(run: &crate::Run) -> u64 {
    run.stdout
        .lines()
        .chain(run.stderr.lines())
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find_map(|line| line["summary"]["points"].as_u64())
        .unwrap_or_else(|| panic!("no summary:\n{}\n{}", run.stdout, run.stderr))
}

/// Runs `args` with a fresh sandbox against `sim`, returning (the summary's points, the
/// points jira-sim counted meanwhile).
async fn points_of(sim: &jira_sim::SimHandle, env: &Env, args: &[&str]) -> (u64, u64) {
    let before = sim.stats().points_spent;
    let mut all = vec!["--log-format", "json"];
    all.extend_from_slice(args);
    let run = env.run(&all).await;
    run.code(0);
    (summary_points(&run), sim.stats().points_spent - before)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_reports_the_points_the_server_charged() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    let dir = env.dir.path().to_owned();
    let changes = dir.join("changes.jsonl");
    std::fs::write(
        &changes,
        concat!(
            r#"{"op": "comment", "issue": "APO-1", "body": "Checked"}"#,
            "\n",
            r#"{"op": "label", "issue": "APO-2", "add": ["triaged"]}"#,
            "\n"
        ),
    )
    .unwrap();
    let creates = dir.join("creates.jsonl");
    std::fs::write(
        &creates,
        r#"{"fields": {"project": {"key": "APO"}, "issuetype": {"name": "Task"}, "summary": "new"}}"#
            .to_owned()
            + "\n",
    )
    .unwrap();
    let export = format!("jsonl:{}", dir.join("export").display());
    let runs: Vec<Vec<&str>> = vec![
        vec!["health"],
        vec!["cache", "warm", "--json"],
        vec![
            "fetch", "APO-1", "APO-2", "APO-3", "--fresh", "--format", "jsonl",
        ],
        vec!["fetch", "APO-4", "--fields", "summary", "--format", "jsonl"],
        vec![
            "search",
            "project = APO",
            "--limit",
            "3",
            "--format",
            "jsonl",
        ],
        vec!["search", "project = BEA", "--format", "jsonl"],
        vec!["sync", "--jql", "project = BEA", "--to", &export, "--json"],
        vec!["sync", "--jql", "project = BEA", "--to", &export, "--json"],
        vec!["apply", "--from-file", changes.to_str().unwrap()],
        vec!["create", "--from-file", creates.to_str().unwrap()],
    ];
    for args in &runs {
        let (said, charged) = points_of(&sim, &env, args).await;
        assert!(charged > 0, "{args:?} cost something");
        let ratio = said as f64 / charged as f64;
        assert!(
            (0.98..=1.02).contains(&ratio),
            "{args:?}: the summary says {said} points, jira-sim charged {charged}"
        );
    }

    // A search asks no more than its limit: 110 of 120 issues are a page of 100 and one
    // of 10, not two of 100.
    let before = sim.stats().points_spent;
    let run = env
        .run(&[
            "search",
            "project in (APO, BEA)",
            "--limit",
            "110",
            "--format",
            "jsonl",
        ])
        .await;
    run.code(0);
    assert_eq!(run.stdout.lines().count(), 110);
    assert_eq!(sim.stats().points_spent - before, 101 + 11);
}
