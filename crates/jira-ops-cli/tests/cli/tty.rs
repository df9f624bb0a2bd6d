//! On a terminal, `cache clear` asks before deleting; `script` gives the binary one.

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
