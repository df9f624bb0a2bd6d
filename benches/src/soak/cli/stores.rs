//! Soak cell `stores`: failing stores and a hanging server under `jira-ops fetch` (Redis
//! killed mid-run, a damaged sled directory, a server that never answers).

use std::time::{Duration, Instant};

use jira_ops_tests::RedisServer;
use jira_sim::{Fault, FaultConfig, FaultRule, LimitConfig};

use super::{Workspace, failed_keys, json_lines, run_measuring_memory};
use crate::report::{Figure, Scenario};

impl Workspace {
    /// Failing stores and a hanging server: Redis killed during a `fetch` of 6,100 keys
    /// (every key written or listed as failed), a damaged sled directory (a clear error
    /// naming the recovery, which works), and a server that never answers (the fetch ends
    /// within its deadline).
    pub async fn stores(&self, quick: bool) -> anyhow::Result<Scenario> {
        let mut scenario = Scenario::new(
            0,
            "Stores: Redis killed mid-fetch, a full disk, a damaged sled cache, a server that hangs, a 1 GB answer",
            &["case", "what happened", "judged by"],
        );
        let sim = self.slow_sim(1_220, 20).await;
        let site = sim.base_url().to_owned();
        let keys: Vec<String> = sim
            .project_keys()
            .iter()
            .flat_map(|project| sim.issue_keys(project))
            .collect();
        let key_file = self.home.path().join("stores-keys.txt");
        std::fs::write(
            &key_file,
            keys.iter().map(|k| format!("{k}\n")).collect::<String>(),
        )?;
        let key_path = key_file.display().to_string();

        // Redis killed while the fetch runs.
        let mut redis = RedisServer::start();
        let url = redis.url.clone();
        let extra = [
            ("JIRA_OPS_CACHE_STORE", url.as_str()),
            ("MAX_CONCURRENT_JIRA_CALLS", "2"),
            ("JIRA_BATCH_SIZE", "20"),
        ];
        let child = self
            .command(
                &site,
                &["fetch", "--from-file", &key_path, "--format", "jsonl"],
                &extra,
            )
            .spawn()?;
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        redis.stop();
        let output = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
            .await
            .map_err(|_| anyhow::anyhow!("stores: the fetch did not end after Redis died"))??;
        let output = self.keep("stores-redis-killed", output);
        let written = json_lines(&output);
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let failed = failed_keys(&stderr, &keys);
        let warned = stderr.contains("the cache failed");
        scenario.row(vec![
            "Redis killed 1 s into a fetch of 6,100 keys".into(),
            format!(
                "{written} written, {failed} listed as failed, exit {}, cache failure {}",
                output.status.code().unwrap_or(-1),
                if warned { "reported once" } else { "not seen" }
            ),
            "written + failed = 6,100; no panic".into(),
        ]);
        scenario.figures.push(Figure::exactly(
            "Redis killed: keys neither written nor listed",
            keys.len().saturating_sub(written + failed) as f64,
            0.0,
        ));
        scenario.figures.push(Figure::exactly(
            "Redis killed: panics",
            f64::from(u8::from(stderr.contains("panicked"))),
            0.0,
        ));

        // A full disk under the cache: the first failed write is reported once, the store
        // is dropped, and every key is still written; the next run (space again) opens the
        // cache and completes.
        let full_dir = self.home.path().join("full-disk-cache");
        let full_dir_text = full_dir.display().to_string();
        let full_extra = [
            ("JIRA_OPS_CACHE_DIR", full_dir_text.as_str()),
            ("MAX_CONCURRENT_JIRA_CALLS", "4"),
        ];
        let fetch_all = ["fetch", "--from-file", &key_path, "--format", "jsonl"];
        let full = self
            .command_on_full_disk(&site, &fetch_all, &full_extra, 512)
            .output()
            .await?;
        let full = self.keep("stores-disk-full", full);
        let full_err = String::from_utf8_lossy(&full.stderr).into_owned();
        let full_written = json_lines(&full);
        let full_failed = failed_keys(&full_err, &keys);
        let full_warnings = full_err.matches("the cache failed").count();
        let after_full = self
            .run(&site, "stores-disk-full-after", &fetch_all, &full_extra)
            .await;
        let after_written = json_lines(&after_full);
        let after_err = String::from_utf8_lossy(&after_full.stderr).into_owned();
        scenario.row(vec![
            "the cache's files capped at 512 KiB (a full disk) during a fetch of 6,100 keys"
                .into(),
            format!(
                "{full_written} written, {full_failed} listed as failed, exit {}, cache failure reported {full_warnings}×; the next run exit {} with {after_written} written",
                full.status.code().unwrap_or(-1),
                after_full.status.code().unwrap_or(-1),
            ),
            "written + failed = 6,100; reported once; the next run completes".into(),
        ]);
        scenario.figures.push(Figure::exactly(
            "full disk: keys neither written nor listed",
            keys.len().saturating_sub(full_written + full_failed) as f64,
            0.0,
        ));
        scenario.figures.push(Figure::exactly(
            "full disk: the run after it completes, no panic",
            f64::from(u8::from(
                after_full.status.success()
                    && after_written == keys.len()
                    && !full_err.contains("panicked")
                    && !after_err.contains("panicked")
                    && full_warnings == 1,
            )),
            1.0,
        ));

        // A damaged sled directory: said with its recovery, which works.
        let fetch = ["fetch", "APO-1", "APO-2", "--format", "jsonl"];
        self.run(&site, "stores-sled-fill", &fetch, &[]).await;
        let conf = self.cache_dir().join("conf");
        let len = std::fs::metadata(&conf)?.len();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&conf)?
            .set_len(len / 2)?;
        let damaged = self.run(&site, "stores-sled-damaged", &fetch, &[]).await;
        let damaged_err = String::from_utf8_lossy(&damaged.stderr).into_owned();
        let named = damaged.status.code() == Some(1)
            && damaged_err.contains("cache clear --reset")
            && !damaged_err.contains("panicked");
        let reset = self
            .run(
                &site,
                "stores-sled-reset",
                &["cache", "clear", "--reset"],
                &[],
            )
            .await;
        let after = self.run(&site, "stores-sled-after", &fetch, &[]).await;
        let recovered = reset.status.success()
            && after.status.success()
            && String::from_utf8_lossy(&after.stdout).lines().count() == 2;
        scenario.row(vec![
            "the sled cache's conf file cut in half".into(),
            format!(
                "fetch exit {} {} the recovery; `cache clear --reset` exit {}; fetch after it {}",
                damaged.status.code().unwrap_or(-1),
                if named { "naming" } else { "NOT naming" },
                reset.status.code().unwrap_or(-1),
                if recovered {
                    "served both keys"
                } else {
                    "FAILED"
                }
            ),
            "a clear error, then a working recovery".into(),
        ]);
        scenario.figures.push(Figure::exactly(
            "damaged sled: error names the recovery, and it works",
            f64::from(u8::from(named && recovered)),
            1.0,
        ));
        sim.shutdown().await;

        // A server that never answers: the fetch ends within its deadline. The full run
        // uses the defaults (300 s); the quick one scales them down.
        let hanging = self.sim(10, 0).await;
        hanging.set_limits(LimitConfig::off());
        hanging.set_faults(FaultConfig {
            rules: vec![FaultRule::new(Fault::Hang { ms: 3_600_000 }, 1.0)],
        });
        let (deadline, extra): (u64, Vec<(&str, &str)>) = if quick {
            (
                6,
                vec![
                    ("JIRA_OPS_REQUEST_DEADLINE", "6"),
                    ("JIRA_REQUEST_TIMEOUT", "1"),
                ],
            )
        } else {
            (300, Vec::new())
        };
        let started = Instant::now();
        let hung = self
            .run(
                hanging.base_url(),
                "stores-hanging",
                &["fetch", "APO-1"],
                &extra,
            )
            .await;
        let took = started.elapsed().as_secs_f64();
        hanging.shutdown().await;
        scenario.row(vec![
            format!(
                "a server that never answers, {}",
                if quick {
                    "deadline 6 s, read timeout 1 s"
                } else {
                    "the defaults (deadline 300 s)"
                }
            ),
            format!(
                "fetch of one key ended after {took:.1} s with exit {}",
                hung.status.code().unwrap_or(-1)
            ),
            "ends within its deadline (+ 2 s)".into(),
        ]);
        scenario.figures.push(
            Figure::at_most(
                "hanging server: seconds past the deadline",
                (took - deadline as f64).max(0.0),
                2.0,
            )
            .hard(),
        );
        // A 1 GB answer streamed without a length: a clear error at the body cap (256 MiB by
        // default), memory bounded by it.
        let huge = self.sim(10, 0).await;
        huge.set_limits(LimitConfig::off());
        huge.set_faults(FaultConfig {
            rules: vec![FaultRule::new(
                Fault::Oversized {
                    bytes: 1_000_000_000,
                },
                1.0,
            )],
        });
        let (oversized, peak_mib) = run_measuring_memory(self.command(
            huge.base_url(),
            &["fetch", "APO-1", "--no-cache"],
            &[],
        ))
        .await?;
        huge.shutdown().await;
        let oversized = self.keep("stores-oversized", oversized);
        let oversized_err = String::from_utf8_lossy(&oversized.stderr).into_owned();
        let clear = oversized.status.code() == Some(1)
            && oversized_err.contains("APO-1")
            && oversized_err.contains("body cap")
            && oversized_err.contains("max_body_mb")
            && !oversized_err.contains("panicked");
        scenario.row(vec![
            "a 1 GB answer streamed without Content-Length (body cap 256 MiB)".into(),
            format!(
                "exit {}, {} error; peak resident memory {peak_mib:.0} MiB",
                oversized.status.code().unwrap_or(-1),
                if clear { "a clear" } else { "NOT a clear" }
            ),
            "a clear error naming the cap; memory ≤ 2 × the cap".into(),
        ]);
        scenario.figures.push(Figure::exactly(
            "1 GB body: a clear error naming the cap",
            f64::from(u8::from(clear)),
            1.0,
        ));
        scenario.figures.push(Figure::at_most(
            "1 GB body: peak memory, MiB",
            peak_mib,
            512.0,
        ));
        scenario.notes.push(
            "6,100 issues, 20 ms per request, bulk fetches of 20, two in flight (four on the full disk). The full disk is RLIMIT_FSIZE on the process (writes past 512 KiB fail with EFBIG, as on a full disk), so it needs no mount.".into(),
        );
        Ok(scenario)
    }
}
