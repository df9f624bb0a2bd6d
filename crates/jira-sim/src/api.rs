//! The Jira REST endpoints jira-sim serves. Reads are served under `/rest/api/3` and
//! `/rest/api/2` (where descriptions and comment bodies are plain text, as in Jira's v2);
//! writes under `/rest/api/3`.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use http::StatusCode;
use http::Uri;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::data::{self};
use crate::extract::{App, Params, bad_request, page_params, param, param_list, renderer};
use crate::render::{self, FIELDS};
use crate::state::{AppState, json_error, json_response};
use axum::Router;
use axum::routing::{get, post};

/// Every Jira route.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    let mut router = Router::new();
    for version in ["3", "2"] {
        let path = |rest: &str| format!("/rest/api/{version}{rest}");
        router = router
            .route(&path("/myself"), get(myself))
            .route(
                &path("/mypermissions"),
                get(crate::permissions::mypermissions),
            )
            .route(
                &path("/issue/createmeta"),
                get(crate::createmeta::createmeta),
            )
            .route(
                &path("/issue/createmeta/{projectIdOrKey}/issuetypes"),
                get(crate::createmeta::createmeta_types),
            )
            .route(
                &path("/issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}"),
                get(crate::createmeta::createmeta_fields),
            )
            .route(
                &path("/issue/{issueIdOrKey}/editmeta"),
                get(crate::createmeta::editmeta),
            )
            .route(&path("/serverInfo"), get(server_info))
            .route(&path("/project/search"), get(project_search))
            .route(&path("/project/{projectIdOrKey}"), get(project))
            .route(&path("/field"), get(fields))
            .route(&path("/users/search"), get(users_search))
            .route(&path("/issue/bulkfetch"), post(crate::issues::bulk_fetch))
            .route(
                &path("/search/jql"),
                get(crate::search::search_get).post(crate::search::search_post),
            )
            .route(
                &path("/search/approximate-count"),
                post(crate::search::approximate_count),
            )
            .route(
                &path("/search"),
                get(crate::search::search_removed).post(crate::search::search_removed),
            );
    }
    // Writes are served under v2 as well (plain-text bodies become documents), as Jira
    // Cloud still serves them; clients such as PyPI's `jira` default to v2.
    for version in ["3", "2"] {
        let path = |rest: &str| format!("/rest/api/{version}{rest}");
        router = router
            .route(
                &path("/issue/{issueIdOrKey}"),
                get(crate::issues::get_issue)
                    .put(crate::issues::update_issue)
                    .delete(crate::issues::delete_issue),
            )
            .route(
                &path("/issue/{issueIdOrKey}/comment"),
                get(crate::comments::get_comments).post(crate::comments::add_comment),
            )
            .route(
                &path("/issue/{issueIdOrKey}/properties"),
                get(crate::issues::property_keys),
            )
            .route(
                &path("/issue/{issueIdOrKey}/properties/{propertyKey}"),
                get(crate::issues::get_property)
                    .put(crate::issues::set_property)
                    .delete(crate::issues::delete_property),
            )
            .route(&path("/issue"), post(crate::issues::create_issue))
            .route(&path("/issue/bulk"), post(crate::issues::bulk_create));
    }
    router
        .merge(crate::meta::routes())
        .merge(crate::attachments::routes())
        .merge(crate::history::routes())
        .merge(crate::activity::routes())
        .merge(crate::bulk::routes())
        .fallback(not_found)
}

async fn not_found() -> Response {
    json_error(StatusCode::NOT_FOUND, "jira-sim does not serve this path.")
}

async fn myself(State(app): App, uri: Uri) -> Response {
    let mut user = renderer(&app, &uri).user_value(0);
    user["emailAddress"] = app.config.credentials[0].email.clone().into();
    user["locale"] = "en_US".into();
    json_response(StatusCode::OK, &user)
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
        "serverTime": render::jira_time_in(AppState::now_ms(), &app.zone),
        "scmInfo": "jira-sim",
        "serverTitle": "jira-sim",
        "serverTimeZone": "Etc/UTC",
    });
    json_response(StatusCode::OK, &body)
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
    let body = crate::render::page_bean(
        &app.base_url,
        "/rest/api/3/project/search",
        start_at,
        max_results,
        values,
        matching.len(),
    );
    json_response(StatusCode::OK, &body)
}

async fn project(State(app): App, uri: Uri, Path(id_or_key): Path<String>) -> Response {
    match app.tenant.project(&id_or_key) {
        Some(index) => {
            let body = renderer(&app, &uri).project(&app.tenant.projects[index], true);
            json_response(StatusCode::OK, &body)
        }
        None => json_error(
            StatusCode::NOT_FOUND,
            &format!("No project could be found with key '{id_or_key}'."),
        ),
    }
}

async fn fields() -> Response {
    let body: Vec<Value> = FIELDS.iter().map(|f| f.json()).collect();
    json_response(StatusCode::OK, &Value::Array(body))
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
    json_response(StatusCode::OK, &users)
}
