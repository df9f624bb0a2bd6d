//! Soak cell `syncs`: SIGKILLs during `jira-ops sync` into JSON Lines, then completion,
//! against a clean export of the same tenant; the same into PostgreSQL (a real server),
//! against a clean sync's database; and a sync under each fault of the fetch
//! cells (5xx, resets, hangs, truncated bodies, an exhausted quota), run until it ends,
//! against the same clean export.

use std::process::Output;
use std::time::{Duration, Instant};

use jira_sim::{Fault, FaultConfig, FaultRule, LimitConfig, QuotaConfig, QuotaKind};
use rand::Rng as _;

use super::Workspace;
use crate::common::jsonl_contents;
use crate::report::{Figure, Scenario};

/// Lines of an export's `issues.jsonl`.
fn issue_lines(dir: &std::path::Path) -> usize {
    std::fs::read_to_string(dir.join("issues.jsonl"))
        .map(|text| text.lines().count())
        .unwrap_or(0)
}

impl Workspace {
    /// `rounds` runs of `args`, each SIGKILLed at a random moment (150–700 ms in), then one
    /// run to the end: how many were killed before they ended, and the last run.
    async fn killed_then_finished(
        &self,
        site: &str,
        label: &str,
        args: &[&str],
        extra: &[(&str, &str)],
        rounds: usize,
    ) -> anyhow::Result<(u32, Output)> {
        let mut killed_mid_run = 0;
        for round in 0..rounds {
            let after = Duration::from_millis(rand::rng().random_range(150..700));
            let output = self
                .interrupted(
                    site,
                    &format!("{label}-{round}"),
                    args,
                    extra,
                    "KILL",
                    after,
                )
                .await?;
            if output.status.code().is_none() {
                killed_mid_run += 1;
            }
        }
        let last = self.run(site, &format!("{label}-end"), args, extra).await;
        Ok((killed_mid_run, last))
    }

    /// 20 SIGKILLs (3 in quick mode) during a sync, then one to the end; then a sync per
    /// fault. Every export must equal the clean one.
    pub async fn syncs(&self, quick: bool) -> anyhow::Result<Scenario> {
        let rounds = if quick { 3 } else { 20 };
        let per_project = if quick { 200 } else { 800 };
        let sim = self.slow_sim(per_project, 40).await;
        let site = sim.base_url().to_owned();
        let jql = format!("project in ({})", sim.project_keys().join(", "));
        let started = Instant::now();
        let dir = |name: &str| self.home.path().join(name);
        // A new directory of JSON Lines files: `jsonl:` says so.
        let args = |to: &std::path::Path| -> Vec<String> {
            let to = format!("jsonl:{}", to.display());
            [
                "sync",
                "--jql",
                jql.as_str(),
                "--to",
                to.as_str(),
                "--settle-secs",
                "0",
                "--census-every",
                "0",
                "--strategy",
                "pages",
            ]
            .map(str::to_owned)
            .to_vec()
        };
        let extra = [("MAX_CONCURRENT_JIRA_CALLS", "2")];

        let clean_dir = dir("sync-clean");
        let clean_args = args(&clean_dir);
        let clean_refs: Vec<&str> = clean_args.iter().map(String::as_str).collect();
        let clean = self.run(&site, "sync-clean", &clean_refs, &extra).await;
        anyhow::ensure!(
            clean.status.success(),
            "the clean sync failed: {}",
            String::from_utf8_lossy(&clean.stderr)
        );
        let expected = jsonl_contents(&clean_dir);
        let issues = sim.issue_count();
        let mut scenario = Scenario::new(
            0,
            &format!(
                "Sync: {rounds} SIGKILLs during `jira-ops sync` of {issues} issues (histories, comments, worklogs) into JSON Lines and into PostgreSQL, then completion; and a sync under each fault"
            ),
            &[
                "run",
                "runs",
                "ended 0",
                "issues equal to the clean export",
                "issue records written twice",
                "wall",
            ],
        );
        scenario.figures.push(Figure::exactly(
            "the clean export holds every issue",
            expected.len() as f64,
            issues as f64,
        ));

        // SIGKILL at a random moment, again and again, then a run to the end.
        let killed_dir = dir("sync-killed");
        let killed_args = args(&killed_dir);
        let killed_refs: Vec<&str> = killed_args.iter().map(String::as_str).collect();
        let round_started = Instant::now();
        let (killed_mid_run, last) = self
            .killed_then_finished(&site, "sync-kill", &killed_refs, &extra, rounds)
            .await?;
        let killed = jsonl_contents(&killed_dir);
        let same = killed == expected;
        let twice = issue_lines(&killed_dir).saturating_sub(issue_lines(&clean_dir));
        scenario.row(vec![
            format!("SIGKILL ×{rounds} (killed mid-run: {killed_mid_run}), then to the end"),
            (rounds + 1).to_string(),
            u8::from(last.status.success()).to_string(),
            format!("{} of {}", matching(&killed, &expected), expected.len()),
            twice.to_string(),
            format!("{:.1} s", round_started.elapsed().as_secs_f64()),
        ]);
        scenario.figures.push(Figure::exactly(
            "SIGKILL: the export equals the clean one (1 = yes)",
            f64::from(u8::from(same)),
            1.0,
        ));
        scenario.figures.push(Figure::exactly(
            "SIGKILL: issue records written twice",
            twice as f64,
            0.0,
        ));
        scenario.figures.push(Figure::info(
            "SIGKILL: runs killed before they ended",
            f64::from(killed_mid_run),
        ));

        // The same SIGKILLs into PostgreSQL (a real server, initdb into a temporary
        // directory): the database then equals a clean sync's, row for row.
        let server = jira_ops_tests::postgres::PostgresServer::start();
        let pg_args = |database: &str| -> Vec<String> {
            let mut args = args(std::path::Path::new("unused"));
            args[4] = server.create_database(database);
            args
        };
        let pg_clean_args = pg_args("clean");
        let pg_clean_refs: Vec<&str> = pg_clean_args.iter().map(String::as_str).collect();
        let pg_clean = self
            .run(&site, "sync-pg-clean", &pg_clean_refs, &extra)
            .await;
        anyhow::ensure!(
            pg_clean.status.success(),
            "the clean PostgreSQL sync failed: {}",
            String::from_utf8_lossy(&pg_clean.stderr)
        );
        let pg_killed_args = pg_args("killed");
        let pg_killed_refs: Vec<&str> = pg_killed_args.iter().map(String::as_str).collect();
        let pg_started = Instant::now();
        let (pg_killed_mid_run, pg_last) = self
            .killed_then_finished(&site, "sync-pg-kill", &pg_killed_refs, &extra, rounds)
            .await?;
        let (pg_expected, pg_killed) = (
            server.sync_contents("clean"),
            server.sync_contents("killed"),
        );
        let pg_same = pg_expected == pg_killed;
        for (what, output) in [("JSON Lines", &last), ("PostgreSQL", &pg_last)] {
            if !output.status.success() {
                scenario.notes.push(format!(
                    "The run to the end into {what} exited {:?}; its stderr ends: {}",
                    output.status.code(),
                    stderr_tail(output)
                ));
            }
        }
        scenario.row(vec![
            format!(
                "into PostgreSQL: SIGKILL ×{rounds} (killed mid-run: {pg_killed_mid_run}), then to the end"
            ),
            (rounds + 1).to_string(),
            u8::from(pg_last.status.success()).to_string(),
            format!(
                "{} of {}",
                pg_killed[0].len().min(pg_expected[0].len()),
                pg_expected[0].len()
            ),
            "-".to_owned(),
            format!("{:.1} s", pg_started.elapsed().as_secs_f64()),
        ]);
        scenario.figures.push(Figure::exactly(
            "SIGKILL into PostgreSQL: the database equals the clean one, row for row (1 = yes)",
            f64::from(u8::from(pg_same)),
            1.0,
        ));
        scenario.figures.push(Figure::exactly(
            "the clean PostgreSQL sync holds every issue",
            pg_expected[0].len() as f64,
            issues as f64,
        ));
        drop(server);

        // Each fault of the fetch cells, the export run until it ends (at most 5 runs).
        let faults: Vec<(&str, Vec<FaultRule>, Option<LimitConfig>)> = vec![
            (
                "5xx at 30%",
                [500, 502, 503, 504]
                    .into_iter()
                    .map(|status| FaultRule::new(Fault::Status { status }, 0.075))
                    .collect(),
                None,
            ),
            (
                "connection resets (5%)",
                vec![FaultRule::new(Fault::Reset, 0.05)],
                None,
            ),
            (
                "hangs past the read timeout (3%)",
                vec![FaultRule::new(Fault::Hang { ms: 4_000 }, 0.03)],
                None,
            ),
            (
                "truncated bodies (5%)",
                vec![FaultRule::new(Fault::Truncated, 0.05)],
                None,
            ),
            (
                "quota exhausted, hourly reset every 10 s",
                Vec::new(),
                Some(LimitConfig {
                    quota: Some(QuotaConfig {
                        points_per_hour: (issues as u64) / 2,
                        kind: QuotaKind::Tenant,
                    }),
                    time_scale: 360.0,
                    ..LimitConfig::off()
                }),
            ),
        ];
        for (n, (name, rules, limits)) in faults.into_iter().enumerate() {
            let cell_started = Instant::now();
            sim.set_faults(FaultConfig {
                rules: std::iter::once(FaultRule::new(
                    Fault::Latency {
                        fixed_ms: 5,
                        jitter_ms: 0,
                    },
                    1.0,
                ))
                .chain(rules)
                .collect(),
            });
            sim.set_limits(limits.unwrap_or_else(LimitConfig::off));
            let fault_dir = dir(&format!("sync-fault-{n}"));
            let fault_args = args(&fault_dir);
            let fault_refs: Vec<&str> = fault_args.iter().map(String::as_str).collect();
            let timeouts = [
                ("MAX_CONCURRENT_JIRA_CALLS", "4"),
                ("JIRA_REQUEST_TIMEOUT", "1"),
            ];
            let (mut runs, mut ended) = (0, false);
            while runs < 5 && !ended {
                runs += 1;
                let output = self
                    .run(
                        &site,
                        &format!("sync-fault-{n}-{runs}"),
                        &fault_refs,
                        &timeouts,
                    )
                    .await;
                ended = output.status.success();
            }
            let got = jsonl_contents(&fault_dir);
            let twice = issue_lines(&fault_dir).saturating_sub(issue_lines(&clean_dir));
            scenario.row(vec![
                name.to_owned(),
                runs.to_string(),
                u8::from(ended).to_string(),
                format!("{} of {}", matching(&got, &expected), expected.len()),
                twice.to_string(),
                format!("{:.1} s", cell_started.elapsed().as_secs_f64()),
            ]);
            scenario.figures.push(Figure::exactly(
                &format!("{name}: the export equals the clean one (1 = yes)"),
                f64::from(u8::from(got == expected && ended)),
                1.0,
            ));
        }
        sim.shutdown().await;
        scenario.notes.push(format!(
            "{issues} issues in 5 projects, 40 ms a request, 2 requests in flight, `--strategy pages` (pages of 100 one after the other, so the kills land mid-window); each SIGKILL 150–700 ms after the start. \"Equal\": per live issue, `updated` and the counts of history entries, comments and worklogs (the last line per id wins). \"Written twice\": issue lines past the clean export's, i.e. durable issues fetched and written again. The fault runs use a 1 s read timeout and end when a run exits 0 (at most 5 runs). {:.1} s in all.",
            started.elapsed().as_secs_f64()
        ));
        Ok(scenario)
    }
}

/// How many issues of `expected` `got` holds with the same figures.
fn matching(
    got: &std::collections::BTreeMap<u64, (i64, usize, usize, usize)>,
    expected: &std::collections::BTreeMap<u64, (i64, usize, usize, usize)>,
) -> usize {
    expected
        .iter()
        .filter(|(id, figures)| got.get(id) == Some(figures))
        .count()
}

/// The last lines of a run's stderr, to say in the report why a run failed.
fn stderr_tail(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    lines[lines.len().saturating_sub(8)..].join(" / ")
}
