//! Issue reads and writes: get, edit, delete, create (one and in bulk), bulk fetch, and
//! entity properties.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use http::StatusCode;
use http::Uri;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::data::{self, ISSUE_TYPES, IssueData};
use crate::edit::{
    apply_fields, apply_updates, check_property, lookup, property_value, remove_issue,
};
use crate::extract::{
    App, NOT_FOUND, Params, bad_request, caller_index, field_errors, is_v2, param, param_list,
    renderer,
};
use crate::render::{Expand, FieldSelection, IssueJson, error_body};
use crate::state::{AppState, json_error, json_response, no_content};

pub(crate) async fn get_issue(
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
            json_response(StatusCode::OK, &body)
        }
        None => json_error(StatusCode::NOT_FOUND, NOT_FOUND),
    }
}

pub(crate) async fn update_issue(
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
        apply_fields(&app, &mut issue, fields, false, is_v2(&uri), &mut errors);
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
    crate::edit::record_edit(
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
        return json_response(StatusCode::OK, &body);
    }
    no_content()
}

pub(crate) async fn delete_issue(
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

/// `GET /issue/{key}/properties`: the keys of an issue's entity properties.
pub(crate) async fn property_keys(State(app): App, Path(id_or_key): Path<String>) -> Response {
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
    json_response(StatusCode::OK, &json!({"keys": keys}))
}

/// `GET /issue/{key}/properties/{propertyKey}`.
pub(crate) async fn get_property(
    State(app): App,
    Path((id_or_key, property)): Path<(String, String)>,
) -> Response {
    let store = app.store.read();
    let Some(issue) = store.find(&id_or_key) else {
        return json_error(StatusCode::NOT_FOUND, NOT_FOUND);
    };
    match issue.properties.get(&property) {
        Some(value) => json_response(StatusCode::OK, &json!({"key": property, "value": value})),
        None => json_error(
            StatusCode::NOT_FOUND,
            &format!("The property with key '{property}' does not exist."),
        ),
    }
}

/// `PUT /issue/{key}/properties/{propertyKey}`: 201 when new, 200 when replaced.
pub(crate) async fn set_property(
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
    json_response(status, &json!({}))
}

/// `DELETE /issue/{key}/properties/{propertyKey}`.
pub(crate) async fn delete_property(
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

/// Validates and stores one new issue; Jira's field errors when it is invalid.
pub(crate) fn create_one(
    app: &AppState,
    input: &Value,
    v2: bool,
) -> Result<(u64, String), Vec<(String, String)>> {
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
        generated_until_ms: now,
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
        attachments: Vec::new(),
    };
    apply_fields(app, &mut issue, fields, true, v2, &mut errors);
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

pub(crate) fn created_json(app: &AppState, id: u64, key: &str) -> Value {
    json!({"id": id.to_string(), "key": key, "self": format!("{}/rest/api/3/issue/{id}", app.base_url)})
}

pub(crate) async fn create_issue(State(app): App, uri: Uri, body: axum::body::Bytes) -> Response {
    let Ok(input) = serde_json::from_slice::<Value>(&body) else {
        return bad_request("The request body is not valid JSON.");
    };
    match create_one(&app, &input, is_v2(&uri)) {
        Ok((id, key)) => json_response(StatusCode::CREATED, &created_json(&app, id, &key)),
        Err(errors) => field_errors(&errors),
    }
}

pub(crate) async fn bulk_create(State(app): App, uri: Uri, body: axum::body::Bytes) -> Response {
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
        match create_one(&app, update, is_v2(&uri)) {
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
    json_response(status, &json!({"issues": issues, "errors": errors}))
}

pub(crate) fn bulk_refusal(element: usize, message: &str) -> Response {
    let body = json!({
        "issues": [],
        "errors": [{"status": 400, "elementErrors": error_body(&[message], &[]), "failedElementNumber": element}],
    });
    json_response(StatusCode::BAD_REQUEST, &body)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct BulkFetchBody {
    issue_ids_or_keys: Vec<String>,
    #[serde(default)]
    fields: Vec<String>,
    #[serde(default)]
    expand: Vec<String>,
    #[serde(default)]
    #[allow(dead_code)]
    fields_by_keys: bool,
    #[serde(default)]
    properties: Vec<String>,
}

pub(crate) async fn bulk_fetch(State(app): App, uri: Uri, body: axum::body::Bytes) -> Response {
    let mut request: BulkFetchBody = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => return bad_request(&format!("Invalid request body: {error}.")),
    };
    let count = request.issue_ids_or_keys.len();
    // Atlassian's reference ("Bulk fetch issues"): up to 1,000 issues when `fields`
    // names at least one field to include (no `*all`/`*navigable`, not exclusions
    // alone), at most 100 of them, none that returns several values, and `expand` asks
    // for none of changelog, editmeta, operations, renderedFields, transitions,
    // versionedRepresentations; otherwise up to 100.
    let included: Vec<&str> = request
        .fields
        .iter()
        .flat_map(|f| f.split(','))
        .map(str::trim)
        .filter(|f| !f.is_empty() && !f.starts_with('-'))
        .collect();
    let heavy = [
        "changelog",
        "editmeta",
        "operations",
        "renderedFields",
        "transitions",
        "versionedRepresentations",
    ];
    let lean = !included.is_empty()
        && included.len() <= 100
        && !included
            .iter()
            .any(|f| f.starts_with('*') || crate::render::multi_valued(f))
        && !request
            .expand
            .iter()
            .flat_map(|e| e.split(','))
            .any(|e| heavy.contains(&e.trim()));
    let cap = if lean { 1_000 } else { 100 };
    let truncates = app.realism.read().bulk_reads_answer_at_most;
    if let Some(most) = truncates
        && count > 0
    {
        request.issue_ids_or_keys.truncate(most);
    } else if !(1..=cap).contains(&count) {
        return bad_request(&format!(
            "issueIdsOrKeys must contain between 1 and {cap} issues; it has {count}{}.",
            if lean {
                ""
            } else {
                " (1,000 are allowed when fields names at most 100 fields, none that returns several values, and expand asks for no changelog, editmeta, operations, renderedFields, transitions or versionedRepresentations)"
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
        .map(|issue| {
            let out = render.issue(issue, &selection, expand);
            if request.properties.is_empty() {
                out
            } else {
                out.with_properties(issue, &request.properties)
            }
        })
        .collect();
    let body = BulkFetchOut {
        issues,
        issue_errors,
    };
    json_response(StatusCode::OK, &body)
}

/// The answer of `POST /issue/bulkfetch`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BulkFetchOut<'a> {
    issues: Vec<IssueJson<'a>>,
    issue_errors: Vec<Value>,
}
