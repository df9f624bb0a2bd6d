//! Soak cell `applies`: SIGKILLs during `jira-ops apply`, then re-runs to the end; and an
//! apply under 30% 5xx with lost answers. Each ends with every line applied exactly once,
//! read back from jira-sim: field values, labels, statuses, and the comments, links and
//! issues each line made, counted.

use std::time::{Duration, Instant};

use jira_sim::{Fault, FaultConfig, FaultRule, SimHandle};
use rand::Rng as _;
use serde_json::{Value, json};

use super::{EMAIL, TOKEN, Workspace};
use crate::report::{Figure, Scenario};

/// A change file for issues `1..=issues` of the first project: an update, a label, a
/// comment, a link to the second project's issue of the same number, a transition to
/// Done, and a create every fourth issue; `tag` keeps files apart, `link` is the link
/// type (a link is a relation: the same type between the same issues is one link).
fn changes(projects: &[String], issues: usize, tag: &str, link: &str) -> String {
    let (p, q) = (&projects[0], &projects[1]);
    let mut lines = Vec::new();
    for n in 1..=issues {
        let issue = format!("{p}-{n}");
        lines.push(json!({"op": "update", "issue": issue, "fields": {"summary": format!("{tag} summary {n}")}}));
        lines.push(json!({"op": "label", "issue": issue, "add": [tag]}));
        lines.push(json!({"op": "comment", "issue": issue, "body": format!("{tag} note {n}")}));
        lines.push(
            json!({"op": "link", "type": link, "inward": issue, "outward": format!("{q}-{n}")}),
        );
        lines.push(json!({"op": "transition", "issue": issue, "to": "Done", "fields": {}}));
        if n.is_multiple_of(4) {
            lines.push(json!({"op": "create", "fields": {"project": {"key": q}, "issuetype": {"name": "Task"}, "summary": format!("{tag}made{n}z")}}));
        }
    }
    lines
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// What jira-sim holds for issue `n`: (summary, has the label, status, comments with the
/// tag's note, links of type `link` to the outward issue, issues created for it).
async fn state(
    http: &reqwest::Client,
    sim: &SimHandle,
    projects: &[String],
    n: usize,
    (tag, link): (&str, &str),
) -> anyhow::Result<(String, bool, String, usize, usize, usize)> {
    let get = |path: String| async move {
        let value: Value = http
            .get(format!("{}/rest/api/3/{path}", sim.base_url()))
            .basic_auth(EMAIL, Some(TOKEN))
            .send()
            .await?
            .json()
            .await?;
        anyhow::Ok(value)
    };
    let (p, q) = (&projects[0], &projects[1]);
    let issue = get(format!(
        "issue/{p}-{n}?fields=summary,labels,status,issuelinks"
    ))
    .await?;
    let fields = &issue["fields"];
    let labels = fields["labels"].as_array().cloned().unwrap_or_default();
    let links = fields["issuelinks"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|l| {
            l["outwardIssue"]["key"] == format!("{q}-{n}").as_str() && l["type"]["name"] == link
        })
        .count();
    // Every page of the thread (some issues hold hundreds of comments).
    let note = format!("{tag} note {n}");
    let (mut notes, mut start) = (0, 0);
    loop {
        let page = get(format!(
            "issue/{p}-{n}/comment?startAt={start}&maxResults=100"
        ))
        .await?;
        let comments = page["comments"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        notes += comments
            .iter()
            .filter(|c| jira_model::adf::to_text(&c["body"]).trim() == note)
            .count();
        start += comments.len() as u64;
        if comments.is_empty() || start >= page["total"].as_u64().unwrap_or(0) {
            break;
        }
    }
    let made = if n.is_multiple_of(4) {
        let found = get(format!(
            "search/jql?jql=summary%20~%20%22{tag}made{n}z%22&fields=summary"
        ))
        .await?;
        found["issues"].as_array().map_or(0, Vec::len)
    } else {
        1
    };
    Ok((
        fields["summary"].as_str().unwrap_or_default().to_owned(),
        labels.contains(&json!(tag)),
        fields["status"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        notes,
        links,
        made,
    ))
}

/// The search lag of the cells that resolve lost writes through search (Jira's index
/// lags its writes by seconds).
pub(super) const SEARCH_LAG_MS: u64 = 3_000;

/// Sets `sim`'s search lag to `ms`; returns the lag it had.
pub(super) fn sim_search_lag(sim: &SimHandle, ms: u64) -> u64 {
    let realism = sim.realism();
    let before = realism.search_lag_ms;
    sim.set_realism(jira_sim::Realism {
        search_lag_ms: ms,
        ..realism
    });
    before
}

/// Lines whose change does not hold exactly once: (wrong values, duplicates).
async fn check(
    sim: &SimHandle,
    projects: &[String],
    issues: usize,
    (tag, link): (&str, &str),
) -> anyhow::Result<(usize, usize, Vec<String>)> {
    let http = reqwest::Client::new();
    // Read back with the index caught up (the runs ran with Jira's search lag).
    let lag = sim_search_lag(sim, 0);
    let (mut wrong, mut twice) = (0, 0);
    let mut seen = Vec::new();
    for n in 1..=issues {
        let (summary, labelled, status, notes, links, made) =
            state(&http, sim, projects, n, (tag, link)).await?;
        if summary != format!("{tag} summary {n}") || !labelled || status != "Done" {
            wrong += 1;
            seen.push(format!(
                "issue {n}: {summary:?}, labelled {labelled}, {status}"
            ));
        }
        for (what, count) in [("comments", notes), ("links", links), ("creates", made)] {
            match count {
                1 => {}
                0 => {
                    wrong += 1;
                    seen.push(format!("issue {n}: no {what}"));
                }
                more => {
                    twice += more - 1;
                    seen.push(format!("issue {n}: {more} {what}"));
                }
            }
        }
    }
    sim_search_lag(sim, lag);
    Ok((wrong, twice, seen))
}

impl Workspace {
    /// 20 SIGKILLs (3 in quick mode) during an apply, then runs to the end; then an apply
    /// under 30% 5xx and lost answers. Every line must hold exactly once.
    pub async fn applies(&self, quick: bool) -> anyhow::Result<Scenario> {
        let rounds = if quick { 3 } else { 20 };
        let issues = if quick { 40 } else { 150 };
        let sim = self.slow_sim(issues, 15).await;
        // Jira's search lags its writes: lost creates are found through search.
        sim_search_lag(&sim, SEARCH_LAG_MS);
        let site = sim.base_url().to_owned();
        let projects = sim.project_keys();
        let started = Instant::now();
        let lines = changes(&projects, issues, "killed", "Relates")
            .lines()
            .count();
        let mut scenario = Scenario::new(
            0,
            &format!(
                "Apply: {rounds} SIGKILLs during `jira-ops apply` of {lines} changes to {issues} issues (updates, labels, comments, links, transitions, creates), then re-runs; and an apply under 30% 5xx with lost answers"
            ),
            &[
                "run",
                "runs",
                "ended 0",
                "changes not holding",
                "comments, links or issues made twice",
                "wall",
            ],
        );
        let extra = [("MAX_CONCURRENT_JIRA_CALLS", "4")];

        // SIGKILL at a random moment, again and again, then runs until one ends 0.
        let path = self.home.path().join("apply-killed.jsonl");
        std::fs::write(&path, changes(&projects, issues, "killed", "Relates"))?;
        let file = path.to_str().unwrap_or_default().to_owned();
        let args = ["apply", "--from-file", file.as_str()];
        let round_started = Instant::now();
        let mut killed_mid_run = 0;
        for round in 0..rounds {
            let after = Duration::from_millis(rand::rng().random_range(150..900));
            let output = self
                .interrupted(
                    &site,
                    &format!("apply-kill-{round}"),
                    &args,
                    &extra,
                    "KILL",
                    after,
                )
                .await?;
            if output.status.code().is_none() {
                killed_mid_run += 1;
            }
        }
        let (mut runs, mut ended) = (rounds, false);
        while runs < rounds + 3 && !ended {
            runs += 1;
            ended = self
                .run(&site, &format!("apply-kill-end-{runs}"), &args, &extra)
                .await
                .status
                .success();
        }
        let (wrong, twice, mut seen) =
            check(&sim, &projects, issues, ("killed", "Relates")).await?;
        scenario.row(vec![
            format!("SIGKILL ×{rounds} (killed mid-run: {killed_mid_run}), then to the end"),
            runs.to_string(),
            u8::from(ended).to_string(),
            wrong.to_string(),
            twice.to_string(),
            format!("{:.1} s", round_started.elapsed().as_secs_f64()),
        ]);
        scenario.figures.push(Figure::exactly(
            "SIGKILL: changes not holding",
            wrong as f64,
            0.0,
        ));
        scenario.figures.push(Figure::exactly(
            "SIGKILL: comments, links or issues made twice",
            twice as f64,
            0.0,
        ));
        scenario.figures.push(Figure::info(
            "SIGKILL: runs killed before they ended",
            f64::from(killed_mid_run),
        ));

        // 30% of requests fail: 5xx before acting, and writes done with their answer lost.
        let cell_started = Instant::now();
        sim.set_faults(FaultConfig {
            rules: [
                FaultRule::new(
                    Fault::Latency {
                        fixed_ms: 5,
                        jitter_ms: 0,
                    },
                    1.0,
                ),
                FaultRule::new(Fault::LostResponse { status: 502 }, 0.15).method("POST"),
                FaultRule::new(Fault::LostResponse { status: 504 }, 0.15).method("PUT"),
            ]
            .into_iter()
            .chain(
                [500, 502, 503]
                    .into_iter()
                    .map(|status| FaultRule::new(Fault::Status { status }, 0.05)),
            )
            .collect(),
        });
        let path = self.home.path().join("apply-faults.jsonl");
        std::fs::write(&path, changes(&projects, issues, "faulted", "Blocks"))?;
        let file = path.to_str().unwrap_or_default().to_owned();
        let args = ["apply", "--from-file", file.as_str()];
        let (mut runs, mut ended) = (0, false);
        while runs < 6 && !ended {
            runs += 1;
            ended = self
                .run(&site, &format!("apply-fault-{runs}"), &args, &extra)
                .await
                .status
                .success();
        }
        let faults: u64 = sim.stats().faults.values().sum();
        sim.set_faults(FaultConfig::default());
        let (wrong, twice, more) = check(&sim, &projects, issues, ("faulted", "Blocks")).await?;
        seen.extend(more);
        scenario.row(vec![
            format!("5xx and lost answers at 30% ({faults} faults)"),
            runs.to_string(),
            u8::from(ended).to_string(),
            wrong.to_string(),
            twice.to_string(),
            format!("{:.1} s", cell_started.elapsed().as_secs_f64()),
        ]);
        scenario.figures.push(Figure::exactly(
            "5xx and lost answers: changes not holding",
            wrong as f64,
            0.0,
        ));
        scenario.figures.push(Figure::exactly(
            "5xx and lost answers: comments, links or issues made twice",
            twice as f64,
            0.0,
        ));
        sim.shutdown().await;
        if !seen.is_empty() {
            seen.truncate(10);
            scenario
                .notes
                .push(format!("Not holding: {}.", seen.join("; ")));
        }
        scenario.notes.push(format!(
            "{issues} issues of one project, 15 ms a request, 4 requests in flight; each SIGKILL 150–900 ms after the start, the runs after them until one exits 0 (at most 3). The fault run: every POST answered 502 after acting at 15%, every PUT 504 after acting at 15%, and 500/502/503 before acting at 5% each; runs until one exits 0 (at most 6). Read back from jira-sim: each issue's summary, label and status, and the comments with the line's text, the links to the line's outward issue and the issues with the line's summary, each of which must be exactly 1. {:.1} s in all.",
            started.elapsed().as_secs_f64()
        ));
        Ok(scenario)
    }
}
