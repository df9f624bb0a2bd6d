//! Transitions by name: the issue's available transitions, cached per workflow state, and
//! the one a line names.

use std::collections::HashMap;
use std::sync::Mutex;

use jira_client::Transport as _;
use jira_model::{ApiRequest, IssueTransition, TransitionsPage};
use serde_json::{Map, Value, json};

use crate::Writes;
use crate::line::jira_message;

/// The workflow state transitions are cached by: (project, issue type, status).
pub(crate) type WorkflowState = (String, String, String);

/// An available transition: its id, its name, the status it leads to.
pub(crate) type Available = IssueTransition;

/// Where an issue stands: its status (name, id) and its workflow state.
pub(crate) struct Standing {
    pub(crate) status: (String, String),
    pub(crate) state: WorkflowState,
}

/// Resolved transitions, shared by the tasks of a run.
#[derive(Default)]
pub(crate) struct Transitions(Mutex<HashMap<WorkflowState, Vec<Available>>>);

impl Writes<'_> {
    pub(crate) async fn prepare_transition(
        &self,
        issue: &str,
        to: &str,
        fields: &Map<String, Value>,
        transitions: &Transitions,
        landed: Option<&str>,
        walk: Option<&[String]>,
    ) -> Prepared {
        let standing = match self.standing(issue).await {
            Ok(standing) => standing,
            Err(prepared) => return prepared,
        };
        // A walk counts only its goal as landed: a step's status is on the way.
        let landed = landed.filter(|l| walk.is_none() || l.eq_ignore_ascii_case(to));
        let chosen = match self
            .choose_transition(issue, to, &standing, transitions, landed)
            .await
        {
            Ok(chosen) => chosen,
            Err(NoWrite::Refused(why)) if walk.is_some() => {
                match step_towards(to, &standing, transitions, walk.unwrap_or_default()) {
                    Some(step) => step,
                    None => return Prepared::Refused(why),
                }
            }
            Err(no_write) => return no_write.into(),
        };
        let mut body = json!({ "transition": { "id": chosen.id } });
        let last = pick(std::slice::from_ref(&chosen), to).is_some();
        if !fields.is_empty() && last {
            body["fields"] = Value::Object(fields.clone());
        }
        match ApiRequest::transition(issue, &body) {
            Ok(request) => Prepared::Send(Box::new(request), Some(chosen.to.name)),
            Err(error) => Prepared::Refused(error.to_string()),
        }
    }

    /// The transition that moves `issue`, standing as it does, `to`; else `AlreadySo`
    /// (it is in that status, or in the status `landed`, where a transition sent before
    /// and whose answer was lost moved it), `Refused` naming what is available, or
    /// `Failed` (a read failed).
    pub(crate) async fn choose_transition(
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
                .map(|t| format!("{} (to {})", t.name, t.to.name))
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
    pub(crate) async fn standing(&self, issue: &str) -> Result<Standing, Prepared> {
        let response = self
            .client
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

    pub(crate) async fn available_transitions(
        &self,
        issue: &str,
    ) -> Result<Vec<Available>, NoWrite> {
        let page: TransitionsPage = self
            .read(ApiRequest::transitions(issue))
            .await
            .map_err(|e| NoWrite::Failed(format!("reading {issue}'s transitions failed: {e}")))?;
        Ok(page.transitions)
    }
}

/// Transitions a walk ([`crate::Operation::Transition`] with `walk`) takes at most.
pub const WALK_MAX_STEPS: usize = 5;

/// The next step of a walk to `to` from where the issue stands, when no transition leads
/// there directly: a transition to a status from which one is known to (learned from
/// other issues of the run), else the first to a status the walk has not passed.
fn step_towards(
    to: &str,
    standing: &Standing,
    transitions: &Transitions,
    walked: &[String],
) -> Option<Available> {
    let known = lock_transitions(transitions);
    let available = known.get(&standing.state)?;
    let (project, issue_type, _) = &standing.state;
    let fresh = |t: &&Available| {
        !t.to.name.eq_ignore_ascii_case(&standing.status.0)
            && !walked.iter().any(|w| w.eq_ignore_ascii_case(&t.to.name))
    };
    let leads_there = |t: &&Available| {
        known
            .get(&(project.clone(), issue_type.clone(), t.to.id.clone()))
            .is_some_and(|next| pick(next, to).is_some())
    };
    available
        .iter()
        .filter(fresh)
        .find(leads_there)
        .or_else(|| available.iter().find(fresh))
        .cloned()
}

/// The transition `to` names among `available`: by its name, the status it leads to, or
/// its id.
pub(crate) fn pick<'a>(available: &'a [Available], to: &str) -> Option<&'a Available> {
    available
        .iter()
        .find(|t| t.name.eq_ignore_ascii_case(to))
        .or_else(|| {
            available
                .iter()
                .find(|t| t.to.name.eq_ignore_ascii_case(to))
        })
        .or_else(|| available.iter().find(|t| t.id == to || t.to.id == to))
}

/// A transition chosen for a bulk task: its id and the status it leads to.
pub(crate) type Chosen = (String, String);

/// Why a line sends nothing.
pub(crate) enum NoWrite {
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
pub(crate) enum Prepared {
    /// The request, and for a transition the status it leads to.
    Send(Box<ApiRequest>, Option<String>),
    AlreadySo(String),
    Refused(String),
    /// A read it needs failed: nothing was sent.
    Failed(String),
}

pub(crate) fn lock_transitions(
    transitions: &Transitions,
) -> std::sync::MutexGuard<'_, HashMap<WorkflowState, Vec<Available>>> {
    transitions
        .0
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
