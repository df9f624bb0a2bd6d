//! `jira-ops-bench`: the end-to-end benchmarks (`bench`) and the reliability matrix (`soak`)
//! of jira-ops against jira-sim. `cargo xtask bench` and `cargo xtask soak` build it in
//! release mode, run it, and render its JSON report into `docs/`.
//!
//! # Design
//!
//! Every scenario runs its baseline in the same process and the same run, so a noisy
//! machine moves both sides alike and the ratio stands. Each scenario returns a
//! [`report::Scenario`]: a table, and figures with their targets; `--check` in xtask fails
//! when a target is missed.
//!
//! # Example
//!
//! ```text
//! jira-ops-bench bench --quick --out target/bench/report.json
//! jira-ops-bench bench --only 4
//! jira-ops-bench soak --quick --cli target/release/jira-ops --out target/soak/report.json
//! ```

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};

mod bench;
mod common;
mod report;
mod soak;

const USAGE: &str = "usage:
  jira-ops-bench bench [--quick] [--only N] [--out FILE]
  jira-ops-bench soak  [--quick] [--only NAME] --cli PATH [--out FILE]";

struct Args {
    quick: bool,
    only: Option<String>,
    out: Option<PathBuf>,
    cli: Option<PathBuf>,
}

fn parse(args: &[String]) -> anyhow::Result<Args> {
    let mut parsed = Args {
        quick: false,
        only: None,
        out: None,
        cli: None,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| {
            args.next()
                .cloned()
                .with_context(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--quick" => parsed.quick = true,
            "--only" => parsed.only = Some(value("--only")?),
            "--out" => parsed.out = Some(PathBuf::from(value("--out")?)),
            "--cli" => parsed.cli = Some(PathBuf::from(value("--cli")?)),
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    Ok(parsed)
}

/// mimalloc rather than glibc's allocator: glibc keeps an arena per thread that touched
/// the heap, so a long sync's resident memory grew with its length.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs the command; a failure is printed as its chain of causes (never a backtrace, even
/// with `RUST_BACKTRACE` set) and exits 1.
fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("jira-ops-bench: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let Some(command) = argv.first() else {
        bail!("{USAGE}");
    };
    if command == "rss-child" {
        let count: usize = argv.get(1).context("a count")?.parse()?;
        let url = argv.get(2).context("a site URL")?;
        runtime.block_on(bench::rss_child(count, url));
        return Ok(());
    }
    if command == "proxy-client" {
        let url = argv.get(1).context("a base URL")?;
        let keys = argv.get(2).context("the issue keys")?;
        runtime.block_on(bench::proxy_client(url, keys));
        return Ok(());
    }
    if command == "sync-rss-child" {
        let url = argv.get(1).context("a site URL")?;
        let projects = argv.get(2).context("the project keys")?;
        let dir = argv.get(3).context("a directory")?;
        let sink = argv.get(4).map_or("sqlite", String::as_str);
        let strategy = argv.get(5).map_or("plan", String::as_str);
        runtime.block_on(bench::sync_rss_child(url, projects, dir, sink, strategy));
        return Ok(());
    }
    let args = parse(&argv[1..])?;
    let started = Instant::now();
    let scenarios = match command.as_str() {
        "bench" => {
            let only = match &args.only {
                Some(n) => Some(
                    n.parse::<u32>()
                        .with_context(|| format!("--only {n:?}: a scenario number from 1 to 16"))?,
                ),
                None => None,
            };
            runtime.block_on(bench::run(args.quick, only))
        }
        "soak" => {
            let cli = args
                .cli
                .clone()
                .context("soak needs --cli PATH (the jira-ops binary)")?;
            runtime.block_on(soak::run(args.quick, args.only.as_deref(), &cli))?
        }
        other => bail!("unknown command {other:?}\n{USAGE}"),
    };
    let missed: Vec<String> = scenarios
        .iter()
        .filter(|s| !s.passed())
        .flat_map(|s| {
            s.figures
                .iter()
                .filter(|f| f.met == Some(false))
                .map(move |f| format!("scenario {}: {}", s.id, f.name))
        })
        .collect();
    if missed.is_empty() {
        eprintln!("\nevery target met");
    } else {
        eprintln!("\ntargets missed: {}", missed.join("; "));
    }
    let report = report::Report {
        kind: command.clone(),
        mode: if args.quick { "quick" } else { "full" }.into(),
        seconds: started.elapsed().as_secs_f64(),
        scenarios,
    };
    if let Some(out) = &args.out {
        if let Some(dir) = out.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(out, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing {}", out.display()))?;
        eprintln!("report: {}", out.display());
    }
    Ok(())
}
