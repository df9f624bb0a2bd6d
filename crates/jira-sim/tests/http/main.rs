//! jira-sim over real HTTP: a plain reqwest client against a simulator on 127.0.0.1:0.
//! One test binary, one module per area.

mod attachments;
mod binary;
mod conformance;
mod faults;
mod fidelity;
mod history;
mod limits;
mod search;
mod webhooks;
mod writes;

use jira_sim::{LimitConfig, SimConfig, SimHandle};
use serde_json::Value;

/// A started simulator and a client that knows its credentials.
pub struct Sim {
    /// The running simulator.
    pub handle: SimHandle,
    /// A plain client, no retries, 10 s timeout.
    pub client: reqwest::Client,
}

impl Sim {
    /// Starts a simulator with `config`.
    pub async fn start(config: SimConfig) -> Sim {
        let handle = SimHandle::start(config).await.expect("jira-sim starts");
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .unwrap();
        Sim { handle, client }
    }

    /// A small tenant without limits or faults.
    pub async fn small() -> Sim {
        Sim::start(SimConfig {
            projects: 3,
            issues_per_project: 60,
            limits: LimitConfig::off(),
            ..SimConfig::default()
        })
        .await
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.handle.base_url())
    }

    /// A request with Basic auth.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let credential = self.handle.credential();
        self.client
            .request(method, self.url(path))
            .basic_auth(&credential.email, Some(&credential.api_token.expose()))
    }

    /// GET with auth; status and JSON body (Null when empty or not JSON).
    pub async fn get(&self, path: &str) -> (u16, Value) {
        send(self.request(reqwest::Method::GET, path)).await
    }

    /// POST a JSON body with auth.
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        send(self.request(reqwest::Method::POST, path).json(body)).await
    }

    /// PUT a JSON body with auth.
    pub async fn put(&self, path: &str, body: &Value) -> (u16, Value) {
        send(self.request(reqwest::Method::PUT, path).json(body)).await
    }
}

impl Sim {
    /// GETs an admin route (`/__sim/...`) and decodes its JSON.
    pub async fn admin_get<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    /// PUTs a body to an admin route; the status and the text of the answer.
    pub async fn admin_put(&self, path: &str, body: impl Into<reqwest::Body>) -> (u16, String) {
        let response = self
            .client
            .put(self.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }
}

/// Sends a request; the status and the JSON body (Null when empty or not JSON).
pub async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("request reaches jira-sim");
    let status = response.status().as_u16();
    let bytes = response.bytes().await.expect("body arrives");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// `text` as an Atlassian document: what v3 takes as a comment body or a description.
pub fn doc(text: &str) -> Value {
    serde_json::json!({"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": text}]}
    ]})
}
