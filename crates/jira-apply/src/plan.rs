//! The least time a change file takes at the limits (`apply --plan`).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::bulk::bulk_groups;
use crate::change::Change;

/// What a run of a change file would cost at the tenant's limits.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ApplyPlan {
    /// Lines.
    pub lines: usize,
    /// Lines by operation.
    pub operations: BTreeMap<String, usize>,
    /// Writes by method.
    pub writes: BTreeMap<String, usize>,
    /// Reads (status checks, transition lookups, and the bulk fetches that keep the
    /// values field lines change, for a revert).
    pub reads: usize,
    /// Lines sent through asynchronous bulk operations (see [`crate::BULK_MIN_LINES`]), and the
    /// tasks they take (each also polled until done; Jira's pace for them is not
    /// published, so they are not in `seconds`).
    pub bulk_lines: usize,
    /// Bulk tasks.
    pub bulk_tasks: usize,
    /// Distinct issues written to.
    pub issues: usize,
    /// The most writes to one issue.
    pub most_on_one_issue: usize,
    /// The least time the limits allow, in seconds: the slowest of each endpoint's burst
    /// bucket (one per endpoint and method, at the method's rate) and the busiest issue's
    /// write windows.
    pub seconds: f64,
    /// What bounds it.
    pub bound_by: String,
}

impl ApplyPlan {
    /// The writes by method, as people read them: `5000 PUT, 2500 POST`.
    pub fn writes_text(&self) -> String {
        self.writes
            .iter()
            .map(|(method, n)| format!("{n} {method}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The least time `writes` to one issue take inside Jira's per-issue write windows (the
/// rate limiter's, [`jira_client::PerIssueLimit`]).
pub(crate) fn issue_seconds(writes: usize) -> f64 {
    jira_client::PerIssueLimit::default()
        .windows
        .iter()
        .map(|(window, n)| {
            (writes.saturating_sub(1) / (*n as usize).max(1)) as f64 * window.as_secs_f64()
        })
        .fold(0.0, f64::max)
}

/// The per-issue windows as people read them: `20 per 2 s, 100 per 30 s`.
fn issue_windows_text() -> String {
    jira_client::PerIssueLimit::default()
        .windows
        .iter()
        .map(|(window, n)| format!("{n} per {} s", window.as_secs()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The cost of `changes` with writes paced at `rate(method)` a second.
pub fn plan(changes: &[Change], rate: &dyn Fn(&str) -> f64) -> ApplyPlan {
    let mut plan = ApplyPlan {
        lines: changes.len(),
        ..ApplyPlan::default()
    };
    let mut per_issue: HashMap<&str, usize> = HashMap::new();
    let mut per_endpoint: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let bulk = bulk_groups(changes);
    let in_bulk: std::collections::HashSet<usize> = bulk.iter().flatten().copied().collect();
    plan.bulk_lines = in_bulk.len();
    plan.bulk_tasks = bulk
        .iter()
        .map(|g| g.len().div_ceil(jira_model::BULK_OPERATION_MAX_ISSUES))
        .sum();
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
        *per_endpoint
            .entry((change.op.method(), change.op.endpoint()))
            .or_insert(0) += 1;
        plan.reads += change.op.reads();
        if let Some(issue) = change.op.issue() {
            *per_issue.entry(issue).or_insert(0) += 1;
        }
    }
    plan.reads += before_values_reads(changes);
    // Every issue a line writes to, bulk lines included (the per-issue windows above
    // count only the lines sent one by one).
    plan.issues = changes
        .iter()
        .filter_map(|c| c.op.issue().map(str::to_ascii_uppercase))
        .collect::<std::collections::HashSet<_>>()
        .len();
    plan.most_on_one_issue = per_issue.values().copied().max().unwrap_or(0);
    plan.bound_by = "nothing to write".into();
    for ((method, endpoint), writes) in &per_endpoint {
        let seconds = *writes as f64 / rate(method).max(0.001);
        if seconds > plan.seconds {
            plan.seconds = seconds;
            plan.bound_by = format!(
                "{writes} {method}s to {endpoint} at {} a second",
                rate(method)
            );
        }
    }
    let busiest = issue_seconds(plan.most_on_one_issue);
    if busiest > plan.seconds {
        plan.seconds = busiest;
        plan.bound_by = format!(
            "{} writes to one issue inside its windows ({})",
            plan.most_on_one_issue,
            issue_windows_text()
        );
    }
    plan
}

/// The bulk fetches a run makes before its first write to keep what its field lines
/// change ([`crate::undo`]).
fn before_values_reads(changes: &[Change]) -> usize {
    let mut issues = std::collections::HashSet::new();
    let mut fields: Vec<String> = Vec::new();
    for change in changes {
        let touched = crate::undo::touched(&change.op);
        if let (Some(issue), false) = (change.op.issue(), touched.is_empty()) {
            issues.insert(issue.to_ascii_uppercase());
            fields.extend(touched);
        }
    }
    fields.sort();
    fields.dedup();
    let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
    issues
        .len()
        .div_ceil(jira_model::bulk_fetch_max_issues(&fields, &[]).max(1))
}

/// [`plan`] at Atlassian's published burst limits (POST 100, PUT and DELETE 50 a second).
pub fn plan_at_default_limits(changes: &[Change]) -> ApplyPlan {
    let limits = jira_client::BurstLimits::default();
    plan(changes, &|method| match method {
        "PUT" => limits.put,
        "DELETE" => limits.delete,
        _ => limits.post,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::Operation;

    #[test]
    fn issues_are_counted_whether_their_lines_go_in_bulk_or_not() {
        let mut changes: Vec<Change> = (1..=60)
            .map(|n| Change {
                line: n,
                op: Operation::Label {
                    issue: format!("APO-{n}"),
                    add: vec!["x".into()],
                    remove: Vec::new(),
                },
            })
            .collect();
        for line in 61..=62 {
            changes.push(Change {
                line,
                op: Operation::Assign {
                    issue: "BEA-1".into(),
                    account_id: None,
                },
            });
        }
        let plan = plan_at_default_limits(&changes);
        assert_eq!(plan.bulk_lines, 60, "the labels go in bulk");
        assert_eq!((plan.lines, plan.issues), (62, 61));
        assert_eq!(plan.most_on_one_issue, 2);
    }
}
