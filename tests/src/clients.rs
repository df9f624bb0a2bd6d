//! Real third-party clients, unmodified: the PyPI `jira` package and the npm `jira.js`,
//! each installed once per target directory (a virtual environment, an npm prefix; the
//! package registries are the only network they need), and the scripts in
//! `tests/clients/` that call a Jira through them. Each call a script makes prints `PASS
//! name` or `FAIL name: why`; [`all_passed`] checks every one passed. Used against
//! jira-sim directly (`tests/it/clients.rs`) and through `jira-ops proxy`
//! (`crates/jira-proxy/tests`). `cargo xtask ci` installs `python3` with its `venv`
//! module and `npm` from Debian when a machine lacks them.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The PyPI client version the suite pins.
pub const PYTHON_JIRA: &str = "jira==3.10.5";
/// The calls `python_jira.py` makes, each one a line.
pub const PYTHON_CALLS: usize = 27;
/// The npm client the suite pins.
pub const JIRA_JS: &str = "jira.js@6.2.0";
/// The calls `jira_js.mjs` makes.
pub const JIRA_JS_CALLS: usize = 30;

/// The Python script: `python python_jira.py BASE_URL EMAIL TOKEN REST_VERSION`.
pub const PYTHON_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/clients/python_jira.py");

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

/// The Python of a virtual environment under `dir` with the pinned `jira` package, made
/// once (a marker file says it is complete).
pub fn python_with_jira(dir: &Path) -> PathBuf {
    let venv = dir.join("python-jira-venv");
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

/// An npm prefix under `dir` with the pinned `jira.js`, and the script copied beside its
/// `node_modules` (node resolves imports from the script's directory):
/// `node jira_js.mjs BASE_URL EMAIL TOKEN`.
pub fn node_with_jira_js(dir: &Path) -> PathBuf {
    let dir = dir.join("jira-js");
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
        concat!(env!("CARGO_MANIFEST_DIR"), "/clients/jira_js.mjs"),
        &script,
    )
    .expect("the script is copied beside node_modules");
    script
}

/// The environment a client needs to trust a server's certificate `pem` (none without
/// one): `variable` (`NODE_EXTRA_CA_CERTS`, `REQUESTS_CA_BUNDLE`) names the file, written
/// under `dir` as `name`.
pub fn trust(
    pem: Option<&str>,
    dir: &Path,
    name: &str,
    variable: &'static str,
) -> Vec<(&'static str, PathBuf)> {
    let Some(pem) = pem else {
        return Vec::new();
    };
    let path = dir.join(name);
    std::fs::write(&path, pem).expect("the certificate is written");
    vec![(variable, path)]
}

/// Checks a client script's output: it exited 0 and printed `calls` PASS lines.
pub fn all_passed(what: &str, output: &std::process::Output, calls: usize) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let passed = stdout.lines().filter(|l| l.starts_with("PASS ")).count();
    assert!(
        output.status.success() && passed == calls,
        "{what}: {passed} of {calls} calls passed\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
