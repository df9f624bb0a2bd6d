//! A proxy that holds the site's credentials: local callers present its local key, and a
//! caller presenting anything else is refused before anything is sent.

use std::time::Duration;

use jira_client::{Auth, Secret};
use jira_proxy::{Credentials, ProxyConfig};
use jira_sim::LimitConfig;
use serde_json::Value;

use crate::{sim, start_proxy};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_present_the_local_key_and_never_their_own_credentials() {
    let sim = sim(LimitConfig::off()).await;
    let (email, token) = sim.basic_auth();
    let proxy = start_proxy(
        &sim,
        Auth::basic(&email, &token),
        ProxyConfig {
            credentials: Credentials::Held {
                local_key: Secret::new("local-key-1"),
            },
            ..ProxyConfig::default()
        },
        Duration::from_secs(60),
    )
    .await;
    let url = format!("{}/rest/api/3/myself", proxy.url);
    let http = reqwest::Client::new();

    let bearer = http
        .get(&url)
        .bearer_auth("local-key-1")
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 200);
    let me: Value = bearer.json().await.unwrap();
    assert_eq!(me["emailAddress"], email);
    // The key as the password of Basic auth (what `jira` and `jira.js` send).
    let basic = http
        .get(&url)
        .basic_auth("anyone@example.com", Some("local-key-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 200);

    let before = sim.stats().requests;
    for request in [
        http.get(&url),
        http.get(&url).bearer_auth("wrong"),
        // The site's own credentials: refused, not sent upstream as someone else.
        http.get(&url).basic_auth(&email, Some(&token)),
    ] {
        let refused = request.send().await.unwrap();
        assert_eq!(refused.status(), 401);
        assert!(refused.headers().contains_key("www-authenticate"));
        let body: Value = refused.json().await.unwrap();
        let message = body["errorMessages"][0].as_str().unwrap();
        assert!(message.contains("local key"), "{message}");
        assert!(!message.contains(&token));
    }
    assert_eq!(
        sim.stats().requests,
        before,
        "a refused caller reached the site"
    );
    assert_eq!(proxy.stats().await.refused_credentials, 3);
}
