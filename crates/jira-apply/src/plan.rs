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
    /// Reads (status checks, transition lookups).
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
    /// The least time the limits allow, in seconds: the slowest of each method's burst
    /// rate and the busiest issue's write windows.
    pub seconds: f64,
    /// What bounds it.
    pub bound_by: String,
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
            "{} writes to one issue inside its windows ({})",
            plan.most_on_one_issue,
            issue_windows_text()
        );
    }
    plan
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
