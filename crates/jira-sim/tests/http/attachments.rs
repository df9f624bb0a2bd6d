//! Attachments as Jira Cloud serves them: an upload needs `X-Atlassian-Token: no-check`,
//! the content answers 303 to the download unless `redirect=false`, one byte range is
//! served as 206, and every JSON answer validates against the contract.

use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::Value;

use crate::conformance::{component_violations, violations};
use crate::{Sim, send};

/// A file of `len` bytes whose every byte depends on its place.
fn file(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

fn form(name: &str, bytes: Vec<u8>) -> Form {
    Form::new().part(
        "file",
        Part::bytes(bytes)
            .file_name(name.to_owned())
            .mime_str("application/pdf")
            .unwrap(),
    )
}

#[tokio::test]
async fn an_attachment_is_uploaded_read_in_ranges_and_deleted_as_jira_does() {
    let sim = Sim::small().await;
    let upload = |token: bool, bytes: Vec<u8>| {
        let mut request = sim
            .request(Method::POST, "/rest/api/3/issue/APO-3/attachments")
            .multipart(form("report.pdf", bytes));
        if token {
            request = request.header("X-Atlassian-Token", "no-check");
        }
        send(request)
    };
    // Without the XSRF header Jira refuses the upload.
    let (status, _) = upload(false, file(10)).await;
    assert_eq!(status, 403);
    let (_, before) = sim
        .get("/rest/api/3/issue/APO-3?fields=attachment,updated")
        .await;
    assert_eq!(before["fields"]["attachment"], serde_json::json!([]));

    let content = file(300_000);
    let (status, body) = upload(true, content.clone()).await;
    assert_eq!(status, 200, "{body}");
    let template = "/rest/api/3/issue/{issueIdOrKey}/attachments";
    assert_eq!(
        violations(template, "POST", 200, &body),
        Vec::<String>::new()
    );
    let attachment = &body[0];
    assert_eq!(attachment["filename"], "report.pdf");
    assert_eq!(attachment["size"], 300_000);
    assert_eq!(attachment["mimeType"], "application/pdf");
    let id = attachment["id"].as_str().unwrap().to_owned();

    // The issue lists it and its `updated` moved.
    let (_, after) = sim
        .get("/rest/api/3/issue/APO-3?fields=attachment,updated")
        .await;
    let listed = &after["fields"]["attachment"][0];
    assert_eq!(listed["id"], id.as_str());
    assert_eq!(
        component_violations("Attachment", listed),
        Vec::<String>::new()
    );
    assert_ne!(after["fields"]["updated"], before["fields"]["updated"]);

    let (status, metadata) = sim.get(&format!("/rest/api/3/attachment/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(
        violations("/rest/api/3/attachment/{id}", "GET", 200, &metadata),
        Vec::<String>::new()
    );

    // The content: 303 to the download by default, the bytes with redirect=false.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let credential = sim.handle.credential();
    let get = |path: String| {
        no_redirects
            .get(sim.url(&path))
            .basic_auth(&credential.email, Some(credential.api_token.expose()))
    };
    let redirect = get(format!("/rest/api/3/attachment/content/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status(), 303);
    let location = redirect.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.ends_with("redirect=false"), "{location}");
    let whole = sim
        .client
        .get(&location)
        .basic_auth(&credential.email, Some(credential.api_token.expose()))
        .send()
        .await
        .unwrap();
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.headers()["content-type"], "application/pdf");
    assert_eq!(whole.bytes().await.unwrap().as_ref(), content.as_slice());
    // Redirects followed, as most clients do, give the same bytes.
    let followed = sim
        .request(Method::GET, &format!("/rest/api/3/attachment/content/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(followed.bytes().await.unwrap().as_ref(), content.as_slice());

    let range = get(format!(
        "/rest/api/3/attachment/content/{id}?redirect=false"
    ))
    .header("Range", "bytes=1000-1999")
    .send()
    .await
    .unwrap();
    assert_eq!(range.status(), 206);
    assert_eq!(range.headers()["content-range"], "bytes 1000-1999/300000");
    assert_eq!(range.bytes().await.unwrap().as_ref(), &content[1000..2000]);
    let past = get(format!(
        "/rest/api/3/attachment/content/{id}?redirect=false"
    ))
    .header("Range", "bytes=300000-")
    .send()
    .await
    .unwrap();
    assert_eq!(past.status(), 416);

    let (status, _) =
        send(sim.request(Method::DELETE, &format!("/rest/api/3/attachment/{id}"))).await;
    assert_eq!(status, 204);
    let (status, body) = sim.get(&format!("/rest/api/3/attachment/{id}")).await;
    assert_eq!(status, 404);
    assert_eq!(
        violations("/rest/api/3/attachment/{id}", "GET", 404, &body),
        Vec::<String>::new()
    );
    let (_, gone) = sim.get("/rest/api/3/issue/APO-3?fields=attachment").await;
    assert_eq!(gone["fields"]["attachment"], Value::Array(Vec::new()));
}
