//! `jira-ops-bench bench`: every scenario of `cargo xtask bench`, each beside its baseline.

mod apply;
mod cache;
mod fetch;
mod memory;
mod overhead;
mod pacing;
mod postgres;
mod proxy;
mod quota;
mod revert;
mod scaleout;
mod strategies;
mod strict;
mod sync;

pub use memory::child as rss_child;
pub use proxy::client as proxy_client;
pub use sync::child as sync_rss_child;

use crate::report::Scenario;

/// Runs the scenarios (`only` one of them when given), printing each as it ends.
pub async fn run(quick: bool, only: Option<u32>) -> Vec<Scenario> {
    let mut scenarios = Vec::new();
    for id in 1..=16 {
        if only.is_some_and(|only| only != id) {
            continue;
        }
        eprintln!("bench: scenario {id}...");
        let scenario = match id {
            1 => fetch::run(quick).await,
            2 => pacing::known(quick).await,
            3 => pacing::hidden(quick).await,
            4 => overhead::run(quick).await,
            5 => cache::run(quick).await,
            6 => memory::run(quick).await,
            7 => scaleout::run(quick).await,
            8 => strict::run(quick).await,
            9 => quota::run(quick).await,
            10 => sync::run(quick).await,
            11 => sync::memory(quick).await,
            12 => apply::run(quick).await,
            13 => strategies::run(quick).await,
            14 => proxy::run(quick).await,
            15 => revert::run(quick).await,
            _ => postgres::run(quick).await,
        };
        scenario.print();
        scenarios.push(scenario);
    }
    scenarios
}

/// A client for `sim` as `jira-ops` builds one by default, without a cache (each scenario
/// adds its own settings before `build`).
pub(crate) fn client_builder(sim: &jira_sim::SimHandle) -> jira_client::ClientBuilder {
    let (email, token) = sim.basic_auth();
    jira_client::JiraClient::builder(sim.base_url())
        .basic_auth(email, token)
        .cache(jira_client::CacheChoice::None)
}
