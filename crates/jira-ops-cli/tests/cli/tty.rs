//! On a terminal (`script` gives the binary one): `cache clear` asks before deleting,
//! tables fit the width, progress speaks from the start.

use tokio::io::AsyncWriteExt;

use crate::{Env, sim};

/// Runs `jira-ops ARGS` under `script` (a pseudo-terminal), feeding it `answer`.
async fn on_a_terminal(env: &Env, args: &str, answer: &str) -> (i32, String) {
    let command = format!("{} {args}", env!("CARGO_BIN_EXE_jira-ops"));
    let mut child = tokio::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_clear()
        .envs(&env.vars)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("`script` (util-linux) runs");
    // The answer goes in at once; stdin stays open until the program has exited.
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(answer.as_bytes()).await.unwrap();
    let output = tokio::time::timeout(std::time::Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("the program ends")
        .unwrap();
    drop(stdin);
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[tokio::test]
async fn clear_asks_on_a_terminal_and_does_what_it_is_told() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    env.run(&["fetch", "APO-1", "APO-2", "APO-3"]).await.code(0);

    let (code, screen) =
        on_a_terminal(&env, "cache clear --category issue --key APO-1", "n\n").await;
    assert_eq!(code, 1, "{screen}");
    assert!(screen.contains("Remove 1 entries"), "{screen}");
    assert!(screen.contains("nothing removed"), "{screen}");

    let (code, screen) = on_a_terminal(
        &env,
        "cache clear --category issue --pattern 'APO-*'",
        "y\n",
    )
    .await;
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("removed 3 entries"), "{screen}");
    let status = env.run(&["cache", "status", "--json"]).await.json();
    assert_eq!(status["categories"]["issue"]["entries"], 0);
}

/// Runs `jira-ops ARGS` on a pseudo-terminal `cols` columns wide; its exit code and what
/// the terminal received (stdout and stderr both).
async fn on_a_terminal_of(env: &Env, args: &str, cols: u16) -> (i32, String) {
    let command = format!(
        "stty cols {cols} rows 50; exec {} {args}",
        env!("CARGO_BIN_EXE_jira-ops")
    );
    let output = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        tokio::process::Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .env_clear()
            .envs(&env.vars)
            .env("TERM", "xterm")
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the program ends")
    .expect("`script` (util-linux) runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

/// On a 70-column terminal each issue is one line of the table, a cell too wide for its
/// column cut with `…`, as `gh` does, instead of wrapping into several lines.
#[tokio::test]
async fn a_narrow_terminal_gets_one_line_per_issue() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    let (code, screen) = on_a_terminal_of(
        &env,
        "fetch APO-1 APO-2 APO-3 --fields summary,status,assignee,reporter,priority,created",
        70,
    )
    .await;
    assert_eq!(code, 0, "{screen}");
    let rows: Vec<&str> = screen.lines().filter(|l| l.contains("APO-")).collect();
    assert_eq!(rows.len(), 3, "{screen}");
    for row in &rows {
        assert!(row.trim_end().chars().count() <= 70, "{row}");
    }
    assert!(screen.contains('…'), "{screen}");
    // A pipe gets every cell whole.
    let piped = env
        .run(&[
            "fetch",
            "APO-1",
            "--format",
            "table",
            "--fields",
            "summary,status,assignee,reporter,priority,created",
        ])
        .await;
    assert!(!piped.stdout.contains('…'), "{}", piped.stdout);
}

/// A sync's progress on a terminal says what it does from the start (measuring, the first
/// pages, the requests so far), not a bare 0 until the first commit.
#[tokio::test]
async fn sync_progress_speaks_before_the_first_commit() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    let db = env.dir.path().join("tty.db");
    let (code, screen) = on_a_terminal_of(
        &env,
        &format!("sync --jql 'project = APO' --to sqlite:{}", db.display()),
        120,
    )
    .await;
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("measuring the site"), "{screen}");
    assert!(screen.contains("requests so far"), "{screen}");
    assert!(screen.contains("synced 60 issues"), "{screen}");
}
