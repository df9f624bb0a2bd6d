//! Real third-party clients, unmodified, against jira-sim: the PyPI `jira` package (its
//! default REST version 2, and 3), installed by the test itself into a virtual environment
//! under the target directory (PyPI is the only network it needs). Each call the script
//! makes prints `PASS name` or `FAIL name: why`; every one must pass.
//!
//! The script is `tests/clients/python_jira.py`; `cargo xtask ci` installs `python3` and
//! its `venv` module from Debian when a machine lacks them.

use std::path::{Path, PathBuf};
use std::process::Command;

use jira_sim::{LimitConfig, SimConfig, SimHandle};

/// The client version the suite pins.
const PYTHON_JIRA: &str = "jira==3.10.5";
/// The calls the script makes, each one a line.
const PYTHON_CALLS: usize = 25;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_jira_client_passes_every_call_on_v2_and_v3() {
    let python = tokio::task::spawn_blocking(python_with_jira)
        .await
        .expect("the install ran");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/python_jira.py");
    for version in ["2", "3"] {
        let sim = SimHandle::start(SimConfig {
            projects: 3,
            issues_per_project: 40,
            limits: LimitConfig::off(),
            ..SimConfig::default()
        })
        .await
        .expect("jira-sim starts");
        let (email, token) = sim.basic_auth();
        let output = tokio::process::Command::new(&python)
            .arg(script)
            .args([sim.base_url(), &email, &token, version])
            .output()
            .await
            .expect("the script runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let passed = stdout.lines().filter(|l| l.starts_with("PASS ")).count();
        assert!(
            output.status.success() && passed == PYTHON_CALLS,
            "REST v{version}: {passed} of {PYTHON_CALLS} calls passed\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        // The calls reached the simulator (not a cache or another server).
        assert!(sim.stats().requests > PYTHON_CALLS as u64);
        sim.shutdown().await;
    }
}
