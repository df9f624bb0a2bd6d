//! Bulk changes applied exactly once: [`JiraClient::apply`], behind `jira-ops apply`.
//!
//! A change file holds one [`Operation`] a line (JSON Lines). The whole file is read and
//! checked ([`parse_changes`]) before anything is sent; a bad line is an error naming it.
//!
//! **Order and pace.** Operations on one issue run one after the other in file order;
//! different issues run side by side (`max_concurrent` issues at a time). Every write names
//! its issue, so the rate-limit layer keeps each issue inside Jira's per-issue write
//! windows, and the per-method burst buckets pace PUT, POST and DELETE.
//!
//! **Exactly once.** Every line has a content key (the file's digest, its place, its
//! content) in the write journal: its intent is durable before the request goes and its
//! outcome after. A line known done is not sent again. A line whose outcome is unknown (sent,
//! answer lost, or a run killed in flight) is resolved before anything is sent again:
//! idempotent operations (field updates, labels, assignments) are sent again; a transition
//! is checked against the issue's status; a delete against the issue's existence; the
//! others carry a marker that a lookup finds: comments and created issues the entity
//! property [`IDEMPOTENCY_PROPERTY`] holding the key, links the link itself.
//!
//! **Bulk operations.** When at least [`BULK_MIN_LINES`] lines make the same change
//! (a delete, labels added or removed, a transition without fields, an assignment, or an
//! update setting the same priority, summary, description, assignee, labels or number
//! fields) to issues no other line touches, they go through Jira's asynchronous bulk
//! operations (`/bulk/issues/delete`, `/bulk/issues/fields`, `/bulk/issues/transition`, up
//! to 1,000 issues a task, its progress polled) instead of a request each; the task's per-issue results are mapped back
//! to the lines. They are idempotent, so a task whose outcome was lost is submitted again
//! (a transition checked against the status first).
//!
//! **Transitions by name** resolve through the issue's available transitions (by the
//! transition's name, the status it leads to, or its id), cached per project, issue type
//! and status; a transition not available from the issue's status is refused on its line
//! with the ones that are.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use futures_util::StreamExt as _;
use jira_model::{ApiRequest, ApiResponse, IssueUpdate};
use jira_transport::Transport as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::JiraClient;
use crate::journal::{IDEMPOTENCY_PROPERTY, Journal, JournalError, JournalRecord, WriteState};

/// One change, as a line of the change file names it (`"op"` says which).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Operation {
    /// `PUT /issue/{key}`: field values (`fields`) and update verbs (`update`, such as
    /// `{"labels": [{"add": "x"}]}`).
    Update {
        /// The issue key or id.
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
        issue: String,
        /// The transition's name, the status it leads to, or the transition id.
        to: String,
        /// Fields set by the transition.
        #[serde(default, skip_serializing_if = "Map::is_empty")]
        fields: Map<String, Value>,
    },
    /// Sets (or, with `null`, clears) the assignee.
    Assign {
        /// The issue key or id.
        issue: String,
        /// The assignee's account id; `null` unassigns.
        account_id: Option<String>,
    },
    /// Adds a comment: plain text (converted to ADF paragraphs) or an ADF document.
    Comment {
        /// The issue key or id.
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
            | Operation::Delete { issue, .. } => Some(issue),
            Operation::Link { inward, .. } => Some(inward),
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
            Operation::Delete { .. } => "DELETE",
            _ => "POST",
        }
    }

    /// Requests it takes when nothing goes wrong: reads first (a transition reads the
    /// issue's status, and its transitions once per workflow state), then the write.
    pub fn reads(&self) -> usize {
        match self {
            Operation::Transition { .. } => 1,
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

const OPS: &str = "update, transition, assign, comment, link, label, delete, create";

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

fn parse_line(text: &str) -> Result<Operation, String> {
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
    let op: Operation = serde_json::from_value(value).map_err(|e| e.to_string())?;
    check(&op)?;
    Ok(op)
}

/// An issue key (`PROJ-123`) or id (`10001`).
fn check_issue(issue: &str, what: &str) -> Result<(), String> {
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

fn check(op: &Operation) -> Result<(), String> {
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
        Operation::Create { fields } if !fields.contains_key("project") => {
            Err("create needs fields.project (such as {\"key\": \"PROJ\"})".into())
        }
        Operation::Create { fields } if !fields.contains_key("issuetype") => {
            Err("create needs fields.issuetype (such as {\"name\": \"Task\"})".into())
        }
        _ => Ok(()),
    }
}

/// Lines at least this many making the same change to issues no other line touches go
/// through one asynchronous bulk operation instead of a request each.
pub const BULK_MIN_LINES: usize = 50;

/// Issues one bulk task takes (Jira's limit).
const BULK_MAX_ISSUES: usize = 1_000;

/// Whether `value` for field `id` is something `/bulk/issues/fields` sets (with
/// `is_number` saying which fields are number fields): a priority by id or name, a
/// summary, an ADF description, an assignee (or none), the labels, a number (or none).
fn bulk_editable(id: &str, value: &Value, is_number: &dyn Fn(&str) -> bool) -> bool {
    let only = |key: &str| {
        value
            .as_object()
            .is_some_and(|o| o.len() == 1 && o.get(key).is_some_and(Value::is_string))
    };
    match id {
        "priority" => only("id") || only("name"),
        "summary" => value.as_str().is_some_and(|s| !s.trim().is_empty()),
        "description" => value.get("type").and_then(Value::as_str) == Some("doc"),
        "assignee" => value.is_null() || only("accountId"),
        "labels" => value
            .as_array()
            .is_some_and(|labels| labels.iter().all(Value::is_string)),
        _ => is_number(id) && (value.is_null() || value.is_number()),
    }
}

/// The change a line shares with others in a bulk operation (`None`: it cannot join one).
fn bulk_signature(op: &Operation, is_number: &dyn Fn(&str) -> bool) -> Option<String> {
    match op {
        Operation::Update { fields, update, .. }
            if update.is_empty()
                && !fields.is_empty()
                && fields.iter().all(|(id, v)| bulk_editable(id, v, is_number)) =>
        {
            let mut sorted: Vec<(&String, &Value)> = fields.iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(b.0));
            Some(format!("update {}", json!(sorted)))
        }
        Operation::Assign { account_id, .. } => Some(format!("assign {account_id:?}")),
        Operation::Delete { subtasks, .. } => Some(format!("delete {subtasks}")),
        Operation::Label { add, remove, .. } if add.is_empty() != remove.is_empty() => {
            Some(format!("label {add:?} {remove:?}"))
        }
        Operation::Transition { to, fields, .. } if fields.is_empty() => {
            Some(format!("transition {}", to.to_lowercase()))
        }
        _ => None,
    }
}

/// The bulk groups of `changes`: lines by shared change, each group at least
/// [`BULK_MIN_LINES`] lines on issues no other line touches. Without the site's field
/// catalogue, a custom field given a number is taken for a number field (as `--plan`
/// does); [`JiraClient::apply`] asks the catalogue ([`bulk_groups_with`]).
pub fn bulk_groups(changes: &[Change]) -> Vec<Vec<usize>> {
    bulk_groups_with(changes, &|id| id.starts_with("customfield_"))
}

/// [`bulk_groups`], with `is_number` saying which fields are number fields.
pub fn bulk_groups_with(changes: &[Change], is_number: &dyn Fn(&str) -> bool) -> Vec<Vec<usize>> {
    let mut touches: HashMap<String, usize> = HashMap::new();
    for change in changes {
        let outward = match &change.op {
            Operation::Link { outward, .. } => Some(outward.as_str()),
            _ => None,
        };
        for issue in change.op.issue().into_iter().chain(outward) {
            *touches.entry(issue.to_ascii_uppercase()).or_insert(0) += 1;
        }
    }
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (n, change) in changes.iter().enumerate() {
        if let (Some(issue), Some(signature)) =
            (change.op.issue(), bulk_signature(&change.op, is_number))
            && touches.get(&issue.to_ascii_uppercase()) == Some(&1)
        {
            groups.entry(signature).or_default().push(n);
        }
    }
    groups
        .into_values()
        .filter(|lines| lines.len() >= BULK_MIN_LINES)
        .collect()
}

/// How a line ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Applied now, or by an earlier run (see [`LineResult::earlier`]).
    Done,
    /// Nothing to do: the issue was already so (at the status, already deleted, or the
    /// comment, link or issue an earlier run's lost answer made is there).
    AlreadySo,
    /// Jira refused it (validation, permissions, a transition not available): nothing
    /// was written.
    Refused,
    /// Never sent (interrupted, or refused before Jira acted): run again to send it.
    NotSent,
    /// Sent, and the answer was lost; resolving it failed too. The next run resolves it
    /// before sending anything.
    Unknown,
}

impl Outcome {
    /// How it is written in results (`done`, `already_so`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::AlreadySo => "already_so",
            Outcome::Refused => "refused",
            Outcome::NotSent => "not_sent",
            Outcome::Unknown => "unknown",
        }
    }

    /// Whether the line's change holds on the site.
    pub fn succeeded(self) -> bool {
        matches!(self, Outcome::Done | Outcome::AlreadySo)
    }
}

/// The result of one line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineResult {
    /// The line number.
    pub line: usize,
    /// The operation.
    pub op: String,
    /// The issue it wrote to (a create: the issue it made).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issue: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// Whether an earlier run applied it (nothing was sent now).
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub earlier: bool,
    /// What Jira said, or why it was not sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The whole run: one result per line, in file order, and what it cost.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ApplyReport {
    /// One per line.
    pub results: Vec<LineResult>,
    /// Lines by outcome.
    pub outcomes: BTreeMap<String, usize>,
}

impl ApplyReport {
    fn finish(results: Vec<LineResult>) -> Self {
        let mut outcomes = BTreeMap::new();
        for result in &results {
            *outcomes
                .entry(result.outcome.name().to_owned())
                .or_insert(0) += 1;
        }
        ApplyReport { results, outcomes }
    }

    /// Whether every line's change holds.
    pub fn all_succeeded(&self) -> bool {
        self.results.iter().all(|r| r.outcome.succeeded())
    }
}

/// What a run of a change file would cost at the tenant's limits.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ApplyPlan {
    /// Lines.
    pub lines: usize,
    /// Lines by operation.
    pub operations: BTreeMap<String, usize>,
    /// Writes by method.
    pub writes: BTreeMap<String, usize>,
    /// Reads (status checks, transition lookups).
    pub reads: usize,
    /// Lines sent through asynchronous bulk operations (see [`BULK_MIN_LINES`]), and the
    /// tasks they take (each also polled until done; Jira's pace for them is not
    /// published, so they are not in `seconds`).
    pub bulk_lines: usize,
    /// Bulk tasks.
    pub bulk_tasks: usize,
    /// Distinct issues written to.
    pub issues: usize,
    /// The most writes to one issue.
    pub most_on_one_issue: usize,
    /// The least time the limits allow, in seconds: the slowest of each method's burst
    /// rate and the busiest issue's write windows.
    pub seconds: f64,
    /// What bounds it.
    pub bound_by: String,
}

/// Per-issue write windows of Jira Cloud (RATE-LIMITS.md): 20 writes per 2 s and 100 per
/// 30 s to one issue.
const ISSUE_WINDOWS: [(usize, f64); 2] = [(20, 2.0), (100, 30.0)];

/// The least time `writes` to one issue take inside its windows.
fn issue_seconds(writes: usize) -> f64 {
    ISSUE_WINDOWS
        .iter()
        .map(|(n, secs)| ((writes.saturating_sub(1)) / n) as f64 * secs)
        .fold(0.0, f64::max)
}

/// The cost of `changes` with writes paced at `rate(method)` a second.
pub fn plan(changes: &[Change], rate: &dyn Fn(&str) -> f64) -> ApplyPlan {
    let mut plan = ApplyPlan {
        lines: changes.len(),
        ..ApplyPlan::default()
    };
    let mut per_issue: HashMap<&str, usize> = HashMap::new();
    let bulk = bulk_groups(changes);
    let in_bulk: std::collections::HashSet<usize> = bulk.iter().flatten().copied().collect();
    plan.bulk_lines = in_bulk.len();
    plan.bulk_tasks = bulk.iter().map(|g| g.len().div_ceil(BULK_MAX_ISSUES)).sum();
    for (n, change) in changes.iter().enumerate() {
        *plan
            .operations
            .entry(change.op.name().to_owned())
            .or_insert(0) += 1;
        if in_bulk.contains(&n) {
            continue;
        }
        *plan
            .writes
            .entry(change.op.method().to_owned())
            .or_insert(0) += 1;
        plan.reads += change.op.reads();
        if let Some(issue) = change.op.issue() {
            *per_issue.entry(issue).or_insert(0) += 1;
        }
    }
    plan.issues = per_issue.len();
    plan.most_on_one_issue = per_issue.values().copied().max().unwrap_or(0);
    plan.bound_by = "nothing to write".into();
    for (method, writes) in &plan.writes {
        let seconds = *writes as f64 / rate(method).max(0.001);
        if seconds > plan.seconds {
            plan.seconds = seconds;
            plan.bound_by = format!("{writes} {method}s at {} a second", rate(method));
        }
    }
    let busiest = issue_seconds(plan.most_on_one_issue);
    if busiest > plan.seconds {
        plan.seconds = busiest;
        plan.bound_by = format!(
            "{} writes to one issue inside its windows (20 per 2 s, 100 per 30 s)",
            plan.most_on_one_issue
        );
    }
    plan
}

/// [`plan`] at Atlassian's published burst limits (POST 100, PUT and DELETE 50 a second).
pub fn plan_at_default_limits(changes: &[Change]) -> ApplyPlan {
    let limits = jira_ratelimit::BurstLimits::default();
    plan(changes, &|method| match method {
        "PUT" => limits.put,
        "DELETE" => limits.delete,
        _ => limits.post,
    })
}

/// What a line would change, read from the site (`--dry-run`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DryLine {
    /// The line number.
    pub line: usize,
    /// The operation.
    pub op: String,
    /// The issue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issue: Option<String>,
    /// The change, from what the issue holds now to what the line asks.
    pub change: String,
    /// Whether the line would do anything (false: already so, or it would be refused).
    pub would_write: bool,
}

/// The journal, written by one thread in batches: the records of every task waiting are
/// appended and synced once (a group commit).
#[derive(Clone)]
struct JournalWriter {
    sender: tokio::sync::mpsc::UnboundedSender<Append>,
}

/// Records to append, and where to say they are durable.
type Append = (
    Vec<JournalRecord>,
    tokio::sync::oneshot::Sender<Result<(), String>>,
);

impl JournalWriter {
    fn start(journal: Arc<Mutex<Journal>>) -> Self {
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<Append>();
        tokio::task::spawn_blocking(move || {
            while let Some(first) = receiver.blocking_recv() {
                let mut waiting = vec![first];
                while let Ok(more) = receiver.try_recv() {
                    waiting.push(more);
                }
                let records: Vec<JournalRecord> = waiting
                    .iter()
                    .flat_map(|(records, _)| records.iter().cloned())
                    .collect();
                let result = lock(&journal).append(&records).map_err(|e| e.to_string());
                for (_, reply) in waiting {
                    let _ = reply.send(result.clone());
                }
            }
        });
        JournalWriter { sender }
    }

    /// Appends `records`, durable when this returns `Ok`.
    async fn write(&self, records: Vec<JournalRecord>) -> Result<(), String> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.sender
            .send((records, reply))
            .map_err(|_| "the journal writer stopped".to_owned())?;
        answer
            .await
            .map_err(|_| "the journal writer stopped".to_owned())?
    }
}

fn lock(journal: &Mutex<Journal>) -> std::sync::MutexGuard<'_, Journal> {
    journal
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A line's text as ADF: a document as given, text as paragraphs.
fn comment_adf(body: &Value) -> Value {
    match body {
        Value::String(text) => {
            let paragraphs: Vec<Value> = text
                .split("\n\n")
                .filter(|p| !p.trim().is_empty())
                .map(|p| {
                    let mut content = Vec::new();
                    for (n, line) in p.lines().enumerate() {
                        if n > 0 {
                            content.push(json!({"type": "hardBreak"}));
                        }
                        if !line.is_empty() {
                            content.push(json!({"type": "text", "text": line}));
                        }
                    }
                    json!({"type": "paragraph", "content": content})
                })
                .collect();
            json!({"type": "doc", "version": 1, "content": paragraphs})
        }
        other => other.clone(),
    }
}

/// How one attempt at a write ended.
#[allow(clippy::enum_variant_names)]
enum Sent {
    Done(Option<String>),
    Refused(String),
    NotSent(String),
    Unknown(String),
}

fn answer(result: Result<ApiResponse, jira_transport::Error>) -> Sent {
    match result {
        Ok(response) if response.is_success() => Sent::Done(None),
        Ok(response) if response.is_refusal() => Sent::NotSent(format!(
            "Jira refused it for now (HTTP {}); run again",
            response.status.as_u16()
        )),
        Ok(response) if response.status.is_client_error() => Sent::Refused(jira_message(&response)),
        Ok(response) => Sent::Unknown(format!(
            "HTTP {}: the server may have acted on it",
            response.status.as_u16()
        )),
        Err(error) if error.not_performed() => Sent::NotSent(error.to_string()),
        Err(error) => Sent::Unknown(error.to_string()),
    }
}

/// Jira's own words for a refusal.
fn jira_message(response: &ApiResponse) -> String {
    let summary = response
        .error_collection()
        .map(|errors| errors.summary())
        .filter(|s| !s.is_empty());
    match summary {
        Some(summary) => format!("HTTP {}: {summary}", response.status.as_u16()),
        None => format!("HTTP {}", response.status.as_u16()),
    }
}

/// The workflow state transitions are cached by: (project, issue type, status).
type WorkflowState = (String, String, String);

/// An available transition: its id, its name, the status it leads to.
#[derive(Clone, Debug)]
struct Available {
    id: String,
    name: String,
    to_name: String,
    to_id: String,
}

/// Where an issue stands: its status (name, id) and its workflow state.
struct Standing {
    status: (String, String),
    state: WorkflowState,
}

/// Resolved transitions, shared by the tasks of a run.
#[derive(Default)]
struct Transitions(Mutex<HashMap<WorkflowState, Vec<Available>>>);

impl JiraClient {
    /// Applies `changes` (from [`parse_changes`]) exactly once, however often this runs and
    /// however a run ends (see the module docs); `stop` is asked before each line: once it
    /// says so, lines not started are `NotSent` and those in flight finish. `progress` is
    /// called with each line's result as it ends. One result per line, in file order; an
    /// error only when the journal cannot be written (then nothing more is sent).
    pub async fn apply(
        &self,
        changes: &[Change],
        journal: Arc<Mutex<Journal>>,
        stop: &(dyn Fn() -> bool + Sync),
        progress: &(dyn Fn(&LineResult) + Sync),
    ) -> Result<ApplyReport, JournalError> {
        let ops: Vec<&Operation> = changes.iter().map(|c| &c.op).collect();
        let ids = crate::journal::content_keys("apply", &ops);
        let path = lock(&journal).path().to_owned();
        let writer = JournalWriter::start(journal.clone());
        let transitions = Transitions::default();
        let bulk = self.bulk_groups(changes).await;
        let in_bulk: std::collections::HashSet<usize> = bulk.iter().flatten().copied().collect();
        // Lines by issue, each issue's in file order; creates each on their own.
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut by_issue: HashMap<&str, usize> = HashMap::new();
        for (n, change) in changes.iter().enumerate() {
            if in_bulk.contains(&n) {
                continue;
            }
            match change.op.issue() {
                Some(issue) => {
                    let group = *by_issue.entry(issue).or_insert_with(|| {
                        groups.push(Vec::new());
                        groups.len() - 1
                    });
                    groups[group].push(n);
                }
                None => groups.push(vec![n]),
            }
        }
        let journal_failed = std::sync::atomic::AtomicBool::new(false);
        let bulk_results = async {
            let mut done = Vec::new();
            for group in &bulk {
                match self
                    .apply_bulk(changes, group, &ids, &journal, &writer, &transitions, stop)
                    .await
                {
                    Ok(results) => {
                        for (_, result) in &results {
                            progress(result);
                        }
                        done.extend(results);
                    }
                    Err(_) => {
                        journal_failed.store(true, std::sync::atomic::Ordering::SeqCst);
                        break;
                    }
                }
            }
            done
        };
        let single_results = futures_util::stream::iter(groups)
            .map(|group| {
                let (ids, writer, transitions, journal, journal_failed) =
                    (&ids, &writer, &transitions, &journal, &journal_failed);
                async move {
                    let mut done = Vec::with_capacity(group.len());
                    for n in group {
                        let change = &changes[n];
                        let prior = lock(journal).latest(&ids[n]).cloned();
                        let result = if journal_failed.load(std::sync::atomic::Ordering::SeqCst)
                            || stop()
                        {
                            line_result(
                                change,
                                Outcome::NotSent,
                                Some("interrupted before it was sent; run again".into()),
                            )
                        } else {
                            match self
                                .apply_line(change, &ids[n], prior, writer, transitions)
                                .await
                            {
                                Ok(result) => result,
                                Err(message) => {
                                    journal_failed.store(true, std::sync::atomic::Ordering::SeqCst);
                                    line_result(change, Outcome::NotSent, Some(message))
                                }
                            }
                        };
                        progress(&result);
                        done.push((n, result));
                    }
                    done
                }
            })
            .buffer_unordered(self.batch_config().max_concurrent.max(1))
            .flat_map(futures_util::stream::iter)
            .collect::<Vec<(usize, LineResult)>>();
        let (mut results, singles) = futures_util::future::join(bulk_results, single_results).await;
        results.extend(singles);
        if journal_failed.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(JournalError {
                path,
                source: std::io::Error::other("appending to the journal failed"),
            });
        }
        let mut ordered: Vec<Option<LineResult>> = vec![None; changes.len()];
        for (n, result) in results {
            ordered[n] = Some(result);
        }
        Ok(ApplyReport::finish(
            ordered
                .into_iter()
                .zip(changes)
                .map(|(result, change)| {
                    result.unwrap_or_else(|| line_result(change, Outcome::NotSent, None))
                })
                .collect(),
        ))
    }

    /// The bulk groups of `changes`, the field catalogue read (once) only when a group
    /// would set a custom field, to know it is a number field.
    async fn bulk_groups(&self, changes: &[Change]) -> Vec<Vec<usize>> {
        let guessed = bulk_groups(changes);
        let sets_custom = guessed.iter().any(|group| {
            matches!(&changes[group[0]].op, Operation::Update { fields, .. }
                if fields.keys().any(|id| id.starts_with("customfield_")))
        });
        if !sets_custom {
            return guessed;
        }
        match crate::fields::FieldCatalogue::fetch(self.transport()).await {
            Ok(catalogue) => bulk_groups_with(changes, &|id| catalogue.is_number(id)),
            Err(e) => {
                tracing::warn!(error = %e, "no field catalogue: custom fields are set issue by issue");
                bulk_groups_with(changes, &|_| false)
            }
        }
    }

    /// What a bulk field edit sends for `op` (an update or an assignment shared by a
    /// group): `selectedActions` and `editedFieldsInput`, a priority given by name
    /// resolved to its id. `Err` names the outcome of the group's lines and why.
    async fn bulk_edit(&self, op: &Operation) -> Result<(Vec<String>, Value), (Outcome, String)> {
        let assignee;
        let fields = match op {
            Operation::Update { fields, .. } => fields,
            Operation::Assign { account_id, .. } => {
                let mut fields = Map::new();
                fields.insert(
                    "assignee".into(),
                    account_id
                        .as_ref()
                        .map_or(Value::Null, |id| json!({ "accountId": id })),
                );
                assignee = fields;
                &assignee
            }
            _ => return Err((Outcome::Refused, "not a field edit".into())),
        };
        let mut actions = Vec::new();
        let mut input = Map::new();
        let mut lists: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
        for (id, value) in fields {
            actions.push(id.clone());
            match id.as_str() {
                "priority" => {
                    let priority_id = match value.get("id").and_then(Value::as_str) {
                        Some(priority_id) => priority_id.to_owned(),
                        None => {
                            let name = value["name"].as_str().unwrap_or_default();
                            self.priority_id(name).await?
                        }
                    };
                    input.insert("priority".into(), json!({ "priorityId": priority_id }));
                }
                "summary" => lists
                    .entry("singleLineTextFields")
                    .or_default()
                    .push(json!({ "fieldId": id, "text": value })),
                "description" => lists
                    .entry("richTextFields")
                    .or_default()
                    .push(json!({ "fieldId": id, "richText": { "adfValue": value } })),
                "assignee" => lists
                    .entry("singleSelectClearableUserPickerFields")
                    .or_default()
                    .push(json!({ "fieldId": id, "user": value })),
                "labels" => {
                    let labels: Vec<Value> = value
                        .as_array()
                        .map(Vec::as_slice)
                        .unwrap_or_default()
                        .iter()
                        .map(|l| json!({ "name": l }))
                        .collect();
                    lists.entry("labelsFields").or_default().push(json!({
                        "fieldId": id,
                        "bulkEditMultiSelectFieldOption": "REPLACE",
                        "labels": labels,
                    }));
                }
                _ => lists
                    .entry("clearableNumberFields")
                    .or_default()
                    .push(json!({ "fieldId": id, "value": value })),
            }
        }
        for (kind, items) in lists {
            input.insert(kind.into(), Value::Array(items));
        }
        Ok((actions, Value::Object(input)))
    }

    /// The id of the priority named `name` (any case), from the site's priorities.
    async fn priority_id(&self, name: &str) -> Result<String, (Outcome, String)> {
        let mut names = Vec::new();
        let mut start_at = 0;
        loop {
            let page = self
                .read_json(ApiRequest::priorities(start_at))
                .await
                .map_err(|e| {
                    (
                        Outcome::NotSent,
                        format!("reading the priorities failed: {e}"),
                    )
                })?;
            let values = page["values"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            for priority in values {
                let found = priority["name"].as_str().unwrap_or_default();
                if found.eq_ignore_ascii_case(name) {
                    return Ok(priority["id"].as_str().unwrap_or_default().to_owned());
                }
                names.push(found.to_owned());
            }
            start_at += values.len() as u64;
            if values.is_empty() || page["isLast"].as_bool().unwrap_or(true) {
                break;
            }
        }
        Err((
            Outcome::Refused,
            format!(
                "no priority is named {name:?}; the site has {}",
                names.join(", ")
            ),
        ))
    }

    /// One line: resolved against the journal and the site, then sent (at most three
    /// times when answers are lost and the lookup finds nothing). `Err` only when the
    /// journal cannot be written.
    async fn apply_line(
        &self,
        change: &Change,
        id: &str,
        prior: Option<JournalRecord>,
        writer: &JournalWriter,
        transitions: &Transitions,
    ) -> Result<LineResult, String> {
        let op = &change.op;
        let mut lost = false;
        // The status a transition sent before (and maybe lost) moves the issue to.
        let mut landed = prior.as_ref().and_then(|r| r.target.clone());
        match prior.as_ref().map(|r| r.state) {
            Some(WriteState::Done) => {
                let mut result = line_result(change, Outcome::Done, None);
                result.earlier = true;
                if let Some(key) = prior.and_then(|r| r.key) {
                    result.issue = Some(key);
                }
                return Ok(result);
            }
            Some(WriteState::Intent | WriteState::Unknown) => lost = true,
            _ => {}
        }
        let record = |state: WriteState, message: Option<String>, key: Option<String>| {
            let mut record = JournalRecord::new(id, state, Some(change.line));
            record.message = message;
            record.key = key;
            record
        };
        for attempt in 0..3 {
            // An outcome lost (by an earlier run, or by the attempt before): found on the
            // site before anything is sent again.
            if lost && !op.idempotent() {
                match self.find_applied(op, id).await {
                    Ok(Some(key)) => {
                        writer
                            .write(vec![record(WriteState::Done, None, key.clone())])
                            .await?;
                        let mut result = line_result(change, Outcome::AlreadySo, None);
                        if key.is_some() {
                            result.issue = key;
                        }
                        result.earlier = attempt == 0;
                        return Ok(result);
                    }
                    Ok(None) => {}
                    Err(message) => {
                        return Ok(line_result(
                            change,
                            Outcome::Unknown,
                            Some(format!(
                                "sent before and its answer was lost; looking it up failed ({message}), so it was not sent again"
                            )),
                        ));
                    }
                }
            }
            let request = match self.prepare(op, id, transitions, landed.as_deref()).await {
                Prepared::Send(request, target) => {
                    landed = target.or(landed);
                    request
                }
                Prepared::AlreadySo(message) => {
                    writer
                        .write(vec![record(WriteState::Done, None, None)])
                        .await?;
                    return Ok(line_result(change, Outcome::AlreadySo, Some(message)));
                }
                Prepared::Refused(message) => {
                    writer
                        .write(vec![record(
                            WriteState::Refused,
                            Some(message.clone()),
                            None,
                        )])
                        .await?;
                    return Ok(line_result(change, Outcome::Refused, Some(message)));
                }
                Prepared::Failed(message) => {
                    // A read failed: nothing was written; the state stays as it was.
                    let outcome = if lost {
                        Outcome::Unknown
                    } else {
                        Outcome::NotSent
                    };
                    return Ok(line_result(change, outcome, Some(message)));
                }
            };
            let mut intent = record(WriteState::Intent, None, None);
            intent.target = landed.clone();
            writer.write(vec![intent]).await?;
            let response = self.transport().send(request).await;
            let sent = match (&response, op) {
                (Ok(r), Operation::Delete { .. }) if r.status.as_u16() == 404 && lost => {
                    Sent::Done(None)
                }
                (Ok(r), Operation::Create { .. }) if r.is_success() => Sent::Done(
                    r.json::<Value>()
                        .ok()
                        .and_then(|v| v["key"].as_str().map(str::to_owned)),
                ),
                _ => answer(response),
            };
            match sent {
                Sent::Done(key) => {
                    writer
                        .write(vec![record(WriteState::Done, None, key.clone())])
                        .await?;
                    let mut result = line_result(change, Outcome::Done, None);
                    if key.is_some() {
                        result.issue = key;
                    }
                    return Ok(result);
                }
                Sent::Refused(message) => {
                    writer
                        .write(vec![record(
                            WriteState::Refused,
                            Some(message.clone()),
                            None,
                        )])
                        .await?;
                    return Ok(line_result(change, Outcome::Refused, Some(message)));
                }
                Sent::NotSent(message) => {
                    writer
                        .write(vec![record(
                            WriteState::NotSent,
                            Some(message.clone()),
                            None,
                        )])
                        .await?;
                    return Ok(line_result(change, Outcome::NotSent, Some(message)));
                }
                Sent::Unknown(message) => {
                    writer
                        .write(vec![JournalRecord {
                            target: landed.clone(),
                            ..record(WriteState::Unknown, Some(message.clone()), None)
                        }])
                        .await?;
                    if attempt == 2 {
                        return Ok(line_result(change, Outcome::Unknown, Some(message)));
                    }
                    lost = true;
                }
            }
        }
        Ok(line_result(change, Outcome::Unknown, None))
    }

    /// A read, fresh (below the cache): its JSON body, or what went wrong.
    async fn read_json(&self, request: ApiRequest) -> Result<Value, String> {
        let response = self
            .uncached()
            .send(request)
            .await
            .map_err(|e| e.to_string())?;
        if !response.is_success() {
            return Err(jira_message(&response));
        }
        response.json().map_err(|e| e.to_string())
    }

    /// One bulk group (lines making the same change to issues no other line touches), in
    /// tasks of up to 1,000 issues. `Err` only when the journal cannot be written.
    #[allow(clippy::too_many_arguments)]
    async fn apply_bulk(
        &self,
        changes: &[Change],
        group: &[usize],
        ids: &[String],
        journal: &Arc<Mutex<Journal>>,
        writer: &JournalWriter,
        transitions: &Transitions,
        stop: &(dyn Fn() -> bool + Sync),
    ) -> Result<Vec<(usize, LineResult)>, String> {
        let mut out = Vec::new();
        let mut todo: Vec<(usize, bool)> = Vec::new();
        for &n in group {
            let prior = lock(journal).latest(&ids[n]).cloned();
            match prior.map(|r| r.state) {
                Some(WriteState::Done) => {
                    let mut result = line_result(&changes[n], Outcome::Done, None);
                    result.earlier = true;
                    out.push((n, result));
                }
                Some(WriteState::Intent | WriteState::Unknown) => todo.push((n, true)),
                _ => todo.push((n, false)),
            }
        }
        let record = |n: usize, state: WriteState, message: Option<String>| {
            let mut record = JournalRecord::new(&ids[n], state, Some(changes[n].line));
            record.message = message;
            record
        };
        let edit = match &changes[group[0]].op {
            op @ (Operation::Update { .. } | Operation::Assign { .. }) if !todo.is_empty() => {
                match self.bulk_edit(op).await {
                    Ok(edit) => Some(edit),
                    Err((outcome, message)) => {
                        let state = match outcome {
                            Outcome::Refused => Some(WriteState::Refused),
                            _ => None,
                        };
                        let mut settled = Vec::new();
                        for (n, _) in &todo {
                            if let Some(state) = state {
                                settled.push(record(*n, state, Some(message.clone())));
                            }
                            let message = Some(message.clone());
                            out.push((*n, line_result(&changes[*n], outcome, message)));
                        }
                        writer.write(settled).await?;
                        return Ok(out);
                    }
                }
            }
            _ => None,
        };
        for chunk in todo.chunks(BULK_MAX_ISSUES) {
            if stop() {
                for (n, _) in chunk {
                    let message = Some("interrupted before it was sent; run again".into());
                    out.push((*n, line_result(&changes[*n], Outcome::NotSent, message)));
                }
                continue;
            }
            let keys: Vec<String> = chunk
                .iter()
                .map(|(n, _)| changes[*n].op.issue().unwrap_or_default().to_owned())
                .collect();
            let standings = match self.standings(&keys).await {
                Ok(standings) => standings,
                Err(message) => {
                    for (n, lost) in chunk {
                        let outcome = if *lost {
                            Outcome::Unknown
                        } else {
                            Outcome::NotSent
                        };
                        let message = Some(message.clone());
                        out.push((*n, line_result(&changes[*n], outcome, message)));
                    }
                    continue;
                }
            };
            // What each line sends: its issue's id, under a transition's id.
            let mut send: BTreeMap<Option<Chosen>, Vec<(usize, String)>> = BTreeMap::new();
            let mut settled = Vec::new();
            for (key, (n, lost)) in keys.iter().zip(chunk) {
                let op = &changes[*n].op;
                let Some((issue_id, standing)) = standings.get(&key.to_ascii_uppercase()) else {
                    let deleted = matches!(op, Operation::Delete { .. }) && *lost;
                    let (state, outcome, message) = if deleted {
                        (
                            WriteState::Done,
                            Outcome::AlreadySo,
                            format!("{key} is gone"),
                        )
                    } else {
                        let message = format!("{key} does not exist, or you cannot see it");
                        (WriteState::Refused, Outcome::Refused, message)
                    };
                    settled.push(record(*n, state, Some(message.clone())));
                    out.push((*n, line_result(&changes[*n], outcome, Some(message))));
                    continue;
                };
                let transition = match op {
                    Operation::Transition { to, .. } => {
                        let landed = lock(journal)
                            .latest(&ids[*n])
                            .and_then(|r| r.target.clone());
                        let chosen = self
                            .choose_transition(key, to, standing, transitions, landed.as_deref())
                            .await;
                        match chosen {
                            Ok(chosen) => Some((chosen.id, chosen.to_name)),
                            Err(NoWrite::AlreadySo(message)) => {
                                settled.push(record(*n, WriteState::Done, None));
                                let result =
                                    line_result(&changes[*n], Outcome::AlreadySo, Some(message));
                                out.push((*n, result));
                                continue;
                            }
                            Err(NoWrite::Refused(message)) => {
                                settled.push(record(
                                    *n,
                                    WriteState::Refused,
                                    Some(message.clone()),
                                ));
                                let result =
                                    line_result(&changes[*n], Outcome::Refused, Some(message));
                                out.push((*n, result));
                                continue;
                            }
                            Err(NoWrite::Failed(message)) => {
                                let result =
                                    line_result(&changes[*n], Outcome::NotSent, Some(message));
                                out.push((*n, result));
                                continue;
                            }
                        }
                    }
                    _ => None,
                };
                send.entry(transition)
                    .or_default()
                    .push((*n, issue_id.clone()));
            }
            writer.write(settled).await?;
            for (transition, members) in send {
                let intents = members
                    .iter()
                    .map(|(n, _)| JournalRecord {
                        target: transition.as_ref().map(|(_, to)| to.clone()),
                        ..record(*n, WriteState::Intent, None)
                    })
                    .collect();
                writer.write(intents).await?;
                let issue_ids: Vec<&str> = members.iter().map(|(_, id)| id.as_str()).collect();
                let first = &changes[members[0].0].op;
                let (kind, body) = bulk_body(
                    first,
                    &issue_ids,
                    transition.as_ref().map(|(id, _)| id.as_str()),
                    edit.as_ref(),
                );
                let task = self.bulk_task(kind, &body).await;
                let mut records = Vec::new();
                for (n, issue_id) in &members {
                    let (state, outcome, message) = match &task {
                        Ok(done) if done.processed.contains(issue_id) => {
                            (WriteState::Done, Outcome::Done, None)
                        }
                        Ok(done) => match done.failed.get(issue_id) {
                            Some(message) => {
                                (WriteState::Refused, Outcome::Refused, Some(message.clone()))
                            }
                            None => (
                                WriteState::Unknown,
                                Outcome::Unknown,
                                Some("the bulk task did not report this issue; running again resolves it".into()),
                            ),
                        },
                        Err(Sent::Refused(message)) => {
                            (WriteState::Refused, Outcome::Refused, Some(message.clone()))
                        }
                        Err(Sent::NotSent(message)) => {
                            (WriteState::NotSent, Outcome::NotSent, Some(message.clone()))
                        }
                        Err(Sent::Unknown(message) | Sent::Done(Some(message))) => {
                            (WriteState::Unknown, Outcome::Unknown, Some(message.clone()))
                        }
                        Err(Sent::Done(None)) => (WriteState::Unknown, Outcome::Unknown, None),
                    };
                    records.push(JournalRecord {
                        target: transition.as_ref().map(|(_, to)| to.clone()),
                        ..record(*n, state, message.clone())
                    });
                    out.push((*n, line_result(&changes[*n], outcome, message)));
                }
                writer.write(records).await?;
            }
        }
        Ok(out)
    }

    /// Where each of `keys` stands (by upper-case key: its id and its standing), read by
    /// JQL, 100 keys a search; a key not in the answer does not exist (or is not visible).
    async fn standings(
        &self,
        keys: &[String],
    ) -> Result<HashMap<String, (String, Standing)>, String> {
        let mut found = HashMap::new();
        for chunk in keys.chunks(100) {
            let jql = format!("key in ({})", chunk.join(", "));
            let options = jira_batch::SearchOptions {
                fields: vec!["status".into(), "issuetype".into(), "project".into()],
                page_size: 100,
                prefetch: false,
            };
            let issues: Vec<jira_model::Issue> =
                futures_util::TryStreamExt::try_collect(self.search(&jql, options))
                    .await
                    .map_err(|e| format!("reading the issues' status failed: {e}"))?;
            for issue in issues {
                let text =
                    |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_owned();
                let status = issue.fields.get("status");
                let standing = Standing {
                    status: (
                        text(status.and_then(|s| s.get("name"))),
                        text(status.and_then(|s| s.get("id"))),
                    ),
                    state: (
                        text(issue.fields.get("project").and_then(|p| p.get("id"))),
                        text(issue.fields.get("issuetype").and_then(|t| t.get("id"))),
                        text(status.and_then(|s| s.get("id"))),
                    ),
                };
                found.insert(issue.key.to_ascii_uppercase(), (issue.id.clone(), standing));
            }
        }
        Ok(found)
    }

    /// Submits one bulk task and polls it to its end: the issues it processed and the
    /// ones it could not.
    async fn bulk_task(&self, kind: &str, body: &Value) -> Result<BulkDone, Sent> {
        let request =
            ApiRequest::bulk_operation(kind, body).map_err(|e| Sent::Refused(e.to_string()))?;
        let no_task = || Sent::Unknown("the bulk operation's answer names no task".into());
        let task_id = match self.transport().send(request).await {
            Ok(response) if response.is_success() => response
                .json::<Value>()
                .ok()
                .and_then(|v| v["taskId"].as_str().map(str::to_owned))
                .ok_or_else(no_task)?,
            other => {
                return Err(match answer(other) {
                    Sent::Done(_) => no_task(),
                    sent => sent,
                });
            }
        };
        let mut wait = std::time::Duration::from_millis(200);
        loop {
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(std::time::Duration::from_secs(2));
            let progress = self
                .read_json(ApiRequest::bulk_progress(&task_id))
                .await
                .map_err(|e| Sent::Unknown(format!("polling bulk task {task_id} failed: {e}")))?;
            match progress["status"].as_str().unwrap_or_default() {
                "COMPLETE" => return Ok(BulkDone::read(&progress)),
                "ENQUEUED" | "RUNNING" => {}
                other => {
                    return Err(Sent::Unknown(format!(
                        "bulk task {task_id} ended {other}; running again resolves its issues"
                    )));
                }
            }
        }
    }

    /// Whether a non-idempotent write an earlier attempt sent took effect: `Some(key)`
    /// (a create's key, else `None`) when it did.
    async fn find_applied(
        &self,
        op: &Operation,
        id: &str,
    ) -> Result<Option<Option<String>>, String> {
        match op {
            Operation::Comment { issue, .. } => {
                let mut start = 0u64;
                loop {
                    let page = self
                        .read_json(ApiRequest::comments_with_properties(issue, start, 100))
                        .await?;
                    let comments = page["comments"].as_array().cloned().unwrap_or_default();
                    let found = comments.iter().any(|comment| {
                        comment["properties"].as_array().is_some_and(|properties| {
                            properties.iter().any(|p| {
                                p["key"] == IDEMPOTENCY_PROPERTY && p["value"]["key"] == id
                            })
                        })
                    });
                    if found {
                        return Ok(Some(None));
                    }
                    let total = page["total"].as_u64().unwrap_or(0);
                    start += comments.len() as u64;
                    if comments.is_empty() || start >= total {
                        return Ok(None);
                    }
                }
            }
            Operation::Link {
                link_type,
                inward,
                outward,
            } => {
                let issue = self
                    .read_json(ApiRequest::get_issue(inward, &["issuelinks"], &[]))
                    .await?;
                let links = issue["fields"]["issuelinks"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                // Seen from the inward issue, the link names the other as outward.
                let found = links.iter().any(|link| {
                    link["type"]["name"]
                        .as_str()
                        .is_some_and(|t| t.eq_ignore_ascii_case(link_type))
                        && link["outwardIssue"]["key"]
                            .as_str()
                            .is_some_and(|k| k.eq_ignore_ascii_case(outward))
                });
                Ok(found.then_some(None))
            }
            Operation::Create { .. } => {
                let found = self.find_by_idempotency(&[id]).await?;
                Ok(found.into_iter().next().map(|(_, issue)| Some(issue.key)))
            }
            // A transition and a delete are checked against the issue itself (prepare).
            _ => Ok(None),
        }
    }

    /// The request a line sends, after the reads it needs.
    async fn prepare(
        &self,
        op: &Operation,
        id: &str,
        transitions: &Transitions,
        landed: Option<&str>,
    ) -> Prepared {
        let built = match op {
            Operation::Update {
                issue,
                fields,
                update,
            } => ApiRequest::update_issue(
                issue,
                &IssueUpdate {
                    fields: fields.clone(),
                    update: update.clone(),
                    properties: Vec::new(),
                },
            ),
            Operation::Label { issue, add, remove } => {
                let verbs: Vec<Value> = add
                    .iter()
                    .map(|l| json!({ "add": l }))
                    .chain(remove.iter().map(|l| json!({ "remove": l })))
                    .collect();
                let mut update = Map::new();
                update.insert("labels".into(), Value::Array(verbs));
                ApiRequest::update_issue(
                    issue,
                    &IssueUpdate {
                        fields: Map::new(),
                        update,
                        properties: Vec::new(),
                    },
                )
            }
            Operation::Assign { issue, account_id } => {
                ApiRequest::assign(issue, account_id.as_deref())
            }
            Operation::Delete { issue, subtasks } => {
                Ok(ApiRequest::delete_issue_with_subtasks(issue, *subtasks))
            }
            Operation::Comment { issue, body } => ApiRequest::add_comment_body(
                issue,
                &json!({
                    "body": comment_adf(body),
                    "properties": [{ "key": IDEMPOTENCY_PROPERTY, "value": { "key": id } }],
                }),
            ),
            Operation::Link {
                link_type,
                inward,
                outward,
            } => ApiRequest::link_issues(link_type, inward, outward),
            Operation::Create { fields } => ApiRequest::create_issue(&IssueUpdate {
                fields: fields.clone(),
                update: Map::new(),
                properties: vec![jira_model::EntityProperty {
                    key: IDEMPOTENCY_PROPERTY.into(),
                    value: json!({ "key": id }),
                }],
            }),
            Operation::Transition { issue, to, fields } => {
                return self
                    .prepare_transition(issue, to, fields, transitions, landed)
                    .await;
            }
        };
        match built {
            Ok(request) => Prepared::Send(request, None),
            Err(error) => Prepared::Refused(error.to_string()),
        }
    }

    async fn prepare_transition(
        &self,
        issue: &str,
        to: &str,
        fields: &Map<String, Value>,
        transitions: &Transitions,
        landed: Option<&str>,
    ) -> Prepared {
        let standing = match self.standing(issue).await {
            Ok(standing) => standing,
            Err(prepared) => return prepared,
        };
        let chosen = match self
            .choose_transition(issue, to, &standing, transitions, landed)
            .await
        {
            Ok(chosen) => chosen,
            Err(no_write) => return no_write.into(),
        };
        let mut body = json!({ "transition": { "id": chosen.id } });
        if !fields.is_empty() {
            body["fields"] = Value::Object(fields.clone());
        }
        match ApiRequest::transition(issue, &body) {
            Ok(request) => Prepared::Send(request, Some(chosen.to_name)),
            Err(error) => Prepared::Refused(error.to_string()),
        }
    }

    /// The transition that moves `issue`, standing as it does, `to`; else `AlreadySo`
    /// (it is in that status, or in the status `landed`, where a transition sent before
    /// and whose answer was lost moved it), `Refused` naming what is available, or
    /// `Failed` (a read failed).
    async fn choose_transition(
        &self,
        issue: &str,
        to: &str,
        standing: &Standing,
        transitions: &Transitions,
        landed: Option<&str>,
    ) -> Result<Available, NoWrite> {
        let (status_name, status_id) = &standing.status;
        if status_name.eq_ignore_ascii_case(to)
            || status_id == to
            || landed.is_some_and(|t| t.eq_ignore_ascii_case(status_name))
        {
            return Err(NoWrite::AlreadySo(format!(
                "{issue} is already in {status_name}"
            )));
        }
        let cached = lock_transitions(transitions).get(&standing.state).cloned();
        let available = match cached {
            Some(available) => available,
            None => match self.available_transitions(issue).await {
                Ok(available) => {
                    lock_transitions(transitions).insert(standing.state.clone(), available.clone());
                    available
                }
                Err(failed) => return Err(failed),
            },
        };
        let Some(chosen) = pick(&available, to) else {
            let names: Vec<String> = available
                .iter()
                .map(|t| format!("{} (to {})", t.name, t.to_name))
                .collect();
            return Err(NoWrite::Refused(format!(
                "no transition {to:?} from {status_name}; available: {}",
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            )));
        };
        Ok(chosen.clone())
    }

    /// The issue's status and workflow state, read fresh.
    async fn standing(&self, issue: &str) -> Result<Standing, Prepared> {
        let response = self
            .uncached()
            .send(ApiRequest::get_issue(
                issue,
                &["status", "issuetype", "project"],
                &[],
            ))
            .await
            .map_err(|e| Prepared::Failed(format!("reading {issue}'s status failed: {e}")))?;
        if response.status.is_client_error() && !response.is_refusal() {
            return Err(Prepared::Refused(jira_message(&response)));
        }
        if !response.is_success() {
            return Err(Prepared::Failed(format!(
                "reading {issue}'s status failed: HTTP {}",
                response.status.as_u16()
            )));
        }
        let value: Value = response
            .json()
            .map_err(|e| Prepared::Failed(format!("{issue}'s status does not read: {e}")))?;
        let fields = &value["fields"];
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        Ok(Standing {
            status: (
                text(&fields["status"]["name"]),
                text(&fields["status"]["id"]),
            ),
            state: (
                text(&fields["project"]["id"]),
                text(&fields["issuetype"]["id"]),
                text(&fields["status"]["id"]),
            ),
        })
    }

    async fn available_transitions(&self, issue: &str) -> Result<Vec<Available>, NoWrite> {
        let value = self
            .read_json(ApiRequest::transitions(issue))
            .await
            .map_err(|e| NoWrite::Failed(format!("reading {issue}'s transitions failed: {e}")))?;
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        Ok(value["transitions"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|t| Available {
                id: text(&t["id"]),
                name: text(&t["name"]),
                to_name: text(&t["to"]["name"]),
                to_id: text(&t["to"]["id"]),
            })
            .collect())
    }

    /// What each line would change, read from the site; nothing is written.
    pub async fn apply_dry_run(&self, changes: &[Change]) -> Vec<DryLine> {
        let transitions = Transitions::default();
        futures_util::stream::iter(changes)
            .map(|change| {
                let transitions = &transitions;
                async move { self.dry_line(change, transitions).await }
            })
            .buffered(self.batch_config().max_concurrent.max(1))
            .collect()
            .await
    }

    async fn dry_line(&self, change: &Change, transitions: &Transitions) -> DryLine {
        let op = &change.op;
        let dry = |change_text: String, would_write: bool| DryLine {
            line: change.line,
            op: op.name().into(),
            issue: op.issue().map(str::to_owned),
            change: change_text,
            would_write,
        };
        let current = |issue: &str, fields: Vec<String>| {
            let issue = issue.to_owned();
            async move {
                let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
                self.read_json(ApiRequest::get_issue(&issue, &refs, &[]))
                    .await
                    .map(|v| v["fields"].clone())
            }
        };
        let show = |v: &Value| match v {
            Value::Null => "(none)".to_owned(),
            Value::String(s) => format!("{s:?}"),
            Value::Object(o) => o
                .get("name")
                .or_else(|| o.get("displayName"))
                .or_else(|| o.get("value"))
                .or_else(|| o.get("key"))
                .map_or_else(
                    || v.to_string(),
                    |n| n.as_str().map_or(n.to_string(), str::to_owned),
                ),
            other => other.to_string(),
        };
        match op {
            Operation::Update {
                issue,
                fields,
                update,
            } => {
                let names: Vec<String> = fields.keys().chain(update.keys()).cloned().collect();
                match current(issue, names).await {
                    Err(message) => dry(format!("would be refused: {message}"), false),
                    Ok(now) => {
                        let mut parts = Vec::new();
                        let mut changes = false;
                        for (field, value) in fields {
                            let before = &now[field];
                            let same = before == value
                                || (value.is_object()
                                    && value
                                        .as_object()
                                        .is_some_and(|o| o.iter().all(|(k, v)| &before[k] == v)));
                            changes |= !same;
                            parts.push(format!(
                                "{field}: {} → {}{}",
                                show(before),
                                show(value),
                                if same { " (already so)" } else { "" }
                            ));
                        }
                        for (field, verbs) in update {
                            changes = true;
                            parts.push(format!("{field}: {} then {verbs}", show(&now[field])));
                        }
                        dry(parts.join("; "), changes)
                    }
                }
            }
            Operation::Label { issue, add, remove } => {
                match current(issue, vec!["labels".into()]).await {
                    Err(message) => dry(format!("would be refused: {message}"), false),
                    Ok(now) => {
                        let labels: Vec<String> = now["labels"]
                            .as_array()
                            .map(Vec::as_slice)
                            .unwrap_or_default()
                            .iter()
                            .filter_map(|l| l.as_str().map(str::to_owned))
                            .collect();
                        let mut after = labels.clone();
                        for label in add {
                            if !after.contains(label) {
                                after.push(label.clone());
                            }
                        }
                        after.retain(|l| !remove.contains(l));
                        dry(format!("labels: {labels:?} → {after:?}"), after != labels)
                    }
                }
            }
            Operation::Assign { issue, account_id } => {
                match current(issue, vec!["assignee".into()]).await {
                    Err(message) => dry(format!("would be refused: {message}"), false),
                    Ok(now) => {
                        let before = now["assignee"]["accountId"].as_str().map(str::to_owned);
                        dry(
                            format!(
                                "assignee: {} → {}",
                                before.as_deref().unwrap_or("(none)"),
                                account_id.as_deref().unwrap_or("(none)")
                            ),
                            before != *account_id,
                        )
                    }
                }
            }
            Operation::Transition { issue, to, fields } => {
                match self
                    .prepare_transition(issue, to, fields, transitions, None)
                    .await
                {
                    Prepared::Send(..) => {
                        let from = self
                            .standing(issue)
                            .await
                            .map(|s| s.status.0)
                            .unwrap_or_default();
                        dry(format!("status: {from} → {to}"), true)
                    }
                    Prepared::AlreadySo(message) => dry(message, false),
                    Prepared::Refused(message) | Prepared::Failed(message) => {
                        dry(format!("would be refused: {message}"), false)
                    }
                }
            }
            Operation::Comment { issue, body } => {
                let text = jira_model::adf::to_text(&comment_adf(body));
                dry(
                    format!(
                        "adds a comment to {issue} ({} characters)",
                        text.chars().count()
                    ),
                    true,
                )
            }
            Operation::Link {
                link_type,
                inward,
                outward,
            } => dry(format!("links {inward} and {outward} ({link_type})"), true),
            Operation::Delete { issue, subtasks } => {
                match current(issue, vec!["summary".into()]).await {
                    Err(message) => dry(format!("nothing to delete: {message}"), false),
                    Ok(now) => dry(
                        format!(
                            "deletes {issue} ({}){}",
                            show(&now["summary"]),
                            if *subtasks { " with its subtasks" } else { "" }
                        ),
                        true,
                    ),
                }
            }
            Operation::Create { fields } => dry(
                format!(
                    "creates an issue in {} ({})",
                    show(&fields["project"]),
                    show(fields.get("summary").unwrap_or(&Value::Null))
                ),
                true,
            ),
        }
    }
}

/// The transition `to` names among `available`: by its name, the status it leads to, or
/// its id.
fn pick<'a>(available: &'a [Available], to: &str) -> Option<&'a Available> {
    available
        .iter()
        .find(|t| t.name.eq_ignore_ascii_case(to))
        .or_else(|| {
            available
                .iter()
                .find(|t| t.to_name.eq_ignore_ascii_case(to))
        })
        .or_else(|| available.iter().find(|t| t.id == to || t.to_id == to))
}

/// A bulk task's results: issue ids processed, and failed ones with Jira's messages.
struct BulkDone {
    processed: std::collections::HashSet<String>,
    failed: HashMap<String, String>,
}

impl BulkDone {
    /// From a complete task's progress (`BulkOperationProgress`).
    fn read(progress: &Value) -> Self {
        let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
        let processed = progress["processedAccessibleIssues"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(text)
            .collect();
        let failed = progress["failedAccessibleIssues"]
            .as_object()
            .map(|failed| {
                failed
                    .iter()
                    .map(|(id, errors)| {
                        let messages: Vec<String> = errors
                            .as_array()
                            .map(Vec::as_slice)
                            .unwrap_or_default()
                            .iter()
                            .map(text)
                            .collect();
                        (id.clone(), messages.join("; "))
                    })
                    .collect()
            })
            .unwrap_or_default();
        BulkDone { processed, failed }
    }
}

/// The bulk endpoint (`fields`, `transition`, `delete`) and body for `op` on `issue_ids`
/// (`edit`: the actions and fields of an update or assignment, from `bulk_edit`).
fn bulk_body(
    op: &Operation,
    issue_ids: &[&str],
    transition: Option<&str>,
    edit: Option<&(Vec<String>, Value)>,
) -> (&'static str, Value) {
    if let Some((actions, input)) = edit {
        return (
            "fields",
            json!({
                "selectedIssueIdsOrKeys": issue_ids,
                "selectedActions": actions,
                "editedFieldsInput": input,
                "sendBulkNotification": false,
            }),
        );
    }
    match op {
        Operation::Label { add, remove, .. } => {
            let (option, labels) = if add.is_empty() {
                ("REMOVE", remove)
            } else {
                ("ADD", add)
            };
            let labels: Vec<Value> = labels.iter().map(|l| json!({ "name": l })).collect();
            (
                "fields",
                json!({
                    "selectedIssueIdsOrKeys": issue_ids,
                    "selectedActions": ["labels"],
                    "editedFieldsInput": {
                        "labelsFields": [{
                            "fieldId": "labels",
                            "bulkEditMultiSelectFieldOption": option,
                            "labels": labels,
                        }],
                    },
                    "sendBulkNotification": false,
                }),
            )
        }
        Operation::Transition { .. } => (
            "transition",
            json!({
                "bulkTransitionInputs": [{
                    "selectedIssueIdsOrKeys": issue_ids,
                    "transitionId": transition.unwrap_or_default(),
                }],
                "sendBulkNotification": false,
            }),
        ),
        _ => (
            "delete",
            json!({ "selectedIssueIdsOrKeys": issue_ids, "sendBulkNotification": false }),
        ),
    }
}

/// A transition chosen for a bulk task: its id and the status it leads to.
type Chosen = (String, String);

/// Why a line sends nothing.
enum NoWrite {
    AlreadySo(String),
    Refused(String),
    /// A read it needs failed.
    Failed(String),
}

impl From<NoWrite> for Prepared {
    fn from(no_write: NoWrite) -> Self {
        match no_write {
            NoWrite::AlreadySo(message) => Prepared::AlreadySo(message),
            NoWrite::Refused(message) => Prepared::Refused(message),
            NoWrite::Failed(message) => Prepared::Failed(message),
        }
    }
}

/// What a line will send, or why it sends nothing.
enum Prepared {
    /// The request, and for a transition the status it leads to.
    Send(ApiRequest, Option<String>),
    AlreadySo(String),
    Refused(String),
    /// A read it needs failed: nothing was sent.
    Failed(String),
}

fn lock_transitions(
    transitions: &Transitions,
) -> std::sync::MutexGuard<'_, HashMap<WorkflowState, Vec<Available>>> {
    transitions
        .0
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn line_result(change: &Change, outcome: Outcome, message: Option<String>) -> LineResult {
    LineResult {
        line: change.line,
        op: change.op.name().into(),
        issue: change.op.issue().map(str::to_owned),
        outcome,
        earlier: false,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bad_line_is_named_with_its_fix() {
        let text = r#"{"op":"update","issue":"APO-1","fields":{"summary":"x"}}
# a comment line
not json
{"op":"frobnicate","issue":"APO-1"}
{"op":"transition","issue":"apo 1","to":"Done"}
{"op":"label","issue":"APO-2"}
{"op":"comment","issue":"APO-2","body":""}
{"op":"update","issue":"APO-3","fields":{"summary":"y"},"extra":1}

{"op":"create","fields":{"project":{"key":"APO"}}}"#;
        let errors = parse_changes(text).unwrap_err();
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 4, 5, 6, 7, 8, 10]);
        assert!(errors[0].message.contains("not JSON"));
        assert!(errors[1].message.contains("unknown op \"frobnicate\""));
        assert!(errors[2].message.contains("not an issue key"));
        assert!(errors[3].message.contains("give \"add\" or \"remove\""));
        assert!(errors[4].message.contains("comment \"body\""));
        assert!(errors[5].message.contains("extra"), "{}", errors[5].message);
        assert!(errors[6].message.contains("issuetype"));
    }

    #[test]
    fn good_lines_parse_with_their_numbers() {
        let text = "{\"op\":\"transition\",\"issue\":\"APO-1\",\"to\":\"Done\",\"fields\":{\"resolution\":{\"name\":\"Done\"}}}\n\n{\"op\":\"link\",\"type\":\"Blocks\",\"inward\":\"APO-1\",\"outward\":\"BEA-2\"}\n{\"op\":\"assign\",\"issue\":\"10001\",\"account_id\":null}";
        let changes = parse_changes(text).unwrap();
        assert_eq!(
            changes.iter().map(|c| c.line).collect::<Vec<_>>(),
            vec![1, 3, 4]
        );
        assert_eq!(changes[1].op.issue(), Some("APO-1"));
        assert!(changes[2].op.idempotent());
        assert!(!changes[1].op.idempotent());
    }

    #[test]
    fn the_plan_is_bound_by_the_slowest_method_or_the_busiest_issue() {
        let line = |n: usize, op: Operation| Change { line: n, op };
        let mut changes: Vec<Change> = (0..100)
            .map(|n| {
                line(
                    n,
                    Operation::Update {
                        issue: format!("APO-{n}"),
                        fields: Map::from_iter([("summary".to_owned(), json!(format!("x{n}")))]),
                        update: Map::new(),
                    },
                )
            })
            .collect();
        let rate = |method: &str| if method == "PUT" { 50.0 } else { 100.0 };
        // The same summary on 100 issues is one bulk edit; different ones a PUT each.
        let mut same = changes.clone();
        for change in &mut same {
            if let Operation::Update { fields, .. } = &mut change.op {
                fields.insert("summary".into(), json!("x"));
            }
        }
        let bulk = plan(&same, &rate);
        assert_eq!((bulk.bulk_lines, bulk.bulk_tasks), (100, 1), "{bulk:?}");
        assert!(bulk.writes.is_empty(), "{bulk:?}");
        let spread = plan(&changes, &rate);
        assert_eq!(spread.writes["PUT"], 100);
        assert!((spread.seconds - 2.0).abs() < 1e-9, "{spread:?}");
        for n in 0..250 {
            changes.push(line(
                n,
                Operation::Comment {
                    issue: "APO-1".into(),
                    body: json!("hi"),
                },
            ));
        }
        let busy = plan(&changes, &rate);
        assert_eq!(busy.most_on_one_issue, 251);
        // 251 writes: two full windows of 100 per 30 s behind them.
        assert!((busy.seconds - 60.0).abs() < 1e-9, "{busy:?}");
        assert!(busy.bound_by.contains("one issue"));
    }

    #[test]
    fn plain_text_comments_become_adf_paragraphs() {
        let adf = comment_adf(&json!("first line\nsecond\n\nnext paragraph"));
        assert!(jira_model::adf::is_adf(&adf));
        assert_eq!(adf["content"].as_array().unwrap().len(), 2);
        // The text view shows a line break as a space and a paragraph per line.
        assert_eq!(
            jira_model::adf::to_text(&adf).trim(),
            "first line second\nnext paragraph"
        );
    }
}
