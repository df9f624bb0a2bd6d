//! Jira's asynchronous bulk operations: edit fields (`POST /bulk/issues/fields`),
//! transition (`/bulk/issues/transition`) and delete (`/bulk/issues/delete`) up to 1,000
//! issues a task, each answered at once with a `taskId` and run in the background at
//! `Realism::bulk_issues_per_sec`; `GET /bulk/queue/{taskId}` reports progress, the issues
//! done and, per issue, why one failed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use http::{StatusCode, Uri};
use serde_json::{Map, Value, json};

use crate::data::{self, LABELS, PRIORITIES, TRANSITIONS};
use crate::edit::{move_issue, record_edit};
use crate::extract::{caller_index, renderer, user_index};
use crate::render::jira_time_in;
use crate::state::{AppState, json_response};
use crate::task::Task;

type App = State<Arc<AppState>>;

/// Issues one task may name, as Jira allows.
pub(crate) const TASK_ISSUES: usize = 1_000;

/// Bulk operations in progress at once per tenant, across all users: "at any given time,
/// only 5 concurrent requests can be sent across all users" (Atlassian, Jira Cloud REST v3,
/// "Issue bulk operations"). A sixth is refused as the rate limiting infrastructure the same
/// page names refuses: 429 with `Retry-After`, nothing queued.
pub(crate) const IN_PROGRESS_MAX: usize = 5;

/// What a task does to each issue.
#[derive(Clone, Debug)]
enum Work {
    Edit(Vec<Edit>),
    Transition(String),
    Delete,
}

/// One field change of a bulk edit.
#[derive(Clone, Debug)]
enum Edit {
    Priority(usize),
    Summary(String),
    Description(Value),
    Labels { option: String, labels: Vec<String> },
    StoryPoints(Option<f64>),
    Assignee(Option<usize>),
}

/// The bulk routes (v3 only, as Jira serves them).
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/rest/api/3/bulk/issues/fields", post(bulk_edit))
        .route("/rest/api/3/bulk/issues/transition", post(bulk_transition))
        .route("/rest/api/3/bulk/issues/delete", post(bulk_delete))
        .route("/rest/api/3/bulk/queue/{taskId}", get(progress))
}

/// Jira's `BulkOperationErrorResponse`.
fn refuse(message: &str) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        &json!({"errors": [{"message": message}]}),
    )
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

fn parse_body(body: &[u8]) -> Result<Map<String, Value>, Box<Response>> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Box::new(refuse("The request body must be a JSON object."))),
    }
}

/// Checks the issue count and starts the task.
fn submit(app: &Arc<AppState>, jobs: Vec<(String, Work)>) -> Response {
    if jobs.is_empty() || jobs.len() > TASK_ISSUES {
        return refuse(&format!(
            "A bulk operation takes 1 to {TASK_ISSUES} issues; this one names {}.",
            jobs.len()
        ));
    }
    let now = AppState::now_ms();
    let task = {
        let mut tasks = app.tasks.lock();
        let in_progress = tasks
            .values()
            .filter(|t| matches!(t.status, "ENQUEUED" | "RUNNING"))
            .count();
        if in_progress >= IN_PROGRESS_MAX {
            drop(tasks);
            let mut response = json_response(
                StatusCode::TOO_MANY_REQUESTS,
                &json!({"errorMessages": [format!(
                    "Too many bulk operations are in progress ({in_progress}); at most {IN_PROGRESS_MAX} run at once across all users. Try again when one has finished."
                )], "errors": {}}),
            );
            response.headers_mut().insert(
                http::header::RETRY_AFTER,
                http::HeaderValue::from_static("1"),
            );
            return response;
        }
        let id = 10_000 + tasks.len() as u64;
        let task = Task {
            id,
            status: "ENQUEUED",
            total: jobs.len(),
            done: 0,
            processed: Vec::new(),
            failed: BTreeMap::new(),
            invalid: 0,
            submitted_by: caller_index(app),
            created_ms: now,
            started_ms: None,
            updated_ms: now,
        };
        tasks.insert(id, task);
        id
    };
    tokio::spawn(run(app.clone(), task, jobs));
    json_response(StatusCode::CREATED, &json!({"taskId": task.to_string()}))
}

/// Runs a task at the configured pace, recording every issue's outcome.
async fn run(app: Arc<AppState>, task: u64, jobs: Vec<(String, Work)>) {
    // Jira queues a task before it starts it.
    tokio::time::sleep(Duration::from_millis(50)).await;
    if let Some(t) = app.tasks.lock().get_mut(&task) {
        t.status = "RUNNING";
        t.started_ms = Some(AppState::now_ms());
    }
    let rate = app.realism.read().bulk_issues_per_sec.max(1.0);
    let chunk = 10usize;
    for batch in jobs.chunks(chunk) {
        tokio::time::sleep(Duration::from_secs_f64(batch.len() as f64 / rate)).await;
        for (reference, work) in batch {
            let outcome = apply(&app, reference, work);
            let mut tasks = app.tasks.lock();
            let Some(t) = tasks.get_mut(&task) else {
                return;
            };
            t.done += 1;
            t.updated_ms = AppState::now_ms();
            match outcome {
                Outcome::Done(id) => t.processed.push(id),
                Outcome::Failed(id, message) => {
                    t.failed.entry(id.to_string()).or_default().push(message);
                }
                Outcome::Invalid => t.invalid += 1,
            }
        }
    }
    if let Some(t) = app.tasks.lock().get_mut(&task) {
        t.status = "COMPLETE";
        t.updated_ms = AppState::now_ms();
    }
}

enum Outcome {
    Done(u64),
    Failed(u64, String),
    Invalid,
}

/// Applies one issue's work, as the single-issue endpoint would.
fn apply(app: &AppState, reference: &str, work: &Work) -> Outcome {
    let author = caller_index(app);
    let mut store = app.store.write();
    let Some(id) = store.id_of(reference) else {
        return Outcome::Invalid;
    };
    let now = AppState::now_ms();
    let change_id = store.next_written_id;
    store.next_written_id += 1;
    match work {
        Work::Delete => {
            crate::webhooks::emit(
                app,
                crate::webhooks::Event::IssueDeleted,
                &store.by_id[&id],
                None,
                false,
            );
            crate::edit::remove_issue(app, &mut store, id);
            store.version += 1;
            Outcome::Done(id)
        }
        Work::Transition(transition_id) => {
            let issue = &store.by_id[&id];
            let Some(transition) = TRANSITIONS
                .iter()
                .find(|t| t.id == transition_id && t.from.contains(&issue.status))
            else {
                return Outcome::Failed(
                    id,
                    format!(
                        "Transition {transition_id} is not available from this issue's status."
                    ),
                );
            };
            if transition.needs_resolution {
                return Outcome::Failed(
                    id,
                    "This transition has a screen with required fields; bulk transitions cannot fill them.".into(),
                );
            }
            let resolution = (data::STATUSES[transition.to].2 == "done").then_some(0);
            let mut issue = issue.clone();
            move_issue(
                &mut issue,
                transition.to,
                resolution,
                author,
                change_id,
                now,
            );
            crate::webhooks::emit(
                app,
                crate::webhooks::Event::IssueUpdated,
                &issue,
                None,
                true,
            );
            store.by_id.insert(id, issue);
            store.version += 1;
            Outcome::Done(id)
        }
        Work::Edit(edits) => {
            let before = store.by_id[&id].clone();
            let mut issue = before.clone();
            for edit in edits {
                match edit {
                    Edit::Priority(p) => issue.priority = *p,
                    Edit::Summary(text) => issue.summary = Some(text.clone()),
                    Edit::Description(doc) => issue.description = Some(doc.clone()),
                    Edit::StoryPoints(points) => issue.story_points = points.map(|p| p as u32),
                    Edit::Assignee(user) => issue.assignee = *user,
                    Edit::Labels { option, labels } => match option.as_str() {
                        "ADD" => {
                            for label in labels {
                                if !issue.labels.contains(label) {
                                    issue.labels.push(label.clone());
                                }
                            }
                        }
                        "REMOVE" => issue.labels.retain(|l| !labels.contains(l)),
                        "REMOVE_ALL" => issue.labels.clear(),
                        _ => issue.labels = labels.clone(),
                    },
                }
            }
            issue.updated_ms = now;
            record_edit(app, &before, &mut issue, author, change_id, now);
            crate::webhooks::emit(
                app,
                crate::webhooks::Event::IssueUpdated,
                &issue,
                None,
                true,
            );
            store.by_id.insert(id, issue);
            store.version += 1;
            Outcome::Done(id)
        }
    }
}

/// The entries of one field kind of an `editedFieldsInput` (`labelsFields`, ...).
fn items<'a>(input: &'a Map<String, Value>, kind: &str) -> impl Iterator<Item = &'a Value> {
    input
        .get(kind)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// The edits an `editedFieldsInput` describes, checked against `selectedActions`.
fn edits(
    app: &AppState,
    actions: &[String],
    input: &Map<String, Value>,
) -> Result<Vec<Edit>, String> {
    let mut edits = Vec::new();
    let mut covered: Vec<String> = Vec::new();
    if let Some(priority) = input.get("priority") {
        let id = priority
            .get("priorityId")
            .and_then(Value::as_str)
            .unwrap_or("");
        let index = PRIORITIES
            .iter()
            .position(|(p, _)| *p == id)
            .ok_or_else(|| format!("The priority '{id}' does not exist."))?;
        edits.push(Edit::Priority(index));
        covered.push("priority".into());
    }
    for field in items(input, "singleLineTextFields") {
        match (
            field.get("fieldId").and_then(Value::as_str),
            field.get("text").and_then(Value::as_str),
        ) {
            (Some("summary"), Some(text)) if !text.trim().is_empty() => {
                edits.push(Edit::Summary(text.to_owned()));
                covered.push("summary".into());
            }
            (id, _) => {
                return Err(format!(
                    "The single-line text field {id:?} cannot be bulk edited here (jira-sim edits summary)."
                ));
            }
        }
    }
    for field in items(input, "richTextFields") {
        match (
            field.get("fieldId").and_then(Value::as_str),
            field.pointer("/richText/adfValue"),
        ) {
            (Some("description"), Some(doc)) if doc.is_object() => {
                edits.push(Edit::Description(doc.clone()));
                covered.push("description".into());
            }
            (id, _) => {
                return Err(format!(
                    "The rich-text field {id:?} cannot be bulk edited here (jira-sim edits description)."
                ));
            }
        }
    }
    for field in items(input, "labelsFields") {
        let option = field
            .get("bulkEditMultiSelectFieldOption")
            .and_then(Value::as_str)
            .unwrap_or("ADD");
        if !matches!(option, "ADD" | "REPLACE" | "REMOVE" | "REMOVE_ALL") {
            return Err(format!(
                "bulkEditMultiSelectFieldOption {option:?} is not ADD, REPLACE, REMOVE or REMOVE_ALL."
            ));
        }
        let labels: Vec<String> = field
            .get("labels")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|l| l.get("name").and_then(Value::as_str))
            .map(str::to_owned)
            .collect();
        if let Some(bad) = labels.iter().find(|l| l.contains(' ') || l.is_empty()) {
            return Err(format!(
                "The label {bad:?} is not valid: labels cannot contain spaces."
            ));
        }
        let _ = LABELS;
        edits.push(Edit::Labels {
            option: option.to_owned(),
            labels,
        });
        covered.push("labels".into());
    }
    for field in items(input, "clearableNumberFields") {
        match field.get("fieldId").and_then(Value::as_str) {
            Some("customfield_10016") => {
                edits.push(Edit::StoryPoints(
                    field.get("value").and_then(Value::as_f64),
                ));
                covered.push("customfield_10016".into());
            }
            id => {
                return Err(format!(
                    "The number field {id:?} cannot be bulk edited here (jira-sim edits customfield_10016)."
                ));
            }
        }
    }
    for field in items(input, "singleSelectClearableUserPickerFields") {
        match field.get("fieldId").and_then(Value::as_str) {
            Some("assignee") => {
                let user = match field.pointer("/user/accountId").and_then(Value::as_str) {
                    None => None,
                    Some(account) => Some(
                        user_index(app, account)
                            .ok_or_else(|| format!("The user '{account}' does not exist."))?,
                    ),
                };
                edits.push(Edit::Assignee(user));
                covered.push("assignee".into());
            }
            id => {
                return Err(format!(
                    "The user field {id:?} cannot be bulk edited here (jira-sim edits assignee)."
                ));
            }
        }
    }
    if let Some(missing) = actions.iter().find(|a| !covered.contains(a)) {
        return Err(format!(
            "selectedActions names '{missing}', which editedFieldsInput does not set."
        ));
    }
    if let Some(extra) = covered.iter().find(|c| !actions.contains(c)) {
        return Err(format!(
            "editedFieldsInput sets '{extra}', which selectedActions does not name."
        ));
    }
    if edits.is_empty() {
        return Err("Nothing to edit: selectedActions and editedFieldsInput are empty.".into());
    }
    Ok(edits)
}

async fn bulk_edit(State(app): App, body: axum::body::Bytes) -> Response {
    let body = match parse_body(&body) {
        Ok(body) => body,
        Err(response) => return *response,
    };
    let issues = strings(body.get("selectedIssueIdsOrKeys"));
    let actions = strings(body.get("selectedActions"));
    let Some(input) = body.get("editedFieldsInput").and_then(Value::as_object) else {
        return refuse("editedFieldsInput is required.");
    };
    let edits = match edits(&app, &actions, input) {
        Ok(edits) => edits,
        Err(message) => return refuse(&message),
    };
    let jobs = issues
        .into_iter()
        .map(|issue| (issue, Work::Edit(edits.clone())))
        .collect();
    submit(&app, jobs)
}

async fn bulk_transition(State(app): App, body: axum::body::Bytes) -> Response {
    let body = match parse_body(&body) {
        Ok(body) => body,
        Err(response) => return *response,
    };
    let Some(inputs) = body.get("bulkTransitionInputs").and_then(Value::as_array) else {
        return refuse("bulkTransitionInputs is required.");
    };
    let mut jobs = Vec::new();
    for input in inputs {
        let Some(transition) = input.get("transitionId").and_then(Value::as_str) else {
            return refuse("Every bulk transition input needs a transitionId.");
        };
        if !TRANSITIONS.iter().any(|t| t.id == transition) {
            return refuse(&format!("The transition '{transition}' does not exist."));
        }
        for issue in strings(input.get("selectedIssueIdsOrKeys")) {
            jobs.push((issue, Work::Transition(transition.to_owned())));
        }
    }
    submit(&app, jobs)
}

async fn bulk_delete(State(app): App, body: axum::body::Bytes) -> Response {
    let body = match parse_body(&body) {
        Ok(body) => body,
        Err(response) => return *response,
    };
    let jobs = strings(body.get("selectedIssueIdsOrKeys"))
        .into_iter()
        .map(|issue| (issue, Work::Delete))
        .collect();
    submit(&app, jobs)
}

async fn progress(State(app): App, uri: Uri, Path(task): Path<String>) -> Response {
    let Some(task) = task
        .parse::<u64>()
        .ok()
        .and_then(|id| app.tasks.lock().get(&id).cloned())
    else {
        return refuse(&format!("The task '{task}' does not exist."));
    };
    let render = renderer(&app, &uri);
    let mut body = json!({
        "taskId": task.id.to_string(),
        "status": task.status,
        "progressPercent": (task.done * 100).checked_div(task.total).unwrap_or(100),
        "submittedBy": render.user_value(task.submitted_by),
        "created": jira_time_in(task.created_ms, &app.zone),
        "updated": jira_time_in(task.updated_ms, &app.zone),
        "totalIssueCount": task.total,
    });
    if let Some(started) = task.started_ms {
        body["started"] = jira_time_in(started, &app.zone).into();
    }
    if task.status == "COMPLETE" {
        body["processedAccessibleIssues"] = task.processed.into();
        body["failedAccessibleIssues"] = serde_json::to_value(&task.failed).unwrap_or_default();
        body["invalidOrInaccessibleIssueCount"] = task.invalid.into();
    }
    json_response(StatusCode::OK, &body)
}
