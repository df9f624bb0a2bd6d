//! The help texts: command options first, the global ones under their own heading and
//! only where they apply, examples everywhere, `sim serve` with the simulator's flags.

use crate::Env;

/// Every command and subcommand, as its words.
const COMMANDS: &[&[&str]] = &[
    &["demo"],
    &["health"],
    &["diagnose"],
    &["cache"],
    &["cache", "status"],
    &["cache", "warm"],
    &["cache", "clear"],
    &["fetch"],
    &["search"],
    &["create"],
    &["apply"],
    &["journal"],
    &["journal", "list"],
    &["journal", "show"],
    &["journal", "forget"],
    &["sync"],
    &["sync", "status"],
    &["proxy"],
    &["sim"],
    &["sim", "serve"],
    &["config"],
    &["config", "init"],
    &["config", "show"],
    &["config", "check"],
    &["completions"],
    &["man"],
];

/// The long flags a help text lists under `heading` (up to the next heading).
fn flags_under(help: &str, heading: &str) -> Vec<String> {
    let mut inside = false;
    let mut flags = Vec::new();
    for line in help.lines() {
        if !line.starts_with(' ') && line.ends_with(':') {
            inside = line == heading;
            continue;
        }
        if inside && let Some(at) = line.find("--") {
            let flag: String = line[at..]
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != '=')
                .collect();
            if line[..at].trim().trim_end_matches(',').len() <= 2 {
                flags.push(flag);
            }
        }
    }
    flags
}

async fn help(env: &Env, words: &[&str]) -> String {
    let mut args = words.to_vec();
    args.push("--help");
    let run = env.run(&args).await;
    run.code(0);
    run.stdout.clone()
}

#[tokio::test]
async fn every_command_has_examples_and_its_own_options_before_the_global_ones() {
    let env = Env::new();
    for words in COMMANDS {
        let text = help(&env, words).await;
        assert!(text.contains("Examples:\n  jira-ops"), "{words:?}:\n{text}");
        let own = text.find("\nOptions:\n");
        let global = text.find("\nGlobal options:\n");
        if let (Some(own), Some(global)) = (own, global) {
            assert!(own < global, "{words:?}:\n{text}");
        }
    }
    let top = help(&env, &[]).await;
    assert!(top.contains("Exit codes:") && top.contains("Configuration: flags > environment"));

    // A command's own flags are not mixed into the global heading.
    let warm = help(&env, &["cache", "warm"]).await;
    let own = flags_under(&warm, "Options:");
    let global = flags_under(&warm, "Global options:");
    assert!(own.contains(&"--fields".to_owned()) && own.contains(&"--projects".to_owned()));
    assert!(global.contains(&"--profile".to_owned()) && global.contains(&"--max-wait".to_owned()));
    assert!(!global.contains(&"--fields".to_owned()), "{global:?}");

    // Only the flags that apply: the demo makes its own site and cache.
    let demo = flags_under(&help(&env, &["demo"]).await, "Global options:");
    for unused in [
        "--site",
        "--email",
        "--cache-dir",
        "--no-cache",
        "--profile",
    ] {
        assert!(!demo.contains(&unused.to_owned()), "demo lists {unused}");
    }
    assert!(demo.contains(&"--concurrency".to_owned()));
    let status = flags_under(&help(&env, &["cache", "status"]).await, "Global options:");
    assert!(!status.contains(&"--concurrency".to_owned()), "{status:?}");
    assert!(status.contains(&"--cache-dir".to_owned()), "{status:?}");
}

#[tokio::test]
async fn sim_serve_lists_the_simulators_flags_only() {
    let env = Env::new();
    let text = help(&env, &["sim", "serve"]).await;
    let all: Vec<String> = flags_under(&text, "Options:")
        .into_iter()
        .chain(flags_under(&text, "Global options:"))
        .collect();
    for client in [
        "--cache-dir",
        "--no-cache",
        "--concurrency",
        "--rate-limit-store",
        "--site",
        "--timeout",
        "--profile",
    ] {
        assert!(
            !all.contains(&client.to_owned()),
            "sim serve lists {client}:\n{text}"
        );
    }
    assert_eq!(all.iter().filter(|f| *f == "--email").count(), 1, "{all:?}");
    assert!(all.contains(&"--latency-ms".to_owned()), "{all:?}");
    assert!(text.contains("jira-ops sim serve --port"), "{text}");
    assert!(!text.contains("jira-sim --port"), "{text}");
}

/// `cache warm --help` as a new user reads it; `UPDATE_SNAPSHOTS=1` rewrites the file.
#[tokio::test]
async fn the_help_layout_matches_its_snapshot() {
    let env = Env::new();
    // The cache directory's default is under this test's own XDG_CACHE_HOME.
    let text = help(&env, &["cache", "warm"])
        .await
        .replace(&env.dir.path().display().to_string(), "$DIR");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cli/snapshots/cache-warm-help.txt");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_SNAPSHOTS=1 writes it)", path.display()));
    assert_eq!(
        text, expected,
        "the help changed; UPDATE_SNAPSHOTS=1 rewrites the snapshot"
    );
}

/// `--version` names the build: the package version, the commit and its date.
#[tokio::test]
async fn the_version_names_the_commit_and_its_date() {
    let run = Env::new().run(&["--version"]).await;
    run.code(0);
    let line = run.stdout.trim();
    let inner = line
        .strip_prefix(&format!("jira-ops {} (", env!("CARGO_PKG_VERSION")))
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{line}"));
    let (commit, date) = inner.split_once(' ').unwrap_or_else(|| panic!("{line}"));
    let commit = commit.trim_end_matches("-modified");
    assert!(
        commit == "unknown"
            || (commit.len() == 12 && commit.chars().all(|c| c.is_ascii_hexdigit())),
        "{line}"
    );
    assert!(
        date == "unknown" || (date.len() == 10 && date.as_bytes()[4] == b'-'),
        "{line}"
    );
}

/// `jira-ops man` renders the clap tree as roff: the whole command on stdout, every
/// command's page with `--dir` (what `cargo xtask man` runs), each with its own options.
#[tokio::test]
async fn man_pages_are_made_from_the_command_line() {
    let env = Env::new();
    let run = env.run(&["man"]).await;
    run.code(0);
    assert!(run.stdout.contains(".TH JIRA-OPS 1"), "{}", run.stdout);
    assert!(run.stdout.contains("sync"), "{}", run.stdout);
    let dir = env.dir.path().join("man1");
    env.run(&["man", "--dir", dir.to_str().unwrap()])
        .await
        .code(0);
    for words in COMMANDS {
        let page = dir.join(format!("jira-ops-{}.1", words.join("-")));
        let text =
            std::fs::read_to_string(&page).unwrap_or_else(|e| panic!("{}: {e}", page.display()));
        assert!(
            text.contains(&format!("jira\\-ops {}", words.join(" "))),
            "{}",
            page.display()
        );
    }
    let sync = std::fs::read_to_string(dir.join("jira-ops-sync.1")).unwrap();
    assert!(sync.contains("census\\-every"), "{sync}");
}
