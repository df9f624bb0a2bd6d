//! The fields the simulator knows (`GET /field`'s list, in Jira's order) and which of them
//! a request asked for (`fields=summary,status`, `*all`, `*navigable`, `-comment`).

use serde_json::{Map, Value, json};

/// Every field the simulator knows, in the order Jira lists them; `navigable` is false for
/// the ones `*navigable` leaves out.
pub(crate) const FIELDS: &[FieldDef] = &[
    FieldDef::system("summary", "Summary", "string", true),
    FieldDef::system("description", "Description", "string", true),
    FieldDef::system("issuetype", "Issue Type", "issuetype", true),
    FieldDef::system("project", "Project", "project", true),
    FieldDef::system("status", "Status", "status", true),
    FieldDef::system("priority", "Priority", "priority", true),
    FieldDef::system("assignee", "Assignee", "user", true),
    FieldDef::system("reporter", "Reporter", "user", true),
    FieldDef::system("creator", "Creator", "user", true),
    FieldDef::system("created", "Created", "datetime", true),
    FieldDef::system("updated", "Updated", "datetime", true),
    FieldDef::array("labels", "Labels", "string", true),
    FieldDef::system("resolution", "Resolution", "resolution", true),
    FieldDef::system("duedate", "Due date", "date", true),
    FieldDef::system("comment", "Comment", "comments-page", false),
    FieldDef::system(
        "statuscategorychangedate",
        "Status Category Changed",
        "datetime",
        true,
    ),
    FieldDef::array("issuelinks", "Linked Issues", "issuelinks", true),
    FieldDef::system("watches", "Watchers", "watches", true),
    FieldDef::array("worklog", "Log Work", "worklog", false),
    FieldDef::system("timetracking", "Time tracking", "timetracking", false),
    FieldDef::system("timespent", "Time Spent", "number", true),
    FieldDef::system("aggregatetimespent", "Σ Time Spent", "number", true),
    FieldDef::system("timeestimate", "Remaining Estimate", "number", true),
    FieldDef::system("timeoriginalestimate", "Original estimate", "number", true),
    FieldDef::system("progress", "Progress", "progress", true),
    FieldDef::system("workratio", "Work Ratio", "number", true),
    FieldDef::array("components", "Components", "component", true),
    FieldDef::array("fixVersions", "Fix versions", "version", true),
    FieldDef::array("versions", "Affects versions", "version", true),
    FieldDef::array("attachment", "Attachment", "attachment", true),
    FieldDef::system("votes", "Votes", "votes", true),
    FieldDef::array("subtasks", "Sub-tasks", "issuelinks", true),
    FieldDef::system("environment", "Environment", "string", true),
    FieldDef::system("resolutiondate", "Resolved", "datetime", true),
    FieldDef::system("lastViewed", "Last Viewed", "datetime", true),
    FieldDef::system("security", "Security Level", "securitylevel", true),
    FieldDef::custom(
        "customfield_10016",
        "Story Points",
        "number",
        10016,
        "float",
    ),
    FieldDef::custom("customfield_10021", "Team", "option", 10021, "select"),
    FieldDef::custom("customfield_10030", "Severity", "option", 10030, "select"),
];

/// Whether the field `id` returns several values (an array, or the comment page): a bulk
/// fetch that names one takes at most 100 issues. Unknown ids are single-valued.
pub(crate) fn multi_valued(id: &str) -> bool {
    id == "comment"
        || FIELDS
            .iter()
            .any(|f| (f.id == id || f.name == id) && f.schema_type == "array")
}

/// A field definition.
pub(crate) struct FieldDef {
    pub id: &'static str,
    pub name: &'static str,
    pub schema_type: &'static str,
    /// What an array field holds (`schema.items`).
    pub items: Option<&'static str>,
    pub navigable: bool,
    pub custom: Option<(u64, &'static str)>,
}

impl FieldDef {
    const fn system(
        id: &'static str,
        name: &'static str,
        schema_type: &'static str,
        navigable: bool,
    ) -> Self {
        FieldDef {
            id,
            name,
            schema_type,
            items: None,
            navigable,
            custom: None,
        }
    }

    const fn array(
        id: &'static str,
        name: &'static str,
        items: &'static str,
        navigable: bool,
    ) -> Self {
        FieldDef {
            id,
            name,
            schema_type: "array",
            items: Some(items),
            navigable,
            custom: None,
        }
    }

    const fn custom(
        id: &'static str,
        name: &'static str,
        schema_type: &'static str,
        custom_id: u64,
        kind: &'static str,
    ) -> Self {
        FieldDef {
            id,
            name,
            schema_type,
            items: None,
            navigable: true,
            custom: Some((custom_id, kind)),
        }
    }

    /// The `FieldDetails` JSON of `GET /field`.
    pub fn json(&self) -> Value {
        let mut schema = Map::new();
        schema.insert("type".into(), self.schema_type.into());
        if let Some(items) = self.items {
            schema.insert("items".into(), items.into());
        }
        match self.custom {
            Some((custom_id, kind)) => {
                schema.insert(
                    "custom".into(),
                    format!("com.atlassian.jira.plugin.system.customfieldtypes:{kind}").into(),
                );
                schema.insert("customId".into(), custom_id.into());
            }
            None => {
                schema.insert("system".into(), self.id.into());
            }
        }
        let clause_names = match self.custom {
            Some((custom_id, _)) => vec![
                format!("cf[{custom_id}]"),
                self.name.to_owned(),
                format!("{}[{}]", self.name, self.schema_type),
            ],
            None => vec![self.id.to_owned()],
        };
        json!({
            "id": self.id,
            "key": self.id,
            "name": self.name,
            "custom": self.custom.is_some(),
            "orderable": !matches!(
                self.id,
                "comment" | "worklog" | "created" | "updated" | "creator" | "votes" | "watches"
            ),
            "navigable": self.navigable,
            "searchable": true,
            "clauseNames": clause_names,
            "schema": schema,
        })
    }
}

/// Which fields a request asked for (`fields=summary,status`, `*all`, `*navigable`,
/// `-comment`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FieldSelection {
    all: bool,
    navigable: bool,
    include: Vec<String>,
    exclude: Vec<String>,
}

impl FieldSelection {
    /// Every field (`*all`): the default of `GET /issue`.
    pub fn all() -> Self {
        Self::parse(["*all"])
    }

    /// `*navigable`: the default of bulkfetch.
    pub fn navigable() -> Self {
        Self::parse(["*navigable"])
    }

    /// Only the id: the default of the enhanced search.
    pub fn id_only() -> Self {
        Self::parse(["id"])
    }

    /// Parses the items of a `fields` parameter (already split on commas).
    pub fn parse<'a>(items: impl IntoIterator<Item = &'a str>) -> Self {
        let mut selection = FieldSelection {
            all: false,
            navigable: false,
            include: Vec::new(),
            exclude: Vec::new(),
        };
        for item in items.into_iter().map(str::trim).filter(|i| !i.is_empty()) {
            match item {
                "*all" => selection.all = true,
                "*navigable" => selection.navigable = true,
                _ => match item.strip_prefix('-') {
                    Some(excluded) => selection.exclude.push(excluded.to_owned()),
                    None => selection.include.push(item.to_owned()),
                },
            }
        }
        selection
    }

    /// Parses a comma-separated `fields` parameter, or `default` when it is absent.
    #[cfg(test)]
    pub fn from_param(param: Option<&str>, default: Self) -> Self {
        Self::from_list(param.map(|text| text.split(',').collect()), default)
    }

    /// Parses the items of a `fields` parameter, or `default` when there are none.
    pub fn from_list(items: Option<Vec<&str>>, default: Self) -> Self {
        match items {
            Some(items) if items.iter().any(|i| !i.trim().is_empty()) => Self::parse(items),
            _ => default,
        }
    }

    /// Whether the field `id` (navigable or not) is asked for.
    pub(crate) fn wants(&self, id: &str, navigable: bool) -> bool {
        if self.exclude.iter().any(|e| e == id) {
            return false;
        }
        self.all || (self.navigable && navigable) || self.include.iter().any(|i| i == id)
    }

    /// Whether only `id` was asked for: the answer then carries nothing else.
    pub fn is_id_only(&self) -> bool {
        !self.all && !self.navigable && self.include.iter().all(|i| i == "id")
    }
}
