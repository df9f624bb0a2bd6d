//! How a line ended ([`Outcome`], [`LineResult`]) and the whole run ([`ApplyReport`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::change::Change;

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
    pub(crate) fn finish(results: Vec<LineResult>) -> Self {
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
        self.failed() == 0
    }

    /// Lines that did not succeed (refused, not sent, unknown).
    pub fn failed(&self) -> usize {
        self.results
            .iter()
            .filter(|r| !r.outcome.succeeded())
            .count()
    }
}

pub(crate) fn line_result(
    change: &Change,
    outcome: Outcome,
    message: Option<String>,
) -> LineResult {
    LineResult {
        line: change.line,
        op: change.op.name().into(),
        issue: change.op.issue().map(str::to_owned),
        outcome,
        earlier: false,
        message,
    }
}

/// The result of a line an earlier run settled (`prior`, its journal record, is done):
/// `done` with `earlier`, or `already_so` with its message when that run found the site
/// already so and wrote nothing.
pub(crate) fn earlier_result(
    change: &Change,
    prior: Option<&crate::journal::JournalRecord>,
) -> LineResult {
    let mut result = match prior {
        Some(record) if record.already_so => {
            line_result(change, Outcome::AlreadySo, record.message.clone())
        }
        _ => line_result(change, Outcome::Done, None),
    };
    result.earlier = true;
    result
}
