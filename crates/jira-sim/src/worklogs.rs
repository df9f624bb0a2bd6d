//! Worklogs: per issue (paged, added, edited, deleted), by id, and tenant-wide through
//! `/worklog/updated`, `/worklog/deleted` and `/worklog/list` as exports read them.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use http::{StatusCode, Uri};
use serde_json::{Value, json};

use crate::data::{self, IssueData, WorklogData};
use crate::edit::{forget_worklog, worklog_comment};
use crate::extract::{
    App, NOT_FOUND, Params, bad_request, caller_index, field_errors, id_list, int_param,
    page_params, parse_id, renderer,
};
use crate::render::{WorklogOut, worklog_json};
use crate::state::{AppState, json_error, json_response, no_content};

/// Worklogs one `/worklog/updated` or `/worklog/deleted` page lists.
const CHANGED_PAGE: usize = 1_000;

/// `1w 2d 3h 30m` (a day of 8 hours, a week of 5 days, as Jira's defaults) in seconds.
pub(crate) fn parse_duration(text: &str) -> Option<u64> {
    let mut total = 0u64;
    let mut any = false;
    for part in text.split_whitespace() {
        let (number, unit) = part.split_at(part.find(|c: char| c.is_ascii_alphabetic())?);
        let number: f64 = number.parse().ok()?;
        let seconds = match unit {
            "w" => 5.0 * 8.0 * 3600.0,
            "d" => 8.0 * 3600.0,
            "h" => 3600.0,
            "m" => 60.0,
            _ => return None,
        };
        total += (number * seconds) as u64;
        any = true;
    }
    (any && total > 0).then_some(total)
}

/// Jira's `started`: `2024-01-18T07:33:17.016+0000`.
pub(crate) fn parse_started(text: &str) -> Option<i64> {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond][offset_hour sign:mandatory][offset_minute]"
    );
    let at = time::OffsetDateTime::parse(text, &format).ok()?;
    Some((at.unix_timestamp_nanos() / 1_000_000) as i64)
}

pub(crate) fn find_worklog(issue: &IssueData, users: usize, id: u64) -> Option<WorklogData> {
    data::worklogs(issue, users)
        .into_iter()
        .find(|w| w.id == id)
}

pub(crate) async fn issue_worklogs(
    State(app): App,
    uri: Uri,
    Path(id_or_key): Path<String>,
    Query(params): Params,
) -> Response {
    let (start_at, max_results) = match page_params(&params, 5_000, 1, 5_000) {
        Ok(page) => page,
        Err(message) => return bad_request(&message),
    };
    let (after, before) = match (
        int_param(&params, "startedAfter", 0),
        int_param(&params, "startedBefore", i64::MAX as u64),
    ) {
        (Ok(after), Ok(before)) => (after as i64, before as i64),
        (Err(message), _) | (_, Err(message)) => return bad_request(&message),
    };
    let store = app.store.read();
    let Some(issue) = store.find(&id_or_key) else {
        return json_error(StatusCode::NOT_FOUND, NOT_FOUND);
    };
    let render = renderer(&app, &uri);
    let all: Vec<WorklogData> = data::worklogs(issue, app.tenant.users.len())
        .into_iter()
        .filter(|w| w.started_ms >= after && w.started_ms <= before)
        .collect();
    let worklogs: Vec<WorklogOut<'_>> = all
        .iter()
        .skip(start_at)
        .take(max_results)
        .map(|w| worklog_json(&render, issue, w))
        .collect();
    let body = WorklogPageOut {
        start_at,
        max_results,
        total: all.len(),
        worklogs,
    };
    json_response(StatusCode::OK, &body)
}

/// `PageOfWorklogs`.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WorklogPageOut<'a> {
    start_at: usize,
    max_results: usize,
    total: usize,
    worklogs: Vec<WorklogOut<'a>>,
}

/// The worklog a body describes: `timeSpent` or `timeSpentSeconds`, `started`, `comment`.
pub(crate) fn worklog_fields(
    body: &Value,
    mut worklog: WorklogData,
    creating: bool,
) -> Result<WorklogData, Box<Response>> {
    let spent = match (body.get("timeSpentSeconds"), body.get("timeSpent")) {
        (Some(seconds), _) => seconds.as_u64().filter(|s| *s > 0),
        (None, Some(text)) => text.as_str().and_then(parse_duration),
        (None, None) if !creating => Some(worklog.seconds),
        (None, None) => None,
    };
    let Some(seconds) = spent else {
        return Err(Box::new(field_errors(&[(
            "timeLogged".into(),
            "You must indicate the time spent working.".into(),
        )])));
    };
    worklog.seconds = seconds;
    if let Some(started) = body.get("started") {
        match started.as_str().and_then(parse_started) {
            Some(at) => worklog.started_ms = at,
            None => {
                return Err(Box::new(field_errors(&[(
                    "started".into(),
                    "Invalid date format. Please enter the date in the format \"yyyy-MM-dd'T'HH:mm:ss.SSSZ\".".into(),
                )])));
            }
        }
    }
    if let Some(comment) = body.get("comment") {
        worklog.comment = worklog_comment(comment);
    }
    Ok(worklog)
}

pub(crate) async fn add_worklog(
    State(app): App,
    uri: Uri,
    Path(id_or_key): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return bad_request("The request body is not valid JSON.");
    };
    let now = AppState::now_ms();
    let mut store = app.store.write();
    let Some(issue_id) = store.id_of(&id_or_key) else {
        return json_error(StatusCode::NOT_FOUND, NOT_FOUND);
    };
    let blank = WorklogData {
        id: store.next_written_id,
        author: caller_index(&app),
        comment: None,
        started_ms: now,
        created_ms: now,
        updated_ms: now,
        seconds: 0,
    };
    let worklog = match worklog_fields(&body, blank, true) {
        Ok(worklog) => worklog,
        Err(response) => return *response,
    };
    store.next_written_id += 1;
    store.owners.insert(worklog.id, issue_id);
    store
        .worklogs_by_update
        .insert((worklog.updated_ms, worklog.id), issue_id);
    let issue = store.by_id.get_mut(&issue_id).expect("id_of returned it");
    issue.added_worklogs.push(worklog.clone());
    issue.updated_ms = now;
    let render = renderer(&app, &uri);
    let body = worklog_json(&render, issue, &worklog);
    store.version += 1;
    json_response(StatusCode::CREATED, &body)
}

pub(crate) async fn get_worklog(
    State(app): App,
    uri: Uri,
    Path((id_or_key, id)): Path<(String, String)>,
) -> Response {
    let store = app.store.read();
    let Some(issue) = store.find(&id_or_key) else {
        return json_error(StatusCode::NOT_FOUND, NOT_FOUND);
    };
    match parse_id(&id).and_then(|id| find_worklog(issue, app.tenant.users.len(), id)) {
        Some(worklog) => json_response(
            StatusCode::OK,
            &worklog_json(&renderer(&app, &uri), issue, &worklog),
        ),
        None => json_error(
            StatusCode::NOT_FOUND,
            &format!("Cannot find worklog with id: '{id}'."),
        ),
    }
}

pub(crate) async fn edit_worklog(
    State(app): App,
    uri: Uri,
    Path((id_or_key, id)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return bad_request("The request body is not valid JSON.");
    };
    let users = app.tenant.users.len();
    let mut store = app.store.write();
    let Some(issue_id) = store.id_of(&id_or_key) else {
        return json_error(StatusCode::NOT_FOUND, NOT_FOUND);
    };
    let Some(old) = parse_id(&id).and_then(|id| find_worklog(&store.by_id[&issue_id], users, id))
    else {
        return json_error(
            StatusCode::NOT_FOUND,
            &format!("Cannot find worklog with id: '{id}'."),
        );
    };
    let mut worklog = match worklog_fields(&body, old.clone(), false) {
        Ok(worklog) => worklog,
        Err(response) => return *response,
    };
    let now = AppState::now_ms();
    worklog.updated_ms = now;
    store.worklogs_by_update.remove(&(old.updated_ms, old.id));
    store
        .worklogs_by_update
        .insert((worklog.updated_ms, worklog.id), issue_id);
    store.owners.insert(worklog.id, issue_id);
    let issue = store.by_id.get_mut(&issue_id).expect("id_of returned it");
    if worklog.id < data::WRITTEN_IDS && !issue.hidden_generated.contains(&worklog.id) {
        issue.hidden_generated.push(worklog.id);
    }
    issue.added_worklogs.retain(|w| w.id != worklog.id);
    issue.added_worklogs.push(worklog.clone());
    issue.updated_ms = now;
    let body = worklog_json(&renderer(&app, &uri), issue, &worklog);
    store.version += 1;
    json_response(StatusCode::OK, &body)
}

pub(crate) async fn delete_worklog(
    State(app): App,
    Path((id_or_key, id)): Path<(String, String)>,
) -> Response {
    let users = app.tenant.users.len();
    let mut store = app.store.write();
    let Some(issue_id) = store.id_of(&id_or_key) else {
        return json_error(StatusCode::NOT_FOUND, NOT_FOUND);
    };
    let Some(old) = parse_id(&id).and_then(|id| find_worklog(&store.by_id[&issue_id], users, id))
    else {
        return json_error(
            StatusCode::NOT_FOUND,
            &format!("Cannot find worklog with id: '{id}'."),
        );
    };
    forget_worklog(&mut store, &old);
    let issue = store.by_id.get_mut(&issue_id).expect("id_of returned it");
    issue.added_worklogs.retain(|w| w.id != old.id);
    if old.id < data::WRITTEN_IDS {
        issue.hidden_generated.push(old.id);
    }
    issue.updated_ms = AppState::now_ms();
    store.version += 1;
    no_content()
}

/// A `ChangedWorklogs` page of `(time, id)` after `since`, up to a minute ago; a page never
/// splits one instant, so `nextPage` (`since` = this page's `until`) misses nothing.
pub(crate) fn changed_page(
    app: &AppState,
    path: &str,
    since: i64,
    entries: impl Iterator<Item = (i64, u64)>,
) -> Value {
    let horizon = AppState::now_ms() - app.realism.read().worklog_settle_ms as i64;
    let mut values: Vec<(i64, u64)> = Vec::new();
    let mut more = false;
    for (at, id) in entries {
        if at > horizon {
            break;
        }
        if values.len() >= CHANGED_PAGE && values.last().is_some_and(|(last, _)| *last != at) {
            more = true;
            break;
        }
        values.push((at, id));
    }
    let until = values.last().map_or(since, |(at, _)| *at);
    let mut body = json!({
        "values": values
            .iter()
            .map(|(at, id)| json!({"worklogId": id, "updatedTime": at, "properties": []}))
            .collect::<Vec<_>>(),
        "since": since,
        "until": until,
        "self": format!("{}/rest/api/3/{path}?since={since}", app.base_url),
        "lastPage": !more,
    });
    if more {
        body["nextPage"] = format!("{}/rest/api/3/{path}?since={until}", app.base_url).into();
    }
    body
}

pub(crate) async fn worklogs_updated(State(app): App, Query(params): Params) -> Response {
    let since = match int_param(&params, "since", 0) {
        Ok(since) => since as i64,
        Err(message) => return bad_request(&message),
    };
    let store = app.store.read();
    let entries = store
        .worklogs_by_update
        .range((since + 1, 0)..)
        .map(|((at, id), _)| (*at, *id));
    let body = changed_page(&app, "worklog/updated", since, entries);
    json_response(StatusCode::OK, &body)
}

pub(crate) async fn worklogs_deleted(State(app): App, Query(params): Params) -> Response {
    let since = match int_param(&params, "since", 0) {
        Ok(since) => since as i64,
        Err(message) => return bad_request(&message),
    };
    let store = app.store.read();
    let entries = store
        .deleted_worklogs
        .range((since + 1, 0)..)
        .map(|((at, id), _)| (*at, *id));
    let body = changed_page(&app, "worklog/deleted", since, entries);
    json_response(StatusCode::OK, &body)
}

pub(crate) async fn worklog_list(State(app): App, uri: Uri, body: axum::body::Bytes) -> Response {
    let mut ids = match id_list(&body) {
        Ok(ids) => ids,
        Err(response) => return *response,
    };
    if let Some(most) = app.realism.read().bulk_reads_answer_at_most {
        ids.truncate(most);
    }
    let store = app.store.read();
    let render = renderer(&app, &uri);
    let users = app.tenant.users.len();
    let found: Vec<WorklogOut<'_>> = ids
        .iter()
        .filter_map(|id| {
            let issue = store.by_id.get(&data::owner_of(&store, *id)?)?;
            let worklog = find_worklog(issue, users, *id)?;
            Some(worklog_json(&render, issue, &worklog))
        })
        .collect();
    json_response(StatusCode::OK, &found)
}
