//! The built `jira-ops` binary against jira-sim over real HTTP: every command's happy path,
//! its JSON shape, its exit codes and its bad input. One test binary, one module per area.

mod apply;
mod cache;
mod config;
mod demo;
mod export;
mod formats;
mod fresh;
mod health;
mod help;
mod otel;
mod points;
mod polish;
mod postgres;
mod proxy;
mod revert;
mod safety;
mod secrets;
mod shared;
mod sync;
mod tty;
mod walkthrough;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use jira_sim::{Credential, LimitConfig, Secret, SimConfig, SimHandle};
use tokio::io::AsyncWriteExt;

/// A token distinctive enough to grep for.
pub const TOKEN: &str = "tok-3f9c71e2-SECRET-a8d4";
/// The simulator's email.
pub const EMAIL: &str = "ops@example.com";

/// Every answer to a path matching `on` (every answer, for `""`) delayed by `ms`.
pub fn latency(ms: u64, on: &str) -> jira_sim::FaultConfig {
    let rule = jira_sim::FaultRule::new(
        jira_sim::Fault::Latency {
            fixed_ms: ms,
            jitter_ms: 0,
        },
        1.0,
    );
    jira_sim::FaultConfig {
        rules: vec![if on.is_empty() { rule } else { rule.on(on) }],
    }
}

/// A small simulator that accepts [`EMAIL`] / [`TOKEN`], without limits.
pub async fn sim() -> SimHandle {
    sim_with(2, 60, LimitConfig::off()).await
}

/// A simulator of this size and limits.
pub async fn sim_with(projects: usize, issues: usize, limits: LimitConfig) -> SimHandle {
    SimHandle::start(SimConfig {
        projects,
        issues_per_project: issues,
        limits,
        credentials: vec![Credential {
            email: EMAIL.into(),
            api_token: Secret::new(TOKEN),
        }],
        ..SimConfig::default()
    })
    .await
    .expect("jira-sim starts")
}

/// A sandbox: its own HOME, config and cache directories, and an environment that holds
/// nothing of the machine's but PATH.
pub struct Env {
    /// HOME, holding `config/` and `cache/`.
    pub dir: tempfile::TempDir,
    /// The whole environment of the runs.
    pub vars: HashMap<String, String>,
}

impl Default for Env {
    fn default() -> Self {
        Env::new()
    }
}

impl Env {
    /// An empty sandbox.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut vars = HashMap::new();
        vars.insert("HOME".into(), dir.path().display().to_string());
        vars.insert(
            "XDG_CONFIG_HOME".into(),
            dir.path().join("config").display().to_string(),
        );
        vars.insert(
            "XDG_CACHE_HOME".into(),
            dir.path().join("cache").display().to_string(),
        );
        if let Ok(path) = std::env::var("PATH") {
            vars.insert("PATH".into(), path);
        }
        // A lost create is looked for until search has settled: the tests' simulators
        // lag by at most 2 s, not Jira's 30.
        vars.insert("JIRA_OPS_SEARCH_SETTLE_SECS".into(), "3".into());
        Env { dir, vars }
    }

    /// A sandbox pointed at `sim` through the environment, as a user would set it up.
    pub fn for_sim(sim: &SimHandle) -> Self {
        let mut env = Env::new();
        env.set("JIRA_SITE_URL", sim.base_url());
        env.set("JIRA_EMAIL", EMAIL);
        env.set("JIRA_API_TOKEN", TOKEN);
        env
    }

    /// Sets a variable.
    pub fn set(&mut self, name: &str, value: impl ToString) -> &mut Self {
        self.vars.insert(name.into(), value.to_string());
        self
    }

    /// Removes a variable.
    pub fn unset(&mut self, name: &str) -> &mut Self {
        self.vars.remove(name);
        self
    }

    /// The config file path the binary uses by default.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config/jira-ops/config.toml")
    }

    /// The default cache directory.
    pub fn cache_dir(&self) -> PathBuf {
        self.dir.path().join("cache/jira-ops/cache")
    }

    /// Runs the binary with the words of `line` (split on spaces; no quoting) as arguments.
    pub async fn run_line(&self, line: &str) -> Run {
        let args: Vec<&str> = line.split_whitespace().collect();
        self.run(&args).await
    }

    /// Starts `jira-ops sim serve ARGS` (with `--port 0`) in this sandbox: the child, and
    /// the banner line it printed (ending with the URL it serves).
    pub async fn serve_sim(&self, args: &[&str]) -> (tokio::process::Child, String, String) {
        use tokio::io::AsyncBufReadExt as _;
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_jira-ops"))
            .args(["sim", "serve", "--port", "0"])
            .args(args)
            .env_clear()
            .envs(&self.vars)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("jira-ops sim serve starts");
        let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next_line().await.unwrap().unwrap_or_default();
        let url = first.rsplit(' ').next().unwrap_or_default().to_owned();
        // The banner's second line names the credentials.
        let second = lines.next_line().await.unwrap().unwrap_or_default();
        (child, format!("{first}\n{second}"), url)
    }

    /// Runs the binary with `args`.
    pub async fn run(&self, args: &[&str]) -> Run {
        self.run_with_stdin(args, None).await
    }

    /// Runs the binary with `args` and `stdin`.
    pub async fn run_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let mut command = self.command(args);
        if stdin.is_some() {
            command.stdin(Stdio::piped());
        }
        let mut child = command.spawn().expect("jira-ops runs");
        if let Some(text) = stdin {
            let mut pipe = child.stdin.take().unwrap();
            pipe.write_all(text.as_bytes()).await.unwrap();
            drop(pipe);
        }
        let output = tokio::time::timeout(
            std::time::Duration::from_secs(120),
            child.wait_with_output(),
        )
        .await
        .expect("jira-ops finishes within two minutes")
        .unwrap();
        Run::from(output, args)
    }
}

impl Env {
    /// The binary with `args`, in this sandbox, its output piped (to spawn and watch).
    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_jira-ops"));
        command
            .args(args)
            .env_clear()
            .envs(&self.vars)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    /// Runs the binary with `args` and sends it `SIG{signal}` (`INT`, `TERM`) after `after`.
    #[cfg(unix)]
    pub async fn run_interrupted(
        &self,
        args: &[&str],
        after: std::time::Duration,
        signal: &str,
    ) -> Run {
        let child = self.command(args).spawn().expect("jira-ops runs");
        let pid = child.id().expect("a running child").to_string();
        tokio::time::sleep(after).await;
        let status = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal} {pid}");
        let output =
            tokio::time::timeout(std::time::Duration::from_secs(60), child.wait_with_output())
                .await
                .expect("jira-ops stops within a minute of the signal")
                .unwrap();
        Run::from(output, args)
    }

    /// Runs the binary with `args`, reads one line of its stdout and closes it (as
    /// `| head -1` does).
    pub async fn run_reading_first_line(&self, args: &[&str]) -> Run {
        use tokio::io::AsyncBufReadExt as _;
        let mut child = self.command(args).spawn().expect("jira-ops runs");
        let stdout = child.stdout.take().unwrap();
        let mut first = String::new();
        tokio::io::BufReader::new(stdout)
            .read_line(&mut first)
            .await
            .unwrap();
        // The reader is dropped here: the pipe is closed.
        let output =
            tokio::time::timeout(std::time::Duration::from_secs(60), child.wait_with_output())
                .await
                .expect("jira-ops ends once its reader is gone")
                .unwrap();
        let mut run = Run::from(output, args);
        run.stdout = first;
        run
    }
}

/// What one run printed and how it ended.
pub struct Run {
    /// The arguments, for messages.
    pub args: String,
    /// The exit code (-1 when killed by a signal).
    pub code: i32,
    /// Everything on stdout.
    pub stdout: String,
    /// Everything on stderr.
    pub stderr: String,
}

impl Run {
    fn from(output: Output, args: &[&str]) -> Self {
        Run {
            args: args.join(" "),
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Asserts the exit code, showing the output when it differs.
    #[track_caller]
    pub fn code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.code, expected,
            "jira-ops {} exited {}\nstdout:\n{}\nstderr:\n{}",
            self.args, self.code, self.stdout, self.stderr
        );
        self
    }

    /// stdout as one JSON value.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "jira-ops {}: stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.args, self.stdout, self.stderr
            )
        })
    }

    /// stdout as JSON Lines.
    #[track_caller]
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON line"))
            .collect()
    }

    /// The error line: stderr's line that starts with `jira-ops: error:`, asserted to be
    /// the only one and a single line.
    #[track_caller]
    pub fn error_line(&self) -> &str {
        let errors: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| l.starts_with("jira-ops: error:"))
            .collect();
        assert_eq!(errors.len(), 1, "one error line expected:\n{}", self.stderr);
        errors[0]
    }
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}
