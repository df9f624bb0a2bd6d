//! Field metadata as create and edit screens offer it (`FieldMetadata`), the resolutions
//! they allow, and `expand=editmeta`.

use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::{FIELDS, Renderer};
use crate::data::{IssueData, RESOLUTIONS};

/// The values of pre-rendered catalog pieces.
pub(crate) fn raw_values(raws: &[Box<RawValue>]) -> Vec<Value> {
    raws.iter()
        .map(|raw| serde_json::from_str(raw.get()).expect("the catalog holds valid JSON"))
        .collect()
}

/// Fields no create or edit screen offers (set by Jira itself or by other endpoints).
const NOT_ON_SCREENS: &[&str] = &[
    "status",
    "created",
    "updated",
    "creator",
    "comment",
    "statuscategorychangedate",
    "issuelinks",
    "watches",
    "votes",
    "worklog",
    "attachment",
    "subtasks",
    "resolutiondate",
    "lastViewed",
    "timespent",
    "timeestimate",
    "timeoriginalestimate",
    "aggregatetimespent",
    "progress",
    "workratio",
];

impl Renderer<'_> {
    /// The resolutions as `Resolution` (with `default` when `paged`, as the paged list
    /// says it).
    pub fn resolutions(&self, paged: bool) -> Vec<Value> {
        RESOLUTIONS
            .iter()
            .enumerate()
            .map(|(index, (id, name, description))| {
                let mut value = json!({
                    "self": format!("{}/rest/api/3/resolution/{id}", self.base),
                    "id": id,
                    "name": name,
                    "description": description,
                });
                if paged {
                    value["default"] = (index == 0).into();
                }
                value
            })
            .collect()
    }

    /// The fields a create or edit screen of `project` offers, as `FieldMetadata`
    /// (`fieldId` too when `with_field_id`, as the paged create metadata has it).
    pub fn field_metadata(&self, project: usize, with_field_id: bool) -> Vec<Value> {
        FIELDS
            .iter()
            .filter(|f| !NOT_ON_SCREENS.contains(&f.id))
            .map(|f| {
                let schema = f.json()["schema"].clone();
                let required = matches!(f.id, "summary" | "issuetype" | "project");
                let allowed: Option<Vec<Value>> = match f.id {
                    "issuetype" => Some(raw_values(self.catalog.issue_types())),
                    "priority" => Some(raw_values(self.catalog.priorities())),
                    "project" => Some(vec![self.project(&self.tenant.projects[project], false)]),
                    "resolution" => Some(self.resolutions(false)),
                    _ => None,
                };
                let mut value = json!({
                    "key": f.id,
                    "name": f.name,
                    "required": required,
                    "schema": schema,
                    "hasDefaultValue": f.id == "priority",
                    "operations": if f.id == "labels" { json!(["add", "set", "remove"]) } else { json!(["set"]) },
                });
                if with_field_id {
                    value["fieldId"] = f.id.into();
                }
                if let Some(allowed) = allowed {
                    value["allowedValues"] = allowed.into();
                }
                value
            })
            .collect()
    }

    /// `expand=editmeta`: the fields the issue's edit screen offers (`IssueUpdateMetadata`).
    pub fn editmeta(&self, issue: &IssueData) -> Value {
        let fields: Map<String, Value> = self
            .field_metadata(issue.project, false)
            .into_iter()
            .filter(|f| f["key"] != "project")
            .map(|f| (f["key"].as_str().unwrap_or_default().to_owned(), f))
            .collect();
        json!({ "fields": fields })
    }
}
