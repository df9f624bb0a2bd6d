//! Reverting a run: the change lines that put back what its lines changed, from the undo
//! each line's journal record carries ([`crate::undo`]).
//!
//! The revert of a run is an apply like any other (a plan, a dry run, exactly once,
//! resumable): [`crate::revert_plan`] only says what to write. Lines are undone in
//! reverse file order: a field line sets each field back to its value before the line
//! (an assignee by [`Operation::Assign`], a status by a transition to the status it
//! left), and with `delete_created` the comments, links and issues the run made are
//! deleted. Before that, the fields the run changed are read as they stand now: a field
//! that holds neither what the run left nor what it found (another hand changed it
//! since) is reported and left alone unless `force`; one that already holds what the run
//! found needs nothing. A `delete` line cannot be undone and is reported.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::Writes;
use crate::change::{Change, Operation};
use crate::journal::{JournalRecord, WriteState};
use crate::undo::{Undo, holds, writable};

/// What reverting a run will do.
#[derive(Clone, Debug, Default)]
pub struct RevertPlan {
    /// The lines to apply, in the order to apply them (their `line` numbers the
    /// original lines they undo).
    pub changes: Vec<Change>,
    /// The run's lines left as they are, and why.
    pub left: Vec<Left>,
}

/// A line of the reverted run that the revert leaves as it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Left {
    /// The original line.
    pub line: usize,
    /// The issue it wrote to, when it names one.
    pub issue: Option<String>,
    /// Why it is left (and what to do about it).
    pub reason: String,
    /// Whether it is left because another hand changed what it set since the run.
    pub changed_since: bool,
}

impl Writes<'_> {
    /// The changes that revert the run whose lines are `lines` (the latest record of
    /// each, [`crate::runs::lines`]).
    pub(crate) async fn revert_changes(
        &self,
        lines: &[JournalRecord],
        delete_created: bool,
        force: bool,
    ) -> Result<RevertPlan, String> {
        let mut done: Vec<&JournalRecord> = lines
            .iter()
            .filter(|r| r.state == WriteState::Done)
            .collect();
        done.sort_by_key(|r| r.line.unwrap_or(0));
        let mut plan = RevertPlan::default();
        // The field lines with their before and after, statuses chained: a transition's
        // status before is where the transition before it on the issue landed.
        let mut fields: Vec<FieldLine> = Vec::new();
        let mut landed: HashMap<String, String> = HashMap::new();
        for record in &done {
            let line = record.line.unwrap_or(0);
            match &record.undo {
                Some(Undo::Fields {
                    issue,
                    before,
                    after,
                }) => {
                    let upper = issue.to_ascii_uppercase();
                    let (mut before, mut after) = (before.clone(), after.clone());
                    if after.contains_key("status") {
                        if let Some(from) = landed.get(&upper) {
                            before.insert("status".into(), Value::String(from.clone()));
                        }
                        if let Some(target) = &record.target {
                            after.insert("status".into(), Value::String(target.clone()));
                            landed.insert(upper, target.clone());
                        }
                    }
                    fields.push((line, issue.clone(), before, after));
                }
                Some(Undo::Comment { issue, id }) => {
                    created(&mut plan, delete_created, line, issue, "comment", || {
                        Operation::DeleteComment {
                            issue: issue.clone(),
                            id: id.clone(),
                        }
                    });
                }
                Some(Undo::Link {
                    link_type,
                    inward,
                    outward,
                }) => {
                    created(&mut plan, delete_created, line, inward, "link", || {
                        Operation::Unlink {
                            link_type: link_type.clone(),
                            inward: inward.clone(),
                            outward: outward.clone(),
                        }
                    });
                }
                Some(Undo::Created { key }) => {
                    created(&mut plan, delete_created, line, key, "issue", || {
                        Operation::Delete {
                            issue: key.clone(),
                            subtasks: false,
                        }
                    });
                }
                None => match &record.key {
                    // A create journaled before undos were kept: its key is its undo.
                    Some(key) => created(&mut plan, delete_created, line, key, "issue", || {
                        Operation::Delete {
                            issue: key.clone(),
                            subtasks: false,
                        }
                    }),
                    None => plan.left.push(Left {
                        line,
                        issue: None,
                        changed_since: false,
                        reason: "the journal holds no record of what it changed (a delete cannot be undone; a line written before jira-ops kept undos cannot be reverted)".into(),
                    }),
                },
            }
        }
        // What the run left on each issue, field by field, and what it found there.
        let mut first_before: HashMap<(String, String), Value> = HashMap::new();
        let mut last_after: HashMap<(String, String), Value> = HashMap::new();
        for (_, issue, before, after) in &fields {
            let upper = issue.to_ascii_uppercase();
            for (field, value) in before {
                first_before
                    .entry((upper.clone(), field.clone()))
                    .or_insert_with(|| value.clone());
            }
            for (field, value) in after {
                last_after.insert((upper.clone(), field.clone()), value.clone());
            }
        }
        let issues: Vec<String> = {
            let mut issues: Vec<String> = fields.iter().map(|(_, i, _, _)| i.clone()).collect();
            issues.sort();
            issues.dedup();
            issues
        };
        let mut names: Vec<String> = last_after.keys().map(|(_, f)| f.clone()).collect();
        names.sort();
        names.dedup();
        let now = if issues.is_empty() {
            HashMap::new()
        } else {
            self.read_fields(&issues, &names).await?
        };
        // Per (issue, field): revert it, leave it (already back), or report another hand.
        let mut verdicts: HashMap<(String, String), Verdict> = HashMap::new();
        for (key, left_by_run) in &last_after {
            let current = now.get(&key.0).and_then(|s| s.get(&key.1));
            let Some(current) = current else {
                verdicts.insert(key.clone(), Verdict::Gone);
                continue;
            };
            let found = first_before.get(key).unwrap_or(&Value::Null);
            let verdict = if holds(current, found) {
                Verdict::AlreadyBack
            } else if force || holds(current, left_by_run) {
                Verdict::Revert
            } else {
                Verdict::Changed(show(current))
            };
            verdicts.insert(key.clone(), verdict);
        }
        let mut reverting: Vec<Change> = Vec::new();
        for (line, issue, before, _) in fields.iter().rev() {
            let upper = issue.to_ascii_uppercase();
            let mut set = Map::new();
            let mut ops = Vec::new();
            let mut reasons: Vec<(String, bool)> = Vec::new();
            for (field, value) in before {
                match &verdicts[&(upper.clone(), field.clone())] {
                    Verdict::Revert => {}
                    Verdict::AlreadyBack => continue,
                    Verdict::Gone => {
                        reasons.push((format!("{issue} is gone from the site"), false));
                        continue;
                    }
                    Verdict::Changed(now) => {
                        reasons.push((
                            format!(
                                "{field} of {issue} was changed since the run (it is {now} now): left as it is; --force sets it back anyway"
                            ),
                            true,
                        ));
                        continue;
                    }
                }
                match field.as_str() {
                    "status" => ops.push(Operation::Transition {
                        issue: issue.clone(),
                        to: value.as_str().unwrap_or_default().to_owned(),
                        fields: Map::new(),
                        walk: true,
                    }),
                    "assignee" => ops.push(Operation::Assign {
                        issue: issue.clone(),
                        account_id: value["accountId"].as_str().map(str::to_owned),
                    }),
                    "labels" if value.is_null() => {
                        set.insert(field.clone(), Value::Array(Vec::new()));
                    }
                    _ => {
                        set.insert(field.clone(), writable(value));
                    }
                }
            }
            // Back to the status first, then the fields (the status's screens allow them).
            if !set.is_empty() {
                ops.push(Operation::Update {
                    issue: issue.clone(),
                    fields: set,
                    update: Map::new(),
                });
            }
            reverting.extend(ops.into_iter().map(|op| Change { line: *line, op }));
            plan.left
                .extend(reasons.into_iter().map(|(reason, changed_since)| Left {
                    line: *line,
                    issue: Some(issue.clone()),
                    reason,
                    changed_since,
                }));
        }
        // Every line undone from the last back (a line's own changes in the order made).
        plan.changes.extend(reverting);
        plan.changes
            .sort_by_key(|change| std::cmp::Reverse(change.line));
        plan.left.sort_by_key(|l| l.line);
        Ok(plan)
    }
}

/// A field line of the run: its line, its issue, the values before it and after it.
type FieldLine = (usize, String, Map<String, Value>, Map<String, Value>);

/// What becomes of one field the run changed on one issue.
enum Verdict {
    /// It holds what the run left: set it back.
    Revert,
    /// It already holds what the run found.
    AlreadyBack,
    /// Another hand changed it since (its value now).
    Changed(String),
    /// The issue is not on the site any more.
    Gone,
}

/// Something the run made: deleted with `delete_created`, else reported.
fn created(
    plan: &mut RevertPlan,
    delete_created: bool,
    line: usize,
    issue: &str,
    what: &str,
    op: impl FnOnce() -> Operation,
) {
    if delete_created {
        plan.changes.push(Change { line, op: op() });
    } else {
        plan.left.push(Left {
            line,
            issue: Some(issue.to_owned()),
            reason: format!("the {what} it made is kept; --delete-created deletes it"),
            changed_since: false,
        });
    }
}

/// A value in a few words.
fn show(value: &Value) -> String {
    match value {
        Value::Null => "empty".into(),
        Value::String(s) => format!("{s:?}"),
        Value::Object(o) => o
            .get("name")
            .or_else(|| o.get("displayName"))
            .or_else(|| o.get("value"))
            .or_else(|| o.get("accountId"))
            .map_or_else(|| value.to_string(), |v| v.to_string()),
        other => other.to_string(),
    }
}
