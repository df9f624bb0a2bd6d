//! Soak cell `proxies`: `jira-ops proxy` in front of callers while the site fails 30% of
//! requests (5xx, connection resets, and 5xx after a write was done). Every caller request
//! gets exactly one answer, no write is sent twice (each comment made once at most), the
//! proxy stops cleanly on SIGTERM, and its log (at -vv) holds no credential.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use jira_sim::{Fault, FaultConfig, FaultRule};
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt as _;

use super::{EMAIL, TOKEN, Workspace};
use crate::report::{Figure, Scenario};

/// Caller tasks.
const CALLERS: usize = 8;

/// What the callers got: answers by status, and requests that got none.
#[derive(Default)]
struct Outcomes {
    by_status: BTreeMap<u16, u64>,
    unanswered: u64,
    comments_sent: u64,
}

impl Workspace {
    /// The `proxies` cell.
    pub async fn proxies(&self, quick: bool) -> anyhow::Result<Scenario> {
        let per_caller = if quick { 40 } else { 200 };
        let sim = self.sim(20, 0).await;
        let site = sim.base_url().to_owned();
        let project = sim.project_keys()[0].clone();
        sim.set_faults(FaultConfig {
            rules: vec![
                FaultRule::new(Fault::Status { status: 500 }, 0.1),
                FaultRule::new(Fault::Reset, 0.1),
                FaultRule::new(Fault::LostResponse { status: 502 }, 0.1),
            ],
        });
        let mut child = self
            .command(&site, &["-vv", "proxy", "--listen", "127.0.0.1:0"], &[])
            .spawn()?;
        // The log is read as it comes: at -vv it outgrows a pipe's buffer, and a full pipe
        // would stop the proxy mid-write.
        let mut stderr = child.stderr.take().expect("piped");
        let log = tokio::spawn(async move {
            let mut log = Vec::new();
            let _ = tokio::io::AsyncReadExt::read_to_end(&mut stderr, &mut log).await;
            log
        });
        let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("piped")).lines();
        let banner = lines.next_line().await?.unwrap_or_default();
        let url = banner
            .split_whitespace()
            .nth(4)
            .ok_or_else(|| anyhow::anyhow!("no address in the proxy's banner {banner:?}"))?
            .to_owned();

        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()?;
        let callers: Vec<_> = (0..CALLERS)
            .map(|caller| {
                let (http, url, project) = (http.clone(), url.clone(), project.clone());
                tokio::spawn(async move {
                    let mut outcomes = Outcomes::default();
                    for n in 0..per_caller {
                        let issue = format!("{project}-{}", 1 + (caller * 7 + n) % 20);
                        let request = if n % 4 == 3 {
                            outcomes.comments_sent += 1;
                            http.post(format!("{url}/rest/api/3/issue/{issue}/comment"))
                                .json(&json!({"body": {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": format!("soak-proxy c{caller} n{n}")}]}]}}))
                        } else if n % 4 == 2 {
                            http.get(format!("{url}/rest/api/3/issue/{issue}?fields=summary"))
                                .header("cache-control", "no-cache")
                        } else {
                            http.get(format!("{url}/rest/api/3/issue/{issue}?fields=summary,status"))
                        };
                        match request.basic_auth(EMAIL, Some(TOKEN)).send().await {
                            Ok(response) => {
                                *outcomes.by_status.entry(response.status().as_u16()).or_default() += 1;
                                let _ = response.bytes().await;
                            }
                            Err(_) => outcomes.unanswered += 1,
                        }
                    }
                    outcomes
                })
            })
            .collect();
        let mut outcomes = Outcomes::default();
        for caller in callers {
            let got = caller.await?;
            for (status, count) in got.by_status {
                *outcomes.by_status.entry(status).or_default() += count;
            }
            outcomes.unanswered += got.unanswered;
            outcomes.comments_sent += got.comments_sent;
        }
        let stats: Value = http
            .get(format!("{url}{}", "/__proxy/stats"))
            .send()
            .await?
            .json()
            .await
            .unwrap_or_default();
        std::process::Command::new("kill")
            .args(["-TERM", &child.id().unwrap_or_default().to_string()])
            .status()?;
        let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
            .await
            .map_err(|_| anyhow::anyhow!("the proxy still runs 30 s after SIGTERM"))??;
        let output = self.keep(
            "proxies",
            std::process::Output {
                status,
                stdout: banner.into_bytes(),
                stderr: log.await?,
            },
        );

        // Read back what the site holds, without faults: each comment body at most once.
        sim.set_faults(FaultConfig::default());
        let mut bodies: BTreeMap<String, u64> = BTreeMap::new();
        for n in 1..=20 {
            let page: Value = http
                .get(format!(
                    "{site}/rest/api/3/issue/{project}-{n}/comment?maxResults=5000"
                ))
                .basic_auth(EMAIL, Some(TOKEN))
                .send()
                .await?
                .json()
                .await?;
            for comment in page["comments"].as_array().into_iter().flatten() {
                let text = comment
                    .pointer("/body/content/0/content/0/text")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if text.starts_with("soak-proxy ") {
                    *bodies.entry(text.to_owned()).or_default() += 1;
                }
            }
        }
        sim.shutdown().await;
        let duplicates: u64 = bodies.values().map(|c| c.saturating_sub(1)).sum();
        let log = String::from_utf8_lossy(&output.stderr);
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{EMAIL}:{TOKEN}"));
        let leaks = [TOKEN, basic.as_str()]
            .iter()
            .filter(|s| log.contains(*s))
            .count();
        let answered: u64 = outcomes.by_status.values().sum();
        let requests = (CALLERS * per_caller) as u64;
        let mut scenario = Scenario::new(
            0,
            &format!(
                "Proxy: {CALLERS} callers × {per_caller} requests (a quarter of them comments) through `jira-ops proxy` while the site fails 30% (500, resets, 502 after the write was done)"
            ),
            &[
                "answers by status",
                "no answer",
                "comments sent",
                "comments made",
                "made twice",
                "proxy exit",
            ],
        );
        scenario.row(vec![
            outcomes
                .by_status
                .iter()
                .map(|(s, c)| format!("{s}: {c}"))
                .collect::<Vec<_>>()
                .join(", "),
            outcomes.unanswered.to_string(),
            outcomes.comments_sent.to_string(),
            bodies.len().to_string(),
            duplicates.to_string(),
            output.status.code().unwrap_or(-1).to_string(),
        ]);
        scenario.figures = vec![
            Figure::exactly(
                "caller requests with exactly one answer ÷ requests",
                answered as f64 / requests as f64,
                1.0,
            )
            .hard(),
            Figure::exactly("comments made twice", duplicates as f64, 0.0).hard(),
            Figure::exactly("credentials in the proxy's log (-vv)", leaks as f64, 0.0).hard(),
            Figure::exactly(
                "the proxy's exit code after SIGTERM",
                f64::from(output.status.code().unwrap_or(-1)),
                0.0,
            )
            .hard(),
        ];
        scenario.notes.push(format!(
            "The proxy's counters: {stats}. Reads failed by the site are retried upstream (idempotent); a comment is never sent twice: a 5xx or a reset on one goes back to its caller as it came (or as a 502 the proxy says), and the site holds it once or not at all."
        ));
        Ok(scenario)
    }
}
