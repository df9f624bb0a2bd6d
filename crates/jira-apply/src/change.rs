//! The operations a change file holds, and the checks every line passes before anything
//! is sent ([`parse_changes`]).

use jira_model::IssueUpdate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One change, as a line of the change file names it (`"op"` says which).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Operation {
    /// `PUT /issue/{key}`: field values (`fields`) and update verbs (`update`, such as
    /// `{"labels": [{"add": "x"}]}`).
    Update {
        /// The issue key or id.
        #[serde(alias = "key")]
        issue: String,
        /// Field values by id.
        #[serde(default, skip_serializing_if = "Map::is_empty")]
        fields: Map<String, Value>,
        /// Field operations by id.
        #[serde(default, skip_serializing_if = "Map::is_empty")]
        update: Map<String, Value>,
    },
    /// A workflow transition, to a status (or by transition name or id), with the fields
    /// its screen takes (such as `resolution`).
    Transition {
        /// The issue key or id.
        #[serde(alias = "key")]
        issue: String,
        /// The transition's name, the status it leads to, or the transition id.
        to: String,
        /// Fields set by the transition.
        #[serde(default, skip_serializing_if = "Map::is_empty")]
        fields: Map<String, Value>,
        /// Reach the status `to` names through other statuses when no transition leads
        /// there directly (at most five transitions;
        /// `fields` go with the last). What `apply --revert` sends to put a status back.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        walk: bool,
    },
    /// Sets (or, with `null`, clears) the assignee.
    Assign {
        /// The issue key or id.
        #[serde(alias = "key")]
        issue: String,
        /// The assignee's account id; `null` unassigns.
        account_id: Option<String>,
    },
    /// Adds a comment: plain text (converted to ADF paragraphs) or an ADF document.
    Comment {
        /// The issue key or id.
        #[serde(alias = "key")]
        issue: String,
        /// The comment.
        body: Value,
    },
    /// Links two issues: `inward` and `outward` as Jira's `inwardIssue` and
    /// `outwardIssue` (for `Blocks`, the outward issue is blocked by the inward one).
    Link {
        /// The link type's name (`Blocks`, `Relates`, ...).
        #[serde(rename = "type")]
        link_type: String,
        /// The inward issue's key.
        inward: String,
        /// The outward issue's key.
        outward: String,
    },
    /// Adds and removes labels.
    Label {
        /// The issue key or id.
        #[serde(alias = "key")]
        issue: String,
        /// Labels to add.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        add: Vec<String>,
        /// Labels to remove.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        remove: Vec<String>,
    },
    /// Deletes the issue (and, with `subtasks`, its subtasks).
    Delete {
        /// The issue key or id.
        #[serde(alias = "key")]
        issue: String,
        /// Delete its subtasks too (Jira refuses an issue with subtasks otherwise).
        #[serde(default)]
        subtasks: bool,
    },
    /// Creates an issue (`fields` with `project`, `issuetype`, `summary`, ...).
    Create {
        /// Field values by id.
        fields: Map<String, Value>,
    },
    /// Deletes one comment (what `apply --revert --delete-created` does to a comment
    /// the run added).
    DeleteComment {
        /// The issue key or id.
        #[serde(alias = "key")]
        issue: String,
        /// The comment's id.
        id: String,
    },
    /// Removes the link of type `type` from `inward` to `outward`, if there is one.
    Unlink {
        /// The link type's name.
        #[serde(rename = "type")]
        link_type: String,
        /// The inward issue's key.
        inward: String,
        /// The outward issue's key.
        outward: String,
    },
}

impl Operation {
    /// The operation's name (`update`, `transition`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Operation::Update { .. } => "update",
            Operation::Transition { .. } => "transition",
            Operation::Assign { .. } => "assign",
            Operation::Comment { .. } => "comment",
            Operation::Link { .. } => "link",
            Operation::Label { .. } => "label",
            Operation::Delete { .. } => "delete",
            Operation::Create { .. } => "create",
            Operation::DeleteComment { .. } => "delete_comment",
            Operation::Unlink { .. } => "unlink",
        }
    }

    /// The issue it writes to (a link: its inward issue); `None` for a create.
    pub fn issue(&self) -> Option<&str> {
        match self {
            Operation::Update { issue, .. }
            | Operation::Transition { issue, .. }
            | Operation::Assign { issue, .. }
            | Operation::Comment { issue, .. }
            | Operation::Label { issue, .. }
            | Operation::Delete { issue, .. }
            | Operation::DeleteComment { issue, .. } => Some(issue),
            Operation::Link { inward, .. } | Operation::Unlink { inward, .. } => Some(inward),
            Operation::Create { .. } => None,
        }
    }

    /// Whether sending it twice does it once (so an unknown outcome may be sent again).
    pub fn idempotent(&self) -> bool {
        matches!(
            self,
            Operation::Update { .. } | Operation::Assign { .. } | Operation::Label { .. }
        )
    }

    /// The HTTP method of its write.
    pub fn method(&self) -> &'static str {
        match self {
            Operation::Update { .. } | Operation::Assign { .. } | Operation::Label { .. } => "PUT",
            Operation::Delete { .. }
            | Operation::DeleteComment { .. }
            | Operation::Unlink { .. } => "DELETE",
            _ => "POST",
        }
    }

    /// The path template of its write: Jira's burst buckets are per endpoint and method
    /// (`docs/RATE-LIMITS.md`), so writes to different endpoints do not wait for each
    /// other.
    pub fn endpoint(&self) -> &'static str {
        match self {
            Operation::Update { .. } | Operation::Label { .. } | Operation::Delete { .. } => {
                "/rest/api/3/issue/{issueIdOrKey}"
            }
            Operation::Transition { .. } => "/rest/api/3/issue/{issueIdOrKey}/transitions",
            Operation::Assign { .. } => "/rest/api/3/issue/{issueIdOrKey}/assignee",
            Operation::Comment { .. } => "/rest/api/3/issue/{issueIdOrKey}/comment",
            Operation::Link { .. } => "/rest/api/3/issueLink",
            Operation::Create { .. } => "/rest/api/3/issue",
            Operation::DeleteComment { .. } => "/rest/api/3/issue/{issueIdOrKey}/comment/{id}",
            Operation::Unlink { .. } => "/rest/api/3/issueLink/{linkId}",
        }
    }

    /// The project permission its write needs (Jira answers 403 without it); `None` for
    /// a comment's deletion, which the comment's author may make with a lesser one.
    pub fn permission(&self) -> Option<&'static str> {
        Some(match self {
            Operation::Update { .. } | Operation::Label { .. } => "EDIT_ISSUES",
            Operation::Transition { .. } => "TRANSITION_ISSUES",
            Operation::Assign { .. } => "ASSIGN_ISSUES",
            Operation::Comment { .. } => "ADD_COMMENTS",
            Operation::Link { .. } | Operation::Unlink { .. } => "LINK_ISSUES",
            Operation::Delete { .. } => "DELETE_ISSUES",
            Operation::Create { .. } => "CREATE_ISSUES",
            Operation::DeleteComment { .. } => return None,
        })
    }

    /// Requests it takes when nothing goes wrong: reads first (a transition reads the
    /// issue's status, and its transitions once per workflow state), then the write.
    pub fn reads(&self) -> usize {
        match self {
            Operation::Transition { .. } | Operation::Unlink { .. } => 1,
            _ => 0,
        }
    }
}

/// One line of a change file.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// Its line number (1-based).
    pub line: usize,
    /// What it asks for.
    pub op: Operation,
}

/// A line of a change file that cannot be applied as written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct LineError {
    /// The line number (1-based).
    pub line: usize,
    /// What is wrong, and how to fix it.
    pub message: String,
}

pub(crate) const OPS: &str =
    "update, transition, assign, comment, link, label, delete, create, delete_comment, unlink";

/// Reads and checks a whole change file (JSON Lines; blank lines and lines starting with
/// `#` are skipped). Every line is checked: the errors of all bad lines, or the changes.
pub fn parse_changes(text: &str) -> Result<Vec<Change>, Vec<LineError>> {
    let mut changes = Vec::new();
    let mut errors = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = n + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match parse_line(trimmed) {
            Ok(op) => changes.push(Change { line, op }),
            Err(message) => errors.push(LineError { line, message }),
        }
    }
    if errors.is_empty() {
        Ok(changes)
    } else {
        Err(errors)
    }
}

pub(crate) fn parse_line(text: &str) -> Result<Operation, String> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| format!("not JSON ({e}); each line is one JSON object"))?;
    let Some(object) = value.as_object() else {
        return Err("not a JSON object; each line is one object with an \"op\"".into());
    };
    match object.get("op").and_then(Value::as_str) {
        None => return Err(format!("no \"op\"; say which operation: one of {OPS}")),
        Some(op) if !OPS.split(", ").any(|known| known == op) => {
            return Err(format!("unknown op {op:?}; the operations are {OPS}"));
        }
        Some(_) => {}
    }
    let mut op: Operation = serde_json::from_value(value).map_err(|e| e.to_string())?;
    rich_text_as_documents(&mut op);
    check(&op)?;
    Ok(op)
}

/// The system fields whose value is rich text: REST v3 takes them only as an Atlassian
/// document and refuses text (`"Operation value must be an Atlassian Document"`).
const RICH_TEXT_FIELDS: [&str; 2] = ["description", "environment"];

/// Plain text given for a rich-text field becomes a document, as a comment's body does:
/// the line means the text, and v3 would refuse it as written (a dry run would then say
/// it writes what Jira refuses).
fn rich_text_as_documents(op: &mut Operation) {
    let fields = match op {
        Operation::Update { fields, .. }
        | Operation::Transition { fields, .. }
        | Operation::Create { fields } => fields,
        _ => return,
    };
    for name in RICH_TEXT_FIELDS {
        if let Some(value) = fields.get_mut(name).filter(|v| v.is_string()) {
            *value = crate::line::comment_adf(value);
        }
    }
}

/// An issue key (`PROJ-123`) or id (`10001`).
pub(crate) fn check_issue(issue: &str, what: &str) -> Result<(), String> {
    let key = issue.split_once('-').is_some_and(|(project, number)| {
        project
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && project
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !number.is_empty()
            && number.chars().all(|c| c.is_ascii_digit())
    });
    let id = !issue.is_empty() && issue.chars().all(|c| c.is_ascii_digit());
    if key || id {
        Ok(())
    } else {
        Err(format!(
            "{what} {issue:?} is not an issue key (PROJ-123) or id (10001)"
        ))
    }
}

pub(crate) fn check(op: &Operation) -> Result<(), String> {
    if let Some(issue) = op.issue() {
        check_issue(issue, "issue")?;
    }
    match op {
        Operation::Update { fields, update, .. } if fields.is_empty() && update.is_empty() => {
            Err("update changes nothing: give \"fields\" or \"update\"".into())
        }
        Operation::Transition { to, .. } if to.trim().is_empty() => {
            Err("transition has an empty \"to\": name the transition, the status, or its id".into())
        }
        Operation::Comment { body, .. } => match body {
            Value::String(text) if !text.trim().is_empty() => Ok(()),
            body if jira_model::adf::is_adf(body) => Ok(()),
            _ => Err(
                "comment \"body\" must be text or an ADF document ({\"type\": \"doc\", ...})"
                    .into(),
            ),
        },
        Operation::Link {
            link_type, outward, ..
        }
        | Operation::Unlink {
            link_type, outward, ..
        } => {
            check_issue(outward, "outward")?;
            if link_type.trim().is_empty() {
                Err("link has an empty \"type\": name a link type such as Blocks".into())
            } else {
                Ok(())
            }
        }
        Operation::Label { add, remove, .. } if add.is_empty() && remove.is_empty() => {
            Err("label changes nothing: give \"add\" or \"remove\"".into())
        }
        Operation::Label { add, remove, .. }
            if add
                .iter()
                .chain(remove)
                .any(|l| l.is_empty() || l.contains(' ')) =>
        {
            Err("labels cannot be empty or hold spaces".into())
        }
        Operation::DeleteComment { id, .. }
            if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) =>
        {
            Err(format!(
                "delete_comment \"id\" {id:?} is not a comment id (digits, such as 10042)"
            ))
        }
        Operation::Create { fields } if !fields.contains_key("project") => {
            Err("create needs fields.project (such as {\"key\": \"PROJ\"})".into())
        }
        Operation::Create { fields } if !fields.contains_key("issuetype") => {
            Err("create needs fields.issuetype (such as {\"name\": \"Task\"})".into())
        }
        _ => Ok(()),
    }
}

/// The issues of a create input (JSON Lines, one issue a line as `POST /issue` takes it;
/// blank lines skipped), each with its line number. The first bad line stops everything
/// before a request is sent; an input with no issue is an error on line 0.
pub fn parse_creates(reader: impl std::io::Read) -> Result<Vec<(usize, IssueUpdate)>, LineError> {
    use std::io::BufRead as _;
    let mut issues = Vec::new();
    for (n, line) in std::io::BufReader::new(reader).lines().enumerate() {
        let error = |message: String| LineError {
            line: n + 1,
            message,
        };
        let line = line.map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => error(
                "not UTF-8 text; each line is one JSON object (an issue's fields); nothing was created"
                    .into(),
            ),
            _ => error(e.to_string()),
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let issue: IssueUpdate = serde_json::from_str(&line).map_err(|e| {
            error(format!(
                "not an issue: {e} (expected e.g. {{\"fields\": {{\"project\": {{\"key\": \"PROJ\"}}, \"issuetype\": {{\"name\": \"Task\"}}, \"summary\": \"...\"}}}}); nothing was created"
            ))
        })?;
        if issue.fields.is_empty() {
            return Err(error(
                "the issue has no fields (project, issuetype and summary at least); nothing was created".into(),
            ));
        }
        issues.push((n + 1, issue));
    }
    if issues.is_empty() {
        return Err(LineError {
            line: 0,
            message: "no issues in it".into(),
        });
    }
    Ok(issues)
}
