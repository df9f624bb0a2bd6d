//! The PyPI `jira` and npm `jira.js` suites, unmodified, through the proxy: only the base
//! URL changes (the proxy's instead of jira-sim's); every call passes, every one went
//! through the proxy, and the reads it could serve from its cache did not reach the site.

use jira_ops_tests::clients::{
    JIRA_JS_CALLS, PYTHON_CALLS, PYTHON_SCRIPT, all_passed, node_with_jira_js, python_with_jira,
};
use jira_sim::LimitConfig;
use std::path::Path;

use std::time::Duration;

use jira_client::Auth;
use jira_proxy::ProxyConfig;

use crate::{forwarding, sim, start_proxy};

fn dir() -> &'static Path {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_jira_client_passes_every_call_through_the_proxy_on_v2_and_v3() {
    let python = tokio::task::spawn_blocking(|| python_with_jira(dir()))
        .await
        .expect("the install ran");
    for version in ["2", "3"] {
        // Atlassian's limits on: the proxy paces for the client. The package sends
        // `Cache-Control: no-cache` on every request; told to ignore it, the proxy serves
        // its reads from the cache, and every call must still see its own writes.
        let sim = sim(LimitConfig::atlassian()).await;
        let proxy = start_proxy(
            &sim,
            Auth::None,
            ProxyConfig {
                ignore_no_cache: true,
                ..ProxyConfig::default()
            },
            Duration::from_secs(60),
        )
        .await;
        let (email, token) = sim.basic_auth();
        let output = tokio::process::Command::new(&python)
            .arg(PYTHON_SCRIPT)
            .args([proxy.url.as_str(), &email, &token, version])
            .output()
            .await
            .expect("the script runs");
        all_passed(
            &format!("python jira through the proxy, REST v{version}"),
            &output,
            PYTHON_CALLS,
        );
        let stats = proxy.stats().await;
        assert!(stats.requests > PYTHON_CALLS as u64, "{stats:?}");
        assert_eq!(stats.passed_429, 0);
        // What the site saw is what the proxy sent upstream, no more.
        assert_eq!(
            sim.stats().requests,
            stats.upstream,
            "{stats:?} {:?}",
            sim.stats().by_endpoint
        );
        assert!(stats.upstream + stats.cache_hits + stats.coalesced >= stats.requests);
        assert!(stats.cache_hits > 0, "{stats:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jira_js_client_passes_every_call_through_the_proxy_with_its_schemas_enforced() {
    let script = tokio::task::spawn_blocking(|| node_with_jira_js(dir()))
        .await
        .expect("the install ran");
    let sim = sim(LimitConfig::atlassian()).await;
    let proxy = forwarding(&sim).await;
    let (email, token) = sim.basic_auth();
    let output = tokio::process::Command::new("node")
        .arg(&script)
        .args([proxy.url.as_str(), &email, &token])
        .output()
        .await
        .expect("node runs");
    all_passed("jira.js through the proxy", &output, JIRA_JS_CALLS);
    let stats = proxy.stats().await;
    assert!(stats.requests > JIRA_JS_CALLS as u64, "{stats:?}");
    assert_eq!(sim.stats().requests, stats.upstream, "{stats:?}");
}
