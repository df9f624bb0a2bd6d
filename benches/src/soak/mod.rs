//! `jira-ops-bench soak`: the reliability matrix of `cargo xtask soak`. Every cell is a
//! bounded run (a count and a time limit) that must end with every request accounted for.

mod cli;
mod faults;
mod load;

use std::path::Path;

use crate::report::Scenario;

/// The cells, by name, for `--only`.
pub const CELLS: [&str; 11] = [
    "faults",
    "crash",
    "contention",
    "load",
    "interrupts",
    "exports",
    "stores",
    "syncs",
    "applies",
    "proxies",
    "secrets",
];

/// Runs the cells (`only` one of them when given), printing each as it ends.
pub async fn run(quick: bool, only: Option<&str>, cli: &Path) -> anyhow::Result<Vec<Scenario>> {
    if let Some(name) = only
        && !CELLS.contains(&name)
    {
        anyhow::bail!("--only {name:?}: one of {}", CELLS.join(", "));
    }
    if !cli.is_file() {
        anyhow::bail!(
            "--cli {}: no such file (build it: cargo build --release --bin jira-ops)",
            cli.display()
        );
    }
    let workspace = cli::Workspace::new(cli)?;
    let mut scenarios = Vec::new();
    for (id, name) in CELLS.iter().enumerate() {
        if only.is_some_and(|only| only != *name) {
            continue;
        }
        eprintln!("soak: {name}...");
        let scenario = match *name {
            "faults" => faults::run(quick).await,
            "crash" => workspace.crash(quick).await?,
            "contention" => workspace.contention().await?,
            "load" => load::run(quick).await,
            "interrupts" => workspace.interrupts(quick).await?,
            "exports" => workspace.exports(quick).await?,
            "stores" => workspace.stores(quick).await?,
            "syncs" => workspace.syncs(quick).await?,
            "applies" => workspace.applies(quick).await?,
            "proxies" => workspace.proxies(quick).await?,
            _ => workspace.secrets().await?,
        };
        let mut scenario = scenario;
        scenario.id = id as u32 + 1;
        scenario.print();
        scenarios.push(scenario);
    }
    Ok(scenarios)
}
