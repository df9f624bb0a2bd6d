//! `jira-ops proxy`: the banner with the address taken, callers' credentials forwarded and
//! never logged, a clean stop on SIGTERM, and the options it refuses.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncBufReadExt as _;

use crate::{EMAIL, Env, TOKEN, sim};

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_forwards_callers_and_logs_no_credential() {
    let sim = sim().await;
    let mut env = Env::new();
    env.set("JIRA_SITE_URL", sim.base_url());
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_jira-ops"))
        .args(["proxy", "--listen", "127.0.0.1:0", "-v"])
        .env_clear()
        .envs(&env.vars)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("jira-ops proxy starts");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let banner = lines.next_line().await.unwrap().unwrap_or_default();
    assert!(
        banner.starts_with("jira-ops proxy listening on http://127.0.0.1:"),
        "{banner}"
    );
    let url = banner.split_whitespace().nth(4).unwrap().to_owned();
    assert!(banner.ends_with(sim.base_url()), "{banner}");

    let http = reqwest::Client::new();
    let me = http
        .get(format!("{url}/rest/api/3/myself"))
        .basic_auth(EMAIL, Some(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let body: serde_json::Value = me.json().await.unwrap();
    assert_eq!(body["emailAddress"], EMAIL);
    // A wrong token is the site's to refuse, and the proxy says so unchanged.
    let wrong = http
        .get(format!("{url}/rest/api/3/myself"))
        .basic_auth(EMAIL, Some("wrong-token"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let stats: serde_json::Value = http
        .get(format!("{url}/__proxy/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["requests"], 2);
    assert_eq!(sim.stats().requests, 2);

    let pid = child.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let output = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("the proxy stops after SIGTERM")
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("/rest/api/3/myself") && stderr.contains("status=401"),
        "no access log line:\n{stderr}"
    );
    assert!(stderr.contains("stopped after 2 requests"), "{stderr}");
    for secret in [TOKEN, "wrong-token", "Basic "] {
        assert!(!stderr.contains(secret), "{secret:?} in the log:\n{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holding_the_token_needs_a_local_key_and_a_taken_port_is_named() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    let run = env
        .run(&["proxy", "--token-from-env", "--listen", "127.0.0.1:0"])
        .await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("JIRA_OPS_PROXY_KEY"), "{}", run.stderr);
    assert!(!run.stderr.contains(TOKEN));

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let run = env.run(&["proxy", "--listen", &addr]).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains(&addr) && run.stderr.contains("--listen 127.0.0.1:0"),
        "{}",
        run.stderr
    );
}
