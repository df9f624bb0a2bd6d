//! An issue's comments: the paged list and adding one.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use http::StatusCode;
use http::Uri;
use serde::Serialize;
use serde_json::Value;

use crate::data::CommentData;
use crate::edit::{check_property, comment_body};
use crate::extract::{
    App, NOT_FOUND, Params, bad_request, caller_index, field_errors, is_v2, page_params,
    param_list, renderer,
};
use crate::render::CommentOut;
use crate::state::{AppState, json_error, json_response};

pub(crate) async fn get_comments(
    State(app): App,
    uri: Uri,
    Path(id_or_key): Path<String>,
    Query(params): Params,
) -> Response {
    let (start_at, max_results) = match page_params(&params, 5000, 0, 5000) {
        Ok(page) => page,
        Err(message) => return bad_request(&message),
    };
    let store = app.store.read();
    let Some(issue) = store.find(&id_or_key) else {
        return json_error(StatusCode::NOT_FOUND, NOT_FOUND);
    };
    let with_properties = param_list(&params, "expand").is_some_and(|e| e.contains(&"properties"));
    let mut all = renderer(&app, &uri).comments_with(issue, with_properties);
    let total = all.len();
    let comments: Vec<CommentOut<'_>> = all.drain(..).skip(start_at).take(max_results).collect();
    let body = CommentPageOut {
        start_at,
        max_results,
        total,
        comments,
    };
    json_response(StatusCode::OK, &body)
}

pub(crate) async fn add_comment(
    State(app): App,
    uri: Uri,
    Path(id_or_key): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let request = match serde_json::from_slice::<Value>(&body) {
        Ok(request) => request,
        Err(_) => return bad_request("The request body is not valid JSON."),
    };
    let comment_body = match comment_body(request.get("body").unwrap_or(&Value::Null), is_v2(&uri))
    {
        Ok(body) => body,
        Err(message) => return field_errors(&[("comment".into(), message.into())]),
    };
    // Entity properties set with the comment, checked as the issue's are.
    let mut properties = std::collections::BTreeMap::new();
    for property in request
        .get("properties")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = property.get("key").and_then(Value::as_str).unwrap_or("");
        let value = property.get("value").cloned().unwrap_or(Value::Null);
        if let Err(message) = check_property(key, value.to_string().len()) {
            return bad_request(message);
        }
        properties.insert(key.to_owned(), value);
    }
    let mut store = app.store.write();
    let Some(id) = store.id_of(&id_or_key) else {
        return json_error(StatusCode::NOT_FOUND, NOT_FOUND);
    };
    let comment_id = store.next_comment_id;
    store.next_comment_id += 1;
    store.owners.insert(comment_id, id);
    store.version += 1;
    let now = AppState::now_ms();
    let comment = CommentData {
        id: comment_id,
        author: caller_index(&app),
        body: comment_body,
        created_ms: now,
        updated_ms: now,
        properties,
    };
    let issue = store
        .by_id
        .get_mut(&id)
        .expect("id_of returned a stored id");
    issue.updated_ms = now;
    issue.added_comments.push(comment.clone());
    crate::webhooks::emit(
        &app,
        crate::webhooks::Event::CommentCreated,
        issue,
        Some(&comment),
        false,
    );
    let body = renderer(&app, &uri).comment(issue, &comment);
    json_response(StatusCode::CREATED, &body)
}

/// A page of comments.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CommentPageOut<'a> {
    start_at: usize,
    max_results: usize,
    total: usize,
    comments: Vec<CommentOut<'a>>,
}
