//! `jira-ops health`: connectivity, auth, latency, headroom and cache, graded.

use jira_client::health::{Failure, HealthOptions, HealthReport, Status};
use serde_json::json;

use crate::cli::{Global, HealthArgs};
use crate::config::CacheUse;
use crate::error::{AUTH_HINT, CliResult, Code};
use crate::output;

pub async fn run(global: &Global, args: HealthArgs) -> CliResult {
    let started = std::time::Instant::now();
    let settings = super::settings(global)?;
    let client = settings.client(CacheUse::IfFree).await?;
    let options = HealthOptions {
        samples: usize::from(args.samples),
        ..HealthOptions::default()
    };
    // Ctrl-C or SIGTERM ends the checks at once: nothing is in flight that matters.
    let report = tokio::select! {
        report = client.health(&options) => report,
        code = crate::signals::wait() => {
            let _ = client.close().await;
            crate::notes::say!("jira-ops: interrupted: the health checks were stopped before they ended; no report");
            return Ok(code);
        }
    };
    client.close().await?;
    let site = client.site_key().as_str();
    let checks = report.checks.len() as u64;
    let summary = output::Summary::of("health", &client, checks, "checks", 0, started);
    if args.format.json() {
        let mut value = to_json(site, &report);
        value["summary"] = summary.json();
        crate::output::outln!("{value}");
    } else {
        crate::output::outln!("{}", render(site, &report));
        summary.print(global);
    }
    Ok(exit_code(&report))
}

/// 0 healthy, 1 degraded, 2 unhealthy, 3 when the credentials were refused.
pub fn exit_code(report: &HealthReport) -> Code {
    match (report.failure, report.status) {
        (Some(Failure::Auth), _) => {
            crate::notes::say!(
                "jira-ops: error: {}",
                AUTH_HINT.replace("{status}", "401/403")
            );
            Code::Auth
        }
        (_, Status::Healthy) => Code::Ok,
        (_, Status::Degraded) => Code::Failure,
        (_, Status::Unhealthy) => Code::Usage,
    }
}

/// The report as one JSON object.
pub fn to_json(site: &str, report: &HealthReport) -> serde_json::Value {
    let mut value = serde_json::to_value(report).unwrap_or_default();
    value["site"] = json!(site);
    value
}

/// The report as a table with the overall line on top.
pub fn render(site: &str, report: &HealthReport) -> String {
    let mut table = output::table(&["check", "status", "detail"]);
    for check in &report.checks {
        table.add_row(vec![
            check.name.to_owned(),
            check.status.as_str().to_owned(),
            check.detail.clone(),
        ]);
    }
    let who = match (&report.user, &report.server) {
        (Some(user), Some(server)) => format!(" as {user} ({server})"),
        (Some(user), None) => format!(" as {user}"),
        _ => String::new(),
    };
    format!("{site}: {}{who}\n{table}", report.status.as_str())
}
