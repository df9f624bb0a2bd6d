//! The walkthrough in docs/cli.md, run as written: the simulator its first terminal
//! starts (on a free port instead of 8080), then every command of its block, in order, in
//! one directory, through `sh` (pipes and redirects as a user types them). Each must exit 0.

use crate::Env;

/// The walkthrough's commands: the lines of the `sh` block between the markers.
fn walkthrough() -> Vec<String> {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/cli.md"),
    )
    .expect("docs/cli.md is in the repository");
    let start = doc
        .find("<!-- walkthrough:start -->")
        .expect("docs/cli.md marks its walkthrough");
    let end = doc
        .find("<!-- walkthrough:end -->")
        .expect("the walkthrough ends");
    doc[start..end]
        .lines()
        .filter(|l| !l.starts_with("```") && !l.starts_with("<!--") && !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_of_the_walkthrough_runs_as_written() {
    let commands = walkthrough();
    assert!(commands.len() >= 15, "{commands:?}");
    let env = Env::new();
    // The first terminal: the same command, on a free port.
    let (mut sim, banner, url) = env.serve_sim(&["--latency-ms", "20"]).await;
    assert!(url.starts_with("http://127.0.0.1:"), "{banner}");

    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_jira-ops"))
        .parent()
        .unwrap()
        .display()
        .to_string();
    let path = format!(
        "{bin}:{}",
        env.vars.get("PATH").cloned().unwrap_or_default()
    );
    let work = env.dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    // The exports, with the simulator's port; everything after them in one shell each.
    let exports: Vec<&String> = commands
        .iter()
        .filter(|c| c.starts_with("export "))
        .collect();
    assert_eq!(exports.len(), 1, "{commands:?}");
    let exports = exports[0].replace("http://127.0.0.1:8080", &url);
    for command in commands.iter().filter(|c| !c.starts_with("export ")) {
        assert!(
            command.starts_with("jira-ops ")
                || command.contains("| jira-ops ")
                || command.contains("> changes.jsonl"),
            "{command}"
        );
        let output = tokio::process::Command::new("sh")
            .args(["-c", &format!("{exports}\n{command}")])
            .env_clear()
            .envs(&env.vars)
            .env("PATH", &path)
            .current_dir(&work)
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .unwrap();
        assert!(
            output.status.success(),
            "`{command}` exited {:?}\nstdout:\n{}\nstderr:\n{}",
            output.status.code(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    // What the walkthrough says it leaves behind.
    let csv = std::fs::read_to_string(work.join("apo.csv")).unwrap();
    assert!(csv.starts_with("key,summary,status\n"), "{csv}");
    assert!(work.join("bea-export/issues.jsonl").exists());
    sim.kill().await.unwrap();
}
