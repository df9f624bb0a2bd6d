//! Real third-party clients, unmodified, against jira-sim: the PyPI `jira` package (its
//! default REST version 2, and 3) and the npm `jira.js` 6 (which checks every answer
//! against its own schemas; a mismatch fails the call), each installed by the test itself
//! under the target directory (a virtual environment, an npm prefix; the package
//! registries are the only network they need), over HTTP and over `--tls` with the
//! simulator's certificate trusted. Each call a script makes prints
//! `PASS name` or `FAIL name: why`; every one must pass.
//!
//! The scripts are in `tests/clients/`; `cargo xtask ci` installs `python3` with its
//! `venv` module and `npm` from Debian when a machine lacks them.

use std::path::{Path, PathBuf};
use std::process::Command;

use jira_sim::{LimitConfig, SimConfig, SimHandle};

/// The client version the suite pins.
const PYTHON_JIRA: &str = "jira==3.10.5";
/// The calls the script makes, each one a line.
const PYTHON_CALLS: usize = 25;
/// The npm client the suite pins.
const JIRA_JS: &str = "jira.js@6.2.0";
/// The calls its script makes.
const JIRA_JS_CALLS: usize = 28;

fn run(command: &mut Command, what: &str) -> std::process::Output {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: could not start {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// A virtual environment with the pinned `jira` package, made once per target directory.
fn python_with_jira() -> PathBuf {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("python-jira-venv");
    let python = venv.join("bin/python");
    let marker = venv.join(format!("{PYTHON_JIRA}.installed"));
    if !marker.exists() {
        let _ = std::fs::remove_dir_all(&venv);
        run(
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
            "python3 -m venv (install python3 and python3-venv)",
        );
        run(
            Command::new(&python).args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                PYTHON_JIRA,
            ]),
            "pip install jira",
        );
        std::fs::write(&marker, "").expect("the marker is written");
    }
    python
}

/// An npm prefix with the pinned `jira.js` and the script beside its `node_modules`.
fn node_with_jira_js() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("jira-js");
    let marker = dir.join(format!("{}.installed", JIRA_JS.replace('/', "_")));
    if !marker.exists() {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("the npm prefix is made");
        std::fs::write(
            dir.join("package.json"),
            r#"{"name": "jira-sim-client-check", "private": true, "type": "module"}"#,
        )
        .expect("package.json is written");
        run(
            Command::new("npm")
                .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
                .arg(&dir)
                .arg(JIRA_JS),
            "npm install jira.js (install nodejs and npm)",
        );
        std::fs::write(&marker, "").expect("the marker is written");
    }
    let script = dir.join("jira_js.mjs");
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/jira_js.mjs"),
        &script,
    )
    .expect("the script is copied beside node_modules");
    script
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

/// The environment a client needs to trust `sim`'s certificate (none over plain HTTP):
/// `variable` names the file, written under the target directory.
fn trust(sim: &SimHandle, variable: &'static str) -> Vec<(&'static str, PathBuf)> {
    let Some(pem) = sim.certificate_pem() else {
        return Vec::new();
    };
    let path =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("jira-sim-{}.pem", sim.addr().port()));
    std::fs::write(&path, pem).expect("the certificate is written");
    vec![(variable, path)]
}

/// Checks a client script's output: it exited 0 and printed `calls` PASS lines.
fn all_passed(what: &str, output: &std::process::Output, calls: usize) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let passed = stdout.lines().filter(|l| l.starts_with("PASS ")).count();
    assert!(
        output.status.success() && passed == calls,
        "{what}: {passed} of {calls} calls passed\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jira_js_client_passes_every_call_with_its_schemas_enforced() {
    let script = tokio::task::spawn_blocking(node_with_jira_js)
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
            .envs(trust(&sim, "NODE_EXTRA_CA_CERTS"))
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
    let python = tokio::task::spawn_blocking(python_with_jira)
        .await
        .expect("the install ran");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/python_jira.py");
    // v2 and v3 over HTTP, and v3 over HTTPS with the certificate trusted the way
    // `requests` is told to (the script unmodified).
    for (version, tls) in [("2", false), ("3", false), ("3", true)] {
        let sim = tenant(tls).await;
        let (email, token) = sim.basic_auth();
        let output = tokio::process::Command::new(&python)
            .arg(script)
            .args([sim.base_url(), &email, &token, version])
            .envs(trust(&sim, "REQUESTS_CA_BUNDLE"))
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
