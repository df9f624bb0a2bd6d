//! The Jira REST endpoints jira-sim serves. Reads are served under `/rest/api/3` and
//! `/rest/api/2` (where descriptions and comment bodies are plain text, as in Jira's v2);
//! writes under `/rest/api/3`.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use http::StatusCode;
use http::Uri;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use crate::data::{self, CommentData, ISSUE_TYPES, IssueData, PRIORITIES};
use crate::jql;
use crate::render::{
    self, CommentOut, Expand, FIELDS, FieldSelection, IssueJson, Renderer, error_body,
};
use crate::server::{AppState, json_error, json_response, no_content};

type App = State<Arc<AppState>>;
type Params = Query<Vec<(String, String)>>;

pub(crate) const NOT_FOUND: &str = "Issue does not exist or you do not have permission to see it.";
const SEARCH_REMOVED: &str = "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046";

/// Every Jira route.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    let mut router = Router::new();
    for version in ["3", "2"] {
        let path = |rest: &str| format!("/rest/api/{version}{rest}");
        router = router
            .route(&path("/myself"), get(myself))
            .route(&path("/serverInfo"), get(server_info))
            .route(&path("/project/search"), get(project_search))
            .route(&path("/project/{projectIdOrKey}"), get(project))
            .route(&path("/field"), get(fields))
            .route(&path("/users/search"), get(users_search))
            .route(&path("/issue/bulkfetch"), post(bulk_fetch))
            .route(&path("/search/jql"), get(search_get).post(search_post))
            .route(&path("/search/approximate-count"), post(approximate_count))
            .route(&path("/search"), get(search_removed).post(search_removed));
    }
    // Writes are served under v2 as well (plain-text bodies become documents), as Jira
    // Cloud still serves them; clients such as PyPI's `jira` default to v2.
    for version in ["3", "2"] {
        let path = |rest: &str| format!("/rest/api/{version}{rest}");
        router = router
            .route(
                &path("/issue/{issueIdOrKey}"),
                get(get_issue).put(update_issue).delete(delete_issue),
            )
            .route(
                &path("/issue/{issueIdOrKey}/comment"),
                get(get_comments).post(add_comment),
            )
            .route(
                &path("/issue/{issueIdOrKey}/properties"),
                get(property_keys),
            )
            .route(
                &path("/issue/{issueIdOrKey}/properties/{propertyKey}"),
                get(get_property).put(set_property).delete(delete_property),
            )
            .route(&path("/issue"), post(create_issue))
            .route(&path("/issue/bulk"), post(bulk_create));
    }
    router
        .merge(crate::meta::routes())
        .merge(crate::history::routes())
        .merge(crate::activity::routes())
        .merge(crate::bulk::routes())
        .fallback(not_found)
}

async fn not_found() -> Response {
    json_error(StatusCode::NOT_FOUND, "jira-sim does not serve this path.")
}

fn is_v2(uri: &Uri) -> bool {
    uri.path().starts_with("/rest/api/2/")
}

pub(crate) fn renderer<'a>(app: &'a AppState, uri: &Uri) -> Renderer<'a> {
    Renderer {
        base: &app.base_url,
        tenant: &app.tenant,
        catalog: &app.catalog,
        v2: is_v2(uri),
    }
}

/// The last value of a query parameter.
pub(crate) fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .rev()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// Every value of a repeatable, comma-separated parameter (`fields=a,b&fields=c`).
pub(crate) fn param_list<'a>(params: &'a [(String, String)], name: &str) -> Option<Vec<&'a str>> {
    let values: Vec<&str> = params
        .iter()
        .filter(|(key, _)| key == name)
        .flat_map(|(_, value)| value.split(','))
        .collect();
    (!values.is_empty()).then_some(values)
}

/// A non-negative integer parameter, or a 400 naming it.
pub(crate) fn int_param(
    params: &[(String, String)],
    name: &str,
    default: u64,
) -> Result<u64, String> {
    match param(params, name) {
        None => Ok(default),
        Some(text) => text
            .parse()
            .map_err(|_| format!("The value '{text}' of '{name}' is not a valid number.")),
    }
}

/// `startAt` (default 0) and `maxResults` (default `default`, clamped to `min..=max`).
pub(crate) fn page_params(
    params: &[(String, String)],
    default: u64,
    min: u64,
    max: u64,
) -> Result<(usize, usize), String> {
    let start_at = int_param(params, "startAt", 0)?;
    let max_results = int_param(params, "maxResults", default)?.clamp(min, max);
    Ok((start_at as usize, max_results as usize))
}

pub(crate) fn bad_request(message: &str) -> Response {
    json_error(StatusCode::BAD_REQUEST, message)
}

pub(crate) fn field_errors(errors: &[(String, String)]) -> Response {
    let pairs: Vec<(&str, &str)> = errors
        .iter()
        .map(|(field, message)| (field.as_str(), message.as_str()))
        .collect();
    json_response(StatusCode::BAD_REQUEST, &error_body(&[], &pairs), 1)
}

async fn myself(State(app): App, uri: Uri) -> Response {
    let mut user = renderer(&app, &uri).user_value(0);
    user["emailAddress"] = app.config.credentials[0].email.clone().into();
    user["locale"] = "en_US".into();
    json_response(StatusCode::OK, &user, 3)
}

async fn server_info(State(app): App) -> Response {
    let body = json!({
        "baseUrl": app.base_url,
        "displayUrl": app.base_url,
        "version": "1001.0.0-SNAPSHOT",
        "versionNumbers": [1001, 0, 0],
        "deploymentType": "Cloud",
        "buildNumber": 100_250,
        "buildDate": "2025-12-01T00:00:00.000+0000",
        "serverTime": render::jira_time(AppState::now_ms()),
        "scmInfo": "jira-sim",
        "serverTitle": "jira-sim",
        "serverTimeZone": "Etc/UTC",
    });
    json_response(StatusCode::OK, &body, 2)
}

async fn project_search(State(app): App, uri: Uri, Query(params): Params) -> Response {
    let (start_at, max_results) = match page_params(&params, 50, 1, 100) {
        Ok(page) => page,
        Err(message) => return bad_request(&message),
    };
    let keys = param_list(&params, "keys");
    let query = param(&params, "query").map(str::to_lowercase);
    let detailed = param_list(&params, "expand")
        .is_some_and(|e| e.iter().any(|x| *x == "description" || *x == "lead"));
    let render = renderer(&app, &uri);
    let matching: Vec<&data::ProjectData> = app
        .tenant
        .projects
        .iter()
        .filter(|p| {
            keys.as_ref()
                .is_none_or(|keys| keys.iter().any(|k| k.eq_ignore_ascii_case(&p.key)))
        })
        .filter(|p| {
            query.as_ref().is_none_or(|q| {
                p.key.to_lowercase().contains(q) || p.name.to_lowercase().contains(q)
            })
        })
        .collect();
    let values: Vec<Value> = matching
        .iter()
        .skip(start_at)
        .take(max_results)
        .map(|p| render.project(p, detailed))
        .collect();
    let shown = values.len();
    let body = crate::meta::page_bean(
        &app.base_url,
        "/rest/api/3/project/search",
        start_at,
        max_results,
        values,
        matching.len(),
    );
    let cost = 1 + shown as u64;
    json_response(StatusCode::OK, &body, cost)
}

async fn project(State(app): App, uri: Uri, Path(id_or_key): Path<String>) -> Response {
    match app.tenant.project(&id_or_key) {
        Some(index) => {
            let body = renderer(&app, &uri).project(&app.tenant.projects[index], true);
            json_response(StatusCode::OK, &body, 2)
        }
        None => json_error(
            StatusCode::NOT_FOUND,
            &format!("No project could be found with key '{id_or_key}'."),
        ),
    }
}

async fn fields() -> Response {
    let body: Vec<Value> = FIELDS.iter().map(|f| f.json()).collect();
    json_response(StatusCode::OK, &Value::Array(body), 1 + FIELDS.len() as u64)
}

async fn users_search(State(app): App, uri: Uri, Query(params): Params) -> Response {
    let (start_at, max_results) = match page_params(&params, 50, 0, 1000) {
        Ok(page) => page,
        Err(message) => return bad_request(&message),
    };
    let render = renderer(&app, &uri);
    let users: Vec<&RawValue> = (0..app.tenant.users.len())
        .skip(start_at)
        .take(max_results)
        .map(|index| render.user(index))
        .collect();
    let cost = 1 + 2 * users.len() as u64;
    json_response(StatusCode::OK, &users, cost)
}

async fn get_issue(
    State(app): App,
    uri: Uri,
    Path(id_or_key): Path<String>,
    Query(params): Params,
) -> Response {
    let selection = FieldSelection::from_list(param_list(&params, "fields"), FieldSelection::all());
    let expand = Expand::parse(param_list(&params, "expand").unwrap_or_default());
    let store = app.store.read();
    match store.find(&id_or_key) {
        Some(issue) => {
            let body = renderer(&app, &uri).issue(issue, &selection, expand);
            json_response(StatusCode::OK, &body, 2)
        }
        None => json_error(StatusCode::NOT_FOUND, NOT_FOUND),
    }
}

async fn update_issue(
    State(app): App,
    uri: Uri,
    Path(id_or_key): Path<String>,
    Query(params): Params,
    body: axum::body::Bytes,
) -> Response {
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&body) else {
        return bad_request(
            "The request body must be a JSON object with \"fields\" or \"update\".",
        );
    };
    let mut store = app.store.write();
    let Some(id) = store.id_of(&id_or_key) else {
        return json_error(StatusCode::NOT_FOUND, NOT_FOUND);
    };
    let mut issue = store.by_id[&id].clone();
    let mut errors = Vec::new();
    if let Some(fields) = body.get("fields").and_then(Value::as_object) {
        apply_fields(&app, &mut issue, fields, false, &mut errors);
    }
    if let Some(update) = body.get("update").and_then(Value::as_object) {
        apply_updates(&mut issue, update, &mut errors);
    }
    if !errors.is_empty() {
        return field_errors(&errors);
    }
    let now = AppState::now_ms();
    issue.updated_ms = now;
    let change_id = store.next_written_id;
    store.next_written_id += 1;
    crate::history::record_edit(
        &app,
        &store.by_id[&id],
        &mut issue,
        caller_index(&app),
        change_id,
        now,
    );
    store.by_id.insert(id, issue);
    store.version += 1;
    crate::webhooks::emit(
        &app,
        crate::webhooks::Event::IssueUpdated,
        &store.by_id[&id],
        None,
        true,
    );
    if param(&params, "returnIssue") == Some("true") {
        let body = renderer(&app, &uri).issue(
            &store.by_id[&id],
            &FieldSelection::all(),
            Expand::default(),
        );
        return json_response(StatusCode::OK, &body, 2);
    }
    no_content()
}

async fn delete_issue(
    State(app): App,
    Path(id_or_key): Path<String>,
    Query(params): Params,
) -> Response {
    let mut store = app.store.write();
    let Some(id) = store.id_of(&id_or_key) else {
        return json_error(StatusCode::NOT_FOUND, NOT_FOUND);
    };
    // Subtasks are issues whose `parent` names this one (set through `fields.parent`).
    let key = store.by_id[&id].key.clone();
    let subtasks: Vec<u64> = store
        .by_id
        .values()
        .filter(|issue| {
            issue
                .extra
                .get("parent")
                .and_then(|p| p.get("key").or_else(|| p.get("id")))
                .and_then(Value::as_str)
                .is_some_and(|parent| parent == key || parent == id.to_string())
        })
        .map(|issue| issue.id)
        .collect();
    if !subtasks.is_empty() && param(&params, "deleteSubtasks") != Some("true") {
        return bad_request(&format!(
            "The issue has {} subtasks. You must specify the 'deleteSubtasks' parameter to delete this issue with subtasks.",
            subtasks.len()
        ));
    }
    for doomed in std::iter::once(id).chain(subtasks) {
        if let Some(issue) = store.by_id.get(&doomed) {
            crate::webhooks::emit(
                &app,
                crate::webhooks::Event::IssueDeleted,
                issue,
                None,
                false,
            );
        }
        remove_issue(&app, &mut store, doomed);
    }
    store.version += 1;
    no_content()
}

/// Takes an issue out of the store: its key, its links (from the other ends too), its
/// worklogs (listed as deleted), its owned ids.
pub(crate) fn remove_issue(app: &AppState, store: &mut data::IssueStore, id: u64) {
    let Some(issue) = store.by_id.remove(&id) else {
        return;
    };
    store.by_key.remove(&issue.key);
    for end in &issue.links {
        crate::activity::unlink(store, end.link);
    }
    for worklog in data::worklogs(&issue, app.tenant.users.len()) {
        crate::activity::forget_worklog(store, &worklog);
    }
    for comment in &issue.added_comments {
        store.owners.remove(&comment.id);
    }
}

/// `GET /issue/{key}/properties`: the keys of an issue's entity properties.
async fn property_keys(State(app): App, Path(id_or_key): Path<String>) -> Response {
    let store = app.store.read();
    let Some(issue) = store.find(&id_or_key) else {
        return json_error(StatusCode::NOT_FOUND, NOT_FOUND);
    };
    let keys: Vec<Value> = issue
        .properties
        .keys()
        .map(|key| {
            json!({"key": key, "self": format!("{}/rest/api/3/issue/{}/properties/{key}", app.base_url, issue.id)})
        })
        .collect();
    json_response(StatusCode::OK, &json!({"keys": keys}), 1)
}

/// `GET /issue/{key}/properties/{propertyKey}`.
async fn get_property(
    State(app): App,
    Path((id_or_key, property)): Path<(String, String)>,
) -> Response {
    let store = app.store.read();
    let Some(issue) = store.find(&id_or_key) else {
        return json_error(StatusCode::NOT_FOUND, NOT_FOUND);
    };
    match issue.properties.get(&property) {
        Some(value) => json_response(StatusCode::OK, &json!({"key": property, "value": value}), 1),
        None => json_error(
            StatusCode::NOT_FOUND,
            &format!("The property with key '{property}' does not exist."),
        ),
    }
}

/// Jira's checks of an entity property: a key of 1 to 255 characters, a JSON value of at
/// most 32 KB.
pub(crate) fn check_property(key: &str, value_bytes: usize) -> Result<(), &'static str> {
    if key.is_empty() || key.len() > 255 {
        return Err("The property key must be between 1 and 255 characters long.");
    }
    if value_bytes > 32_768 {
        return Err("The property value is longer than 32768 bytes.");
    }
    Ok(())
}

/// The value of a `PUT .../properties/{key}` body, checked.
pub(crate) fn property_value(key: &str, body: &[u8]) -> Result<Value, &'static str> {
    let value = serde_json::from_slice::<Value>(body)
        .map_err(|_| "The property value must be valid JSON.")?;
    check_property(key, body.len())?;
    Ok(value)
}

/// `PUT /issue/{key}/properties/{propertyKey}`: 201 when new, 200 when replaced.
async fn set_property(
    State(app): App,
    Path((id_or_key, property)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let value = match property_value(&property, &body) {
        Ok(value) => value,
        Err(message) => return bad_request(message),
    };
    let mut store = app.store.write();
    let Some(id) = store.id_of(&id_or_key) else {
        return json_error(StatusCode::NOT_FOUND, NOT_FOUND);
    };
    let Some(issue) = store.by_id.get_mut(&id) else {
        return json_error(StatusCode::NOT_FOUND, NOT_FOUND);
    };
    let replaced = issue.properties.insert(property, value).is_some();
    store.version += 1;
    let status = if replaced {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    json_response(status, &json!({}), 1)
}

/// `DELETE /issue/{key}/properties/{propertyKey}`.
async fn delete_property(
    State(app): App,
    Path((id_or_key, property)): Path<(String, String)>,
) -> Response {
    let mut store = app.store.write();
    let Some(id) = store.id_of(&id_or_key) else {
        return json_error(StatusCode::NOT_FOUND, NOT_FOUND);
    };
    let removed = store
        .by_id
        .get_mut(&id)
        .and_then(|issue| issue.properties.remove(&property));
    store.version += 1;
    match removed {
        Some(_) => no_content(),
        None => json_error(
            StatusCode::NOT_FOUND,
            &format!("The property with key '{property}' does not exist."),
        ),
    }
}

/// Applies `fields` of a create or an edit to `issue`, collecting Jira's field errors.
pub(crate) fn apply_fields(
    app: &AppState,
    issue: &mut IssueData,
    fields: &Map<String, Value>,
    creating: bool,
    errors: &mut Vec<(String, String)>,
) {
    for (field, value) in fields {
        let mut error = |message: &str| errors.push((field.clone(), message.to_owned()));
        match field.as_str() {
            "summary" => match value.as_str().map(str::trim) {
                Some(text) if !text.is_empty() && text.len() <= 255 => {
                    issue.summary = Some(text.to_owned())
                }
                Some(text) if text.len() > 255 => {
                    error("Summary must be less than 255 characters.")
                }
                _ => error("You must specify a summary of the issue."),
            },
            "description" => match value {
                Value::Object(_) | Value::Null => issue.description = Some(value.clone()),
                Value::String(text) => {
                    issue.description = Some(data::adf(std::slice::from_ref(text)))
                }
                _ => error("Operation value must be an Atlassian Document."),
            },
            "labels" => match value.as_array() {
                Some(labels)
                    if labels
                        .iter()
                        .all(|l| l.as_str().is_some_and(|s| !s.contains(' '))) =>
                {
                    issue.labels = labels
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                }
                _ => error("Labels must be a list of strings without spaces."),
            },
            "priority" => match lookup(value, PRIORITIES) {
                Some(index) => issue.priority = index,
                None => error("Specify a valid priority (by name or id)."),
            },
            "assignee" => match value {
                Value::Null => issue.assignee = None,
                _ => match value
                    .get("accountId")
                    .and_then(Value::as_str)
                    .and_then(|id| app.tenant.users.iter().position(|u| u.account_id == id))
                {
                    Some(user) => issue.assignee = Some(user),
                    None => error("Specify a valid value for assignee (an accountId)."),
                },
            },
            "customfield_10016" => match value {
                Value::Null => issue.story_points = None,
                Value::Number(n) if n.as_f64().is_some_and(|p| p >= 0.0) => {
                    issue.story_points = n.as_f64().map(|p| p.round() as u32)
                }
                _ => error("Story Points must be a number."),
            },
            "project" | "issuetype" if creating => {}
            custom if custom.starts_with("customfield_") => {
                issue.extra.insert(custom.to_owned(), value.clone());
            }
            _ => error(&format!(
                "Field '{field}' cannot be set. It is not on the appropriate screen, or unknown."
            )),
        }
    }
}

/// Applies `update` operations (only `labels` add/remove/set are modelled).
fn apply_updates(
    issue: &mut IssueData,
    update: &Map<String, Value>,
    errors: &mut Vec<(String, String)>,
) {
    for (field, operations) in update {
        if field != "labels" {
            errors.push((
                field.clone(),
                format!("Field '{field}' cannot be updated with operations in jira-sim; set it in \"fields\"."),
            ));
            continue;
        }
        for operation in operations.as_array().into_iter().flatten() {
            if let Some(label) = operation.get("add").and_then(Value::as_str) {
                if !issue.labels.iter().any(|l| l == label) {
                    issue.labels.push(label.to_owned());
                }
            } else if let Some(label) = operation.get("remove").and_then(Value::as_str) {
                issue.labels.retain(|l| l != label);
            } else if let Some(labels) = operation.get("set").and_then(Value::as_array) {
                issue.labels = labels
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect();
            } else {
                errors.push((
                    field.clone(),
                    "Unknown operation; use add, remove or set.".into(),
                ));
            }
        }
    }
}

/// Finds `{"name": ...}` or `{"id": ...}` in a table of (id, name).
fn lookup(value: &Value, table: &[(&str, &str)]) -> Option<usize> {
    if let Some(id) = value.get("id").and_then(Value::as_str) {
        return table.iter().position(|(table_id, _)| *table_id == id);
    }
    let name = value.get("name").and_then(Value::as_str)?;
    table.iter().position(|(_, n)| n.eq_ignore_ascii_case(name))
}

/// Validates and stores one new issue; Jira's field errors when it is invalid.
fn create_one(app: &AppState, input: &Value) -> Result<(u64, String), Vec<(String, String)>> {
    let mut errors = Vec::new();
    let Some(fields) = input.get("fields").and_then(Value::as_object) else {
        return Err(vec![(
            "fields".into(),
            "The issue must have \"fields\".".into(),
        )]);
    };
    let project = fields.get("project").and_then(|p| {
        p.get("key")
            .or_else(|| p.get("id"))
            .and_then(Value::as_str)
            .and_then(|k| app.tenant.project(k))
    });
    if project.is_none() {
        errors.push(("project".into(), "Specify a valid project ID or key".into()));
    }
    let issue_type = fields.get("issuetype").and_then(|t| lookup(t, ISSUE_TYPES));
    if issue_type.is_none() {
        errors.push(("issuetype".into(), "Specify an issue type".into()));
    }
    if !fields.contains_key("summary") {
        errors.push((
            "summary".into(),
            "You must specify a summary of the issue.".into(),
        ));
    }
    let now = AppState::now_ms();
    let mut issue = IssueData {
        id: 0,
        project: project.unwrap_or_default(),
        number: 0,
        key: String::new(),
        seed: now as u64,
        issue_type: issue_type.unwrap_or_default(),
        status: 0,
        priority: 2,
        assignee: None,
        reporter: 0,
        created_ms: now,
        updated_ms: now,
        labels: Vec::new(),
        story_points: None,
        team: None,
        severity: None,
        summary: None,
        description: Some(Value::Null),
        extra: Map::new(),
        generated_comments: 0,
        added_comments: Vec::new(),
        properties: std::collections::BTreeMap::new(),
        resolution: None,
        status_changed_ms: now,
        generated_changes: 0,
        changes: Vec::new(),
        generated_worklogs: 0,
        added_worklogs: Vec::new(),
        hidden_generated: Vec::new(),
        watchers: Vec::new(),
        links: Vec::new(),
    };
    apply_fields(app, &mut issue, fields, true, &mut errors);
    // Entity properties set with the create (`properties: [{key, value}]`), checked as
    // Jira checks them: a key of 1 to 255 characters, a JSON value of at most 32 KB.
    if let Some(properties) = input.get("properties") {
        match properties.as_array() {
            Some(list) => {
                for property in list {
                    let key = property.get("key").and_then(Value::as_str).unwrap_or("");
                    let value = property.get("value").cloned().unwrap_or(Value::Null);
                    match check_property(key, value.to_string().len()) {
                        Ok(()) => {
                            issue.properties.insert(key.to_owned(), value);
                        }
                        Err(message) => errors.push(("properties".into(), message.into())),
                    }
                }
            }
            None => errors.push(("properties".into(), "properties must be a list.".into())),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let summary = issue.summary.clone().unwrap_or_default();
    let mut store = app.store.write();
    let id = data::insert_issue(&mut store, &app.tenant.projects, issue);
    let key = store.by_id[&id].key.clone();
    crate::webhooks::emit(
        app,
        crate::webhooks::Event::IssueCreated,
        &store.by_id[&id],
        None,
        false,
    );
    drop(store);
    app.stats.created(&summary);
    Ok((id, key))
}

fn created_json(app: &AppState, id: u64, key: &str) -> Value {
    json!({"id": id.to_string(), "key": key, "self": format!("{}/rest/api/3/issue/{id}", app.base_url)})
}

async fn create_issue(State(app): App, body: axum::body::Bytes) -> Response {
    let Ok(input) = serde_json::from_slice::<Value>(&body) else {
        return bad_request("The request body is not valid JSON.");
    };
    match create_one(&app, &input) {
        Ok((id, key)) => json_response(StatusCode::CREATED, &created_json(&app, id, &key), 1),
        Err(errors) => field_errors(&errors),
    }
}

async fn bulk_create(State(app): App, body: axum::body::Bytes) -> Response {
    let updates = match serde_json::from_slice::<Value>(&body) {
        Ok(body) => match body.get("issueUpdates").and_then(Value::as_array) {
            Some(updates) => updates.clone(),
            None => return bulk_refusal(0, "The request must contain \"issueUpdates\"."),
        },
        Err(_) => return bulk_refusal(0, "The request body is not valid JSON."),
    };
    if updates.len() > 50 {
        return bulk_refusal(
            50,
            &format!(
                "At most 50 issues can be created in one request; this one has {}.",
                updates.len()
            ),
        );
    }
    let mut issues = Vec::new();
    let mut errors = Vec::new();
    for (index, update) in updates.iter().enumerate() {
        match create_one(&app, update) {
            Ok((id, key)) => issues.push(created_json(&app, id, &key)),
            Err(field_errors) => {
                let pairs: Vec<(&str, &str)> = field_errors
                    .iter()
                    .map(|(f, m)| (f.as_str(), m.as_str()))
                    .collect();
                errors.push(json!({
                    "status": 400,
                    "elementErrors": error_body(&[], &pairs),
                    "failedElementNumber": index,
                }));
            }
        }
    }
    let status = if issues.is_empty() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::CREATED
    };
    json_response(status, &json!({"issues": issues, "errors": errors}), 1)
}

fn bulk_refusal(element: usize, message: &str) -> Response {
    let body = json!({
        "issues": [],
        "errors": [{"status": 400, "elementErrors": error_body(&[message], &[]), "failedElementNumber": element}],
    });
    json_response(StatusCode::BAD_REQUEST, &body, 1)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct BulkFetchBody {
    issue_ids_or_keys: Vec<String>,
    #[serde(default)]
    fields: Vec<String>,
    #[serde(default)]
    expand: Vec<String>,
    #[serde(default)]
    #[allow(dead_code)]
    fields_by_keys: bool,
    #[serde(default)]
    #[allow(dead_code)]
    properties: Vec<String>,
}

async fn bulk_fetch(State(app): App, uri: Uri, body: axum::body::Bytes) -> Response {
    let request: BulkFetchBody = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => return bad_request(&format!("Invalid request body: {error}.")),
    };
    let count = request.issue_ids_or_keys.len();
    // Jira serves up to 1,000 issues when `fields` names at most 100 fields and no
    // multi-value one (comments, links); otherwise up to 100.
    let multi_value = ["comment", "issuelinks", "worklog", "*all", "*navigable"];
    let lean = !request.fields.is_empty()
        && request.fields.len() <= 100
        && !request
            .fields
            .iter()
            .any(|f| multi_value.contains(&f.as_str()));
    let cap = if lean { 1_000 } else { 100 };
    if !(1..=cap).contains(&count) {
        return bad_request(&format!(
            "issueIdsOrKeys must contain between 1 and {cap} issues; it has {count}{}.",
            if lean {
                ""
            } else {
                " (1,000 are allowed when fields names at most 100 fields and no multi-value one)"
            }
        ));
    }
    let selection = if request.fields.is_empty() {
        FieldSelection::navigable()
    } else {
        FieldSelection::parse(request.fields.iter().map(String::as_str))
    };
    let expand = Expand::parse(request.expand.iter().map(String::as_str));
    let store = app.store.read();
    let mut found: Vec<&IssueData> = Vec::new();
    let mut issue_errors = Vec::new();
    for id_or_key in &request.issue_ids_or_keys {
        match store.find(id_or_key) {
            Some(issue) if !found.iter().any(|f| f.id == issue.id) => found.push(issue),
            Some(_) => {}
            None => issue_errors.push(json!({"id": id_or_key, "errorMessage": NOT_FOUND})),
        }
    }
    found.sort_by_key(|issue| issue.id);
    let render = renderer(&app, &uri);
    let issues: Vec<IssueJson<'_>> = found
        .iter()
        .map(|issue| render.issue(issue, &selection, expand))
        .collect();
    let cost = 1 + issues.len() as u64;
    let body = BulkFetchOut {
        issues,
        issue_errors,
    };
    json_response(StatusCode::OK, &body, cost)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SearchBody {
    #[serde(default)]
    jql: String,
    #[serde(default)]
    next_page_token: Option<String>,
    #[serde(default)]
    max_results: Option<i64>,
    #[serde(default)]
    fields: Vec<String>,
    #[serde(default)]
    expand: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    fields_by_keys: bool,
    #[serde(default)]
    #[allow(dead_code)]
    properties: Vec<String>,
    /// Issue ids the search must see as they are now, whatever the index lag.
    #[serde(default)]
    reconcile_issues: Vec<i64>,
}

async fn search_get(State(app): App, uri: Uri, Query(params): Params) -> Response {
    let max_results = match param(&params, "maxResults").map(str::parse::<i64>) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => return bad_request("The value of 'maxResults' is not a valid number."),
    };
    let body = SearchBody {
        jql: param(&params, "jql").unwrap_or_default().to_owned(),
        next_page_token: param(&params, "nextPageToken").map(str::to_owned),
        max_results,
        fields: param_list(&params, "fields")
            .unwrap_or_default()
            .into_iter()
            .map(str::to_owned)
            .collect(),
        expand: param(&params, "expand").map(str::to_owned),
        ..SearchBody::default()
    };
    search(&app, &uri, body)
}

async fn search_post(State(app): App, uri: Uri, body: axum::body::Bytes) -> Response {
    match serde_json::from_slice::<SearchBody>(&body) {
        Ok(body) => search(&app, &uri, body),
        Err(error) => bad_request(&format!("Invalid request body: {error}.")),
    }
}

/// The ids matching `jql` in query order, shared between the pages of one search while
/// the data does not change.
/// The issues a search sees: every stored one, except that while search lags
/// (`Realism::search_lag_ms`) an issue written within the lag is seen as it was before
/// (one created within it not at all, one deleted within it still), unless `reconcile`
/// names it.
fn search_view<'a>(
    app: &AppState,
    store: &'a data::IssueStore,
    reconcile: &[i64],
) -> Vec<&'a IssueData> {
    let lag = app.realism.read().search_lag_ms as i64;
    if lag == 0 {
        return store.by_id.values().collect();
    }
    let since = AppState::now_ms() - lag;
    let fresh = |id: u64| reconcile.contains(&(id as i64));
    let mut view: Vec<&IssueData> = Vec::with_capacity(store.by_id.len());
    for issue in store.by_id.values() {
        match store.unindexed.get(&issue.id) {
            Some((at, before)) if *at > since && !fresh(issue.id) => view.extend(before.as_ref()),
            _ if issue.created_ms > since && !fresh(issue.id) => {}
            _ => view.push(issue),
        }
    }
    // Deleted within the lag: still found.
    for (id, (at, before)) in &store.unindexed {
        if *at > since && !store.by_id.contains_key(id) && !fresh(*id) {
            view.extend(before.as_ref());
        }
    }
    view
}

fn matching_ids(app: &AppState, jql: &str, reconcile: &[i64]) -> Result<Arc<Vec<u64>>, String> {
    let version = app.store.read().version;
    let lagging = app.realism.read().search_lag_ms > 0;
    if !lagging
        && let Some((cached_version, ids)) = app.search_cache.lock().get(jql)
        && *cached_version == version
    {
        return Ok(ids.clone());
    }
    let query = jql::parse(jql, &app.tenant, AppState::now_ms())?;
    let mut store = app.store.write();
    // Entries past the lag are indexed now.
    let since = AppState::now_ms() - app.realism.read().search_lag_ms as i64;
    store.unindexed.retain(|_, (at, _)| *at > since);
    let store = parking_lot::RwLockWriteGuard::downgrade(store);
    let mut issues: Vec<&IssueData> = search_view(app, &store, reconcile)
        .into_iter()
        .filter(|issue| query.matches(issue, &app.tenant))
        .collect();
    issues.sort_by(|a, b| query.compare(a, b));
    let ids = Arc::new(issues.iter().map(|issue| issue.id).collect::<Vec<_>>());
    let mut cache = app.search_cache.lock();
    if cache.len() >= 64 {
        cache.clear();
    }
    cache.insert(jql.to_owned(), (store.version, ids.clone()));
    Ok(ids)
}

fn fingerprint(jql: &str) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    jql.hash(&mut hasher);
    hasher.finish()
}

fn search(app: &AppState, uri: &Uri, body: SearchBody) -> Response {
    let ids = match matching_ids(app, &body.jql, &body.reconcile_issues) {
        Ok(ids) => ids,
        Err(message) => return bad_request(&message),
    };
    let selection = if body.fields.is_empty() {
        FieldSelection::id_only()
    } else {
        FieldSelection::parse(body.fields.iter().map(String::as_str))
    };
    let cap = if selection.is_id_only() { 5000 } else { 100 };
    let max_results = body.max_results.unwrap_or(50).clamp(1, cap) as usize;
    let offset = match body.next_page_token.as_deref() {
        None => 0,
        Some(token) => match decode_token(token, fingerprint(&body.jql)) {
            Some(offset) => offset,
            None => {
                return bad_request(&format!(
                    "The nextPageToken '{token}' is invalid or belongs to another query."
                ));
            }
        },
    };
    let expand = Expand::parse(body.expand.as_deref().unwrap_or_default().split(','));
    let store = app.store.read();
    let render = renderer(app, uri);
    let lagging = app.realism.read().search_lag_ms > 0;
    let view: std::collections::HashMap<u64, &IssueData> = if lagging {
        search_view(app, &store, &body.reconcile_issues)
            .into_iter()
            .map(|issue| (issue.id, issue))
            .collect()
    } else {
        std::collections::HashMap::new()
    };
    let page: Vec<IssueJson<'_>> = ids
        .iter()
        .skip(offset)
        .take(max_results)
        .filter_map(|id| {
            if lagging {
                view.get(id).copied()
            } else {
                store.by_id.get(id)
            }
        })
        .map(|issue| render.issue(issue, &selection, expand))
        .collect();
    let next = offset + max_results;
    let cost = 1 + page.len() as u64;
    let response = SearchOut {
        issues: page,
        next_page_token: (next < ids.len())
            .then(|| format!("{:016x}{next:x}", fingerprint(&body.jql))),
        is_last: next >= ids.len(),
    };
    json_response(StatusCode::OK, &response, cost)
}

fn decode_token(token: &str, expected_fingerprint: u64) -> Option<usize> {
    if token.len() <= 16 || !token.is_char_boundary(16) {
        return None;
    }
    let (fingerprint, offset) = token.split_at(16);
    (u64::from_str_radix(fingerprint, 16).ok()? == expected_fingerprint)
        .then(|| usize::from_str_radix(offset, 16).ok())
        .flatten()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CountBody {
    #[serde(default)]
    jql: String,
}

async fn approximate_count(State(app): App, body: axum::body::Bytes) -> Response {
    let body: CountBody = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(error) => return bad_request(&format!("Invalid request body: {error}.")),
    };
    match matching_ids(&app, &body.jql, &[]) {
        Ok(ids) => json_response(StatusCode::OK, &json!({"count": ids.len()}), 1),
        Err(message) => bad_request(&message),
    }
}

async fn search_removed() -> Response {
    json_error(StatusCode::GONE, SEARCH_REMOVED)
}

async fn get_comments(
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
    let cost = 1 + comments.len() as u64;
    let body = CommentPageOut {
        start_at,
        max_results,
        total,
        comments,
    };
    json_response(StatusCode::OK, &body, cost)
}

/// A comment or worklog body: an ADF document, or plain text (v2, or a client that sends
/// text) made into one. `None` for an empty one.
pub(crate) fn comment_body(value: &Value) -> Option<Value> {
    match value {
        Value::Object(doc) if doc.get("type").and_then(Value::as_str) == Some("doc") => {
            Some(Value::Object(doc.clone()))
        }
        Value::String(text) if !text.trim().is_empty() => {
            Some(data::adf(std::slice::from_ref(text)))
        }
        _ => None,
    }
}

/// The user the caller is (`/myself`): authors of what it writes.
pub(crate) fn caller_index(_app: &AppState) -> usize {
    0
}

async fn add_comment(
    State(app): App,
    uri: Uri,
    Path(id_or_key): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let request = match serde_json::from_slice::<Value>(&body) {
        Ok(request) => request,
        Err(_) => return bad_request("The request body is not valid JSON."),
    };
    let Some(comment_body) = request.get("body").and_then(comment_body) else {
        return field_errors(&[("comment".into(), "Comment body can not be empty!".into())]);
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
    json_response(StatusCode::CREATED, &body, 1)
}

/// The answer of `POST /issue/bulkfetch`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BulkFetchOut<'a> {
    issues: Vec<IssueJson<'a>>,
    issue_errors: Vec<Value>,
}

/// A page of the enhanced search.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SearchOut<'a> {
    issues: Vec<IssueJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
    is_last: bool,
}

/// A page of comments.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CommentPageOut<'a> {
    start_at: usize,
    max_results: usize,
    total: usize,
    comments: Vec<CommentOut<'a>>,
}
