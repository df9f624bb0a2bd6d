//! Users: one by account id, the user and assignable searches, and users in bulk, each
//! as Jira Cloud pages them.

use axum::extract::{Query, State};
use axum::response::Response;
use http::{StatusCode, Uri};
use serde_json::json;

use serde_json::value::RawValue;

use crate::extract::{
    App, NOT_FOUND, Params, bad_request, page_params, param, param_list, renderer, user_index,
};
use crate::render::page;
use crate::state::{AppState, json_error, json_ok, json_response};

pub(crate) async fn user(State(app): App, uri: Uri, Query(params): Params) -> Response {
    let Some(account_id) = param(&params, "accountId") else {
        return bad_request("The accountId query parameter needs to be provided.");
    };
    match user_index(&app, account_id) {
        Some(index) => {
            let mut user = renderer(&app, &uri).user_value(index);
            user["locale"] = "en_US".into();
            user["groups"] = json!({"size": 1, "items": []});
            user["applicationRoles"] = json!({"size": 1, "items": []});
            user["expand"] = "groups,applicationRoles".into();
            json_ok(&user)
        }
        None => json_error(
            StatusCode::NOT_FOUND,
            &format!(
                "Specified user does not exist or you do not have required permissions: {account_id}"
            ),
        ),
    }
}

/// Users whose name or email contains `query` (all without one), active ones unless
/// `includeInactive`.
fn matching_users(app: &AppState, params: &[(String, String)]) -> Vec<usize> {
    let query = param(params, "query")
        .or_else(|| param(params, "username"))
        .map(str::to_lowercase);
    let inactive = param(params, "includeInactive").is_some_and(|v| v == "true");
    app.tenant
        .users
        .iter()
        .enumerate()
        .filter(|(_, u)| u.active || inactive)
        .filter(|(_, u)| {
            query.as_ref().is_none_or(|q| {
                u.display_name.to_lowercase().contains(q)
                    || u.email.to_lowercase().contains(q)
                    || u.account_id == *q
            })
        })
        .map(|(index, _)| index)
        .collect()
}

pub(crate) async fn user_search(State(app): App, uri: Uri, Query(params): Params) -> Response {
    let (start_at, max_results) = match page_params(&params, 50, 1, 1000) {
        Ok(page) => page,
        Err(message) => return bad_request(&message),
    };
    if param(&params, "query").is_none() && param(&params, "accountId").is_none() {
        return bad_request("One of 'query' or 'accountId' query parameters must be provided.");
    }
    let render = renderer(&app, &uri);
    let users: Vec<&RawValue> = match param(&params, "accountId") {
        Some(account_id) => user_index(&app, account_id).into_iter().collect(),
        None => matching_users(&app, &params),
    }
    .into_iter()
    .skip(start_at)
    .take(max_results)
    .map(|index| render.user(index))
    .collect();
    json_response(StatusCode::OK, &users)
}

pub(crate) async fn user_bulk(State(app): App, uri: Uri, Query(params): Params) -> Response {
    let (start_at, max_results) = match page_params(&params, 10, 1, 200) {
        Ok(page) => page,
        Err(message) => return bad_request(&message),
    };
    let Some(ids) = param_list(&params, "accountId") else {
        return bad_request("The accountId query parameter needs to be provided.");
    };
    let render = renderer(&app, &uri);
    let all = ids
        .iter()
        .filter_map(|id| user_index(&app, id))
        .map(|index| render.user_value(index))
        .collect();
    json_response(
        StatusCode::OK,
        &page(
            &app.base_url,
            "/rest/api/3/user/bulk",
            start_at,
            max_results,
            all,
        ),
    )
}

pub(crate) async fn assignable_search(
    State(app): App,
    uri: Uri,
    Query(params): Params,
) -> Response {
    let (start_at, max_results) = match page_params(&params, 50, 1, 1000) {
        Ok(page) => page,
        Err(message) => return bad_request(&message),
    };
    let scope_found = match (param(&params, "project"), param(&params, "issueKey")) {
        (Some(project), _) => app.tenant.project(project).is_some(),
        (None, Some(key)) => app.store.read().find(key).is_some(),
        (None, None) => {
            return bad_request("A project, an issue key or an issue id must be given.");
        }
    };
    if !scope_found {
        return json_error(StatusCode::NOT_FOUND, NOT_FOUND);
    }
    let render = renderer(&app, &uri);
    let users: Vec<&RawValue> = matching_users(&app, &params)
        .into_iter()
        .skip(start_at)
        .take(max_results)
        .map(|index| render.user(index))
        .collect();
    json_response(StatusCode::OK, &users)
}
