//! Fixtures for tests against jira-sim: a client built for a simulator, and its REST API
//! called directly (as another tool or a person would change the site under a test).

use jira_client::{CacheChoice, ClientBuilder, JiraClient};
use jira_sim::SimHandle;
use serde_json::Value;

/// A builder for `sim` with its credentials and no cache: adjust it, then build.
pub fn client_builder(sim: &SimHandle) -> ClientBuilder {
    let (email, token) = sim.basic_auth();
    JiraClient::builder(sim.base_url())
        .basic_auth(email, token)
        .cache(CacheChoice::None)
}

/// A client for `sim` with its credentials and no cache.
pub async fn uncached_client(sim: &SimHandle) -> JiraClient {
    client_builder(sim)
        .build()
        .await
        .expect("a client for jira-sim builds")
}

/// Calls jira-sim's REST API directly (not through jira-ops): `method` on `path` (from the
/// site root, `/rest/api/3/...`) with an optional JSON body. The status and the JSON the
/// answer held (`Value::Null` when it held none).
pub async fn rest(
    sim: &SimHandle,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let (email, token) = sim.basic_auth();
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", sim.base_url()))
        .basic_auth(email, Some(token));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("jira-sim answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

/// `GET path` on jira-sim: the status and the JSON.
pub async fn rest_get(sim: &SimHandle, path: &str) -> (u16, Value) {
    rest(sim, reqwest::Method::GET, path, None).await
}

/// Edits each issue of `keys` over jira-sim's REST API, as a person would: its summary
/// becomes `changed KEY` (its `updated` moves). Panics unless each edit is answered 204.
pub async fn edit_summaries<K: AsRef<str>>(sim: &SimHandle, keys: impl IntoIterator<Item = K>) {
    for key in keys {
        let key = key.as_ref();
        let (status, body) = rest(
            sim,
            reqwest::Method::PUT,
            &format!("/rest/api/3/issue/{key}"),
            Some(serde_json::json!({"fields": {"summary": format!("changed {key}")}})),
        )
        .await;
        assert_eq!(status, 204, "editing {key}: {body}");
    }
}
