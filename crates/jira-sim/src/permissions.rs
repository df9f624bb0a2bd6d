//! Project permissions: which writes need which (as Jira's REST reference lists them),
//! the ones the caller lacks ([`crate::Realism::denied_permissions`]) answered 403 with
//! Jira's words, and `GET /mypermissions`
//! (<https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-permissions/#api-rest-api-3-mypermissions-get>).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, json};

use crate::extract::{Params, bad_request, param};
use crate::state::{AppState, json_error, json_response};

/// The permissions jira-sim knows: key, id, name, and Jira's 403 for a write without it.
const PERMISSIONS: &[(&str, &str, &str, &str)] = &[
    (
        "EDIT_ISSUES",
        "12",
        "Edit Issues",
        "You do not have permission to edit issues in this project.",
    ),
    (
        "TRANSITION_ISSUES",
        "46",
        "Transition Issues",
        "You do not have permission to transition this issue.",
    ),
    (
        "ASSIGN_ISSUES",
        "13",
        "Assign Issues",
        "You do not have permission to assign issues.",
    ),
    (
        "ADD_COMMENTS",
        "15",
        "Add Comments",
        "You do not have the permission to comment on this issue.",
    ),
    (
        "LINK_ISSUES",
        "21",
        "Link Issues",
        "You do not have the permission to link issues.",
    ),
    (
        "DELETE_ISSUES",
        "16",
        "Delete Issues",
        "You do not have permission to delete issues in this project.",
    ),
    (
        "CREATE_ISSUES",
        "11",
        "Create Issues",
        "You do not have permission to create issues in this project.",
    ),
    (
        "DELETE_ALL_COMMENTS",
        "36",
        "Delete All Comments",
        "You do not have the permission to delete this comment.",
    ),
];

/// Project permissions the caller always holds here (no write jira-sim serves needs them,
/// so none can be denied): `GET /mypermissions` answers them as Jira does, where an
/// unknown key is refused. (key, id, name)
const HELD: &[(&str, &str, &str)] = &[
    ("BROWSE_PROJECTS", "10", "Browse Projects"),
    ("RESOLVE_ISSUES", "14", "Resolve Issues"),
    ("ASSIGNABLE_USER", "17", "Assignable User"),
    ("CLOSE_ISSUES", "18", "Close Issues"),
    ("CREATE_ATTACHMENTS", "19", "Create Attachments"),
    ("WORK_ON_ISSUES", "20", "Work On Issues"),
    ("ADMINISTER_PROJECTS", "23", "Administer Projects"),
    ("MOVE_ISSUES", "25", "Move Issues"),
    ("SCHEDULE_ISSUES", "28", "Schedule Issues"),
    ("MODIFY_REPORTER", "30", "Modify Reporter"),
    ("VIEW_VOTERS_AND_WATCHERS", "31", "View Voters and Watchers"),
    ("MANAGE_WATCHERS", "32", "Manage Watchers"),
    ("EDIT_ALL_COMMENTS", "34", "Edit All Comments"),
    ("EDIT_OWN_COMMENTS", "35", "Edit Own Comments"),
    ("DELETE_OWN_COMMENTS", "37", "Delete Own Comments"),
    ("DELETE_ALL_ATTACHMENTS", "38", "Delete All Attachments"),
    ("DELETE_OWN_ATTACHMENTS", "39", "Delete Own Attachments"),
    ("EDIT_OWN_WORKLOGS", "40", "Edit Own Worklogs"),
    ("EDIT_ALL_WORKLOGS", "41", "Edit All Worklogs"),
    ("DELETE_OWN_WORKLOGS", "42", "Delete Own Worklogs"),
    ("DELETE_ALL_WORKLOGS", "43", "Delete All Worklogs"),
];

/// Every permission key jira-sim knows.
pub(crate) const KEYS: &[&str] = &[
    "EDIT_ISSUES",
    "TRANSITION_ISSUES",
    "ASSIGN_ISSUES",
    "ADD_COMMENTS",
    "LINK_ISSUES",
    "DELETE_ISSUES",
    "CREATE_ISSUES",
    "DELETE_ALL_COMMENTS",
];

/// The name of the permission `key`, if jira-sim knows it.
pub(crate) fn name(key: &str) -> Option<&'static str> {
    PERMISSIONS.iter().find(|p| p.0 == key).map(|p| p.2)
}

/// The permission a write to `template` by `method` needs (v3 templates).
fn needed(method: &str, template: &str) -> Option<&'static str> {
    Some(match (method, template) {
        ("PUT", "/rest/api/3/issue/{issueIdOrKey}") => "EDIT_ISSUES",
        ("POST", "/rest/api/3/bulk/issues/fields") => "EDIT_ISSUES",
        ("POST", "/rest/api/3/issue/{issueIdOrKey}/transitions")
        | ("POST", "/rest/api/3/bulk/issues/transition") => "TRANSITION_ISSUES",
        ("PUT", "/rest/api/3/issue/{issueIdOrKey}/assignee") => "ASSIGN_ISSUES",
        ("POST", "/rest/api/3/issue/{issueIdOrKey}/comment") => "ADD_COMMENTS",
        ("POST", "/rest/api/3/issueLink") | ("DELETE", "/rest/api/3/issueLink/{linkId}") => {
            "LINK_ISSUES"
        }
        ("DELETE", "/rest/api/3/issue/{issueIdOrKey}")
        | ("POST", "/rest/api/3/bulk/issues/delete") => "DELETE_ISSUES",
        ("POST", "/rest/api/3/issue") | ("POST", "/rest/api/3/issue/bulk") => "CREATE_ISSUES",
        ("DELETE", "/rest/api/3/issue/{issueIdOrKey}/comment/{id}") => "DELETE_ALL_COMMENTS",
        _ => return None,
    })
}

/// Jira's 403 for `method` on `template` when the caller lacks the permission it needs.
pub(crate) fn refusal(app: &AppState, method: &str, template: &str) -> Option<Response> {
    let key = needed(method, template)?;
    let denied = app
        .realism
        .read()
        .denied_permissions
        .iter()
        .any(|d| d == key);
    let message = PERMISSIONS.iter().find(|p| p.0 == key)?.3;
    denied.then(|| json_error(StatusCode::FORBIDDEN, message))
}

/// `GET /mypermissions?permissions=KEY,...` (with `projectKey`, `issueKey` or neither):
/// each permission asked for and whether the caller has it.
pub(crate) async fn mypermissions(
    State(app): State<Arc<AppState>>,
    axum::extract::Query(params): Params,
) -> Response {
    let Some(asked) = param(&params, "permissions").filter(|p| !p.trim().is_empty()) else {
        return bad_request(
            "The 'permissions' query parameter is required: a comma-separated list of permission keys.",
        );
    };
    let denied = app.realism.read().denied_permissions.clone();
    let mut permissions = Map::new();
    for key in asked.split(',').map(str::trim).filter(|k| !k.is_empty()) {
        let known = PERMISSIONS
            .iter()
            .map(|(key, id, name, _)| (key, id, name))
            .chain(HELD.iter().map(|(key, id, name)| (key, id, name)))
            .find(|p| *p.0 == key);
        let Some((key, id, name)) = known else {
            return bad_request(&format!("Permission key '{key}' is not valid."));
        };
        permissions.insert(
            (*key).to_owned(),
            json!({
                "id": id,
                "key": key,
                "name": name,
                "type": "PROJECT",
                "description": format!("Ability to {}.", name.to_ascii_lowercase()),
                "havePermission": !denied.iter().any(|d| d == key),
            }),
        );
    }
    json_response(StatusCode::OK, &json!({ "permissions": permissions }))
}
