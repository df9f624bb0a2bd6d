//! The site's field catalogue (`GET /rest/api/3/field`): field names as people type them
//! (`Story Points`, `Team`) resolved to the ids requests use (`customfield_10016`).

use jira_transport::Transport;
use serde::Deserialize;

use crate::Error;

/// Ids of Jira Cloud's system fields, which every site has: a field list naming only these
/// (and `*all`, `*navigable`) needs no catalogue to be checked.
pub const SYSTEM_FIELDS: &[&str] = &[
    "aggregateprogress",
    "aggregatetimeestimate",
    "aggregatetimeoriginalestimate",
    "aggregatetimespent",
    "assignee",
    "attachment",
    "comment",
    "components",
    "created",
    "creator",
    "description",
    "duedate",
    "environment",
    "fixVersions",
    "issuelinks",
    "issuetype",
    "labels",
    "lastViewed",
    "parent",
    "priority",
    "progress",
    "project",
    "reporter",
    "resolution",
    "resolutiondate",
    "security",
    "status",
    "statuscategorychangedate",
    "subtasks",
    "summary",
    "timeestimate",
    "timeoriginalestimate",
    "timespent",
    "timetracking",
    "updated",
    "versions",
    "votes",
    "watches",
    "worklog",
    "workratio",
];

/// Whether `fields` (trimmed) name only system field ids and `*all` / `*navigable`
/// (then they need no catalogue).
pub fn only_system_fields(fields: &[String]) -> bool {
    fields
        .iter()
        .all(|f| matches!(f.as_str(), "*all" | "*navigable") || SYSTEM_FIELDS.contains(&f.as_str()))
}

/// One field of the catalogue.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct FieldInfo {
    /// Its id (`summary`, `customfield_10016`).
    pub id: String,
    /// Its name (`Summary`, `Story Points`).
    pub name: String,
    /// Whether it is a custom field.
    #[serde(default)]
    pub custom: bool,
    /// Its type, as the catalogue describes it (absent for some system fields).
    #[serde(default)]
    pub schema: Option<FieldSchema>,
}

/// A field's type (`FieldDetails.schema`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct FieldSchema {
    /// `string`, `number`, `array`, `user`, ...
    #[serde(rename = "type", default)]
    pub kind: String,
}

/// Every field of a site.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldCatalogue {
    /// The fields, as the site listed them.
    pub fields: Vec<FieldInfo>,
}

impl FieldCatalogue {
    /// Reads the catalogue (one request).
    pub async fn fetch<T: Transport + ?Sized>(transport: &T) -> Result<Self, Error> {
        let response = transport.send(jira_model::ApiRequest::fields()).await?;
        if !response.is_success() {
            return Err(Error::Config(format!(
                "the field catalogue (GET /rest/api/3/field) answered HTTP {}",
                response.status.as_u16()
            )));
        }
        Ok(FieldCatalogue {
            fields: response.json()?,
        })
    }

    /// The id of `input`: an id as it is (`summary`, `customfield_10016`, `*navigable`,
    /// `*all`), else the field whose name it is (case and surrounding spaces do not
    /// matter). An ambiguous name is an error listing the candidates; an unknown one an
    /// error suggesting close names.
    pub fn resolve(&self, input: &str) -> Result<String, String> {
        let wanted = input.trim();
        if wanted.is_empty() {
            return Err("an empty field name: remove the extra comma".into());
        }
        if wanted.starts_with('*') || self.fields.iter().any(|f| f.id == wanted) {
            return Ok(wanted.to_owned());
        }
        if let Some(field) = self
            .fields
            .iter()
            .find(|f| f.id.eq_ignore_ascii_case(wanted))
        {
            return Ok(field.id.clone());
        }
        let named: Vec<&FieldInfo> = self
            .fields
            .iter()
            .filter(|f| f.name.trim().eq_ignore_ascii_case(wanted))
            .collect();
        match named.as_slice() {
            [one] => Ok(one.id.clone()),
            [] => {
                let lower = wanted.to_lowercase();
                let mut close: Vec<(usize, &FieldInfo)> = self
                    .fields
                    .iter()
                    .map(|f| (distance(&lower, &f.name.to_lowercase()), f))
                    .filter(|(d, f)| *d <= 2 || f.name.to_lowercase().contains(&lower))
                    .collect();
                close.sort_by_key(|(d, f)| (*d, f.name.clone()));
                let suggestions: Vec<String> = close
                    .iter()
                    .take(3)
                    .map(|(_, f)| format!("{:?} ({})", f.name, f.id))
                    .collect();
                Err(if suggestions.is_empty() {
                    format!(
                        "no field is named or has the id {wanted:?}: the site's field list (GET /rest/api/3/field) shows the names"
                    )
                } else {
                    format!(
                        "no field is named or has the id {wanted:?}; did you mean {}?",
                        suggestions.join(", ")
                    )
                })
            }
            many => Err(format!(
                "{} fields are named {wanted:?}: give the id of the one you mean ({})",
                many.len(),
                many.iter()
                    .map(|f| f.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    /// Whether `id` is a number field (its schema's type is `number`).
    pub fn is_number(&self, id: &str) -> bool {
        self.fields
            .iter()
            .any(|f| f.id == id && f.schema.as_ref().is_some_and(|s| s.kind == "number"))
    }

    /// [`FieldCatalogue::resolve`] for a comma-separated list; the first error ends it.
    pub fn resolve_list(&self, list: &str) -> Result<Vec<String>, String> {
        list.split(',').map(|name| self.resolve(name)).collect()
    }
}

/// Levenshtein distance, for suggestions.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(previous + usize::from(ca != *cb));
            previous = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalogue() -> FieldCatalogue {
        let field = |id: &str, name: &str| FieldInfo {
            id: id.into(),
            name: name.into(),
            custom: id.starts_with("customfield_"),
            schema: None,
        };
        FieldCatalogue {
            fields: vec![
                field("summary", "Summary"),
                field("customfield_10016", "Story Points"),
                field("customfield_10020", "Team"),
                field("customfield_10021", "Team"),
            ],
        }
    }

    #[test]
    fn names_and_ids_resolve() {
        let c = catalogue();
        assert_eq!(
            c.resolve_list("summary, Story Points,customfield_10020")
                .unwrap(),
            ["summary", "customfield_10016", "customfield_10020"]
        );
        assert_eq!(c.resolve(" story points ").unwrap(), "customfield_10016");
        assert_eq!(c.resolve("*navigable").unwrap(), "*navigable");
        assert_eq!(c.resolve("SUMMARY").unwrap(), "summary");
    }

    #[test]
    fn ambiguous_and_unknown_names_are_errors_that_help() {
        let c = catalogue();
        let ambiguous = c.resolve("Team").unwrap_err();
        assert!(
            ambiguous.contains("customfield_10020") && ambiguous.contains("customfield_10021"),
            "{ambiguous}"
        );
        let typo = c.resolve("Story Pionts").unwrap_err();
        assert!(
            typo.contains("\"Story Points\" (customfield_10016)"),
            "{typo}"
        );
        assert!(c.resolve_list("summary,,Team").is_err());
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
