//! One worker of the scale-out test and benchmark: a client built from the facade
//! (`jira_client::JiraClient`), with either a shared Redis budget or its own in-process
//! budget, sends single-issue GETs through the shared load generator and prints one JSON
//! line: `{"ok": N, "failed": N, "finished_ms": [...]}` (completion times since the Unix
//! epoch, in milliseconds).
//!
//! ```text
//! scaleout-worker SITE_URL (redis://... | local) COUNT
//! ```

use std::time::{SystemTime, UNIX_EPOCH};

use jira_client::{BudgetChoice, JiraClient};
use jira_model::ApiRequest;
use jira_ratelimit::Fallback;

const TASKS: usize = 16;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [site, budget, count] = args.as_slice() else {
        eprintln!("usage: scaleout-worker SITE_URL (redis://... | local) COUNT");
        std::process::exit(2);
    };
    let Ok(count) = count.parse::<usize>() else {
        eprintln!("scaleout-worker: COUNT {count:?} is not a whole number");
        std::process::exit(2);
    };
    let budget = if budget == "local" {
        BudgetChoice::Local
    } else {
        BudgetChoice::Redis {
            url: budget.clone(),
            fallback: Fallback::Fail,
        }
    };
    let client = match JiraClient::builder(site)
        .basic_auth("sim@example.com", "sim-token")
        .budget(budget)
        .build()
        .await
    {
        Ok(client) => client,
        Err(error) => {
            eprintln!("scaleout-worker: {error}");
            std::process::exit(1);
        }
    };
    let started_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
        * 1000.0;
    let load = jira_transport::testing::load(client.transport().clone(), count, TASKS, |_| {
        ApiRequest::get_issue("APO-1", &["summary"], &[])
    })
    .await;
    let finished: Vec<u64> = load
        .finished
        .iter()
        .map(|secs| (started_ms + secs * 1000.0) as u64)
        .collect();
    println!(
        "{}",
        serde_json::json!({
            "ok": finished.len() as u64 - load.failures,
            "failed": load.failures,
            "finished_ms": finished,
        })
    );
}
