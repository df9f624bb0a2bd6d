//! One worker of the scale-out test: sends single-issue GETs to a Jira site through the full
//! stack, with either a shared Redis budget or its own in-process budget, and prints one
//! JSON line: `{"ok": N, "failed": N, "finished_ms": [...]}` (completion times since the
//! Unix epoch, in milliseconds).
//!
//! ```text
//! scaleout-worker SITE_URL (redis://... | local) COUNT
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use jira_model::ApiRequest;
use jira_ratelimit::{Fallback, LimitsConfig, RateLimited, RedisBudget};
use jira_transport::{Auth, HttpConfig, HttpTransport, RetryPolicy, Secret, TransportExt};

const TASKS: usize = 16;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [site, budget, count] = args.as_slice() else {
        eprintln!("usage: scaleout-worker SITE_URL (redis://... | local) COUNT");
        std::process::exit(2);
    };
    let count: u64 = count.parse().expect("COUNT is a whole number");
    let http = HttpTransport::new(HttpConfig::new(
        site.as_str(),
        Auth::Basic {
            email: "sim@example.com".into(),
            api_token: Secret::new("sim-token"),
        },
    ))
    .expect("valid site URL");
    let config = LimitsConfig::default();
    let jira: Arc<dyn jira_transport::DynTransport> = if budget == "local" {
        Arc::new(RateLimited::new(http, config).with_retries(RetryPolicy::default()))
    } else {
        let shared = RedisBudget::connect(budget, site, Fallback::Fail)
            .await
            .expect("Redis reachable");
        Arc::new(
            RateLimited::with_budget(http, config, shared).with_retries(RetryPolicy::default()),
        )
    };
    let next = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let finished = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (jira, next, failed, finished) =
                (jira.clone(), next.clone(), failed.clone(), finished.clone());
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < count {
                    let request = ApiRequest::get_issue("APO-1", &["summary"], &[]);
                    match jira.send_dyn(request).await {
                        Ok(response) if response.status == 200 => {
                            let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
                            finished.lock().push(now.as_millis() as u64);
                        }
                        _ => {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let finished = finished.lock().clone();
    println!(
        "{}",
        serde_json::json!({
            "ok": finished.len(),
            "failed": failed.load(Ordering::Relaxed),
            "finished_ms": finished,
        })
    );
}
