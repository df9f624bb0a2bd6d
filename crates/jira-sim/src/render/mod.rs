//! JSON rendering of the tenant, shaped like Jira Cloud's answers (and checked against the
//! contract by the conformance test): issues and their fields here, the fixed pieces in
//! [`catalog`], history in [`changelog`], list pages in [`page`].

mod attachment;
mod catalog;
mod changelog;
mod fieldmeta;
mod fields;
mod page;
mod workflow;
mod worklog;

pub(crate) use worklog::{WorklogOut, format_duration, worklog_json};

pub(crate) use catalog::{Catalog, link_type_json, status_category_json};
use catalog::{avatars, issue_type_json};
pub(crate) use changelog::{ChangeOut, change_json, change_out, expanded_changelog};
pub(crate) use fieldmeta::raw_values;
pub(crate) use fields::{FIELDS, FieldSelection, multi_valued};
pub(crate) use page::{PageBean, page, page_bean};

use jiff::tz::TimeZone;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;

use crate::data::{self, CommentData, ISSUE_TYPES, IssueData, ProjectData, Tenant};

/// Jira's body timestamp: milliseconds and an offset without a colon.
const JIRA_TIME: &[BorrowedFormatItem<'static>] = format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3][offset_hour sign:mandatory][offset_minute]"
);

/// Formats epoch milliseconds in `zone`, with the offset it has at that instant
/// (`2024-01-18T08:33:17.016+0100` in Europe/Berlin, `+0200` in summer).
pub(crate) fn jira_time_in(epoch_ms: i64, zone: &TimeZone) -> String {
    let offset = jiff::Timestamp::from_millisecond(epoch_ms)
        .map(|at| zone.to_offset(at).seconds())
        .unwrap_or(0);
    let offset = time::UtcOffset::from_whole_seconds(offset).unwrap_or(time::UtcOffset::UTC);
    OffsetDateTime::from_unix_timestamp_nanos(epoch_ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| t.to_offset(offset).format(JIRA_TIME).ok())
        .unwrap_or_default()
}

/// The zone a site renders in for its caller (always the tenant's first user in jira-sim):
/// the user's IANA zone, or UTC when `render_zone` says so or the name is unknown.
pub(crate) fn caller_zone(tenant: &Tenant, render_zone: crate::config::RenderZone) -> TimeZone {
    match (render_zone, tenant.users.first()) {
        (crate::config::RenderZone::User, Some(user)) => {
            TimeZone::get(user.time_zone).unwrap_or(TimeZone::UTC)
        }
        _ => TimeZone::UTC,
    }
}

/// Formats a wall-clock instant as ISO 8601 at second precision (`X-RateLimit-Reset`).
pub(crate) fn iso_seconds(at: std::time::SystemTime) -> String {
    OffsetDateTime::from(at)
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .unwrap_or_default()
}

/// `at` rounded up to the next whole minute, as Atlassian documents `X-RateLimit-Reset`:
/// `2026-03-26T16:00Z`.
pub(crate) fn iso_minute_ceiling(at: std::time::SystemTime) -> String {
    let since = at
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let ceiling = since.div_ceil(60) * 60;
    OffsetDateTime::from(std::time::UNIX_EPOCH + std::time::Duration::from_secs(ceiling))
        .format(format_description!("[year]-[month]-[day]T[hour]:[minute]Z"))
        .unwrap_or_default()
}

/// Which expansions a request asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Expand {
    pub names: bool,
    pub rendered_fields: bool,
    pub changelog: bool,
    /// `transitions`: the transitions the issue can take now.
    pub transitions: bool,
    /// `schema`: each returned field's schema.
    pub schema: bool,
    /// `operations`: what the caller may do with the issue.
    pub operations: bool,
    /// `editmeta`: the fields the edit screen offers.
    pub editmeta: bool,
}

impl Expand {
    /// Parses `renderedFields,names` (unknown expansions are ignored, as Jira does).
    pub fn parse<'a>(items: impl IntoIterator<Item = &'a str>) -> Self {
        let mut expand = Expand::default();
        for item in items {
            match item.trim() {
                "names" => expand.names = true,
                "renderedFields" => expand.rendered_fields = true,
                "changelog" => expand.changelog = true,
                "transitions" => expand.transitions = true,
                "schema" => expand.schema = true,
                "operations" => expand.operations = true,
                "editmeta" => expand.editmeta = true,
                _ => {}
            }
        }
        expand
    }
}

/// A piece of an answer: fixed JSON from the [`Catalog`], or a value built for this answer.
#[derive(Serialize)]
#[serde(untagged)]
pub(crate) enum Out<'a> {
    Raw(&'a RawValue),
    Value(Value),
    Comments(CommentsField<'a>),
}

/// An issue as `IssueBean`, or only its id.
#[derive(Serialize)]
#[serde(untagged)]
pub(crate) enum IssueJson<'a> {
    IdOnly { id: String },
    Full(Box<IssueOut<'a>>),
}

impl IssueJson<'_> {
    /// Adds the entity properties of `issue` named in `keys` (those it has), as a bulk
    /// fetch's `properties` asks.
    pub fn with_properties(mut self, issue: &IssueData, keys: &[String]) -> Self {
        if let IssueJson::Full(out) = &mut self {
            out.properties = Some(
                keys.iter()
                    .filter_map(|key| Some((key.clone(), issue.properties.get(key)?.clone())))
                    .collect(),
            );
        }
        self
    }
}

/// An `IssueBean` with the selected fields.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct IssueOut<'a> {
    expand: &'static str,
    id: String,
    #[serde(rename = "self")]
    self_url: String,
    key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    rendered_fields: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    names: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    schema: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    operations: Option<Value>,
    #[serde(serialize_with = "as_map")]
    fields: Vec<(&'a str, Out<'a>)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transitions: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    editmeta: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    changelog: Option<Value>,
    /// The entity properties a bulk fetch asked for (`properties`), by key.
    #[serde(skip_serializing_if = "Option::is_none")]
    properties: Option<Map<String, Value>>,
}

/// Serialises ordered pairs as a JSON object.
fn as_map<S: serde::Serializer>(
    pairs: &[(&str, Out<'_>)],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_map(pairs.iter().map(|(key, value)| (key, value)))
}

/// The `comment` field of an issue.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CommentsField<'a> {
    comments: Vec<CommentOut<'a>>,
    #[serde(rename = "self")]
    self_url: String,
    max_results: usize,
    total: usize,
    start_at: usize,
}

/// A `Comment`.
#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CommentOut<'a> {
    #[serde(rename = "self")]
    self_url: String,
    id: String,
    author: &'a RawValue,
    body: Value,
    update_author: &'a RawValue,
    created: String,
    updated: String,
    jsd_public: bool,
    /// `expand=properties`: the comment's entity properties.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub properties: Option<Vec<Value>>,
}

/// Renders answers for one site.
pub(crate) struct Renderer<'a> {
    pub base: &'a str,
    pub tenant: &'a Tenant,
    pub catalog: &'a Catalog,
    /// REST v2 renders rich text (descriptions, comment bodies) as plain text.
    pub v2: bool,
    /// The zone timestamps are rendered in (the caller's).
    pub zone: &'a TimeZone,
    /// How many comments the embedded `comment` field carries, the last ones (0: all;
    /// `Realism::embedded_comments_last`).
    pub embedded_comments_last: usize,
}

impl<'a> Renderer<'a> {
    /// Epoch milliseconds as Jira writes them, in the caller's zone.
    pub fn time(&self, epoch_ms: i64) -> String {
        jira_time_in(epoch_ms, self.zone)
    }

    /// A user as `User`/`UserDetails` (the common subset of both schemas).
    pub fn user(&self, index: usize) -> &'a RawValue {
        &self.catalog.users[index]
    }

    /// A user as a value, for answers that change it.
    pub fn user_value(&self, index: usize) -> Value {
        serde_json::from_str(self.user(index).get()).expect("the catalog holds valid JSON")
    }

    /// A project as `Project`; `detailed` adds description, lead and issue types.
    pub fn project(&self, project: &ProjectData, detailed: bool) -> Value {
        let mut value = json!({
            "expand": "description,lead,issueTypes,url,projectKeys,permissions,insight",
            "self": format!("{}/rest/api/3/project/{}", self.base, project.id),
            "id": project.id.to_string(),
            "key": project.key,
            "name": project.name,
            "avatarUrls": avatars(self.base, &format!("project/{}", project.id)),
            "projectTypeKey": "software",
            "simplified": false,
            "style": "classic",
            "isPrivate": false,
            "properties": {},
        });
        if detailed {
            value["description"] = project.description.clone().into();
            value["lead"] = self.user_value(project.lead);
            value["issueTypes"] = ISSUE_TYPES
                .iter()
                .enumerate()
                .map(|(level, (id, name))| issue_type_json(self.base, id, name, level))
                .collect();
            value["assigneeType"] = "UNASSIGNED".into();
        }
        value
    }

    /// An issue with the selected fields.
    pub fn issue(
        &self,
        issue: &'a IssueData,
        selection: &FieldSelection,
        expand: Expand,
    ) -> IssueJson<'a> {
        if selection.is_id_only()
            && !expand.names
            && !expand.rendered_fields
            && !expand.transitions
            && !expand.schema
            && !expand.operations
            && !expand.editmeta
        {
            return IssueJson::IdOnly {
                id: issue.id.to_string(),
            };
        }
        let mut fields: Vec<(&'a str, Out<'a>)> = Vec::with_capacity(FIELDS.len());
        for def in FIELDS {
            if selection.wants(def.id, def.navigable) {
                fields.push((def.id, self.field(issue, def.id)));
            }
        }
        for (id, value) in &issue.extra {
            if selection.wants(id, true) {
                fields.push((id.as_str(), Out::Value(value.clone())));
            }
        }
        let rendered_fields = expand.rendered_fields.then(|| {
            fields
                .iter()
                .map(|(id, _)| ((*id).to_owned(), self.rendered(issue, id)))
                .collect()
        });
        let names = expand.names.then(|| {
            fields
                .iter()
                .map(|(id, _)| {
                    let name = FIELDS
                        .iter()
                        .find(|def| def.id == *id)
                        .map_or(*id, |def| def.name);
                    ((*id).to_owned(), Value::from(name))
                })
                .collect()
        });
        let schema = expand.schema.then(|| {
            fields
                .iter()
                .filter_map(|(id, _)| {
                    let def = FIELDS.iter().find(|def| def.id == *id)?;
                    Some(((*id).to_owned(), def.json()["schema"].clone()))
                })
                .collect()
        });
        IssueJson::Full(Box::new(IssueOut {
            expand: "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
            id: issue.id.to_string(),
            self_url: format!("{}/rest/api/3/issue/{}", self.base, issue.id),
            key: &issue.key,
            rendered_fields,
            names,
            schema,
            // What the caller may do beyond its fields: no link groups in jira-sim.
            operations: expand.operations.then(|| json!({ "linkGroups": [] })),
            fields,
            transitions: expand.transitions.then(|| self.transitions(issue)),
            editmeta: expand.editmeta.then(|| self.editmeta(issue)),
            changelog: expand.changelog.then(|| expanded_changelog(self, issue)),
            properties: None,
        }))
    }

    fn description(&self, issue: &IssueData) -> Value {
        let doc = issue
            .description
            .clone()
            .unwrap_or_else(|| data::adf(&data::generated_paragraphs(issue.seed, 2)));
        if self.v2 && !doc.is_null() {
            data::adf_text(&doc).join("\n\n").into()
        } else {
            doc
        }
    }

    fn field(&self, issue: &'a IssueData, id: &str) -> Out<'a> {
        let catalog = self.catalog;
        match id {
            "summary" => Out::Value(
                issue
                    .summary
                    .clone()
                    .unwrap_or_else(|| data::generated_summary(issue.seed))
                    .into(),
            ),
            "description" => Out::Value(self.description(issue)),
            "issuetype" => Out::Raw(&catalog.issue_types[issue.issue_type]),
            "project" => Out::Raw(&catalog.project_refs[issue.project]),
            "status" => Out::Raw(&catalog.statuses[issue.status]),
            "priority" => Out::Raw(&catalog.priorities[issue.priority]),
            "assignee" => match issue.assignee {
                Some(user) => Out::Raw(self.user(user)),
                None => Out::Value(Value::Null),
            },
            "reporter" | "creator" => Out::Raw(self.user(issue.reporter)),
            "created" => Out::Value(self.time(issue.created_ms).into()),
            "updated" => Out::Value(self.time(issue.updated_ms).into()),
            "labels" => Out::Value(issue.labels.clone().into()),
            "resolution" => match issue.resolution {
                Some(0) => Out::Raw(&catalog.resolution_done),
                Some(index) => {
                    let (id, name, description) = data::RESOLUTIONS[index];
                    Out::Value(json!({
                        "self": format!("{}/rest/api/3/resolution/{id}", self.base),
                        "id": id,
                        "description": description,
                        "name": name,
                    }))
                }
                None => Out::Value(Value::Null),
            },
            "statuscategorychangedate" => Out::Value(self.time(issue.status_changed_ms).into()),
            "issuelinks" => Out::Value(self.links(issue)),
            "watches" => Out::Value(json!({
                "self": format!("{}/rest/api/3/issue/{}/watchers", self.base, issue.key),
                "watchCount": issue.watchers.len(),
                "isWatching": issue.watchers.contains(&0),
            })),
            "comment" => {
                let mut comments = self.comments(issue);
                let total = comments.len();
                let last = self.embedded_comments_last;
                let start_at = if last > 0 { total.saturating_sub(last) } else { 0 };
                let comments = comments.split_off(start_at);
                Out::Comments(CommentsField {
                    self_url: format!("{}/rest/api/3/issue/{}/comment", self.base, issue.id),
                    max_results: if last > 0 { last } else { total },
                    total,
                    start_at,
                    comments,
                })
            }
            "worklog" => Out::Value(self.worklog_field(issue)),
            "timetracking" => Out::Value(match self.time_spent(issue) {
                0 => json!({}),
                spent => json!({
                    "timeSpent": format_duration(spent),
                    "timeSpentSeconds": spent,
                }),
            }),
            "timespent" | "aggregatetimespent" => Out::Value(match self.time_spent(issue) {
                0 => Value::Null,
                spent => spent.into(),
            }),
            "progress" => {
                let spent = self.time_spent(issue);
                let mut progress = json!({ "progress": spent, "total": spent });
                if spent > 0 {
                    progress["percent"] = 100.into();
                }
                Out::Value(progress)
            }
            "workratio" => Out::Value((-1).into()),
            "components" => Out::Value(
                data::issue_components(issue)
                    .into_iter()
                    .map(|index| {
                        let id = data::component_id(issue.project, index);
                        let (name, description) = data::COMPONENTS[index];
                        json!({
                            "self": format!("{}/rest/api/3/component/{id}", self.base),
                            "id": id.to_string(),
                            "name": name,
                            "description": description,
                        })
                    })
                    .collect(),
            ),
            "fixVersions" => Out::Value(
                data::issue_fix_versions(issue)
                    .into_iter()
                    .map(|index| {
                        let id = data::version_id(issue.project, index);
                        let (name, released, date) = data::VERSIONS[index];
                        json!({
                            "self": format!("{}/rest/api/3/version/{id}", self.base),
                            "id": id.to_string(),
                            "description": format!("{} {name}", self.tenant.projects[issue.project].name),
                            "name": name,
                            "archived": false,
                            "released": released,
                            "releaseDate": date,
                        })
                    })
                    .collect(),
            ),
            "attachment" => Out::Value(self.attachments(issue)),
            "versions" | "subtasks" => Out::Value(json!([])),
            "votes" => Out::Value(json!({
                "self": format!("{}/rest/api/3/issue/{}/votes", self.base, issue.key),
                "votes": 0,
                "hasVoted": false,
            })),
            "resolutiondate" => Out::Value(match issue.resolution {
                Some(_) => self.time(issue.status_changed_ms).into(),
                None => Value::Null,
            }),
            "customfield_10016" => Out::Value(
                issue
                    .story_points
                    .map_or(Value::Null, |p| (p as f64).into()),
            ),
            "customfield_10021" => match issue.team {
                Some(team) => Out::Raw(&catalog.teams[team]),
                None => Out::Value(Value::Null),
            },
            "customfield_10030" => match issue.severity {
                Some(severity) => Out::Raw(&catalog.severities[severity]),
                None => Out::Value(Value::Null),
            },
            _ => Out::Value(Value::Null),
        }
    }

    fn rendered(&self, issue: &IssueData, id: &str) -> Value {
        match id {
            "description" => {
                let doc = issue
                    .description
                    .clone()
                    .unwrap_or_else(|| data::adf(&data::generated_paragraphs(issue.seed, 2)));
                data::adf_text(&doc)
                    .iter()
                    .map(|p| format!("<p>{}</p>", escape_html(p)))
                    .collect::<String>()
                    .into()
            }
            "created" => self.time(issue.created_ms).into(),
            "updated" => self.time(issue.updated_ms).into(),
            _ => Value::Null,
        }
    }

    /// An issue's links as `IssueLink`s (the other issue by id and key).
    pub fn links(&self, issue: &IssueData) -> Value {
        issue
            .links
            .iter()
            .map(|end| {
                let kind = link_type_json(self.base, end.kind);
                let other = json!({
                    "id": end.other_id.to_string(),
                    "key": end.other_key,
                    "self": format!("{}/rest/api/3/issue/{}", self.base, end.other_id),
                });
                let mut link = json!({
                    "id": end.link.to_string(),
                    "self": format!("{}/rest/api/3/issueLink/{}", self.base, end.link),
                    "type": kind,
                });
                link[if end.other_is_outward {
                    "outwardIssue"
                } else {
                    "inwardIssue"
                }] = other;
                link
            })
            .collect()
    }

    /// Every comment of an issue, generated ones first.
    pub fn comments(&self, issue: &'a IssueData) -> Vec<CommentOut<'a>> {
        self.comments_with(issue, false)
    }

    /// Every comment of an issue, with their entity properties when `properties`
    /// (`expand=properties`).
    pub fn comments_with(&self, issue: &'a IssueData, properties: bool) -> Vec<CommentOut<'a>> {
        data::generated_comments(issue, self.tenant.users.len())
            .chain(issue.added_comments.iter().cloned())
            .map(|comment| {
                let mut out = self.comment(issue, &comment);
                if properties {
                    out.properties = Some(property_list(&comment.properties));
                }
                out
            })
            .collect()
    }

    /// A comment as `Comment`.
    pub fn comment(&self, issue: &IssueData, comment: &CommentData) -> CommentOut<'a> {
        let author = self.user(comment.author);
        let body = if self.v2 {
            data::adf_text(&comment.body).join("\n\n").into()
        } else {
            comment.body.clone()
        };
        CommentOut {
            self_url: format!(
                "{}/rest/api/3/issue/{}/comment/{}",
                self.base, issue.id, comment.id
            ),
            id: comment.id.to_string(),
            author,
            body,
            update_author: author,
            created: self.time(comment.created_ms),
            updated: self.time(comment.updated_ms),
            jsd_public: true,
            properties: None,
        }
    }
}

/// Entity properties as `[{"key", "value"}]`.
pub(crate) fn property_list(properties: &std::collections::BTreeMap<String, Value>) -> Vec<Value> {
    properties
        .iter()
        .map(|(key, value)| json!({"key": key, "value": value}))
        .collect()
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Jira's error body.
pub(crate) fn error_body(messages: &[&str], field_errors: &[(&str, &str)]) -> Value {
    let errors: Map<String, Value> = field_errors
        .iter()
        .map(|(field, message)| ((*field).to_owned(), (*message).into()))
        .collect();
    json!({ "errorMessages": messages, "errors": errors })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jira_time_has_millis_and_colonless_offset() {
        let utc = TimeZone::UTC;
        assert_eq!(
            jira_time_in(1_705_563_197_016, &utc),
            "2024-01-18T07:33:17.016+0000"
        );
        // A user's zone, with its offset at that instant: winter and summer in Berlin, and
        // New York behind UTC.
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        assert_eq!(
            jira_time_in(1_705_563_197_016, &berlin),
            "2024-01-18T08:33:17.016+0100"
        );
        assert_eq!(
            jira_time_in(1_720_000_000_000, &berlin),
            "2024-07-03T11:46:40.000+0200"
        );
        let new_york = TimeZone::get("America/New_York").unwrap();
        assert_eq!(
            jira_time_in(1_705_563_197_016, &new_york),
            "2024-01-18T02:33:17.016-0500"
        );
    }

    #[test]
    fn field_selection() {
        let check = |param: &str, id: &str, navigable: bool, expected: bool| {
            let selection = FieldSelection::from_param(Some(param), FieldSelection::all());
            assert_eq!(selection.wants(id, navigable), expected, "{param} {id}");
        };
        check("*all", "comment", false, true);
        check("*navigable", "comment", false, false);
        check("*navigable", "summary", true, true);
        check("summary,status", "status", true, true);
        check("summary,status", "labels", true, false);
        check("*all,-comment", "comment", false, false);
        check("*all,-comment", "labels", true, true);
        assert!(FieldSelection::from_param(None, FieldSelection::id_only()).is_id_only());
        assert!(!FieldSelection::from_param(Some("key"), FieldSelection::id_only()).is_id_only());
    }
}
