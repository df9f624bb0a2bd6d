//! What every handler reads of a request (query parameters, pages, the caller, v2 or v3)
//! and the refusals they share (400s with Jira's bodies).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Response;
use http::StatusCode;
use http::Uri;

use crate::render::{Renderer, error_body};
use crate::state::{AppState, json_error, json_response};

/// Ids one `/comment/list` or `/worklog/list` may ask for.
const LIST_IDS: usize = 1_000;

pub(crate) type App = State<Arc<AppState>>;

pub(crate) type Params = Query<Vec<(String, String)>>;

pub(crate) const NOT_FOUND: &str = "Issue does not exist or you do not have permission to see it.";

pub(crate) fn is_v2(uri: &Uri) -> bool {
    uri.path().starts_with("/rest/api/2/")
}

pub(crate) fn renderer<'a>(app: &'a AppState, uri: &Uri) -> Renderer<'a> {
    Renderer {
        base: &app.base_url,
        tenant: &app.tenant,
        catalog: &app.catalog,
        v2: is_v2(uri),
        zone: &app.zone,
        embedded_comments_last: app.realism.read().embedded_comments_last,
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
    json_response(StatusCode::BAD_REQUEST, &error_body(&[], &pairs))
}

/// The user the caller is (`/myself`): authors of what it writes.
pub(crate) fn caller_index(_app: &AppState) -> usize {
    0
}

pub(crate) fn parse_id(text: &str) -> Option<u64> {
    text.parse().ok()
}

/// The ids of a `{"ids": [..]}` body (1 to 1,000), or a 400.
pub(crate) fn id_list(body: &[u8]) -> Result<Vec<u64>, Box<Response>> {
    let ids: Option<Vec<u64>> = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|b| b.get("ids").cloned())
        .and_then(|ids| serde_json::from_value(ids).ok());
    match ids {
        Some(ids) if !ids.is_empty() && ids.len() <= LIST_IDS => Ok(ids),
        _ => Err(Box::new(bad_request(&format!(
            "ids must list 1 to {LIST_IDS} ids."
        )))),
    }
}

/// The index of the user with this account id.
pub(crate) fn user_index(app: &AppState, account_id: &str) -> Option<usize> {
    app.tenant
        .users
        .iter()
        .position(|u| u.account_id == account_id)
}
