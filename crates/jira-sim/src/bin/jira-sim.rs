//! `jira-sim`: serve a simulated Jira Cloud tenant on a local port.
//!
//! ```text
//! jira-sim --port 8080 --projects 20 --issues-per-project 5000
//! jira-sim --no-limits --fault 'status:503@0.05' --fault 'latency:20+10'
//! ```

use anyhow::Context;
use clap::Parser;
use jira_sim::cli::{ServeArgs, examples};

/// Serve a simulated Jira Cloud tenant (seeded data, Atlassian's rate limits, injected
/// faults) for testing Jira clients locally.
#[derive(Debug, Parser)]
#[command(version, after_help = examples("jira-sim"))]
struct Args {
    #[command(flatten)]
    serve: ServeArgs,
    /// Log filter (RUST_LOG syntax).
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    log: String,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&args.log).with_context(|| {
                format!(
                    "--log {:?} is not a valid filter (try --log info)",
                    args.log
                )
            })?,
        )
        .with_writer(std::io::stderr)
        .init();
    // Check the flags before starting anything.
    args.serve.to_config()?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(args.serve.serve_until(async {
        let _ = tokio::signal::ctrl_c().await;
    }))
}
