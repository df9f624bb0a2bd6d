//! The checks a real run makes before its first write: the dry run's, read once per kind
//! of thing rather than once per line, so that a line the site would refuse is refused
//! before anything is sent (and never half a migration for a typo on line 9,000).
//!
//! Every issue the lines name is read in bulk fetches (existence, project, issue type,
//! status); an edit screen once per project, issue type and status; each account, the
//! link types, each workflow state's transitions and each transition's screen once. Each
//! issue's lines are walked in file order, a transition moving the status the next line
//! is checked from. Where a check cannot be sure (a transition from a status the issue
//! is not in yet, read from another issue), it passes the line: Jira has the last word.

use std::collections::HashMap;
use std::sync::Mutex;

use jira_model::ApiRequest;
use serde_json::Value;

use crate::Writes;
use crate::change::{Change, Operation};
use crate::dry_run::editable_in;
use crate::transition::{
    Available, NoWrite, Standing, Transitions, WorkflowState, lock_transitions,
};

/// What `GET /mypermissions` said, by scope (a project key, or an issue) and permission,
/// shared by the lines of a run.
#[derive(Default)]
pub(crate) struct Permissions(Mutex<HashMap<(String, String), Result<(), String>>>);

/// The project a line's permission is judged in: the project key an issue key starts
/// with (`PROJ-12` → `PROJ`), or a create's `fields.project`; `(query parameter, value)`.
pub(crate) fn permission_scope(op: &Operation) -> Option<(&'static str, String)> {
    if let Operation::Create { fields } = op {
        let project = &fields["project"];
        return project["key"]
            .as_str()
            .map(|k| ("projectKey", k.to_owned()))
            .or_else(|| project["id"].as_str().map(|i| ("projectId", i.to_owned())));
    }
    let issue = op.issue()?;
    match issue.split_once('-') {
        Some((project, _)) => Some(("projectKey", project.to_ascii_uppercase())),
        None => Some(("issueId", issue.to_owned())),
    }
}

impl Writes<'_> {
    /// Whether this account has the permission `op`'s write needs where it writes; what
    /// it lacks and the way out when not. Asked once per project and permission.
    pub(crate) async fn permitted(
        &self,
        op: &Operation,
        cache: &Permissions,
    ) -> Result<(), String> {
        let (Some(key), Some((param, scope))) = (op.permission(), permission_scope(op)) else {
            return Ok(());
        };
        let slot = (scope.clone(), key.to_owned());
        if let Some(known) = lock(cache).get(&slot) {
            return known.clone();
        }
        let asked = ApiRequest::new(
            http::Method::GET,
            "/rest/api/3/mypermissions",
            "/rest/api/3/mypermissions",
        )
        .query(param, scope.clone())
        .query("permissions", key);
        let verdict = match self.read_json(asked).await {
            Ok(answer) if answer["permissions"][key]["havePermission"] == false => Err(format!(
                "this account lacks the {} permission in {scope} (Jira would answer 403): ask a Jira admin for it, or run as an account that has it",
                answer["permissions"][key]["name"].as_str().unwrap_or(key)
            )),
            // A site that does not answer the question leaves it to the write.
            _ => Ok(()),
        };
        lock(cache).insert(slot, verdict.clone());
        verdict
    }
}

fn lock(
    cache: &Permissions,
) -> std::sync::MutexGuard<'_, HashMap<(String, String), Result<(), String>>> {
    cache
        .0
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The fields the checks read of every issue a run names.
pub(crate) const CHECK_FIELDS: [&str; 3] = ["project", "issuetype", "status"];

/// The issues `changes` name on the lines `skip` does not (a link's two ends), keys
/// upper-cased, each once.
pub(crate) fn named_issues(changes: &[Change], skip: &dyn Fn(usize) -> bool) -> Vec<String> {
    let mut named: Vec<String> = Vec::new();
    for (n, change) in changes.iter().enumerate() {
        if skip(n) {
            continue;
        }
        let outward = match &change.op {
            Operation::Link { outward, .. } | Operation::Unlink { outward, .. } => {
                Some(outward.as_str())
            }
            _ => None,
        };
        named.extend(
            change
                .op
                .issue()
                .into_iter()
                .chain(outward)
                .map(str::to_ascii_uppercase),
        );
    }
    named.sort();
    named.dedup();
    named
}

/// An issue as the checks know it: its workflow state and its status's name, or that an
/// earlier line leaves it where the checks cannot follow (`unsure`: a walk, a transition
/// from a status not read yet), so its later lines pass to Jira unchecked.
#[derive(Clone)]
struct Known {
    state: WorkflowState,
    status: String,
    unsure: bool,
}

impl Writes<'_> {
    /// Why each line that the site would refuse would be refused (by its index in
    /// `changes`), from the issues as read before the first write (`found`, holding at
    /// least [`CHECK_FIELDS`]); lines `skip` names (done by an earlier run) are not
    /// checked.
    pub(crate) async fn precheck(
        &self,
        changes: &[Change],
        skip: &dyn Fn(usize) -> bool,
        transitions: &Transitions,
        found: &[jira_model::Issue],
    ) -> HashMap<usize, String> {
        let mut issues: HashMap<String, Known> = HashMap::new();
        for issue in found {
            let fields = &issue.fields;
            let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
            let known = Known {
                state: (
                    text(&fields["project"]["id"]),
                    text(&fields["issuetype"]["id"]),
                    text(&fields["status"]["id"]),
                ),
                status: text(&fields["status"]["name"]),
                unsure: false,
            };
            issues.insert(issue.key.to_ascii_uppercase(), known.clone());
            issues.insert(issue.id.to_ascii_uppercase(), known);
        }
        // The real status of each issue: a transition's screen can only be read from it.
        let real: HashMap<String, WorkflowState> = issues
            .iter()
            .map(|(k, v)| (k.clone(), v.state.clone()))
            .collect();
        let mut screens: HashMap<WorkflowState, Result<Value, String>> = HashMap::new();
        let mut accounts: HashMap<String, Result<(), String>> = HashMap::new();
        let mut link_types: HashMap<String, Result<(), String>> = HashMap::new();
        let mut transition_screens: HashMap<(WorkflowState, String, String), Result<(), String>> =
            HashMap::new();
        let mut problems = HashMap::new();
        let permissions = Permissions::default();
        for (n, change) in changes.iter().enumerate() {
            if skip(n) {
                continue;
            }
            let missing =
                |issue: &str| format!("{issue} does not exist, or this account cannot see it");
            if let Err(why) = self.permitted(&change.op, &permissions).await {
                problems.insert(n, why);
                continue;
            }
            let Some(issue) = change.op.issue() else {
                continue;
            };
            let upper = issue.to_ascii_uppercase();
            let Some(known) = issues.get(&upper).cloned() else {
                problems.insert(n, missing(issue));
                continue;
            };
            let problem: Result<(), String> = match &change.op {
                // Where an earlier line leaves it is not known: Jira has the last word.
                Operation::Update { .. } | Operation::Transition { .. } if known.unsure => Ok(()),
                Operation::Update { fields, update, .. } => {
                    if !screens.contains_key(&known.state) {
                        let meta = self.editmeta(issue).await;
                        screens.insert(known.state.clone(), meta);
                    }
                    match &screens[&known.state] {
                        Ok(meta) => editable_in(meta, issue, fields, update),
                        Err(why) => Err(why.clone()),
                    }
                }
                Operation::Assign {
                    account_id: Some(account),
                    ..
                } => {
                    if !accounts.contains_key(account) {
                        let known = self.account_known(account).await;
                        accounts.insert(account.clone(), known);
                    }
                    accounts[account].clone()
                }
                Operation::Link {
                    link_type, outward, ..
                } => {
                    if !issues.contains_key(&outward.to_ascii_uppercase()) {
                        Err(missing(outward))
                    } else {
                        if !link_types.contains_key(link_type) {
                            let known = self.link_type_known(link_type).await;
                            link_types.insert(link_type.clone(), known);
                        }
                        link_types[link_type].clone()
                    }
                }
                Operation::Transition {
                    to, fields, walk, ..
                } => {
                    let here = real.get(&upper) == Some(&known.state);
                    match self
                        .transition_from(issue, &known, to, transitions, here)
                        .await
                    {
                        // Already there: nothing to send.
                        Ok(None) => Ok(()),
                        Ok(Some(chosen)) => {
                            // A screen is read for these fields, from where the issue is.
                            let key = (known.state.clone(), chosen.id.clone(), fields_key(fields));
                            if here && !transition_screens.contains_key(&key) {
                                let takes = self.screen_takes(issue, &chosen.id, fields).await;
                                transition_screens.insert(key.clone(), takes);
                            }
                            let takes = transition_screens.get(&key).cloned().unwrap_or(Ok(()));
                            if takes.is_ok() {
                                // The next line of the issue is checked from where this
                                // one leaves it.
                                issues.insert(
                                    upper.clone(),
                                    Known {
                                        state: (
                                            known.state.0.clone(),
                                            known.state.1.clone(),
                                            chosen.to.id.clone(),
                                        ),
                                        status: chosen.to.name.clone(),
                                        unsure: false,
                                    },
                                );
                            }
                            takes
                        }
                        // A walk finds its way as it goes; so does a status not read yet.
                        Err(_) if *walk || !here => {
                            if let Some(known) = issues.get_mut(&upper) {
                                known.unsure = true;
                            }
                            Ok(())
                        }
                        Err(why) => Err(why),
                    }
                }
                Operation::Delete { .. } => {
                    issues.remove(&upper);
                    Ok(())
                }
                _ => Ok(()),
            };
            if let Err(why) = problem {
                problems.insert(n, why);
            }
        }
        problems
    }

    /// The transition `to` names from where `issue` stands (`known`), `None` when it is
    /// already there; read from the issue when it stands there now (`here`), else only
    /// from what the run has learned of that workflow state (an empty `Err` when it has
    /// learned nothing: the check cannot be made).
    async fn transition_from(
        &self,
        issue: &str,
        known: &Known,
        to: &str,
        transitions: &Transitions,
        here: bool,
    ) -> Result<Option<Available>, String> {
        if !here && !lock_transitions(transitions).contains_key(&known.state) {
            return Err(String::new());
        }
        let standing = Standing {
            status: (known.status.clone(), known.state.2.clone()),
            state: known.state.clone(),
        };
        match self
            .choose_transition(issue, to, &standing, transitions, None)
            .await
        {
            Ok(chosen) => Ok(Some(chosen)),
            Err(NoWrite::AlreadySo(_)) => Ok(None),
            Err(NoWrite::Refused(why) | NoWrite::Failed(why)) => Err(why),
        }
    }
}

/// The fields a transition line gives, as a cache key part.
fn fields_key(fields: &serde_json::Map<String, Value>) -> String {
    Value::Object(fields.clone()).to_string()
}
