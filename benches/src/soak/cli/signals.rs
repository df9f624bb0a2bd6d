//! Soak cells `interrupts` and `exports`: SIGINT and SIGKILL during `create`, then a run
//! of the same input (every issue created once, every line's result known); SIGINT during
//! `search` and `fetch` in every format (the output parses, every key is written or listed
//! as not done).

use std::time::{Duration, Instant};

use rand::Rng;

use super::{Workspace, apply, json_lines};
use crate::report::{Figure, Scenario};

impl Workspace {
    /// SIGINT and SIGKILL during `create` of 500 issues, each followed by a run of the same
    /// input: every issue created once, every line's result known.
    pub async fn interrupts(&self, quick: bool) -> anyhow::Result<Scenario> {
        let rounds = if quick { 3 } else { 20 };
        let lines = 500;
        let sim = self.slow_sim(10, 80).await;
        apply::sim_search_lag(&sim, apply::SEARCH_LAG_MS);
        let site = sim.base_url().to_owned();
        let started = Instant::now();
        let extra = [("MAX_CONCURRENT_JIRA_CALLS", "2")];
        let mut scenario = Scenario::new(
            0,
            &format!(
                "Interrupts: SIGINT and SIGKILL during `jira-ops create` of {lines} issues, {rounds} times each, each followed by a run of the same input"
            ),
            &[
                "signal",
                "interrupted runs",
                "exited 130 (or 0) with a result per line",
                "issues created",
                "expected",
                "duplicates",
                "re-runs with every line's key",
                "wall",
            ],
        );
        for signal in ["INT", "KILL"] {
            sim.reset_stats();
            let round_started = Instant::now();
            let (mut clean, mut complete) = (0, 0);
            for round in 0..rounds {
                let file = self
                    .home
                    .path()
                    .join(format!("create-{signal}-{round}.jsonl"));
                let text: String = (0..lines)
                    .map(|n| {
                        format!(
                            "{{\"fields\": {{\"project\": {{\"key\": \"APO\"}}, \"issuetype\": {{\"name\": \"Task\"}}, \"summary\": \"soak {signal} {round} {n}\"}}}}\n"
                        )
                    })
                    .collect();
                std::fs::write(&file, text)?;
                let path = file.display().to_string();
                let args = ["create", "--from-file", path.as_str()];
                let after = Duration::from_millis(rand::rng().random_range(150..450));
                let output = self
                    .interrupted(
                        &site,
                        &format!("create-{signal}-{round}"),
                        &args,
                        &extra,
                        signal,
                        after,
                    )
                    .await?;
                let results = json_lines(&output);
                // Stopped by the signal (130), or done before it came (0): a result per line.
                if matches!(output.status.code(), Some(130 | 0)) && results == lines {
                    clean += 1;
                }
                let again = self
                    .run(
                        &site,
                        &format!("create-{signal}-{round}-again"),
                        &args,
                        &extra,
                    )
                    .await;
                let keyed = String::from_utf8_lossy(&again.stdout)
                    .lines()
                    .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                    .filter(|r| r["key"].is_string())
                    .count();
                if again.status.success() && keyed == lines {
                    complete += 1;
                }
            }
            let stats = sim.stats();
            let expected = (rounds * lines) as u64;
            scenario.row(vec![
                format!("SIG{signal}"),
                rounds.to_string(),
                if signal == "INT" {
                    clean.to_string()
                } else {
                    "(killed: no output)".into()
                },
                stats.issues_created.to_string(),
                expected.to_string(),
                stats.duplicate_creates.to_string(),
                complete.to_string(),
                format!("{:.1} s", round_started.elapsed().as_secs_f64()),
            ]);
            scenario.figures.push(Figure::exactly(
                &format!("SIG{signal}: issues created ÷ input lines"),
                stats.issues_created as f64 / expected as f64,
                1.0,
            ));
            scenario.figures.push(Figure::exactly(
                &format!("SIG{signal}: duplicates"),
                stats.duplicate_creates as f64,
                0.0,
            ));
            scenario.figures.push(Figure::exactly(
                &format!("SIG{signal}: re-runs that know every line's issue"),
                f64::from(complete),
                f64::from(rounds as u32),
            ));
            if signal == "INT" {
                scenario.figures.push(Figure::exactly(
                    "SIGINT: runs that exited 130 (or 0, done first) with a result for every line",
                    f64::from(clean),
                    f64::from(rounds as u32),
                ));
            }
        }
        sim.shutdown().await;
        scenario.notes.push(format!(
            "80 ms per request, 2 requests in flight, the signal after 150–450 ms (once the handlers are installed); the write journal (its intents synced before each request) and the idempotency property every create carries are what the re-runs use. {:.1} s in all.",
            started.elapsed().as_secs_f64()
        ));
        Ok(scenario)
    }

    /// SIGINT during `search` and `fetch` in every format: the output parses, and every key
    /// is written or listed as not done.
    pub async fn exports(&self, quick: bool) -> anyhow::Result<Scenario> {
        let rounds = if quick { 1 } else { 5 };
        let issues = 2_000;
        let sim = self.slow_sim(issues / 5, 60).await;
        let site = sim.base_url().to_owned();
        let all_keys: Vec<String> = sim
            .project_keys()
            .iter()
            .flat_map(|project| sim.issue_keys(project))
            .collect();
        let keys: String = all_keys.iter().map(|k| format!("{k}\n")).collect();
        let key_file = self.home.path().join("export-keys.txt");
        std::fs::write(&key_file, &keys)?;
        let key_path = key_file.display().to_string();
        let extra = [
            ("MAX_CONCURRENT_JIRA_CALLS", "1"),
            ("JIRA_OPS_CACHE_STORE", "none"),
        ];
        let mut scenario = Scenario::new(
            0,
            &format!(
                "Exports: SIGINT during `search` and `fetch` in every format, {rounds} times each"
            ),
            &[
                "command",
                "format",
                "runs",
                "exited 130",
                "output that parses",
                "keys accounted for",
            ],
        );
        let mut all_good = true;
        for command in ["search", "fetch"] {
            for format in ["json", "jsonl", "csv"] {
                let (mut exited, mut parsed, mut accounted) = (0, 0, 0);
                for round in 0..rounds {
                    let args: Vec<&str> = match command {
                        "search" => {
                            vec!["search", "project = APO ORDER BY key", "--format", format]
                        }
                        _ => vec![
                            "fetch",
                            "--from-file",
                            key_path.as_str(),
                            "--format",
                            format,
                        ],
                    };
                    let after = Duration::from_millis(rand::rng().random_range(400..1_200));
                    let output = self
                        .interrupted(
                            &site,
                            &format!("{command}-{format}-{round}"),
                            &args,
                            &extra,
                            "INT",
                            after,
                        )
                        .await?;
                    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
                    let written: Option<usize> = match format {
                        "json" => serde_json::from_str::<Vec<serde_json::Value>>(&stdout)
                            .ok()
                            .map(|v| v.len()),
                        "jsonl" => stdout
                            .lines()
                            .map(serde_json::from_str::<serde_json::Value>)
                            .collect::<Result<Vec<_>, _>>()
                            .ok()
                            .map(|v| v.len()),
                        _ => {
                            let mut reader = csv::Reader::from_reader(stdout.as_bytes());
                            reader
                                .records()
                                .collect::<Result<Vec<_>, _>>()
                                .ok()
                                .map(|v| v.len())
                        }
                    };
                    if output.status.code() == Some(130) {
                        exited += 1;
                    }
                    if let Some(written) = written {
                        parsed += 1;
                        let stderr = String::from_utf8_lossy(&output.stderr);
                        let ok = match command {
                            // A search says how many it wrote; the rest was not read.
                            "search" => {
                                stderr.contains(&format!("{written} issues written"))
                                    || output.status.success()
                            }
                            _ => {
                                let not_done = stderr
                                    .lines()
                                    .filter(|l| l.starts_with("jira-ops: not done: "))
                                    .count();
                                written + not_done == all_keys.len()
                            }
                        };
                        if ok {
                            accounted += 1;
                        }
                    }
                }
                all_good &= parsed == rounds && accounted == rounds;
                scenario.row(vec![
                    command.into(),
                    format.into(),
                    rounds.to_string(),
                    exited.to_string(),
                    parsed.to_string(),
                    accounted.to_string(),
                ]);
            }
        }
        sim.shutdown().await;
        scenario.figures.push(Figure::exactly(
            "runs whose output parses and accounts for every key",
            f64::from(u8::from(all_good)),
            1.0,
        ));
        scenario.notes.push(
            format!("{issues} issues, 60 ms per request, one request in flight (fetch: bulk fetches of 10), the signal after 0.4–1.2 s. A run that finished before the signal exits 0 and must still parse and account for every key."),
        );
        Ok(scenario)
    }
}
