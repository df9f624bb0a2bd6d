//! The [`Catalog`]: the JSON pieces of a site that never change while it runs, rendered
//! once, and the link types' JSON.

use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::data::{
    ISSUE_TYPES, LINK_TYPES, PRIORITIES, SEVERITIES, STATUS_CATEGORIES, STATUSES, TEAMS, Tenant,
    UserData,
};

/// JSON pieces that never change while the simulator runs (users, project references,
/// issue types, statuses, priorities, options), rendered once at start. Issues embed them
/// as raw JSON, which keeps rendering an issue cheap enough that the simulator is not the
/// bottleneck of a client benchmark (see `benches/throughput.rs`).
pub(crate) struct Catalog {
    pub(super) users: Vec<Box<RawValue>>,
    pub(super) project_refs: Vec<Box<RawValue>>,
    pub(super) issue_types: Vec<Box<RawValue>>,
    pub(super) statuses: Vec<Box<RawValue>>,
    pub(super) priorities: Vec<Box<RawValue>>,
    pub(super) teams: Vec<Box<RawValue>>,
    pub(super) severities: Vec<Box<RawValue>>,
    pub(super) resolution_done: Box<RawValue>,
}

fn raw(value: &Value) -> Box<RawValue> {
    serde_json::value::to_raw_value(value).expect("a Value always serialises")
}

pub(super) fn avatars(base: &str, owner: &str) -> Value {
    let url = |size: u32| format!("{base}/secure/avatar/{size}/{owner}.png");
    json!({"48x48": url(48), "24x24": url(24), "16x16": url(16), "32x32": url(32)})
}

pub(super) fn issue_type_json(base: &str, id: &str, name: &str, index: usize) -> Value {
    json!({
        "self": format!("{base}/rest/api/3/issuetype/{id}"),
        "id": id,
        "description": format!("A {}.", name.to_lowercase()),
        "iconUrl": format!("{base}/images/icons/issuetypes/{}.svg", name.to_lowercase()),
        "name": name,
        "subtask": false,
        "hierarchyLevel": if index == 3 { 1 } else { 0 },
    })
}

fn option_json(base: &str, field: u64, (id, value): (&str, &str)) -> Value {
    json!({
        "self": format!("{base}/rest/api/3/customFieldOption/{id}"),
        "value": value,
        "id": id,
        "fieldId": format!("customfield_{field}"),
    })
}

impl Catalog {
    /// The issue types as `IssueTypeDetails`.
    pub fn issue_types(&self) -> &[Box<RawValue>] {
        &self.issue_types
    }

    /// The statuses as `StatusDetails`.
    pub fn statuses(&self) -> &[Box<RawValue>] {
        &self.statuses
    }

    /// The priorities as `Priority`.
    pub fn priorities(&self) -> &[Box<RawValue>] {
        &self.priorities
    }

    /// Renders the fixed pieces for a site at `base`.
    pub fn new(base: &str, tenant: &Tenant) -> Self {
        let users = tenant
            .users
            .iter()
            .map(|user: &UserData| {
                raw(&json!({
                    "self": format!("{base}/rest/api/3/user?accountId={}", user.account_id),
                    "accountId": user.account_id,
                    "accountType": "atlassian",
                    "emailAddress": user.email,
                    "avatarUrls": avatars(base, &format!("user/{}", user.account_id)),
                    "displayName": user.display_name,
                    "active": user.active,
                    "timeZone": user.time_zone,
                }))
            })
            .collect();
        let project_refs = tenant
            .projects
            .iter()
            .map(|project| {
                raw(&json!({
                    "self": format!("{base}/rest/api/3/project/{}", project.id),
                    "id": project.id.to_string(),
                    "key": project.key,
                    "name": project.name,
                    "projectTypeKey": "software",
                    "simplified": false,
                    "avatarUrls": avatars(base, &format!("project/{}", project.id)),
                }))
            })
            .collect();
        let issue_types = ISSUE_TYPES
            .iter()
            .enumerate()
            .map(|(index, (id, name))| raw(&issue_type_json(base, id, name, index)))
            .collect();
        let statuses = STATUSES
            .iter()
            .map(|(status_id, name, category)| {
                raw(&json!({
                    "self": format!("{base}/rest/api/3/status/{status_id}"),
                    "description": "",
                    "iconUrl": format!("{base}/images/icons/statuses/generic.png"),
                    "name": name,
                    "id": status_id,
                    "statusCategory": status_category_json(base, category),
                }))
            })
            .collect();
        let priorities = PRIORITIES
            .iter()
            .map(|(priority_id, name)| {
                raw(&json!({
                    "self": format!("{base}/rest/api/3/priority/{priority_id}"),
                    "iconUrl": format!("{base}/images/icons/priorities/{}.svg", name.to_lowercase()),
                    "name": name,
                    "id": priority_id,
                }))
            })
            .collect();
        Catalog {
            users,
            project_refs,
            issue_types,
            statuses,
            priorities,
            teams: TEAMS
                .iter()
                .map(|t| raw(&option_json(base, 10021, *t)))
                .collect(),
            severities: SEVERITIES
                .iter()
                .map(|s| raw(&option_json(base, 10030, *s)))
                .collect(),
            resolution_done: raw(&json!({
                "self": format!("{base}/rest/api/3/resolution/10000"),
                "id": "10000",
                "description": "Work has been completed on this issue.",
                "name": "Done",
            })),
        }
    }
}

pub(crate) fn link_type_json(base: &str, index: usize) -> Value {
    let (id, name, inward, outward) = LINK_TYPES[index];
    json!({
        "self": format!("{base}/rest/api/3/issueLinkType/{id}"),
        "id": id,
        "name": name,
        "inward": inward,
        "outward": outward,
    })
}

/// A status category (`StatusCategory`) by its key; an unknown key is `undefined`'s.
pub(crate) fn status_category_json(base: &str, key: &str) -> Value {
    let (id, key, color, name) = STATUS_CATEGORIES
        .iter()
        .find(|(_, k, _, _)| *k == key)
        .unwrap_or(&STATUS_CATEGORIES[0]);
    json!({
        "self": format!("{base}/rest/api/3/statuscategory/{id}"),
        "id": id,
        "key": key,
        "colorName": color,
        "name": name,
    })
}
