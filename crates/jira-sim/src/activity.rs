//! What people do on an issue besides editing fields: comments (one by one and in bulk by
//! id), worklogs (per issue, by id, and tenant-wide through `/worklog/updated` and
//! `/worklog/deleted` as exports read them), assignment, links, watchers and votes. Every change
//! moves the issue's `updated` and, where Jira records one, writes history.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post, put};
use http::{StatusCode, Uri};
use serde_json::{Value, json};

use crate::data::{
    self, ChangeData, ChangeItem, CommentData, IssueData, IssueStore, LINK_TYPES, LinkData, LinkEnd,
};
use crate::edit::{comment_body, unlink};
use crate::extract::{
    App, NOT_FOUND, Params, bad_request, caller_index, field_errors, id_list, page_params, param,
    parse_id, renderer, user_index,
};
use crate::render::{Renderer, link_type_json};
use crate::state::{AppState, json_error, json_response, no_content};

/// The activity routes: reads under v3 and v2, writes under both.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    let mut router = Router::new();
    for version in ["3", "2"] {
        let path = |rest: &str| format!("/rest/api/{version}{rest}");
        router = router
            .route(
                &path("/issue/{issueIdOrKey}/comment/{id}"),
                get(get_comment).put(edit_comment).delete(delete_comment),
            )
            .route(&path("/comment/list"), post(comment_list))
            .route(
                &path("/comment/{commentId}/properties"),
                get(comment_property_keys),
            )
            .route(
                &path("/comment/{commentId}/properties/{propertyKey}"),
                get(get_comment_property)
                    .put(set_comment_property)
                    .delete(delete_comment_property),
            )
            .route(
                &path("/issue/{issueIdOrKey}/worklog"),
                get(crate::worklogs::issue_worklogs).post(crate::worklogs::add_worklog),
            )
            .route(
                &path("/issue/{issueIdOrKey}/worklog/{id}"),
                get(crate::worklogs::get_worklog)
                    .put(crate::worklogs::edit_worklog)
                    .delete(crate::worklogs::delete_worklog),
            )
            .route(
                &path("/worklog/updated"),
                get(crate::worklogs::worklogs_updated),
            )
            .route(
                &path("/worklog/deleted"),
                get(crate::worklogs::worklogs_deleted),
            )
            .route(&path("/worklog/list"), post(crate::worklogs::worklog_list))
            .route(&path("/issue/{issueIdOrKey}/assignee"), put(assign))
            .route(&path("/issueLink"), post(add_link))
            .route(
                &path("/issueLink/{linkId}"),
                get(get_link).delete(delete_link),
            )
            .route(
                &path("/issue/{issueIdOrKey}/watchers"),
                get(watchers).post(add_watcher).delete(remove_watcher),
            )
            .route(&path("/issue/{issueIdOrKey}/votes"), get(votes));
    }
    router
}

/// The comment `id` of `issue`, generated or written.
fn find_comment(render: &Renderer<'_>, issue: &IssueData, id: u64) -> Option<CommentData> {
    if let Some(comment) = issue.added_comments.iter().find(|c| c.id == id) {
        return Some(comment.clone());
    }
    let n = data::generated_comment_index(issue, id)?;
    (!issue.hidden_generated.contains(&id))
        .then(|| data::generated_comment(issue, n, render.tenant.users.len()))
}

async fn get_comment(
    State(app): App,
    uri: Uri,
    Path((id_or_key, id)): Path<(String, String)>,
) -> Response {
    let store = app.store.read();
    let Some(issue) = store.find(&id_or_key) else {
        return json_error(StatusCode::NOT_FOUND, NOT_FOUND);
    };
    let render = renderer(&app, &uri);
    match parse_id(&id).and_then(|id| find_comment(&render, issue, id)) {
        Some(comment) => json_response(StatusCode::OK, &render.comment(issue, &comment)),
        None => json_error(
            StatusCode::NOT_FOUND,
            &format!("Can not find a comment for the id: {id}."),
        ),
    }
}

async fn edit_comment(
    State(app): App,
    uri: Uri,
    Path((id_or_key, id)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let request = serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null);
    let new_body = match comment_body(
        request.get("body").unwrap_or(&Value::Null),
        crate::extract::is_v2(&uri),
    ) {
        Ok(body) => body,
        Err(message) => return field_errors(&[("comment".into(), message.into())]),
    };
    let mut store = app.store.write();
    let Some(issue_id) = store.id_of(&id_or_key) else {
        return json_error(StatusCode::NOT_FOUND, NOT_FOUND);
    };
    let render = renderer(&app, &uri);
    let Some(mut comment) =
        parse_id(&id).and_then(|id| find_comment(&render, &store.by_id[&issue_id], id))
    else {
        return json_error(
            StatusCode::NOT_FOUND,
            &format!("Can not find a comment for the id: {id}."),
        );
    };
    let now = AppState::now_ms();
    comment.body = new_body;
    comment.updated_ms = now;
    let issue = store.by_id.get_mut(&issue_id).expect("found above");
    if comment.id < data::WRITTEN_IDS && !issue.hidden_generated.contains(&comment.id) {
        issue.hidden_generated.push(comment.id);
    }
    issue.added_comments.retain(|c| c.id != comment.id);
    issue.added_comments.push(comment.clone());
    issue.added_comments.sort_by_key(|c| c.created_ms);
    issue.updated_ms = now;
    crate::webhooks::emit(
        &app,
        crate::webhooks::Event::CommentUpdated,
        issue,
        Some(&comment),
        false,
    );
    let body = render.comment(issue, &comment);
    store.version += 1;
    json_response(StatusCode::OK, &body)
}

async fn delete_comment(
    State(app): App,
    uri: Uri,
    Path((id_or_key, id)): Path<(String, String)>,
) -> Response {
    let mut store = app.store.write();
    let Some(issue_id) = store.id_of(&id_or_key) else {
        return json_error(StatusCode::NOT_FOUND, NOT_FOUND);
    };
    let render = renderer(&app, &uri);
    let Some(comment) =
        parse_id(&id).and_then(|id| find_comment(&render, &store.by_id[&issue_id], id))
    else {
        return json_error(
            StatusCode::NOT_FOUND,
            &format!("Can not find a comment for the id: {id}."),
        );
    };
    let issue = store.by_id.get_mut(&issue_id).expect("found above");
    issue.added_comments.retain(|c| c.id != comment.id);
    if comment.id < data::WRITTEN_IDS {
        issue.hidden_generated.push(comment.id);
    }
    crate::webhooks::emit(
        &app,
        crate::webhooks::Event::CommentDeleted,
        issue,
        Some(&comment),
        false,
    );
    issue.updated_ms = AppState::now_ms();
    store.owners.remove(&comment.id);
    store.version += 1;
    no_content()
}

/// The comment `id` and the issue it is on.
fn comment_by_id(app: &AppState, store: &IssueStore, id: &str) -> Option<(u64, CommentData)> {
    let id = parse_id(id)?;
    let issue = store.by_id.get(&data::owner_of(store, id)?)?;
    let render = Renderer {
        base: &app.base_url,
        tenant: &app.tenant,
        catalog: &app.catalog,
        v2: false,
        zone: &app.zone,
        embedded_comments_last: 0,
    };
    Some((issue.id, find_comment(&render, issue, id)?))
}

fn no_comment(id: &str) -> Response {
    json_error(
        StatusCode::NOT_FOUND,
        &format!("Can not find a comment for the id: {id}."),
    )
}

async fn comment_property_keys(State(app): App, Path(id): Path<String>) -> Response {
    let store = app.store.read();
    let Some((_, comment)) = comment_by_id(&app, &store, &id) else {
        return no_comment(&id);
    };
    let keys: Vec<Value> = comment
        .properties
        .keys()
        .map(|key| {
            json!({"key": key, "self": format!("{}/rest/api/3/comment/{id}/properties/{key}", app.base_url)})
        })
        .collect();
    json_response(StatusCode::OK, &json!({ "keys": keys }))
}

async fn get_comment_property(
    State(app): App,
    Path((id, property)): Path<(String, String)>,
) -> Response {
    let store = app.store.read();
    let Some((_, comment)) = comment_by_id(&app, &store, &id) else {
        return no_comment(&id);
    };
    match comment.properties.get(&property) {
        Some(value) => json_response(StatusCode::OK, &json!({"key": property, "value": value})),
        None => json_error(
            StatusCode::NOT_FOUND,
            &format!("The property with key '{property}' does not exist."),
        ),
    }
}

/// Stores `comment` (a generated one becomes a written copy under its id).
fn keep_comment(store: &mut IssueStore, issue_id: u64, comment: CommentData) {
    let issue = store.by_id.get_mut(&issue_id).expect("the owner exists");
    if comment.id < data::WRITTEN_IDS && !issue.hidden_generated.contains(&comment.id) {
        issue.hidden_generated.push(comment.id);
    }
    issue.added_comments.retain(|c| c.id != comment.id);
    issue.added_comments.push(comment);
    issue.added_comments.sort_by_key(|c| c.created_ms);
    store.version += 1;
}

async fn set_comment_property(
    State(app): App,
    Path((id, property)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let value = match crate::edit::property_value(&property, &body) {
        Ok(value) => value,
        Err(message) => return bad_request(message),
    };
    let mut store = app.store.write();
    let Some((issue_id, mut comment)) = comment_by_id(&app, &store, &id) else {
        return no_comment(&id);
    };
    let replaced = comment.properties.insert(property, value).is_some();
    if comment.id < data::WRITTEN_IDS {
        store.owners.insert(comment.id, issue_id);
    }
    keep_comment(&mut store, issue_id, comment);
    let status = if replaced {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    json_response(status, &json!({}))
}

async fn delete_comment_property(
    State(app): App,
    Path((id, property)): Path<(String, String)>,
) -> Response {
    let mut store = app.store.write();
    let Some((issue_id, mut comment)) = comment_by_id(&app, &store, &id) else {
        return no_comment(&id);
    };
    if comment.properties.remove(&property).is_none() {
        return json_error(
            StatusCode::NOT_FOUND,
            &format!("The property with key '{property}' does not exist."),
        );
    }
    keep_comment(&mut store, issue_id, comment);
    no_content()
}

async fn comment_list(
    State(app): App,
    uri: Uri,
    Query(params): Params,
    body: axum::body::Bytes,
) -> Response {
    let ids = match id_list(&body) {
        Ok(ids) => ids,
        Err(response) => return *response,
    };
    let (start_at, max_results) = match page_params(&params, 50, 1, 1_000) {
        Ok(page) => page,
        Err(message) => return bad_request(&message),
    };
    let store = app.store.read();
    let render = renderer(&app, &uri);
    let mut found = Vec::new();
    for id in &ids {
        let Some(issue) = data::owner_of(&store, *id).and_then(|owner| store.by_id.get(&owner))
        else {
            continue;
        };
        if let Some(comment) = find_comment(&render, issue, *id) {
            found.push((issue, comment));
        }
    }
    let total = found.len();
    let values: Vec<_> = found
        .iter()
        .skip(start_at)
        .take(max_results)
        .map(|(issue, comment)| render.comment(issue, comment))
        .collect();
    let body = crate::render::PageBean::new(
        &app.base_url,
        "/rest/api/3/comment/list",
        start_at,
        max_results,
        values,
        total,
    );
    json_response(StatusCode::OK, &body)
}

async fn assign(
    State(app): App,
    Path(id_or_key): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return bad_request("The request body is not valid JSON.");
    };
    let target = match body.get("accountId") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) if id == "-1" => None,
        Some(Value::String(id)) => match user_index(&app, id) {
            Some(index) => Some(index),
            None => {
                return field_errors(&[(
                    "assignee".into(),
                    format!("User '{id}' does not exist."),
                )]);
            }
        },
        Some(_) => return bad_request("accountId must be a string or null."),
    };
    let author = caller_index(&app);
    let mut store = app.store.write();
    let Some(issue_id) = store.id_of(&id_or_key) else {
        return json_error(StatusCode::NOT_FOUND, NOT_FOUND);
    };
    let change_id = store.next_written_id;
    store.next_written_id += 1;
    let now = AppState::now_ms();
    let issue = store.by_id.get_mut(&issue_id).expect("id_of returned it");
    if issue.assignee != target {
        let item = ChangeItem::system(
            "assignee",
            "assignee",
            data::user_pair(&app.tenant.users, issue.assignee),
            data::user_pair(&app.tenant.users, target),
        );
        issue.changes.push(ChangeData {
            id: change_id,
            author,
            created_ms: now,
            items: vec![item],
        });
        issue.assignee = target;
        issue.updated_ms = now;
        crate::webhooks::emit(
            &app,
            crate::webhooks::Event::IssueUpdated,
            issue,
            None,
            true,
        );
    }
    store.version += 1;
    no_content()
}

/// An issue named by `{"key": ..}` or `{"id": ..}`.
fn issue_ref(store: &IssueStore, value: Option<&Value>) -> Option<u64> {
    let value = value?;
    let text = value
        .get("key")
        .or_else(|| value.get("id"))
        .and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })?;
    store.id_of(&text)
}

async fn add_link(State(app): App, body: axum::body::Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return bad_request("The request body is not valid JSON.");
    };
    let kind = body.get("type").and_then(|t| {
        let by_name = t.get("name").and_then(Value::as_str);
        let by_id = t.get("id").and_then(Value::as_str);
        LINK_TYPES.iter().position(|(id, name, ..)| {
            by_id == Some(*id) || by_name.is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
    });
    let Some(kind) = kind else {
        return bad_request("No issue link type with name or id given exists.");
    };
    let mut store = app.store.write();
    let (Some(inward), Some(outward)) = (
        issue_ref(&store, body.get("inwardIssue")),
        issue_ref(&store, body.get("outwardIssue")),
    ) else {
        return json_error(
            StatusCode::NOT_FOUND,
            "Issue does not exist or you do not have permission to see it.",
        );
    };
    let id = store.next_written_id;
    store.next_written_id += 1;
    store.links.insert(
        id,
        LinkData {
            id,
            kind,
            inward,
            outward,
        },
    );
    let now = AppState::now_ms();
    let (inward_key, outward_key) = (
        store.by_id[&inward].key.clone(),
        store.by_id[&outward].key.clone(),
    );
    for (this, other, other_key, other_is_outward) in [
        (inward, outward, outward_key, true),
        (outward, inward, inward_key, false),
    ] {
        let issue = store.by_id.get_mut(&this).expect("resolved above");
        issue.links.push(LinkEnd {
            link: id,
            kind,
            other_is_outward,
            other_id: other,
            other_key,
        });
        issue.updated_ms = now;
    }
    store.version += 1;
    let mut response = json_response(StatusCode::CREATED, &Value::Null);
    *response.body_mut() = axum::body::Body::empty();
    response
}

fn link_json(app: &AppState, store: &IssueStore, link: &LinkData) -> Value {
    let end = |id: u64| {
        let issue = &store.by_id[&id];
        json!({
            "id": id.to_string(),
            "key": issue.key,
            "self": format!("{}/rest/api/3/issue/{id}", app.base_url),
        })
    };
    json!({
        "id": link.id.to_string(),
        "self": format!("{}/rest/api/3/issueLink/{}", app.base_url, link.id),
        "type": link_type_json(&app.base_url, link.kind),
        "inwardIssue": end(link.inward),
        "outwardIssue": end(link.outward),
    })
}

async fn get_link(State(app): App, Path(id): Path<String>) -> Response {
    let store = app.store.read();
    match parse_id(&id).and_then(|id| store.links.get(&id)) {
        Some(link) => json_response(StatusCode::OK, &link_json(&app, &store, link)),
        None => json_error(
            StatusCode::NOT_FOUND,
            &format!("No issue link with id '{id}' exists."),
        ),
    }
}

async fn delete_link(State(app): App, Path(id): Path<String>) -> Response {
    let mut store = app.store.write();
    if parse_id(&id).is_some_and(|id| unlink(&mut store, id)) {
        store.version += 1;
        no_content()
    } else {
        json_error(
            StatusCode::NOT_FOUND,
            &format!("No issue link with id '{id}' exists."),
        )
    }
}

async fn watchers(State(app): App, uri: Uri, Path(id_or_key): Path<String>) -> Response {
    let store = app.store.read();
    let Some(issue) = store.find(&id_or_key) else {
        return json_error(StatusCode::NOT_FOUND, NOT_FOUND);
    };
    let render = renderer(&app, &uri);
    let list: Vec<Value> = issue
        .watchers
        .iter()
        .map(|u| render.user_value(*u))
        .collect();
    json_response(
        StatusCode::OK,
        &json!({
            "self": format!("{}/rest/api/3/issue/{}/watchers", app.base_url, issue.key),
            "isWatching": issue.watchers.contains(&caller_index(&app)),
            "watchCount": list.len(),
            "watchers": list,
        }),
    )
}

/// `GET /issue/{key}/votes`: what the issue's `votes` field links to. Nobody votes on
/// this tenant's issues (the field says 0), so no voter is listed.
async fn votes(State(app): App, uri: Uri, Path(id_or_key): Path<String>) -> Response {
    let store = app.store.read();
    let Some(issue) = store.find(&id_or_key) else {
        return json_error(StatusCode::NOT_FOUND, NOT_FOUND);
    };
    let render = renderer(&app, &uri);
    json_response(
        StatusCode::OK,
        &json!({
            "self": format!("{}/rest/api/3/issue/{}/votes", render.base, issue.key),
            "votes": 0,
            "hasVoted": false,
            "voters": [],
        }),
    )
}

async fn add_watcher(
    State(app): App,
    Path(id_or_key): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    // The body is the account id as a JSON string; empty means the caller.
    let user = if body.iter().all(u8::is_ascii_whitespace) {
        Some(caller_index(&app))
    } else {
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::String(id)) => user_index(&app, &id),
            _ => return bad_request("The body must be an account id as a JSON string."),
        }
    };
    let Some(user) = user else {
        return bad_request("The user does not exist.");
    };
    let mut store = app.store.write();
    let Some(issue_id) = store.id_of(&id_or_key) else {
        return json_error(StatusCode::NOT_FOUND, NOT_FOUND);
    };
    let issue = store.by_id.get_mut(&issue_id).expect("id_of returned it");
    if !issue.watchers.contains(&user) {
        issue.watchers.push(user);
    }
    store.version += 1;
    no_content()
}

async fn remove_watcher(
    State(app): App,
    Path(id_or_key): Path<String>,
    Query(params): Params,
) -> Response {
    let Some(user) = param(&params, "accountId").and_then(|id| user_index(&app, id)) else {
        return bad_request("accountId must name a user.");
    };
    let mut store = app.store.write();
    let Some(issue_id) = store.id_of(&id_or_key) else {
        return json_error(StatusCode::NOT_FOUND, NOT_FOUND);
    };
    let issue = store.by_id.get_mut(&issue_id).expect("id_of returned it");
    issue.watchers.retain(|u| *u != user);
    store.version += 1;
    no_content()
}
