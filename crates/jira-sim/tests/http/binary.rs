//! The `jira-sim` binary, as a user runs it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// Kills the child when the test ends, pass or fail.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn serves_what_its_flags_say() {
    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_jira-sim"))
            .args([
                "--port",
                "0",
                "--projects",
                "2",
                "--issues-per-project",
                "3",
            ])
            .args(["--token", "secret-xyz", "--log", "warn"])
            .args(["--fault", "status:503@1:/rest/api/3/field"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("jira-sim starts"),
    );
    let mut first_line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut first_line)
        .unwrap();
    assert!(
        first_line.starts_with("jira-sim serving 6 issues at http://127.0.0.1:"),
        "{first_line}"
    );
    assert!(!first_line.contains("secret-xyz"));
    let base = first_line.trim().rsplit(' ').next().unwrap().to_owned();
    let client = reqwest::Client::new();
    let get = |path: &str| {
        client
            .get(format!("{base}{path}"))
            .basic_auth("sim@example.com", Some("secret-xyz"))
            .send()
    };
    assert_eq!(get("/rest/api/3/issue/BEA-3").await.unwrap().status(), 200);
    assert_eq!(get("/rest/api/3/issue/BEA-4").await.unwrap().status(), 404);
    assert_eq!(get("/rest/api/3/field").await.unwrap().status(), 503);
}

#[test]
fn bad_flags_get_a_clear_error_and_a_non_zero_exit() {
    let check = |args: &[&str], fragment: &str| {
        let output = Command::new(env!("CARGO_BIN_EXE_jira-sim"))
            .args(args)
            .output()
            .unwrap();
        assert!(!output.status.success(), "{args:?} succeeded");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(fragment), "{args:?}: {stderr}");
    };
    check(&["--fault", "explode@0.1"], "is not a fault rule");
    check(&["--fault", "status:503@7"], "outside 0..1");
    check(&["--time-scale", "0"], "must be a positive number");
    check(&["--burst=-5"], "must be positive");
    check(&["--projects", "many"], "invalid value 'many'");
    check(
        &["--render-zone", "mars"],
        "--render-zone \"mars\" is not a zone choice",
    );
    check(&["--tls-cert-out", "x.pem"], "--tls");
}

#[tokio::test]
async fn tls_serves_https_with_the_certificate_it_writes() {
    let dir = std::env::temp_dir().join(format!("jira-sim-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pem_path = dir.join("sim.pem");
    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_jira-sim"))
            .args([
                "--port",
                "0",
                "--projects",
                "1",
                "--issues-per-project",
                "3",
            ])
            .args(["--tls", "--tls-cert-out"])
            .arg(&pem_path)
            .args(["--log", "warn"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("jira-sim starts"),
    );
    let mut first_line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut first_line)
        .unwrap();
    let base = first_line.trim().rsplit(' ').next().unwrap().to_owned();
    assert!(base.starts_with("https://127.0.0.1:"), "{first_line}");
    let pem = std::fs::read(&pem_path).expect("the certificate was written");
    let certificate = reqwest::Certificate::from_pem(&pem).unwrap();
    let trusting = reqwest::Client::builder()
        .tls_certs_only([certificate])
        .build()
        .unwrap();
    let response = trusting
        .get(format!("{base}/rest/api/3/myself"))
        .basic_auth("sim@example.com", Some("sim-token"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // A client that does not trust the certificate is refused at the handshake.
    let strict = reqwest::Client::builder()
        .tls_certs_only(Vec::<reqwest::Certificate>::new())
        .build()
        .unwrap();
    assert!(
        strict
            .get(format!("{base}/rest/api/3/myself"))
            .send()
            .await
            .is_err()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
