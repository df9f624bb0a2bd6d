//! `jira-ops diagnose`: health, sequential vs batched timing on real keys, the transport's
//! settings and the effective config (secrets redacted).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use jira_client::JiraClient;
use jira_client::SearchOptions;
use jira_client::Transport;
use jira_client::health::HealthOptions;
use jira_model::ApiRequest;
use serde_json::json;

use crate::cli::{DiagnoseArgs, Global};
use crate::config::CacheUse;
use crate::error::{CliError, CliResult};
use crate::output;

pub async fn run(global: &Global, args: DiagnoseArgs) -> CliResult {
    let run_started = Instant::now();
    let settings = super::settings(global)?;
    let client = settings.client(CacheUse::IfFree).await?;
    let site = client.site_key().as_str().to_owned();
    let report = client.health(&HealthOptions::default()).await;
    if report.failure.is_some() {
        // Nothing more can be measured; say why, with the health exit code.
        client.close().await?;
        if args.format.json() {
            crate::output::outln!("{}", super::health::to_json(&site, &report));
        } else {
            crate::output::outln!("{}", super::health::render(&site, &report));
        }
        return Ok(super::health::exit_code(&report));
    }

    // Keys to time: given, or the most recently updated the account can see.
    let keys = if args.keys.is_empty() {
        recent_keys(&client).await?
    } else {
        args.keys.clone()
    };
    // Timed on the wire without the cache, so both sides do the same work.
    let raw = Arc::new(client.wire().clone());
    let fields = ["summary", "status"];
    let started = Instant::now();
    let mut sequential_ok = 0;
    for key in &keys {
        if let Ok(response) = raw.send(ApiRequest::get_issue(key, &fields, &[])).await
            && response.is_success()
        {
            sequential_ok += 1;
        }
    }
    let sequential = started.elapsed();
    let started = Instant::now();
    let (results, fetch_report) = client.fetch_issues_on_wire(&keys, &fields).await?;
    let batched = started.elapsed();
    let batched_ok = results.iter().filter(|(_, r)| r.is_ok()).count();
    client.close().await?;
    let http = client.http_config();
    let speedup = sequential.as_secs_f64() / batched.as_secs_f64().max(1e-9);
    let summary = output::Summary::of(
        "diagnose",
        &client,
        (sequential_ok + batched_ok) as u64,
        "issues",
        0,
        run_started,
    );
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    if args.format.json() {
        let settings_json: serde_json::Map<_, _> = settings
            .rows()
            .into_iter()
            .map(|(name, value, source)| (name, json!({"value": value, "source": source})))
            .collect();
        crate::output::outln!(
            "{}",
            json!({
                "health": super::health::to_json(&site, &report),
                "timing": {
                    "keys": keys,
                    "sequential_ms": ms(sequential), "sequential_requests": keys.len(), "sequential_ok": sequential_ok,
                    "batched_ms": ms(batched), "batched_requests": fetch_report.requests, "batched_ok": batched_ok,
                    "speedup": speedup,
                },
                "transport": {
                    "max_in_flight": http.max_in_flight,
                    "acquire_timeout_ms": ms(http.acquire_timeout),
                    "connect_timeout_ms": ms(http.timeouts.connect),
                    "read_timeout_ms": ms(http.timeouts.read.single),
                    "total_timeout_ms": ms(http.timeouts.total.single),
                    "bulk_read_timeout_ms": ms(http.timeouts.read.bulk),
                },
                "settings": settings_json,
                "summary": summary.json(),
            })
        );
    } else {
        crate::output::outln!("{}\n", super::health::render(&site, &report));
        let mut timing = output::table(&["strategy", "keys", "requests", "ok", "time"]);
        timing.add_row(vec![
            "sequential GETs".to_owned(),
            keys.len().to_string(),
            keys.len().to_string(),
            sequential_ok.to_string(),
            output::seconds(sequential),
        ]);
        timing.add_row(vec![
            "bulk fetch".to_owned(),
            keys.len().to_string(),
            fetch_report.requests.to_string(),
            batched_ok.to_string(),
            output::seconds(batched),
        ]);
        crate::output::outln!("Sequential vs batched ({speedup:.1}x):\n{timing}\n");
        let mut transport = output::table(&["transport", "value"]);
        for (name, value) in [
            ("max in flight (pool)", http.max_in_flight.to_string()),
            ("acquire timeout", output::seconds(http.acquire_timeout)),
            ("connect timeout", output::seconds(http.timeouts.connect)),
            (
                "read timeout (single)",
                output::seconds(http.timeouts.read.single),
            ),
            (
                "total timeout (single)",
                output::seconds(http.timeouts.total.single),
            ),
            (
                "read timeout (bulk)",
                output::seconds(http.timeouts.read.bulk),
            ),
        ] {
            transport.add_row(vec![name.to_owned(), value]);
        }
        crate::output::outln!("{transport}\n");
        let mut effective = output::table(&["setting", "value", "source"]);
        for (name, value, source) in settings.rows() {
            effective.add_row(vec![name, value, source]);
        }
        crate::output::outln!("Effective settings:\n{effective}");
        summary.print(global);
    }
    Ok(super::health::exit_code(&report))
}

/// Up to five keys of recently updated issues, from the first project the account sees.
async fn recent_keys(client: &JiraClient) -> Result<Vec<String>, CliError> {
    let response = client
        .transport()
        .send(ApiRequest::project_search(0, 1))
        .await?;
    let page: jira_model::ProjectPage = response
        .json()
        .map_err(|e| CliError::failure(format!("reading the project list: {e}")))?;
    let Some(project) = page.values.first() else {
        return Err(CliError::failure(
            "the account sees no project; pass --keys PROJ-1,PROJ-2 to time those",
        ));
    };
    let jql = format!("project = {} ORDER BY updated DESC", project.key);
    let options = SearchOptions {
        fields: vec!["summary".into()],
        page_size: 5,
        prefetch: false,
        limit: None,
    };
    let issues: Vec<_> = client.search(&jql, options).take(5).collect().await;
    let keys: Vec<String> = issues
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .map(|issue| issue.key)
        .collect();
    if keys.is_empty() {
        return Err(CliError::failure(format!(
            "project {} has no issues; pass --keys PROJ-1,PROJ-2 to time those",
            project.key
        )));
    }
    Ok(keys)
}
