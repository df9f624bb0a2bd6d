//! Workflows and history: every project shares one workflow (its statuses and the
//! transitions between them, one of which needs a resolution); a transition moves the
//! issue, sets or clears its resolution and writes history. Every issue has a changelog
//! (generated from its seed, a long tail past 100 entries, then every write), read per
//! issue, by id, in bulk across issues (`POST /changelog/bulkfetch`, Jira's order and
//! paging), or through `expand=changelog` (the last 40 entries, as Jira caps it).

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use base64::Engine as _;
use http::{StatusCode, Uri};
use serde_json::{Value, json};

use crate::data::{self, ChangeData, ChangeItem, STATUSES, available};
use crate::edit::{move_issue, resolution_ref};
use crate::extract::{NOT_FOUND, bad_request, field_errors, page_params, param, renderer};
use crate::render::{ChangeOut, change_json, change_out};
use crate::state::{AppState, json_error, json_response, no_content};

type App = State<Arc<AppState>>;
type Params = Query<Vec<(String, String)>>;

/// Issues one changelog bulk fetch may name.
const BULK_ISSUES: usize = 1_000;
/// Field ids one changelog bulk fetch may filter by.
const BULK_FIELD_IDS: usize = 10;

/// The history and transition routes.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    let mut router = Router::new();
    for version in ["3", "2"] {
        let path = |rest: &str| format!("/rest/api/{version}{rest}");
        router = router
            .route(
                &path("/issue/{issueIdOrKey}/transitions"),
                get(get_transitions).post(do_transition),
            )
            .route(&path("/issue/{issueIdOrKey}/changelog"), get(changelog))
            .route(
                &path("/issue/{issueIdOrKey}/changelog/list"),
                post(changelog_list),
            )
            .route(&path("/changelog/bulkfetch"), post(changelog_bulk));
    }
    router
}

async fn get_transitions(
    State(app): App,
    uri: Uri,
    Path(id_or_key): Path<String>,
    Query(params): Params,
) -> Response {
    let status = match app.store.read().find(&id_or_key) {
        Some(issue) => issue.status,
        None => return json_error(StatusCode::NOT_FOUND, NOT_FOUND),
    };
    let with_fields = param(&params, "expand").is_some_and(|e| e.contains("transitions.fields"));
    let only = param(&params, "transitionId");
    let render = renderer(&app, &uri);
    let transitions: Vec<Value> = available(status)
        .filter(|t| only.is_none_or(|id| id == t.id))
        .map(|t| render.transition(t, with_fields))
        .collect();
    json_response(
        StatusCode::OK,
        &json!({
            "expand": "transitions",
            "transitions": transitions,
        }),
    )
}

async fn do_transition(
    State(app): App,
    uri: axum::http::Uri,
    Path(id_or_key): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&body) else {
        return bad_request("The request body must be a JSON object with \"transition\".");
    };
    // Comments added with the transition (`update.comment[].add.body`) are checked
    // before anything changes, by the comment endpoint's rules.
    let v2 = crate::extract::is_v2(&uri);
    let comments: Vec<&Value> = body
        .get("update")
        .and_then(|u| u.get("comment"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("add"))
        .collect();
    for add in &comments {
        if let Err(message) = crate::edit::comment_body(add.get("body").unwrap_or(&Value::Null), v2)
        {
            return field_errors(&[("comment".into(), message.into())]);
        }
    }
    let Some(requested) =
        body.get("transition")
            .and_then(|t| t.get("id"))
            .and_then(|id| match id {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
    else {
        return field_errors(&[(
            "transition".into(),
            "Transition id must be provided.".into(),
        )]);
    };
    let author = crate::extract::caller_index(&app);
    let mut store = app.store.write();
    let Some(issue_id) = store.id_of(&id_or_key) else {
        return json_error(StatusCode::NOT_FOUND, NOT_FOUND);
    };
    let status = store.by_id[&issue_id].status;
    let Some(transition) = available(status).find(|t| t.id == requested) else {
        return bad_request(&format!(
            "Transition id '{requested}' is not valid for this issue."
        ));
    };
    let fields = body
        .get("fields")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let resolution = match fields.get("resolution") {
        Some(value) => match resolution_ref(value) {
            Some(index) => Some(index),
            None => {
                return field_errors(&[(
                    "resolution".into(),
                    "The resolution named does not exist.".into(),
                )]);
            }
        },
        None if transition.needs_resolution => {
            return field_errors(&[("resolution".into(), "Resolution is required.".into())]);
        }
        None if STATUSES[transition.to].2 == "done" => Some(0),
        None => None,
    };
    let now = AppState::now_ms();
    let change_id = store.next_written_id;
    store.next_written_id += 1;
    let mut issue = store.by_id[&issue_id].clone();
    // Other fields on the transition screen go through the edit rules.
    let mut rest = fields;
    rest.remove("resolution");
    let mut errors = Vec::new();
    if !rest.is_empty() {
        crate::edit::apply_fields(
            &app,
            &mut issue,
            &rest,
            false,
            crate::extract::is_v2(&uri),
            &mut errors,
        );
    }
    if !errors.is_empty() {
        return field_errors(&errors);
    }
    move_issue(
        &mut issue,
        transition.to,
        resolution,
        author,
        change_id,
        now,
    );
    // A comment with the transition (`update.comment[].add.body`).
    if let Some(comments) = body
        .get("update")
        .and_then(|u| u.get("comment"))
        .and_then(Value::as_array)
    {
        for add in comments.iter().filter_map(|c| c.get("add")) {
            if let Ok(body) = crate::edit::comment_body(add.get("body").unwrap_or(&Value::Null), v2)
            {
                let id = store.next_comment_id;
                store.next_comment_id += 1;
                store.owners.insert(id, issue_id);
                issue.added_comments.push(data::CommentData {
                    id,
                    author,
                    body,
                    created_ms: now,
                    updated_ms: now,
                    properties: Default::default(),
                });
            }
        }
    }
    store.by_id.insert(issue_id, issue);
    store.version += 1;
    crate::webhooks::emit(
        &app,
        crate::webhooks::Event::IssueUpdated,
        &store.by_id[&issue_id],
        None,
        true,
    );
    no_content()
}

async fn changelog(
    State(app): App,
    uri: Uri,
    Path(id_or_key): Path<String>,
    Query(params): Params,
) -> Response {
    let (start_at, max_results) = match page_params(&params, 100, 1, 100) {
        Ok(page) => page,
        Err(message) => return bad_request(&message),
    };
    let store = app.store.read();
    let Some(issue) = store.find(&id_or_key) else {
        return json_error(StatusCode::NOT_FOUND, NOT_FOUND);
    };
    let render = renderer(&app, &uri);
    let all: Vec<Value> = data::history(issue, &app.tenant.users)
        .iter()
        .map(|c| change_json(&render, c))
        .collect();
    let path = format!("/rest/api/3/issue/{}/changelog", issue.key);
    let body = crate::render::page(&app.base_url, &path, start_at, max_results, all);
    json_response(StatusCode::OK, &body)
}

async fn changelog_list(
    State(app): App,
    uri: Uri,
    Path(id_or_key): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let ids: Option<Vec<u64>> = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|b| b.get("changelogIds").cloned())
        .and_then(|ids| serde_json::from_value(ids).ok());
    let Some(ids) = ids.filter(|ids| !ids.is_empty() && ids.len() <= 1_000) else {
        return bad_request("changelogIds must list 1 to 1000 changelog ids.");
    };
    let store = app.store.read();
    let Some(issue) = store.find(&id_or_key) else {
        return json_error(StatusCode::NOT_FOUND, NOT_FOUND);
    };
    let render = renderer(&app, &uri);
    let histories: Vec<Value> = data::history(issue, &app.tenant.users)
        .iter()
        .filter(|c| ids.contains(&c.id))
        .map(|c| change_json(&render, c))
        .collect();
    let total = histories.len();
    json_response(
        StatusCode::OK,
        &json!({"startAt": 0, "maxResults": total, "total": total, "histories": histories}),
    )
}

/// `BulkChangelogResponseBean`.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct BulkChangelogOut<'a> {
    issue_change_logs: Vec<IssueChangesOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

/// `IssueChangeLog`.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct IssueChangesOut<'a> {
    #[serde(skip)]
    id: u64,
    issue_id: String,
    change_histories: Vec<ChangeOut<'a>>,
}

/// The page token of a changelog bulk fetch: the offset, tied to the request it pages.
fn bulk_token(offset: usize, fingerprint: u64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{offset}:{fingerprint:x}"))
}

fn read_bulk_token(token: &str, fingerprint: u64) -> Option<usize> {
    let text = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    let text = String::from_utf8(text).ok()?;
    let (offset, print) = text.split_once(':')?;
    (u64::from_str_radix(print, 16).ok()? == fingerprint)
        .then(|| offset.parse().ok())
        .flatten()
}

async fn changelog_bulk(State(app): App, uri: Uri, body: axum::body::Bytes) -> Response {
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&body) else {
        return bad_request("The request body must be a JSON object with issueIdsOrKeys.");
    };
    let keys: Vec<String> = body
        .get("issueIdsOrKeys")
        .and_then(Value::as_array)
        .map(|keys| {
            keys.iter()
                .filter_map(|k| match k {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    if keys.is_empty() || keys.len() > BULK_ISSUES {
        return bad_request(&format!(
            "issueIdsOrKeys must list 1 to {BULK_ISSUES} issues."
        ));
    }
    let field_ids: Vec<String> = body
        .get("fieldIds")
        .and_then(Value::as_array)
        .map(|ids| {
            ids.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if field_ids.len() > BULK_FIELD_IDS {
        return bad_request(&format!(
            "fieldIds may name at most {BULK_FIELD_IDS} fields."
        ));
    }
    let max_results = match body.get("maxResults") {
        None => 1_000,
        Some(value) => match value.as_u64() {
            Some(n) => n.clamp(1, 10_000) as usize,
            None => return bad_request("maxResults must be a number."),
        },
    };
    let max_results = app
        .realism
        .read()
        .changelog_page_at_most
        .map_or(max_results, |most| max_results.min(most.max(1)));
    let fingerprint = {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        keys.hash(&mut hasher);
        field_ids.hash(&mut hasher);
        hasher.finish()
    };
    let offset = match body.get("nextPageToken").and_then(Value::as_str) {
        None => 0,
        Some(token) => match read_bulk_token(token, fingerprint) {
            Some(offset) => offset,
            None => return bad_request("The nextPageToken is not valid for this request."),
        },
    };
    let render = renderer(&app, &uri);
    let store = app.store.read();
    // Every matching entry of every issue, oldest first, then by issue id; only the page
    // is rendered.
    let mut entries: Vec<(u64, ChangeData)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for key in &keys {
        let Some(issue) = store.find(key) else {
            continue;
        };
        if !seen.insert(issue.id) {
            continue;
        }
        for change in data::history(issue, &app.tenant.users) {
            let items: Vec<&ChangeItem> = change
                .items
                .iter()
                .filter(|i| field_ids.is_empty() || field_ids.contains(&i.field_id))
                .collect();
            if items.is_empty() {
                continue;
            }
            let filtered = ChangeData {
                items: items.into_iter().cloned().collect(),
                ..change
            };
            entries.push((issue.id, filtered));
        }
    }
    entries.sort_by_key(|(issue, change)| (change.created_ms, *issue, change.id));
    let total = entries.len();
    let page = &entries[offset.min(total)..(offset + max_results).min(total)];
    let shown = page.len();
    // Grouped by issue in the order they first appear on the page.
    let mut groups: Vec<IssueChangesOut<'_>> = Vec::new();
    for (issue, change) in page {
        let out = change_out(&render, change);
        match groups.iter_mut().find(|g| g.id == *issue) {
            Some(group) => group.change_histories.push(out),
            None => groups.push(IssueChangesOut {
                id: *issue,
                issue_id: issue.to_string(),
                change_histories: vec![out],
            }),
        }
    }
    let answer = BulkChangelogOut {
        issue_change_logs: groups,
        next_page_token: (offset + shown < total).then(|| bulk_token(offset + shown, fingerprint)),
    };
    json_response(StatusCode::OK, &answer)
}
