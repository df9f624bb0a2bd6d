//! Issue attachments: uploading files to an issue, their metadata, their content and
//! deleting them, as Jira Cloud serves them
//! (<https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-attachments/>):
//!
//! - `POST /issue/{key}/attachments` takes `multipart/form-data` with the files in parts
//!   named `file`, and only with `X-Atlassian-Token: no-check` (Jira refuses the upload
//!   with 403 otherwise, its XSRF check); the answer is the list of `Attachment`s.
//! - `GET /attachment/content/{id}` answers `303 See Other` to the download by default
//!   (Jira sends its media service's URL; jira-sim sends the same path with
//!   `redirect=false`), and the file itself with `redirect=false`: its bytes, its MIME
//!   type, and one byte range when asked (`Range: bytes=…`, 206; 416 when the range is
//!   past the end).
//! - `GET /attachment/{id}` is its `AttachmentMetadata`; `DELETE /attachment/{id}`
//!   removes it (204).
//!
//! The issue's `attachment` field lists what it holds, and an upload or a deletion moves
//! the issue's `updated` as Jira's does.

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use serde_json::{Value, json};

use crate::data::AttachmentData;
use crate::extract::{App, NOT_FOUND, Params, caller_index, param, renderer};
use crate::state::{AppState, json_error, json_response};

/// The largest upload jira-sim takes (Jira Cloud's limit is the site's attachment
/// setting; an upload past it is refused with 413, as here).
pub const MAX_UPLOAD_BYTES: usize = 64 * 1024 * 1024;

const NO_ATTACHMENT: &str =
    "The attachment does not exist or you do not have permission to see it.";

/// The attachment routes, under `/rest/api/3` and `/rest/api/2`.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    let mut router = Router::new();
    for version in ["3", "2"] {
        let path = |rest: &str| format!("/rest/api/{version}{rest}");
        router = router
            .route(
                &path("/issue/{issueIdOrKey}/attachments"),
                // Room for the multipart framing around the largest file.
                post(upload).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES + 64 * 1024)),
            )
            .route(&path("/attachment/content/{id}"), get(content))
            .route(&path("/attachment/{id}"), get(metadata).delete(delete));
    }
    router
}

/// The issue holding attachment `id`, and the attachment's place in its list.
fn find(store: &crate::data::IssueStore, id: &str) -> Option<(u64, usize)> {
    let id: u64 = id.parse().ok()?;
    let issue = *store.owners.get(&id)?;
    let at = store
        .by_id
        .get(&issue)?
        .attachments
        .iter()
        .position(|a| a.id == id)?;
    Some((issue, at))
}

async fn upload(
    State(app): App,
    uri: Uri,
    headers: HeaderMap,
    Path(id_or_key): Path<String>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let token = headers
        .get("x-atlassian-token")
        .and_then(|v| v.to_str().ok());
    if !token.is_some_and(|t| t.eq_ignore_ascii_case("no-check")) {
        return json_error(
            StatusCode::FORBIDDEN,
            "XSRF check failed: send the header X-Atlassian-Token: no-check with an upload.",
        );
    }
    let Some(id) = app.store.read().id_of(&id_or_key) else {
        return json_error(StatusCode::NOT_FOUND, NOT_FOUND);
    };
    let mut multipart = match multipart {
        Ok(multipart) => multipart,
        Err(rejection) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                &format!("The upload is not multipart/form-data: {rejection}"),
            );
        }
    };
    let mut files: Vec<(String, String, Bytes)> = Vec::new();
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                if field.name() != Some("file") {
                    continue;
                }
                let filename = field.file_name().unwrap_or("attachment").to_owned();
                let mime = field
                    .content_type()
                    .unwrap_or("application/octet-stream")
                    .to_owned();
                match field.bytes().await {
                    Ok(bytes) => files.push((filename, mime, bytes)),
                    Err(error) => return too_large_or_bad(&error.to_string(), error.status()),
                }
            }
            Ok(None) => break,
            Err(error) => return too_large_or_bad(&error.to_string(), error.status()),
        }
    }
    if files.is_empty() {
        return json_error(
            StatusCode::BAD_REQUEST,
            "No file was attached: send each file in a part named \"file\".",
        );
    }
    if files.iter().map(|(_, _, b)| b.len()).sum::<usize>() > MAX_UPLOAD_BYTES {
        return json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "The attachments exceed the maximum attachment size for issues.",
        );
    }
    app.note_write(id);
    let now = AppState::now_ms();
    let mut store = app.store.write();
    // Deleted while the upload was read: nothing is added.
    if !store.by_id.contains_key(&id) {
        return json_error(StatusCode::NOT_FOUND, NOT_FOUND);
    }
    let mut added = Vec::new();
    for (filename, mime_type, content) in files {
        let attachment_id = store.next_written_id;
        store.next_written_id += 1;
        store.owners.insert(attachment_id, id);
        added.push(AttachmentData {
            id: attachment_id,
            filename,
            mime_type,
            author: caller_index(&app),
            created_ms: now,
            content,
        });
    }
    store.version += 1;
    let Some(issue) = store.by_id.get_mut(&id) else {
        return json_error(StatusCode::NOT_FOUND, NOT_FOUND);
    };
    issue.updated_ms = now;
    issue.attachments.extend(added.iter().cloned());
    let render = renderer(&app, &uri);
    let body: Vec<Value> = added.iter().map(|a| render.attachment(a)).collect();
    json_response(StatusCode::OK, &body)
}

fn too_large_or_bad(message: &str, status: StatusCode) -> Response {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "The attachments exceed the maximum attachment size for issues.",
        ),
        _ => json_error(
            StatusCode::BAD_REQUEST,
            &format!("The upload could not be read: {message}"),
        ),
    }
}

async fn metadata(State(app): App, uri: Uri, Path(id): Path<String>) -> Response {
    let store = app.store.read();
    let Some((issue, at)) = find(&store, &id) else {
        return json_error(StatusCode::NOT_FOUND, NO_ATTACHMENT);
    };
    let attachment = &store.by_id[&issue].attachments[at];
    let mut body = renderer(&app, &uri).attachment(attachment);
    // `AttachmentMetadata` spells the id as a number and has `properties`.
    body["id"] = attachment.id.into();
    body["properties"] = json!({});
    json_response(StatusCode::OK, &body)
}

async fn delete(State(app): App, Path(id): Path<String>) -> Response {
    let Some((issue_id, _)) = find(&app.store.read(), &id) else {
        return json_error(StatusCode::NOT_FOUND, NO_ATTACHMENT);
    };
    app.note_write(issue_id);
    let mut store = app.store.write();
    let Some((issue_id, at)) = find(&store, &id) else {
        return json_error(StatusCode::NOT_FOUND, NO_ATTACHMENT);
    };
    let removed = store
        .by_id
        .get_mut(&issue_id)
        .map(|issue| {
            issue.updated_ms = AppState::now_ms();
            issue.attachments.remove(at).id
        })
        .unwrap_or_default();
    store.owners.remove(&removed);
    store.version += 1;
    StatusCode::NO_CONTENT.into_response()
}

async fn content(
    State(app): App,
    uri: Uri,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Params,
) -> Response {
    let attachment = {
        let store = app.store.read();
        let Some((issue, at)) = find(&store, &id) else {
            return json_error(StatusCode::NOT_FOUND, NO_ATTACHMENT);
        };
        store.by_id[&issue].attachments[at].clone()
    };
    let redirect = param(&params, "redirect").is_none_or(|r| !r.eq_ignore_ascii_case("false"));
    if redirect {
        let location = format!("{}{}?redirect=false", app.base_url, uri.path());
        let mut response = StatusCode::SEE_OTHER.into_response();
        if let Ok(location) = HeaderValue::from_str(&location) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        return response;
    }
    let total = attachment.content.len();
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let (status, body, content_range) = match range.map(|r| byte_range(r, total)) {
        None => (StatusCode::OK, attachment.content.clone(), None),
        Some(Ok((start, end))) => (
            StatusCode::PARTIAL_CONTENT,
            attachment.content.slice(start..=end),
            Some(format!("bytes {start}-{end}/{total}")),
        ),
        Some(Err(())) => {
            let mut response = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{total}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            return response;
        }
    };
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    if let Ok(mime) = HeaderValue::from_str(&attachment.mime_type) {
        headers.insert(header::CONTENT_TYPE, mime);
    }
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some(value) = content_range.and_then(|v| HeaderValue::from_str(&v).ok()) {
        headers.insert(header::CONTENT_RANGE, value);
    }
    if let Ok(value) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}\"",
        attachment.filename.replace(['"', '\\', '\r', '\n'], "_")
    )) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// The one range `bytes=START-END`, `bytes=START-` or `bytes=-SUFFIX` asks of `total`
/// bytes, inclusive; `Err` when it is past the end or does not read.
fn byte_range(range: &str, total: usize) -> Result<(usize, usize), ()> {
    let spec = range.trim().strip_prefix("bytes=").ok_or(())?;
    let (start, end) = spec.split_once('-').ok_or(())?;
    let (start, end) = match (start.trim(), end.trim()) {
        ("", suffix) => {
            let suffix: usize = suffix.parse().map_err(|_| ())?;
            (
                total.checked_sub(suffix.min(total)).ok_or(())?,
                total.checked_sub(1).ok_or(())?,
            )
        }
        (start, "") => (
            start.parse().map_err(|_| ())?,
            total.checked_sub(1).ok_or(())?,
        ),
        (start, end) => {
            let end: usize = end.parse().map_err(|_| ())?;
            (
                start.parse().map_err(|_| ())?,
                end.min(total.saturating_sub(1)),
            )
        }
    };
    if start >= total || start > end {
        return Err(());
    }
    Ok((start, end))
}

#[cfg(test)]
mod tests {
    use super::byte_range;

    #[test]
    fn ranges_read_as_http_says() {
        assert_eq!(byte_range("bytes=0-9", 100), Ok((0, 9)));
        assert_eq!(byte_range("bytes=90-", 100), Ok((90, 99)));
        assert_eq!(byte_range("bytes=-10", 100), Ok((90, 99)));
        assert_eq!(byte_range("bytes=95-200", 100), Ok((95, 99)));
        assert_eq!(byte_range("bytes=100-", 100), Err(()));
        assert_eq!(byte_range("bytes=5-2", 100), Err(()));
        assert_eq!(byte_range("items=0-9", 100), Err(()));
    }
}
