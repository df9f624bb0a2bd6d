//! The API token appears in no output of any command at any verbosity, and in no cache file.

use base64::Engine;

use crate::{EMAIL, Env, TOKEN, files_under, sim};

#[tokio::test]
async fn the_token_never_leaks() {
    let sim = sim().await;
    let mut env = Env::for_sim(&sim);
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{EMAIL}:{TOKEN}"));
    let new_issue = env.dir.path().join("new.jsonl");
    std::fs::write(
        &new_issue,
        r#"{"fields": {"project": {"key": "APO"}, "issuetype": {"name": "Task"}, "summary": "s"}}"#,
    )
    .unwrap();
    let new_issue = new_issue.display().to_string();
    let commands: Vec<Vec<&str>> = vec![
        vec!["health"],
        vec!["health", "--json"],
        vec!["diagnose", "--json"],
        vec!["cache", "warm", "--fields", "--projects"],
        vec!["cache", "status", "--json"],
        vec!["fetch", "APO-1", "APO-2", "NOPE-1"],
        vec!["search", "project = APO", "--limit", "3"],
        vec!["search", "project = = APO"],
        vec!["create", "--from-file", &new_issue],
        vec!["config", "show"],
        vec!["config", "show", "--json"],
        vec!["config", "check"],
    ];
    let mut outputs = Vec::new();
    for verbosity in [None, Some("-v"), Some("-vv"), Some("-vvv")] {
        for format in ["text", "json"] {
            for command in &commands {
                let mut args: Vec<&str> = verbosity.into_iter().collect();
                args.extend(["--log-format", format]);
                args.extend(command.iter().copied());
                let run = env.run(&args).await;
                outputs.push((args.join(" "), run.stdout, run.stderr));
            }
        }
    }
    // Everything on, libraries included.
    env.set("RUST_LOG", "trace");
    for command in &commands {
        let run = env.run(command).await;
        outputs.push((
            format!("RUST_LOG=trace {}", command.join(" ")),
            run.stdout,
            run.stderr,
        ));
    }
    // A wrong token is not echoed either.
    env.unset("RUST_LOG");
    env.set("JIRA_API_TOKEN", "wrong-tok-77aa91-SECRET");
    for command in [&["-vvv", "health"][..], &["-vvv", "config", "check"][..]] {
        let run = env.run(command).await;
        assert!(
            !run.stdout.contains("wrong-tok-77aa91") && !run.stderr.contains("wrong-tok-77aa91")
        );
    }

    let mut logged = 0;
    for (command, stdout, stderr) in &outputs {
        for (name, text) in [("stdout", stdout), ("stderr", stderr)] {
            assert!(
                !text.contains(TOKEN),
                "the token is in the {name} of `jira-ops {command}`"
            );
            assert!(
                !text.contains(&basic),
                "the Basic credentials are in the {name} of `jira-ops {command}`"
            );
        }
        logged += stderr.lines().count();
    }
    assert!(
        logged > 1000,
        "verbose runs log something to search: {logged} lines"
    );

    let files = files_under(env.dir.path());
    assert!(
        files.iter().any(|f| f.starts_with(env.cache_dir())),
        "a cache was written"
    );
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        for secret in [TOKEN.as_bytes(), basic.as_bytes()] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret),
                "a secret is in {}",
                file.display()
            );
        }
    }
}
