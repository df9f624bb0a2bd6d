//! Real third-party clients, unmodified, against jira-sim: the PyPI `jira` package (its
//! default REST version 2, and 3) and the npm `jira.js` 6 (which checks every answer
//! against its own schemas; a mismatch fails the call), over HTTP and over `--tls` with
//! the simulator's certificate trusted (`jira_ops_tests::clients` installs them; the
//! scripts are in `tests/clients/`).

use std::path::Path;

use jira_ops_tests::clients::{
    JIRA_JS_CALLS, PYTHON_CALLS, PYTHON_SCRIPT, all_passed, node_with_jira_js, python_with_jira,
    trust,
};
use jira_sim::{LimitConfig, SimConfig, SimHandle};

/// Where the clients are installed and certificates written.
fn dir() -> &'static Path {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
}

/// A small tenant without limits for one client run, over HTTPS when `tls`.
async fn tenant(tls: bool) -> SimHandle {
    SimHandle::start(SimConfig {
        projects: 3,
        issues_per_project: 40,
        limits: LimitConfig::off(),
        tls,
        ..SimConfig::default()
    })
    .await
    .expect("jira-sim starts")
}

/// The environment that makes a client trust `sim`'s certificate.
fn trusting(sim: &SimHandle, variable: &'static str) -> Vec<(&'static str, std::path::PathBuf)> {
    let name = format!("jira-sim-{}.pem", sim.addr().port());
    trust(sim.certificate_pem(), dir(), &name, variable)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jira_js_client_passes_every_call_with_its_schemas_enforced() {
    let script = tokio::task::spawn_blocking(|| node_with_jira_js(dir()))
        .await
        .expect("the install ran");
    // Over HTTP, and over HTTPS with the simulator's certificate trusted as node is told
    // to trust an extra CA (the script unmodified).
    for tls in [false, true] {
        let sim = tenant(tls).await;
        assert_eq!(sim.base_url().starts_with("https://"), tls);
        let (email, token) = sim.basic_auth();
        let output = tokio::process::Command::new("node")
            .arg(&script)
            .args([sim.base_url(), &email, &token])
            .envs(trusting(&sim, "NODE_EXTRA_CA_CERTS"))
            .output()
            .await
            .expect("node runs");
        all_passed(&format!("jira.js (tls: {tls})"), &output, JIRA_JS_CALLS);
        assert!(sim.stats().requests > JIRA_JS_CALLS as u64);
        sim.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_jira_client_passes_every_call_on_v2_and_v3() {
    let python = tokio::task::spawn_blocking(|| python_with_jira(dir()))
        .await
        .expect("the install ran");
    // v2 and v3 over HTTP, and v3 over HTTPS with the certificate trusted the way
    // `requests` is told to (the script unmodified).
    for (version, tls) in [("2", false), ("3", false), ("3", true)] {
        let sim = tenant(tls).await;
        let (email, token) = sim.basic_auth();
        let output = tokio::process::Command::new(&python)
            .arg(PYTHON_SCRIPT)
            .args([sim.base_url(), &email, &token, version])
            .envs(trusting(&sim, "REQUESTS_CA_BUNDLE"))
            .output()
            .await
            .expect("the script runs");
        all_passed(
            &format!("python jira, REST v{version} (tls: {tls})"),
            &output,
            PYTHON_CALLS,
        );
        // The calls reached the simulator (not a cache or another server).
        assert!(sim.stats().requests > PYTHON_CALLS as u64);
        sim.shutdown().await;
    }
}
