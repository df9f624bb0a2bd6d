//! Files pass through the proxy as their chunks come: an attachment three times the
//! client's body cap (which any answer read whole must fit in) downloads whole, by the
//! redirect Jira answers with, in a byte range, and twice at once.

use std::time::Duration;

use jira_client::{Auth, JiraClient, LimitsConfig, RetryPolicy};
use jira_proxy::ProxyConfig;
use jira_sim::LimitConfig;
use reqwest::Method;
use reqwest::multipart::{Form, Part};

use crate::{call, sim, start_proxy_built};

/// The proxy's client reads no answer whole past this.
const BODY_CAP: usize = 1 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attachment_larger_than_the_body_cap_streams_through_whole() {
    let sim = sim(LimitConfig::atlassian()).await;
    let builder = JiraClient::builder(sim.base_url())
        .auth(Auth::None)
        .max_body_bytes(BODY_CAP)
        .limits(LimitsConfig::default())
        .retry(RetryPolicy {
            max_wait: Duration::from_secs(30),
            ..RetryPolicy::default()
        });
    let proxy = start_proxy_built(builder, ProxyConfig::default()).await;
    let content: Vec<u8> = (0..3 * BODY_CAP).map(|i| (i * 7 % 253) as u8).collect();

    // The upload goes through as sent (a write, its body held to be sent again only if
    // the site said it did nothing).
    let form = Form::new().part(
        "file",
        Part::bytes(content.clone())
            .file_name("dump.bin")
            .mime_str("application/octet-stream")
            .unwrap(),
    );
    let uploaded = call(
        &proxy,
        &sim,
        Method::POST,
        "/rest/api/3/issue/APO-2/attachments",
    )
    .header("X-Atlassian-Token", "no-check")
    .multipart(form)
    .send()
    .await
    .unwrap();
    assert_eq!(uploaded.status(), 200);
    let body: serde_json::Value = uploaded.json().await.unwrap();
    let id = body[0]["id"].as_str().unwrap().to_owned();
    // Its links point at the proxy, so a client following `content` stays on it.
    let link = body[0]["content"].as_str().unwrap();
    assert!(link.starts_with(&proxy.url), "{link}");

    // Jira's 303 to the download, followed back through the proxy.
    let followed = call(
        &proxy,
        &sim,
        Method::GET,
        &format!("/rest/api/3/attachment/content/{id}"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(followed.status(), 200);
    assert_eq!(
        followed.headers()["content-type"],
        "application/octet-stream"
    );
    // Its length goes with it (the body goes as it came), so a client can show progress.
    assert_eq!(followed.content_length(), Some(content.len() as u64));
    assert_eq!(followed.bytes().await.unwrap().len(), content.len());

    // Twice at once: identical reads share a flight, but a file is never shared; each
    // caller gets every byte.
    let path = format!("/rest/api/3/attachment/content/{id}?redirect=false");
    let read = || async {
        call(&proxy, &sim, Method::GET, &path)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
    };
    let (first, second) = tokio::join!(read(), read());
    assert_eq!(first.as_ref(), content.as_slice());
    assert_eq!(second.as_ref(), content.as_slice());

    // One byte range, as the site serves it.
    let range = call(&proxy, &sim, Method::GET, &path)
        .header("Range", "bytes=2000000-2000099")
        .send()
        .await
        .unwrap();
    assert_eq!(range.status(), 206);
    assert_eq!(
        range.headers()["content-range"],
        format!("bytes 2000000-2000099/{}", content.len())
    );
    assert_eq!(
        range.bytes().await.unwrap().as_ref(),
        &content[2_000_000..2_000_100]
    );

    let stats = proxy.stats().await;
    assert_eq!(stats.streamed, 4, "{stats:?}");
    assert_eq!(stats.passed_429, 0, "{stats:?}");
    // A JSON answer is still read whole (the points rule counts it; the cache keeps it).
    let issue = call(
        &proxy,
        &sim,
        Method::GET,
        "/rest/api/3/issue/APO-2?fields=attachment",
    )
    .send()
    .await
    .unwrap();
    let issue: serde_json::Value = issue.json().await.unwrap();
    assert_eq!(issue["fields"]["attachment"][0]["id"], id.as_str());
    let stats = proxy.stats().await;
    assert_eq!(stats.streamed, 4);
    // The 303 went back to the caller, who followed it through the proxy: every request
    // the site answered went through the proxy's stack.
    assert_eq!(sim.stats().requests, stats.upstream, "{stats:?}");
}
