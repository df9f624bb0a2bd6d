//! Tenant metadata: the project list, issue types, priorities, statuses, resolutions,
//! components and versions, the paged field list, issue link types and labels. Every list
//! is fixed at generation (derived from the tenant), so these are cheap reads, as on Jira.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use http::{StatusCode, Uri};
use serde_json::{Value, json};

use crate::data::{
    COMPONENTS, ISSUE_TYPES, LABELS, LINK_TYPES, STATUS_CATEGORIES, STATUSES, VERSIONS,
    component_id, version_id,
};
use crate::extract::{bad_request, page_params, param, param_list, renderer};
use crate::render::{FIELDS, link_type_json, page, raw_values, status_category_json};
use crate::state::{AppState, json_error, json_ok, json_response};
use crate::users;

type App = State<Arc<AppState>>;
type Params = Query<Vec<(String, String)>>;

/// The metadata routes, under `/rest/api/3` and `/rest/api/2`.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    let mut router = Router::new();
    for version in ["3", "2"] {
        let path = |rest: &str| format!("/rest/api/{version}{rest}");
        router = router
            .route(&path("/project"), get(projects))
            .route(&path("/issuetype"), get(issue_types))
            .route(&path("/issuetype/project"), get(issue_types_for_project))
            .route(&path("/issuetype/{id}"), get(issue_type))
            .route(&path("/priority"), get(priorities))
            .route(&path("/priority/search"), get(priority_search))
            .route(&path("/priority/{id}"), get(priority))
            .route(&path("/status"), get(statuses))
            .route(&path("/status/{idOrName}"), get(status))
            .route(&path("/statuses/search"), get(status_search))
            .route(&path("/statuscategory"), get(status_categories))
            .route(&path("/statuscategory/{idOrKey}"), get(status_category))
            .route(&path("/project/type"), get(project_types))
            .route(&path("/projectCategory"), get(project_categories))
            .route(&path("/role"), get(project_roles))
            .route(&path("/role/{id}"), get(project_role))
            .route(&path("/resolution"), get(resolutions))
            .route(&path("/resolution/search"), get(resolution_search))
            .route(&path("/resolution/{id}"), get(resolution))
            .route(
                &path("/project/{projectIdOrKey}/components"),
                get(components),
            )
            .route(
                &path("/project/{projectIdOrKey}/component"),
                get(component_page),
            )
            .route(&path("/component/{id}"), get(component))
            .route(&path("/project/{projectIdOrKey}/versions"), get(versions))
            .route(
                &path("/project/{projectIdOrKey}/version"),
                get(version_page),
            )
            .route(&path("/version/{id}"), get(get_version))
            .route(
                &path("/project/{projectIdOrKey}/statuses"),
                get(project_statuses),
            )
            .route(&path("/field/search"), get(field_search))
            .route(&path("/issueLinkType"), get(link_types))
            .route(&path("/issueLinkType/{id}"), get(link_type))
            .route(&path("/user"), get(users::user))
            .route(&path("/user/search"), get(users::user_search))
            .route(&path("/user/bulk"), get(users::user_bulk))
            .route(
                &path("/user/assignable/search"),
                get(users::assignable_search),
            )
            .route(&path("/label"), get(labels));
    }
    router
}

/// Jira's 404 for a project that is not there.
pub(crate) fn no_project(id_or_key: &str) -> Response {
    json_error(
        StatusCode::NOT_FOUND,
        &format!("No project could be found with key '{id_or_key}'."),
    )
}

async fn projects(State(app): App, uri: Uri, Query(params): Params) -> Response {
    let detailed = param_list(&params, "expand")
        .is_some_and(|e| e.iter().any(|x| *x == "description" || *x == "lead"));
    let render = renderer(&app, &uri);
    let body: Vec<Value> = app
        .tenant
        .projects
        .iter()
        .map(|project| render.project(project, detailed))
        .collect();
    json_ok(&Value::Array(body))
}

async fn issue_types(State(app): App) -> Response {
    json_ok(&Value::Array(raw_values(app.catalog.issue_types())))
}

async fn issue_types_for_project(State(app): App, Query(params): Params) -> Response {
    match param(&params, "projectId").map(|id| app.tenant.project(id)) {
        None => bad_request("The projectId parameter is required."),
        Some(None) => json_error(StatusCode::NOT_FOUND, "No project could be found."),
        Some(Some(_)) => json_ok(&Value::Array(raw_values(app.catalog.issue_types()))),
    }
}

async fn issue_type(State(app): App, Path(id): Path<String>) -> Response {
    match ISSUE_TYPES.iter().position(|(type_id, _)| *type_id == id) {
        Some(index) => json_ok(&raw_values(&app.catalog.issue_types()[index..=index])[0]),
        None => json_error(
            StatusCode::NOT_FOUND,
            &format!("No issue type with id '{id}' was found."),
        ),
    }
}

async fn priorities(State(app): App) -> Response {
    json_ok(&Value::Array(priority_values(&app)))
}

fn priority_values(app: &AppState) -> Vec<Value> {
    raw_values(app.catalog.priorities())
        .into_iter()
        .enumerate()
        .map(|(index, mut priority)| {
            priority["statusColor"] =
                ["#d04437", "#f15C75", "#f79232", "#707070", "#999999"][index % 5].into();
            priority["description"] =
                format!("{} priority.", priority["name"].as_str().unwrap_or("")).into();
            priority["isDefault"] = (index == 2).into();
            priority
        })
        .collect()
}

async fn priority_search(State(app): App, Query(params): Params) -> Response {
    let (start_at, max_results) = match page_params(&params, 50, 1, 100) {
        Ok(page) => page,
        Err(message) => return bad_request(&message),
    };
    let body = page(
        &app.base_url,
        "/rest/api/3/priority/search",
        start_at,
        max_results,
        priority_values(&app),
    );
    json_response(StatusCode::OK, &body)
}

async fn priority(State(app): App, Path(id): Path<String>) -> Response {
    match priority_values(&app)
        .into_iter()
        .find(|p| p["id"] == id.as_str())
    {
        Some(priority) => json_ok(&priority),
        None => json_error(
            StatusCode::NOT_FOUND,
            &format!("The priority with ID '{id}' does not exist."),
        ),
    }
}

async fn statuses(State(app): App) -> Response {
    json_ok(&Value::Array(raw_values(app.catalog.statuses())))
}

async fn status(State(app): App, Path(id_or_name): Path<String>) -> Response {
    let found = raw_values(app.catalog.statuses()).into_iter().find(|s| {
        s["id"] == id_or_name.as_str()
            || s["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(&id_or_name))
    });
    match found {
        Some(status) => json_ok(&status),
        None => json_error(
            StatusCode::NOT_FOUND,
            &format!("The status with ID or name '{id_or_name}' does not exist."),
        ),
    }
}

/// `GET /statuscategory`: the categories every status belongs to.
async fn status_categories(State(app): App, uri: Uri) -> Response {
    let render = renderer(&app, &uri);
    let base = render.base;
    let all: Vec<Value> = STATUS_CATEGORIES
        .iter()
        .map(|(_, key, _, _)| status_category_json(base, key))
        .collect();
    json_ok(&Value::Array(all))
}

/// `GET /statuscategory/{idOrKey}`.
async fn status_category(State(app): App, uri: Uri, Path(id_or_key): Path<String>) -> Response {
    let render = renderer(&app, &uri);
    let base = render.base;
    match STATUS_CATEGORIES
        .iter()
        .find(|(id, key, _, _)| id.to_string() == id_or_key || *key == id_or_key)
    {
        Some((_, key, _, _)) => json_ok(&status_category_json(base, key)),
        None => json_error(
            StatusCode::NOT_FOUND,
            &format!("The status category with ID or key '{id_or_key}' does not exist."),
        ),
    }
}

/// `GET /project/type`: the project types of the site's products (Jira Software and
/// Jira Work Management here: the tenant's projects are software projects).
async fn project_types(State(app): App, uri: Uri) -> Response {
    let render = renderer(&app, &uri);
    let base = render.base;
    let types: Vec<Value> = [
        ("software", "Software", "#654982"),
        ("business", "Business", "#FF8B00"),
    ]
    .iter()
    .map(|(key, name, color)| {
        json!({
            "key": key,
            "formattedKey": name,
            "descriptionI18nKey": format!("jira.project.type.{key}.description"),
            "icon": format!("{base}/images/icons/project-types/{key}.svg"),
            "color": color,
        })
    })
    .collect();
    json_ok(&Value::Array(types))
}

/// `GET /projectCategory`: a site whose projects are in no category has none.
async fn project_categories() -> Response {
    json_ok(&Value::Array(Vec::new()))
}

/// `GET /role`: the project roles a Jira Cloud site starts with.
async fn project_roles(State(app): App, uri: Uri) -> Response {
    json_ok(&Value::Array(roles(renderer(&app, &uri).base)))
}

/// `GET /role/{id}`.
async fn project_role(State(app): App, uri: Uri, Path(id): Path<String>) -> Response {
    let wanted = id.parse::<u64>().ok();
    match roles(renderer(&app, &uri).base)
        .into_iter()
        .find(|role| wanted.is_some() && role["id"].as_u64() == wanted)
    {
        Some(role) => json_ok(&role),
        None => json_error(
            StatusCode::NOT_FOUND,
            &format!("The project role with ID '{id}' does not exist."),
        ),
    }
}

/// The project roles a Jira Cloud site starts with (`ProjectRole`).
fn roles(base: &str) -> Vec<Value> {
    [
        (
            10002,
            "Administrators",
            "A project role that represents administrators in a project",
        ),
        (
            10003,
            "Member",
            "A project role that represents members in a project",
        ),
        (
            10004,
            "Viewer",
            "A project role that represents viewers in a project",
        ),
    ]
    .iter()
    .map(|(id, name, description)| {
        json!({
            "self": format!("{base}/rest/api/3/role/{id}"),
            "id": id,
            "name": name,
            "description": description,
            "admin": false,
            "default": false,
            "roleConfigurable": true,
            "translatedName": name,
        })
    })
    .collect()
}

/// Statuses as `JiraStatus` (the workflow API's shape): the category is a name.
fn jira_statuses() -> Vec<Value> {
    STATUSES
        .iter()
        .map(|(id, name, category)| {
            json!({
                "id": id,
                "name": name,
                "description": "",
                "statusCategory": match *category {
                    "new" => "TODO",
                    "indeterminate" => "IN_PROGRESS",
                    _ => "DONE",
                },
                "scope": {"type": "GLOBAL"},
            })
        })
        .collect()
}

async fn status_search(State(app): App, Query(params): Params) -> Response {
    let (start_at, max_results) = match page_params(&params, 200, 1, 200) {
        Ok(page) => page,
        Err(message) => return bad_request(&message),
    };
    let search = param(&params, "searchString").map(str::to_lowercase);
    let all = jira_statuses()
        .into_iter()
        .filter(|s| {
            search.as_ref().is_none_or(|q| {
                s["name"]
                    .as_str()
                    .is_some_and(|n| n.to_lowercase().contains(q))
            })
        })
        .collect();
    let body = page(
        &app.base_url,
        "/rest/api/3/statuses/search",
        start_at,
        max_results,
        all,
    );
    json_response(StatusCode::OK, &body)
}

async fn resolutions(State(app): App, uri: Uri) -> Response {
    json_ok(&Value::Array(renderer(&app, &uri).resolutions(false)))
}

async fn resolution_search(State(app): App, uri: Uri, Query(params): Params) -> Response {
    let (start_at, max_results) = match page_params(&params, 50, 1, 100) {
        Ok(page) => page,
        Err(message) => return bad_request(&message),
    };
    let body = page(
        &app.base_url,
        "/rest/api/3/resolution/search",
        start_at,
        max_results,
        renderer(&app, &uri).resolutions(true),
    );
    json_response(StatusCode::OK, &body)
}

async fn resolution(State(app): App, uri: Uri, Path(id): Path<String>) -> Response {
    match renderer(&app, &uri)
        .resolutions(false)
        .into_iter()
        .find(|r| r["id"] == id.as_str())
    {
        Some(resolution) => json_ok(&resolution),
        None => json_error(
            StatusCode::NOT_FOUND,
            &format!("The resolution with ID '{id}' does not exist."),
        ),
    }
}

/// A component's id: unique per project and component.
fn component_json(app: &AppState, uri: &Uri, project: usize, index: usize, count: bool) -> Value {
    let data = &app.tenant.projects[project];
    let (name, description) = COMPONENTS[index];
    let id = component_id(project, index);
    let lead = renderer(app, uri).user_value(data.lead);
    let mut value = json!({
        "self": format!("{}/rest/api/3/component/{id}", app.base_url),
        "id": id.to_string(),
        "name": name,
        "description": description,
        "lead": lead,
        "assigneeType": "PROJECT_DEFAULT",
        "assignee": lead,
        "realAssigneeType": "PROJECT_DEFAULT",
        "realAssignee": lead,
        "isAssigneeTypeValid": true,
        "project": data.key,
        "projectId": data.id,
    });
    if count {
        // Issues are not tagged with components: a stable count per component.
        value["issueCount"] = ((id * 7) % 40).into();
    }
    value
}

async fn components(State(app): App, uri: Uri, Path(project): Path<String>) -> Response {
    let Some(project) = app.tenant.project(&project) else {
        return no_project(&project);
    };
    let body: Vec<Value> = (0..COMPONENTS.len())
        .map(|index| component_json(&app, &uri, project, index, false))
        .collect();
    json_ok(&Value::Array(body))
}

async fn component_page(
    State(app): App,
    uri: Uri,
    Path(project_ref): Path<String>,
    Query(params): Params,
) -> Response {
    let Some(project) = app.tenant.project(&project_ref) else {
        return no_project(&project_ref);
    };
    let (start_at, max_results) = match page_params(&params, 50, 1, 100) {
        Ok(page) => page,
        Err(message) => return bad_request(&message),
    };
    let all = (0..COMPONENTS.len())
        .map(|index| component_json(&app, &uri, project, index, true))
        .collect();
    let path = format!("/rest/api/3/project/{project_ref}/component");
    json_response(
        StatusCode::OK,
        &page(&app.base_url, &path, start_at, max_results, all),
    )
}

async fn component(State(app): App, uri: Uri, Path(id): Path<String>) -> Response {
    let found = id.parse::<u64>().ok().and_then(|id| {
        (0..app.tenant.projects.len()).find_map(|project| {
            (0..COMPONENTS.len())
                .find(|index| component_id(project, *index) == id)
                .map(|index| (project, index))
        })
    });
    match found {
        Some((project, index)) => json_ok(&component_json(&app, &uri, project, index, false)),
        None => json_error(
            StatusCode::NOT_FOUND,
            &format!("The component with id {id} does not exist."),
        ),
    }
}

fn version_json(app: &AppState, project: usize, index: usize) -> Value {
    let data = &app.tenant.projects[project];
    let (name, released, date) = VERSIONS[index];
    let id = version_id(project, index);
    json!({
        "self": format!("{}/rest/api/3/version/{id}", app.base_url),
        "id": id.to_string(),
        "name": name,
        "description": format!("{} {name}", data.name),
        "archived": false,
        "released": released,
        "releaseDate": date,
        "userReleaseDate": date,
        "overdue": false,
        "projectId": data.id,
    })
}

async fn versions(State(app): App, Path(project): Path<String>) -> Response {
    let Some(project) = app.tenant.project(&project) else {
        return no_project(&project);
    };
    let body: Vec<Value> = (0..VERSIONS.len())
        .map(|index| version_json(&app, project, index))
        .collect();
    json_ok(&Value::Array(body))
}

async fn version_page(
    State(app): App,
    Path(project_ref): Path<String>,
    Query(params): Params,
) -> Response {
    let Some(project) = app.tenant.project(&project_ref) else {
        return no_project(&project_ref);
    };
    let (start_at, max_results) = match page_params(&params, 50, 1, 100) {
        Ok(page) => page,
        Err(message) => return bad_request(&message),
    };
    let released = param(&params, "status");
    let all = (0..VERSIONS.len())
        .filter(|index| match released {
            Some("released") => VERSIONS[*index].1,
            Some("unreleased") => !VERSIONS[*index].1,
            _ => true,
        })
        .map(|index| version_json(&app, project, index))
        .collect();
    let path = format!("/rest/api/3/project/{project_ref}/version");
    json_response(
        StatusCode::OK,
        &page(&app.base_url, &path, start_at, max_results, all),
    )
}

async fn get_version(State(app): App, Path(id): Path<String>) -> Response {
    let found = id.parse::<u64>().ok().and_then(|id| {
        (0..app.tenant.projects.len()).find_map(|project| {
            (0..VERSIONS.len())
                .find(|index| version_id(project, *index) == id)
                .map(|index| (project, index))
        })
    });
    match found {
        Some((project, index)) => json_ok(&version_json(&app, project, index)),
        None => json_error(
            StatusCode::NOT_FOUND,
            &format!("Could not find version for id '{id}'"),
        ),
    }
}

/// `GET /project/{key}/statuses`: every issue type with the workflow's statuses.
async fn project_statuses(State(app): App, Path(project): Path<String>) -> Response {
    let Some(project) = app.tenant.project(&project) else {
        return no_project(&project);
    };
    let _ = project;
    let statuses = raw_values(app.catalog.statuses());
    let body: Vec<Value> = ISSUE_TYPES
        .iter()
        .map(|(id, name)| {
            json!({
                "self": format!("{}/rest/api/3/issuetype/{id}", app.base_url),
                "id": id,
                "name": name,
                "subtask": false,
                "statuses": statuses,
            })
        })
        .collect();
    json_ok(&Value::Array(body))
}

async fn field_search(State(app): App, Query(params): Params) -> Response {
    let (start_at, max_results) = match page_params(&params, 50, 1, 100) {
        Ok(page) => page,
        Err(message) => return bad_request(&message),
    };
    let query = param(&params, "query").map(str::to_lowercase);
    let ids = param_list(&params, "id");
    let kinds = param_list(&params, "type");
    let all = FIELDS
        .iter()
        .filter(|f| {
            query.as_ref().is_none_or(|q| {
                f.name.to_lowercase().contains(q) || f.id.to_lowercase().contains(q)
            })
        })
        .filter(|f| ids.as_ref().is_none_or(|ids| ids.contains(&f.id)))
        .filter(|f| {
            kinds.as_ref().is_none_or(|kinds| {
                kinds.iter().any(|k| match *k {
                    "custom" => f.custom.is_some(),
                    "system" => f.custom.is_none(),
                    _ => false,
                })
            })
        })
        .map(|f| {
            let mut value = f.json();
            if let Some(map) = value.as_object_mut() {
                // `Field` (the paged shape) is leaner than `FieldDetails`.
                for gone in [
                    "custom",
                    "navigable",
                    "searchable",
                    "orderable",
                    "clauseNames",
                ] {
                    map.remove(gone);
                }
                map.insert("isLocked".into(), false.into());
                map.insert(
                    "description".into(),
                    format!("The {} field.", f.name.to_lowercase()).into(),
                );
                map.insert(
                    "typeDisplayName".into(),
                    if f.custom.is_some() {
                        "Custom"
                    } else {
                        "System"
                    }
                    .into(),
                );
            }
            value
        })
        .collect();
    json_response(
        StatusCode::OK,
        &page(
            &app.base_url,
            "/rest/api/3/field/search",
            start_at,
            max_results,
            all,
        ),
    )
}

async fn link_types(State(app): App) -> Response {
    let types: Vec<Value> = (0..LINK_TYPES.len())
        .map(|index| link_type_json(&app.base_url, index))
        .collect();
    json_ok(&json!({ "issueLinkTypes": types }))
}

async fn link_type(State(app): App, Path(id): Path<String>) -> Response {
    match LINK_TYPES.iter().position(|(type_id, ..)| *type_id == id) {
        Some(index) => json_ok(&link_type_json(&app.base_url, index)),
        None => json_error(
            StatusCode::NOT_FOUND,
            &format!("No issue link type with id '{id}' exists."),
        ),
    }
}

async fn labels(State(app): App, Query(params): Params) -> Response {
    let (start_at, max_results) = match page_params(&params, 1000, 1, 1000) {
        Ok(page) => page,
        Err(message) => return bad_request(&message),
    };
    let all = LABELS.iter().map(|l| Value::from(*l)).collect();
    json_response(
        StatusCode::OK,
        &page(
            &app.base_url,
            "/rest/api/3/label",
            start_at,
            max_results,
            all,
        ),
    )
}
