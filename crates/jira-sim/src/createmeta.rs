//! Create and edit metadata: the fields an issue type's create screen offers, by the
//! current endpoints (`/issue/createmeta/{project}/issuetypes[/{type}]`), by the deprecated
//! one Jira Cloud still serves (`GET /issue/createmeta`, projects and types filtered by id,
//! key or name, fields with `expand=projects.issuetypes.fields`), and an issue's edit
//! metadata.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use http::{StatusCode, Uri};
use serde_json::{Value, json};

use crate::data::ISSUE_TYPES;
use crate::extract::{
    App, NOT_FOUND, Params, bad_request, page_params, param, param_list, renderer,
};
use crate::meta::no_project;
use crate::render::raw_values;
use crate::state::{json_error, json_response};

pub(crate) async fn createmeta_types(
    State(app): App,
    Path(project): Path<String>,
    Query(params): Params,
) -> Response {
    if app.tenant.project(&project).is_none() {
        return no_project(&project);
    }
    let (start_at, max_results) = match page_params(&params, 50, 1, 200) {
        Ok(page) => page,
        Err(message) => return bad_request(&message),
    };
    let types = raw_values(app.catalog.issue_types());
    let total = types.len();
    let page_types: Vec<Value> = types.into_iter().skip(start_at).take(max_results).collect();
    let body = json!({
        "issueTypes": page_types,
        "maxResults": max_results,
        "startAt": start_at,
        "total": total,
    });
    json_response(StatusCode::OK, &body)
}

pub(crate) async fn createmeta_fields(
    State(app): App,
    uri: Uri,
    Path((project, issue_type)): Path<(String, String)>,
    Query(params): Params,
) -> Response {
    let Some(project) = app.tenant.project(&project) else {
        return no_project(&project);
    };
    if !ISSUE_TYPES.iter().any(|(id, _)| *id == issue_type) {
        return json_error(
            StatusCode::NOT_FOUND,
            &format!("Issue type with id '{issue_type}' does not exist in this project."),
        );
    }
    let (start_at, max_results) = match page_params(&params, 50, 1, 200) {
        Ok(page) => page,
        Err(message) => return bad_request(&message),
    };
    let fields = renderer(&app, &uri).field_metadata(project, true);
    let total = fields.len();
    let body = json!({
        "fields": fields.into_iter().skip(start_at).take(max_results).collect::<Vec<_>>(),
        "maxResults": max_results,
        "startAt": start_at,
        "total": total,
    });
    json_response(StatusCode::OK, &body)
}

pub(crate) async fn editmeta(State(app): App, uri: Uri, Path(id_or_key): Path<String>) -> Response {
    let project = match app.store.read().find(&id_or_key) {
        Some(issue) => issue.project,
        None => return json_error(StatusCode::NOT_FOUND, NOT_FOUND),
    };
    let fields: serde_json::Map<String, Value> = renderer(&app, &uri)
        .field_metadata(project, false)
        .into_iter()
        .filter(|f| f["key"] != "project")
        .map(|f| (f["key"].as_str().unwrap_or_default().to_owned(), f))
        .collect();
    json_response(StatusCode::OK, &json!({ "fields": fields }))
}

/// `GET /issue/createmeta` (deprecated, still served by Jira Cloud): the projects and
/// their issue types, filtered by `projectIds`/`projectKeys` and
/// `issuetypeIds`/`issuetypeNames`, each type's fields only with
/// `expand=projects.issuetypes.fields`.
pub(crate) async fn createmeta(State(app): App, uri: Uri, Query(params): Params) -> Response {
    let ids = param_list(&params, "projectIds");
    let keys = param_list(&params, "projectKeys");
    let type_ids = param_list(&params, "issuetypeIds");
    let type_names = param_list(&params, "issuetypeNames");
    let with_fields = param(&params, "expand").is_some_and(|e| {
        e.split(',')
            .any(|x| x.trim() == "projects.issuetypes.fields")
    });
    let render = renderer(&app, &uri);
    let types = raw_values(app.catalog.issue_types());
    let projects: Vec<Value> = app
        .tenant
        .projects
        .iter()
        .enumerate()
        .filter(|(_, p)| {
            let by_id = ids
                .as_ref()
                .is_none_or(|ids| ids.contains(&p.id.to_string().as_str()));
            let by_key = keys
                .as_ref()
                .is_none_or(|keys| keys.iter().any(|k| k.eq_ignore_ascii_case(&p.key)));
            by_id && by_key
        })
        .map(|(index, p)| {
            let project = render.project(p, false);
            let issuetypes: Vec<Value> = ISSUE_TYPES
                .iter()
                .zip(&types)
                .filter(|((id, name), _)| {
                    type_ids.as_ref().is_none_or(|ids| ids.contains(id))
                        && type_names
                            .as_ref()
                            .is_none_or(|names| names.iter().any(|n| n.eq_ignore_ascii_case(name)))
                })
                .map(|(_, issue_type)| {
                    let mut issue_type = issue_type.clone();
                    issue_type["expand"] = "fields".into();
                    if with_fields {
                        let fields: serde_json::Map<String, Value> = renderer(&app, &uri)
                            .field_metadata(index, false)
                            .into_iter()
                            .map(|f| (f["key"].as_str().unwrap_or_default().to_owned(), f))
                            .collect();
                        issue_type["fields"] = Value::Object(fields);
                    }
                    issue_type
                })
                .collect();
            json!({
                "self": project["self"],
                "id": project["id"],
                "key": project["key"],
                "name": project["name"],
                "avatarUrls": project["avatarUrls"],
                "expand": "issuetypes",
                "issuetypes": issuetypes,
            })
        })
        .collect();
    json_response(
        StatusCode::OK,
        &json!({ "expand": "projects", "projects": projects }),
    )
}
