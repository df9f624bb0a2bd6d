//! The cells that run the `jira-ops` binary: crash during `cache warm`, two processes on one
//! cache, and the token grep over everything the runs wrote.

mod apply;
mod proxy;
mod signals;
mod stores;
mod sync;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use jira_ops_tests::RedisServer;
use jira_sim::{
    Credential, Fault, FaultConfig, FaultRule, LimitConfig, Secret, SimConfig, SimHandle,
};
use rand::Rng;

use crate::report::{Figure, Scenario};

/// The lines of a run's stdout that are JSON values.
fn json_lines(output: &Output) -> usize {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
        .count()
}

/// The keys a run's stderr lists as failed: a `jira-ops: ` line naming one (warnings are
/// not failures).
fn failed_keys(stderr: &str, keys: &[String]) -> usize {
    stderr
        .lines()
        .filter(|l| l.starts_with("jira-ops: ") && !l.starts_with("jira-ops: warning"))
        .filter(|l| {
            keys.iter()
                .any(|k| l.contains(&format!("{k} ")) || l.ends_with(k.as_str()))
        })
        .count()
}

/// Runs `command` to its end, sampling its peak resident memory (`VmHWM`) every 20 ms;
/// the output and the peak in MiB.
async fn run_measuring_memory(
    mut command: tokio::process::Command,
) -> anyhow::Result<(Output, f64)> {
    let child = command.spawn()?;
    let status = format!("/proc/{}/status", child.id().unwrap_or_default());
    let output = child.wait_with_output();
    tokio::pin!(output);
    let mut peak_kib = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let output = loop {
        tokio::select! {
            output = &mut output => break output?,
            _ = tick.tick() => {
                let hwm = std::fs::read_to_string(&status).ok().and_then(|text| {
                    text.lines()
                        .find_map(|l| l.strip_prefix("VmHWM:"))
                        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                });
                peak_kib = peak_kib.max(hwm.unwrap_or(0));
            }
        }
    };
    Ok((output, peak_kib as f64 / 1024.0))
}

/// A token to grep for.
const TOKEN: &str = "soak-tok-5c1e9a-SECRET-77d0";
const EMAIL: &str = "soak@example.com";

/// A sandboxed HOME for the binary; every run's output is kept in `logs/`.
pub struct Workspace {
    cli: PathBuf,
    home: tempfile::TempDir,
    runs: AtomicUsize,
}

impl Workspace {
    /// A fresh HOME for `cli`.
    pub fn new(cli: &Path) -> anyhow::Result<Self> {
        let home = tempfile::tempdir()?;
        std::fs::create_dir_all(home.path().join("logs"))?;
        Ok(Workspace {
            cli: cli.to_path_buf(),
            home,
            runs: AtomicUsize::new(0),
        })
    }

    fn cache_dir(&self) -> PathBuf {
        self.home.path().join("cache/jira-ops/cache")
    }

    /// A command for the binary against `site`, with `extra` environment variables.
    fn command(
        &self,
        site: &str,
        args: &[&str],
        extra: &[(&str, &str)],
    ) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(&self.cli);
        command.args(args);
        self.sandbox(command, site, extra)
    }

    /// A command for the binary whose files may grow to `file_kib` KiB at most, as on a
    /// full disk: writes past it fail (`EFBIG`; `SIGXFSZ` ignored, so the process lives).
    fn command_on_full_disk(
        &self,
        site: &str,
        args: &[&str],
        extra: &[(&str, &str)],
        file_kib: u64,
    ) -> tokio::process::Command {
        let mut command = tokio::process::Command::new("sh");
        command
            .arg("-c")
            .arg(format!(
                "trap '' XFSZ; ulimit -f {file_kib}; exec \"$0\" \"$@\""
            ))
            .arg(&self.cli)
            .args(args);
        self.sandbox(command, site, extra)
    }

    /// `command` with the sandbox's environment, `extra` added, and piped output.
    fn sandbox(
        &self,
        mut command: tokio::process::Command,
        site: &str,
        extra: &[(&str, &str)],
    ) -> tokio::process::Command {
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path().join("config"))
            .env("XDG_CACHE_HOME", self.home.path().join("cache"))
            .env("JIRA_SITE_URL", site)
            .env("JIRA_EMAIL", EMAIL)
            .env("JIRA_API_TOKEN", TOKEN)
            // The cells' search lag (apply::SEARCH_LAG_MS, 3 s) and the request's own time.
            .env("JIRA_OPS_SEARCH_SETTLE_SECS", "5")
            .envs(extra.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    /// Keeps a run's output in `logs/` (for the token grep) and returns it.
    fn keep(&self, name: &str, output: Output) -> Output {
        let n = self.runs.fetch_add(1, Ordering::Relaxed);
        let base = self.home.path().join("logs").join(format!("{n:03}-{name}"));
        let _ = std::fs::write(base.with_extension("out"), &output.stdout);
        let _ = std::fs::write(base.with_extension("err"), &output.stderr);
        output
    }

    /// Runs the binary to its end.
    async fn run(&self, site: &str, name: &str, args: &[&str], extra: &[(&str, &str)]) -> Output {
        let output = self
            .command(site, args, extra)
            .output()
            .await
            .expect("jira-ops runs");
        self.keep(name, output)
    }

    /// A tenant that accepts the soak's token, slowed by `latency_ms`.
    async fn sim(&self, issues: usize, latency_ms: u64) -> SimHandle {
        SimHandle::start(SimConfig {
            projects: 5,
            issues_per_project: issues,
            limits: LimitConfig::atlassian(),
            credentials: vec![Credential {
                email: EMAIL.into(),
                api_token: Secret::new(TOKEN),
            }],
            faults: FaultConfig {
                rules: vec![FaultRule::new(
                    Fault::Latency {
                        fixed_ms: latency_ms,
                        jitter_ms: latency_ms / 2,
                    },
                    1.0,
                )],
            },
            ..SimConfig::default()
        })
        .await
        .expect("jira-sim starts")
    }

    /// A tenant without limits that answers every request after `latency_ms`.
    async fn slow_sim(&self, issues: usize, latency_ms: u64) -> SimHandle {
        let sim = self.sim(issues, latency_ms).await;
        sim.set_limits(LimitConfig::off());
        sim.set_faults(FaultConfig {
            rules: vec![FaultRule::new(
                Fault::Latency {
                    fixed_ms: latency_ms,
                    jitter_ms: 0,
                },
                1.0,
            )],
        });
        sim
    }

    /// Sends `signal` (`INT`, `KILL`) to a run of the binary after `after`; its output.
    async fn interrupted(
        &self,
        site: &str,
        name: &str,
        args: &[&str],
        extra: &[(&str, &str)],
        signal: &str,
        after: Duration,
    ) -> anyhow::Result<Output> {
        let child = self.command(site, args, extra).spawn()?;
        let pid = child.id().unwrap_or_default().to_string();
        tokio::time::sleep(after).await;
        std::process::Command::new("kill")
            .args([format!("-{signal}"), pid])
            .status()?;
        let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .map_err(|_| anyhow::anyhow!("{name}: still running a minute after SIG{signal}"))??;
        Ok(self.keep(name, output))
    }

    /// SIGKILL during `cache warm`, 20 times; every restart must open the cache and serve
    /// only intact entries.
    pub async fn crash(&self, quick: bool) -> anyhow::Result<Scenario> {
        let rounds = if quick { 5 } else { 20 };
        let sim = self.sim(400, 3).await;
        let site = sim.base_url().to_owned();
        let (mut opened, mut served, mut corrupt, mut entries) = (0, 0, 0, 0);
        let started = Instant::now();
        for round in 0..rounds {
            let mut child = self
                .command(
                    &site,
                    &["-v", "cache", "warm", "--all", "--days", "3650"],
                    &[],
                )
                .spawn()?;
            let after = rand::rng().random_range(100..900);
            tokio::time::sleep(Duration::from_millis(after)).await;
            child.start_kill()?;
            let output = child.wait_with_output().await?;
            self.keep(&format!("crash-{round}-warm"), output);
            let status = self
                .run(
                    &site,
                    &format!("crash-{round}-status"),
                    &["cache", "status", "--json"],
                    &[],
                )
                .await;
            if status.status.success() {
                opened += 1;
                let report: serde_json::Value = serde_json::from_slice(&status.stdout)?;
                corrupt = corrupt.max(report["corrupt"].as_u64().unwrap_or(0));
                entries = report["entries"].as_u64().unwrap_or(0);
            }
            // Whatever the cache holds must decode: fetch issues it may hold.
            let fetch = self
                .run(
                    &site,
                    &format!("crash-{round}-fetch"),
                    &["fetch", "APO-1", "APO-2", "BEA-3", "--format", "jsonl"],
                    &[],
                )
                .await;
            let lines = json_lines(&fetch);
            if fetch.status.success() && lines == 3 {
                served += 1;
            }
        }
        sim.shutdown().await;
        let mut scenario = Scenario::new(
            0,
            &format!(
                "Crash: SIGKILL during `jira-ops cache warm`, {rounds} times (after 100–900 ms)"
            ),
            &[
                "kills",
                "restarts that opened the cache",
                "restarts that served 3 intact issues",
                "torn entries dropped (most in one status)",
                "entries at the end",
                "wall",
            ],
        );
        scenario.row(vec![
            rounds.to_string(),
            opened.to_string(),
            served.to_string(),
            corrupt.to_string(),
            entries.to_string(),
            format!("{:.1} s", started.elapsed().as_secs_f64()),
        ]);
        scenario.figures = vec![
            Figure::exactly(
                "restarts that opened the cache",
                f64::from(opened),
                f64::from(rounds),
            ),
            Figure::exactly(
                "restarts that served intact issues",
                f64::from(served),
                f64::from(rounds),
            ),
        ];
        Ok(scenario)
    }

    /// Two processes on one sled cache (a second that can go without it does so at once,
    /// `cache status` names the holder, one that needs it waits, then says who holds it),
    /// and on one Redis store (both work).
    pub async fn contention(&self) -> anyhow::Result<Scenario> {
        // A slow tenant keeps the warm (and its hold on the cache) going for seconds.
        let sim = self.sim(200, 150).await;
        let site = sim.base_url().to_owned();
        let config_dir = self.home.path().join("config/jira-ops");
        std::fs::create_dir_all(&config_dir)?;
        std::fs::write(
            config_dir.join("config.toml"),
            "[profiles.default]\ncache_lock_wait_secs = 1\n",
        )?;
        let mut holder = self
            .command(&site, &["cache", "warm", "--all", "--days", "3650"], &[])
            .spawn()?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let status = self
            .run(
                &site,
                "contention-sled-status",
                &["cache", "status", "--json"],
                &[],
            )
            .await;
        let read = self
            .run(
                &site,
                "contention-sled-fetch",
                &["fetch", "APO-1", "--format", "jsonl"],
                &[],
            )
            .await;
        let started = Instant::now();
        let second = self
            .run(
                &site,
                "contention-sled-second",
                &["cache", "clear", "--category", "issue", "--force"],
                &[],
            )
            .await;
        let waited = started.elapsed();
        let holder_alive = holder.try_wait()?.is_none();
        holder.start_kill()?;
        let output = holder.wait_with_output().await?;
        self.keep("contention-sled-holder", output);
        let named = serde_json::from_slice::<serde_json::Value>(&status.stdout)
            .ok()
            .and_then(|v| v["in_use_by"].as_str().map(str::to_owned))
            .is_some_and(|holder| holder.starts_with("process "));
        let went_without = read.status.success()
            && read
                .stdout
                .split(|&c| c == b'\n')
                .filter(|l| !l.is_empty())
                .count()
                == 1
            && String::from_utf8_lossy(&read.stderr).contains("goes without it");
        let readers_ok = holder_alive && status.status.success() && named && went_without;
        let message = String::from_utf8_lossy(&second.stderr).into_owned();
        let dir = self.cache_dir().display().to_string();
        let clear = message.contains(&dir) && message.contains("in use by");
        let sled_ok = second.status.code() == Some(1) && clear && waited >= Duration::from_secs(1);

        let redis = RedisServer::start();
        let env = [
            ("JIRA_OPS_CACHE_STORE", redis.url.as_str()),
            ("JIRA_OPS_RATE_LIMIT_STORE", redis.url.as_str()),
        ];
        let args = [
            "fetch", "APO-1", "APO-2", "APO-3", "BEA-1", "--format", "jsonl",
        ];
        let (a, b) = tokio::join!(
            self.run(&site, "contention-redis-a", &args, &env),
            self.run(&site, "contention-redis-b", &args, &env),
        );
        let both = a.status.success()
            && b.status.success()
            && a.stdout
                .split(|&c| c == b'\n')
                .filter(|l| !l.is_empty())
                .count()
                == 4
            && b.stdout
                .split(|&c| c == b'\n')
                .filter(|l| !l.is_empty())
                .count()
                == 4;
        sim.shutdown().await;
        let _ = std::fs::remove_file(config_dir.join("config.toml"));

        let mut scenario = Scenario::new(
            0,
            "Contention: two jira-ops processes on one cache",
            &["store", "outcome", "as expected"],
        );
        scenario.row(vec![
            "sled, a second that can go without it".into(),
            format!(
                "`cache status` exited {} naming the holder: {}; `fetch` exited {} with the issue, from the site: {}",
                status.status.code().unwrap_or(-1),
                if named { "yes" } else { "no" },
                read.status.code().unwrap_or(-1),
                if went_without { "yes" } else { "no" },
            ),
            if readers_ok { "yes" } else { "NO" }.into(),
        ]);
        scenario.row(vec![
            "sled, a second that needs it (`cache clear`)".into(),
            format!(
                "the second waited {:.1} s, exited {}: {}",
                waited.as_secs_f64(),
                second.status.code().unwrap_or(-1),
                message
                    .lines()
                    .find(|l| l.starts_with("jira-ops: error"))
                    .unwrap_or("(no error line)")
                    .replace(self.home.path().to_str().unwrap_or("\u{0}"), "$HOME")
            ),
            if sled_ok { "yes" } else { "NO" }.into(),
        ]);
        scenario.row(vec![
            "Redis (shared)".into(),
            format!(
                "both exited {} and {}, 4 issues each",
                a.status.code().unwrap_or(-1),
                b.status.code().unwrap_or(-1)
            ),
            if both { "yes" } else { "NO" }.into(),
        ]);
        scenario.figures = vec![
            Figure::exactly(
                "sled: status and reads go on while it is held (1 = yes)",
                f64::from(u8::from(readers_ok)),
                1.0,
            ),
            Figure::exactly(
                "sled: a command that needs it waits, then errors clearly (1 = yes)",
                f64::from(u8::from(sled_ok)),
                1.0,
            ),
            Figure::exactly(
                "Redis: both processes work (1 = yes)",
                f64::from(u8::from(both)),
                1.0,
            ),
        ];
        Ok(scenario)
    }

    /// Every log, output and cache file the soak produced, grepped for the token.
    pub async fn secrets(&self) -> anyhow::Result<Scenario> {
        // Runs of their own at every verbosity, so the cell stands alone too.
        let sim = self.sim(50, 0).await;
        let site = sim.base_url().to_owned();
        for (name, args) in [
            ("secrets-health", &["-vvv", "health", "--json"][..]),
            (
                "secrets-warm",
                &["-vv", "--log-format", "json", "cache", "warm", "--all"][..],
            ),
            ("secrets-fetch", &["-vvv", "fetch", "APO-1", "NOPE-1"][..]),
            ("secrets-search", &["-vv", "search", "project = = APO"][..]),
            ("secrets-config", &["-vvv", "config", "show"][..]),
            ("secrets-check", &["-vvv", "config", "check"][..]),
        ] {
            self.run(&site, name, args, &[]).await;
        }
        self.run(
            &site,
            "secrets-trace",
            &["health"],
            &[("RUST_LOG", "trace")],
        )
        .await;
        // The token in the site URL: refused, and never echoed.
        let in_url = site.replacen("://", &format!("://{EMAIL}:{TOKEN}@"), 1);
        for (name, args) in [
            ("secrets-url-fetch", &["-vvv", "fetch", "APO-1"][..]),
            ("secrets-url-config", &["-vvv", "config", "show"][..]),
            ("secrets-url-check", &["config", "check", "--offline"][..]),
        ] {
            self.run(&in_url, name, args, &[]).await;
        }

        // Other credentials on a shared cache (sled, then Redis) get misses: a wrong token
        // for this email is refused by the site, never served this account's entries.
        let mut redis = RedisServer::start();
        let mut crossed = 0;
        let mut stores = Vec::new();
        for (store, extra) in [
            ("sled", vec![]),
            ("Redis", vec![("JIRA_OPS_CACHE_STORE", redis.url.as_str())]),
        ] {
            let fetch = ["fetch", "APO-1", "APO-2", "--format", "jsonl"];
            self.run(&site, "secrets-account-fill", &fetch, &extra)
                .await;
            let again = self
                .run(&site, "secrets-account-again", &fetch, &extra)
                .await;
            let served = String::from_utf8_lossy(&again.stderr).contains("2 from the cache");
            let mut other = extra.clone();
            other.push(("JIRA_API_TOKEN", "someone-elses-token"));
            let guessed = self
                .run(&site, "secrets-account-other", &fetch, &other)
                .await;
            if !guessed.stdout.is_empty() || guessed.status.code() != Some(3) {
                crossed += 1;
            }
            stores.push(format!(
                "{store}: own credentials {} from the cache, other credentials exit {} with {} issues",
                if served { "served" } else { "NOT served" },
                guessed.status.code().unwrap_or(-1),
                json_lines(&guessed)
            ));
            if !served {
                crossed += 1;
            }
        }
        redis.stop();
        sim.shutdown().await;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{EMAIL}:{TOKEN}"));
        let mut files = 0;
        let mut bytes = 0u64;
        let mut leaks = Vec::new();
        let mut stack = vec![self.home.path().to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir)?.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let content = std::fs::read(&path)?;
                files += 1;
                bytes += content.len() as u64;
                for secret in [TOKEN.as_bytes(), basic.as_bytes()] {
                    if content.windows(secret.len()).any(|w| w == secret) {
                        leaks.push(path.display().to_string());
                    }
                }
            }
        }
        let mut scenario = Scenario::new(
            0,
            "Secrets: the token grepped for in every log, output and cache file of the soak; other credentials on a shared cache",
            &[
                "files",
                "bytes",
                "runs of jira-ops",
                "files holding the token",
            ],
        );
        scenario.row(vec![
            files.to_string(),
            bytes.to_string(),
            self.runs.load(Ordering::Relaxed).to_string(),
            if leaks.is_empty() {
                "none".into()
            } else {
                leaks.join(", ")
            },
        ]);
        scenario.figures = vec![
            Figure::exactly("files holding the token", leaks.len() as f64, 0.0),
            Figure::exactly(
                "other credentials served from this account's cache (or own ones not)",
                f64::from(crossed),
                0.0,
            ),
        ];
        scenario.notes.push(format!(
            "The runs include the token in the site URL (refused) and, on a shared cache, a wrong token for this account's email. {}.",
            stores.join("; ")
        ));
        Ok(scenario)
    }
}
