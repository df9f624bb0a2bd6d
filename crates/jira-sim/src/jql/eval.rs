//! Evaluating a parsed query against an issue: each clause's values read from the
//! issue (and the tenant's names for them), compared as Jira compares them; and the values
//! a field can have at all, which the parser checks a query's values against.

use super::{Clause, ContainsField, DateField, Expr, Op, TextField};
use crate::data::{ISSUE_TYPES, IssueData, PRIORITIES, RESOLUTIONS, STATUSES, Tenant};

pub(super) fn eval(expr: &Expr, issue: &IssueData, tenant: &Tenant) -> bool {
    match expr {
        Expr::And(a, b) => eval(a, issue, tenant) && eval(b, issue, tenant),
        Expr::Or(a, b) => eval(a, issue, tenant) || eval(b, issue, tenant),
        Expr::Not(inner) => !eval(inner, issue, tenant),
        Expr::Clause(Clause::Text {
            field,
            values,
            negated,
        }) => {
            let actual = text_values(*field, issue, tenant);
            let hit = values
                .iter()
                .any(|wanted| actual.iter().any(|have| have.eq_ignore_ascii_case(wanted)));
            hit != *negated
        }
        Expr::Clause(Clause::Range { project, op, bound }) => {
            // An id range not resolved to its issue's key (see `Query::resolve_ids`)
            // matches nothing.
            let actual = match project {
                Some(project) if *project == issue.project => issue.number,
                _ => return false,
            };
            compare(actual, *op, *bound)
        }
        Expr::Clause(Clause::Contains {
            field,
            words,
            negated,
        }) => {
            let summary = || {
                issue
                    .summary
                    .clone()
                    .unwrap_or_else(|| crate::data::generated_summary(issue.seed))
            };
            let description = || {
                let doc = issue.description.clone().unwrap_or_else(|| {
                    crate::data::adf(&crate::data::generated_paragraphs(issue.seed, 2))
                });
                crate::data::adf_text(&doc).join(" ")
            };
            let text = match field {
                ContainsField::Summary => summary(),
                ContainsField::Description => description(),
                ContainsField::Text => format!("{} {}", summary(), description()),
            }
            .to_lowercase();
            // Word by word, a query word matching the start of a text word (Jira stems;
            // a prefix is the nearest simple rule).
            let text_words: Vec<&str> = text
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .collect();
            words
                .iter()
                .all(|w| text_words.iter().any(|t| t.starts_with(w.as_str())))
                != *negated
        }
        Expr::Clause(Clause::Empty { field, negated }) => {
            text_values(*field, issue, tenant).is_empty() != *negated
        }
        Expr::Clause(Clause::Property {
            name,
            path,
            values,
            negated,
        }) => {
            let mut value = issue.properties.get(name);
            for segment in path.split('.').filter(|s| !s.is_empty()) {
                value = value.and_then(|v| v.get(segment));
            }
            let actual = match value {
                Some(serde_json::Value::String(text)) => Some(text.clone()),
                Some(serde_json::Value::Null) | None => None,
                Some(other) => Some(other.to_string()),
            };
            let hit = actual.is_some_and(|have| {
                values
                    .iter()
                    .any(|wanted| have.eq_ignore_ascii_case(wanted))
            });
            hit != *negated
        }
        Expr::Clause(Clause::Date {
            field,
            op,
            epoch_ms,
        }) => {
            let actual = match field {
                DateField::Created => issue.created_ms,
                DateField::Updated => issue.updated_ms,
            };
            compare(actual, *op, *epoch_ms)
        }
    }
}

fn compare<T: Ord>(actual: T, op: Op, bound: T) -> bool {
    match op {
        Op::Eq => actual == bound,
        Op::Ne => actual != bound,
        Op::Gt => actual > bound,
        Op::Ge => actual >= bound,
        Op::Lt => actual < bound,
        Op::Le => actual <= bound,
    }
}

/// The values a text clause compares with: for a project its key and id, for a user their
/// account id and display name.
fn text_values(field: TextField, issue: &IssueData, tenant: &Tenant) -> Vec<String> {
    let user = |index: usize| {
        let user = &tenant.users[index];
        vec![user.account_id.clone(), user.display_name.clone()]
    };
    match field {
        TextField::Project => {
            let project = &tenant.projects[issue.project];
            vec![
                project.key.clone(),
                project.id.to_string(),
                project.name.clone(),
            ]
        }
        TextField::Key => vec![issue.key.clone(), issue.id.to_string()],
        TextField::Id => vec![issue.id.to_string(), issue.key.clone()],
        TextField::Status => vec![
            STATUSES[issue.status].1.to_owned(),
            STATUSES[issue.status].0.to_owned(),
        ],
        TextField::IssueType => vec![
            ISSUE_TYPES[issue.issue_type].1.to_owned(),
            ISSUE_TYPES[issue.issue_type].0.to_owned(),
        ],
        TextField::Priority => vec![
            PRIORITIES[issue.priority].1.to_owned(),
            PRIORITIES[issue.priority].0.to_owned(),
        ],
        TextField::Assignee => issue.assignee.map(user).unwrap_or_default(),
        TextField::Reporter => user(issue.reporter),
        TextField::Labels => issue.labels.clone(),
        TextField::Resolution => issue
            .resolution
            .map(|r| vec![RESOLUTIONS[r].1.to_owned(), RESOLUTIONS[r].0.to_owned()])
            .unwrap_or_default(),
        TextField::StatusCategory => {
            let (key, name, id) = match STATUSES[issue.status].2 {
                "new" => ("new", "To Do", "2"),
                "indeterminate" => ("indeterminate", "In Progress", "4"),
                _ => ("done", "Done", "3"),
            };
            vec![key.to_owned(), name.to_owned(), id.to_owned()]
        }
    }
}

/// Every value a field can be compared with (names and ids, any case), for the fields
/// whose values the tenant fixes; `None` for free values (labels, keys, ids, projects,
/// which are checked on their own).
pub(super) fn known_values(field: TextField, tenant: &Tenant) -> Option<Vec<String>> {
    let pairs = |table: &mut dyn Iterator<Item = (&str, &str)>| {
        table
            .flat_map(|(id, name)| [id.to_owned(), name.to_owned()])
            .collect::<Vec<_>>()
    };
    Some(match field {
        TextField::Status => pairs(&mut STATUSES.iter().map(|(id, name, _)| (*id, *name))),
        TextField::IssueType => pairs(&mut ISSUE_TYPES.iter().copied()),
        TextField::Priority => pairs(&mut PRIORITIES.iter().copied()),
        TextField::Resolution => pairs(&mut RESOLUTIONS.iter().map(|(id, name, _)| (*id, *name))),
        TextField::StatusCategory => [
            "new",
            "indeterminate",
            "done",
            "To Do",
            "In Progress",
            "Done",
            "2",
            "4",
            "3",
        ]
        .map(str::to_owned)
        .to_vec(),
        TextField::Assignee | TextField::Reporter => tenant
            .users
            .iter()
            .flat_map(|u| [u.account_id.clone(), u.display_name.clone()])
            .collect(),
        TextField::Project | TextField::Key | TextField::Id | TextField::Labels => return None,
    })
}
