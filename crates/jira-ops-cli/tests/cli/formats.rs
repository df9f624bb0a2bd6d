//! One output convention on every command: `--format json|jsonl|csv|table` (`--json` its
//! synonym) and `-o/--output FILE`, written whole or not at all.

use std::time::Duration;

use crate::{Env, sim};

/// The files in `dir` whose name starts with `.` (the temporary files `-o` writes).
fn hidden_files(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with('.'))
        .collect()
}

#[tokio::test]
async fn output_goes_to_the_file_in_the_format_its_extension_names() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    let out = env.dir.path().join("issues.csv");
    let run = env
        .run(&["fetch", "APO-1", "APO-2", "-o", out.to_str().unwrap()])
        .await;
    run.code(0);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    let csv = std::fs::read_to_string(&out).unwrap();
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().starts_with("key,"), "{csv}");
    assert_eq!(lines.count(), 2, "{csv}");

    // --json is --format json, on fetch and on reports; -o FILE.json picks JSON too.
    let json = env.run(&["fetch", "APO-1", "--json"]).await;
    json.code(0);
    let array: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(array[0]["key"], "APO-1");
    let report = env.dir.path().join("health.json");
    env.run(&["health", "--output", report.to_str().unwrap()])
        .await
        .code(0);
    let health: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert!(health["checks"].is_array(), "{health}");
    let table = env.run(&["health", "--format", "table"]).await;
    assert!(serde_json::from_str::<serde_json::Value>(&table.stdout).is_err());
    // A report is one document: CSV is refused by name.
    let csv_report = env.run(&["health", "--format", "csv"]).await;
    csv_report.code(2);
    assert!(csv_report.stderr.contains("csv"), "{}", csv_report.stderr);
    assert!(hidden_files(env.dir.path()).is_empty());

    // The short flags: -L for --limit (as gh), -f for --from-file (as kubectl).
    let limited = env
        .run(&["search", "project = APO", "-L", "2", "--format", "jsonl"])
        .await;
    limited.code(0);
    assert_eq!(limited.stdout.lines().count(), 2, "{}", limited.stdout);
}

#[tokio::test]
async fn write_results_and_journal_runs_take_every_format() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    let file = env.dir.path().join("changes.jsonl");
    std::fs::write(
        &file,
        "{\"op\": \"comment\", \"issue\": \"APO-1\", \"body\": \"one\"}\n{\"op\": \"comment\", \"issue\": \"NOPE-1\", \"body\": \"two\"}\n",
    )
    .unwrap();
    let out = env.dir.path().join("results.csv");
    let run = env
        .run(&[
            "apply",
            "-f",
            file.to_str().unwrap(),
            "--format",
            "csv",
            "-o",
            out.to_str().unwrap(),
        ])
        .await;
    run.code(1);
    let csv = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "line,op,issue,outcome,earlier,message", "{csv}");
    assert!(lines[1].starts_with("1,comment,APO-1,done,"), "{csv}");
    assert!(lines[2].starts_with("2,comment,NOPE-1,refused,"), "{csv}");

    let create = env.dir.path().join("new.jsonl");
    std::fs::write(
        &create,
        "{\"fields\": {\"project\": {\"key\": \"APO\"}, \"issuetype\": {\"name\": \"Task\"}, \"summary\": \"formats\"}}\n{\"fields\": {\"project\": {\"key\": \"NOPE\"}, \"issuetype\": {\"name\": \"Task\"}, \"summary\": \"x\"}}\n",
    )
    .unwrap();
    let created = env
        .run(&["create", "-f", create.to_str().unwrap(), "--json"])
        .await;
    created.code(1);
    let results: serde_json::Value = serde_json::from_str(&created.stdout).unwrap();
    assert_eq!(results[0]["outcome"], "created", "{results}");
    assert_eq!(results[1]["outcome"], "refused", "{results}");
    // The same key as apply's results: `message`.
    assert!(
        results[1]["message"]
            .as_str()
            .unwrap()
            .starts_with("line 2: ")
    );

    let listed = env.run(&["journal", "list", "--format", "csv"]).await;
    listed.code(0);
    assert!(
        listed
            .stdout
            .starts_with("name,job,started,last_write,finished,lines\n"),
        "{}",
        listed.stdout
    );
    assert_eq!(listed.stdout.lines().count(), 3, "{}", listed.stdout);
    let jsonl = env.run(&["journal", "list", "--format", "jsonl"]).await;
    let runs: Vec<serde_json::Value> = jsonl
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(runs.len(), 2);
    let name = runs[0]["name"].as_str().unwrap();
    let shown = env.run(&["journal", "show", name, "--format", "csv"]).await;
    shown.code(0);
    assert!(
        shown.stdout.starts_with("line,state,key,"),
        "{}",
        shown.stdout
    );
}

#[tokio::test]
async fn a_failed_run_leaves_the_file_as_it_was() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    let out = env.dir.path().join("keep.jsonl");
    std::fs::write(&out, "what was there\n").unwrap();
    let run = env
        .run(&[
            "search",
            "project = APO AND nonsense ~~ 1",
            "-o",
            out.to_str().unwrap(),
        ])
        .await;
    run.code(2);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "what was there\n");
    assert!(hidden_files(env.dir.path()).is_empty());

    let before = sim.stats().requests;
    let missing = env.dir.path().join("no/such/dir/out.jsonl");
    let refused = env
        .run(&["fetch", "APO-1", "-o", missing.to_str().unwrap()])
        .await;
    refused.code(2);
    assert!(refused.stderr.contains("mkdir -p"), "{}", refused.stderr);
    assert_eq!(
        sim.stats().requests,
        before,
        "nothing sent for a bad --output"
    );

    // A server has no output to keep: -o is refused rather than left empty.
    let server = env.dir.path().join("banner.txt");
    for words in [
        &["sim", "serve", "--port", "0"][..],
        &["proxy", "--listen", "127.0.0.1:0"][..],
    ] {
        let mut args = words.to_vec();
        args.extend(["-o", server.to_str().unwrap()]);
        let run = env.run(&args).await;
        run.code(2);
        assert!(run.stderr.contains("-o/--output"), "{}", run.stderr);
        assert!(!server.exists());
    }
}

#[cfg(unix)]
#[tokio::test]
async fn an_interrupted_run_keeps_its_output_beside_the_file() {
    let sim = crate::sim_with(1, 600, jira_sim::LimitConfig::off()).await;
    sim.set_faults(crate::latency(400, "/rest/api/3/search/jql"));
    let env = Env::for_sim(&sim);
    let out = env.dir.path().join("all.jsonl");
    let run = env
        .run_interrupted(
            &["search", "project = APO", "-o", out.to_str().unwrap()],
            Duration::from_millis(1_000),
            "INT",
        )
        .await;
    run.code(130);
    assert!(!out.exists(), "no half file under the name");
    let partial = env.dir.path().join("all.jsonl.partial");
    let kept = std::fs::read_to_string(&partial).unwrap();
    assert!(kept.lines().count() < 600, "{kept}");
    for line in kept.lines() {
        serde_json::from_str::<serde_json::Value>(line).expect("whole lines");
    }
    assert!(run.stderr.contains("all.jsonl.partial"), "{}", run.stderr);
    assert!(hidden_files(env.dir.path()).is_empty());
}
