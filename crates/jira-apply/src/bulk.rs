//! Jira's asynchronous bulk operations: which lines go together ([`bulk_groups`]), the
//! task's body, its submission and polling, and each issue's result mapped back to its
//! line.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use jira_client::Transport as _;
use jira_model::{
    ApiRequest, BulkOperation, BulkOperationProgress, BulkTaskStatus, PriorityPage,
    SubmittedBulkOperation,
};
use serde_json::{Map, Value, json};

use crate::Writes;
use crate::change::{Change, Operation};
use crate::journal::{Journal, JournalRecord, WriteState};
use crate::line::{Sent, answer};
use crate::outcome::{LineResult, Outcome, line_result};
use crate::transition::{Chosen, NoWrite, Standing, Transitions};
use crate::writer::{JournalWriter, lock};

/// Lines at least this many making the same change to issues no other line touches go
/// through one asynchronous bulk operation instead of a request each.
pub const BULK_MIN_LINES: usize = 50;

/// Whether `value` for field `id` is something `/bulk/issues/fields` sets (with
/// `is_number` saying which fields are number fields): a priority by id or name, a
/// summary, an ADF description, an assignee (or none), the labels, a number (or none).
pub(crate) fn bulk_editable(id: &str, value: &Value, is_number: &dyn Fn(&str) -> bool) -> bool {
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
pub(crate) fn bulk_signature(op: &Operation, is_number: &dyn Fn(&str) -> bool) -> Option<String> {
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
/// does); [`crate::apply`] asks the catalogue ([`bulk_groups_with`]).
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

impl Writes<'_> {
    /// The bulk groups of `changes`, the field catalogue read (once) only when a group
    /// would set a custom field, to know it is a number field.
    pub(crate) async fn bulk_groups(&self, changes: &[Change]) -> Vec<Vec<usize>> {
        let guessed = bulk_groups(changes);
        let sets_custom = guessed.iter().any(|group| {
            matches!(&changes[group[0]].op, Operation::Update { fields, .. }
                if fields.keys().any(|id| id.starts_with("customfield_")))
        });
        if !sets_custom {
            return guessed;
        }
        match jira_client::fields::FieldCatalogue::fetch(self.client.transport()).await {
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
    pub(crate) async fn bulk_edit(
        &self,
        op: &Operation,
    ) -> Result<(Vec<String>, Value), (Outcome, String)> {
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
    pub(crate) async fn priority_id(&self, name: &str) -> Result<String, (Outcome, String)> {
        let mut names = Vec::new();
        let mut start_at = 0;
        loop {
            let page: PriorityPage =
                self.read(ApiRequest::priorities(start_at))
                    .await
                    .map_err(|e| {
                        (
                            Outcome::NotSent,
                            format!("reading the priorities failed: {e}"),
                        )
                    })?;
            if let Some(found) = page
                .values
                .iter()
                .find(|p| p.name.eq_ignore_ascii_case(name))
            {
                return Ok(found.id.clone());
            }
            start_at = page.start_at + page.values.len() as u64;
            names.extend(page.values.into_iter().map(|p| p.name));
            if page.is_last || start_at == page.start_at {
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

    /// One bulk group (lines making the same change to issues no other line touches), in
    /// tasks of up to 1,000 issues: the results of its lines, and the lines to write one
    /// by one instead (all those not yet settled once the site declined a bulk operation
    /// as a whole, [`declines_bulk`]; nothing was done for them). `Err` only when the
    /// journal cannot be written.
    pub(crate) async fn apply_bulk(
        &self,
        run: BulkRun<'_>,
        group: &[usize],
        stop: &(dyn Fn() -> bool + Sync),
    ) -> Result<(Vec<(usize, LineResult)>, Vec<usize>), String> {
        let BulkRun {
            changes,
            ids,
            legacy,
            journal,
            writer,
            transitions,
        } = run;
        let mut out = Vec::new();
        let mut todo: Vec<(usize, bool)> = Vec::new();
        for &n in group {
            let prior = lock(journal).latest_of(&ids[n], &legacy[n]).cloned();
            match prior.as_ref().map(|r| r.state) {
                Some(WriteState::Done) => {
                    out.push((
                        n,
                        crate::outcome::earlier_result(&changes[n], prior.as_ref()),
                    ));
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
                        return Ok((out, Vec::new()));
                    }
                }
            }
            _ => None,
        };
        // Once the site declines a bulk operation, the rest go one by one.
        let mut one_by_one: Vec<usize> = Vec::new();
        for chunk in todo.chunks(jira_model::BULK_OPERATION_MAX_ISSUES) {
            if !one_by_one.is_empty() {
                one_by_one.extend(chunk.iter().map(|(n, _)| *n));
                continue;
            }
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
                    let mut settle = record(*n, state, Some(message.clone()));
                    settle.already_so = outcome == Outcome::AlreadySo;
                    settled.push(settle);
                    out.push((*n, line_result(&changes[*n], outcome, Some(message))));
                    continue;
                };
                let transition = match op {
                    Operation::Transition { to, .. } => {
                        let landed = lock(journal)
                            .latest_of(&ids[*n], &legacy[*n])
                            .and_then(|r| r.target.clone());
                        let chosen = self
                            .choose_transition(key, to, standing, transitions, landed.as_deref())
                            .await;
                        match chosen {
                            Ok(chosen) => Some((chosen.id, chosen.to.name)),
                            Err(NoWrite::AlreadySo(message)) => {
                                let mut settle =
                                    record(*n, WriteState::Done, Some(message.clone()));
                                settle.already_so = true;
                                settled.push(settle);
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
                if !one_by_one.is_empty() {
                    one_by_one.extend(members.iter().map(|(n, _)| *n));
                    continue;
                }
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
                let body = bulk_body(
                    first,
                    &issue_ids,
                    transition.as_ref().map(|(id, _)| id.as_str()),
                    edit.as_ref(),
                );
                let task = match body {
                    Some((operation, body)) => self.bulk_task(operation, &body).await,
                    None => Err(Submit::Sent(Sent::Refused(
                        "this change does not go through a bulk operation".into(),
                    ))),
                };
                let task = match task {
                    Ok(done) => Ok(done),
                    Err(Submit::Sent(sent)) => Err(sent),
                    Err(Submit::Declined(message)) => {
                        tracing::warn!("{message}");
                        // Nothing was done: a line sent for the first time is settled as
                        // not sent; one an earlier run may have done keeps its intent, and
                        // is resolved against the site before it is written again.
                        let lost: std::collections::HashSet<usize> = chunk
                            .iter()
                            .filter(|(_, lost)| *lost)
                            .map(|(n, _)| *n)
                            .collect();
                        let settled = members
                            .iter()
                            .filter(|(n, _)| !lost.contains(n))
                            .map(|(n, _)| record(*n, WriteState::NotSent, Some(message.clone())))
                            .collect();
                        writer.write(settled).await?;
                        one_by_one.extend(members.iter().map(|(n, _)| *n));
                        continue;
                    }
                };
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
        Ok((out, one_by_one))
    }

    /// Where each of `keys` stands (by upper-case key: its id and its standing), read by
    /// JQL, 100 keys a search; a key not in the answer does not exist (or is not visible).
    pub(crate) async fn standings(
        &self,
        keys: &[String],
    ) -> Result<HashMap<String, (String, Standing)>, String> {
        let mut found = HashMap::new();
        for chunk in keys.chunks(100) {
            let jql = format!("key in ({})", chunk.join(", "));
            let options = jira_client::SearchOptions {
                fields: vec!["status".into(), "issuetype".into(), "project".into()],
                page_size: 100,
                prefetch: false,
                limit: None,
            };
            let issues: Vec<jira_model::Issue> =
                futures_util::TryStreamExt::try_collect(self.client.search(&jql, options))
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
    pub(crate) async fn bulk_task(
        &self,
        operation: BulkOperation,
        body: &Value,
    ) -> Result<BulkDone, Submit> {
        let request = ApiRequest::bulk_operation(operation, body)
            .map_err(|e| Sent::Refused(e.to_string()))?;
        // Jira runs at most five bulk operations per tenant at once and refuses more:
        // this process keeps its own under that.
        let _slot = bulk_slots(self.client.site_key().as_str())
            .acquire_owned()
            .await
            .map_err(|_| Sent::NotSent("the bulk task slots were closed".into()))?;
        let no_task = || Sent::Unknown("the bulk operation's answer names no task".into());
        let task_id = match self.client.transport().send(request).await {
            Ok(response) if response.is_success() => {
                response
                    .json::<SubmittedBulkOperation>()
                    .map_err(|_| no_task())?
                    .task_id
            }
            Ok(response) if declines_bulk(response.status) => {
                return Err(Submit::Declined(format!(
                    "the site took no bulk operation (POST {}: HTTP {}, {}), so each line was written on its own",
                    operation.path(),
                    response.status.as_u16(),
                    crate::line::jira_message(&response)
                )));
            }
            other => {
                return Err(Submit::Sent(match answer(other) {
                    Sent::Done(_) => no_task(),
                    sent => sent,
                }));
            }
        };
        let mut wait = std::time::Duration::from_millis(200);
        let deadline = tokio::time::Instant::now() + BULK_TASK_DEADLINE;
        loop {
            if tokio::time::Instant::now() >= deadline {
                return Err(Submit::Sent(Sent::Unknown(format!(
                    "bulk task {task_id} had not ended after {}; it may still run on the site, and running again resolves its issues",
                    jira_model::HumanDuration(BULK_TASK_DEADLINE)
                ))));
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(std::time::Duration::from_secs(2));
            let progress: BulkOperationProgress = self
                .read(ApiRequest::bulk_progress(&task_id))
                .await
                .map_err(|e| Sent::Unknown(format!("polling bulk task {task_id} failed: {e}")))?;
            match progress.status {
                BulkTaskStatus::Complete => return Ok(BulkDone::from(progress)),
                status if status.is_pending() => {}
                other => {
                    return Err(Submit::Sent(Sent::Unknown(format!(
                        "bulk task {task_id} ended {other:?}; running again resolves its issues"
                    ))));
                }
            }
        }
    }
}

/// How a bulk operation that did not complete ended.
pub(crate) enum Submit {
    /// As a single write's answer would have: done, refused, not sent or unknown.
    Sent(Sent),
    /// The site declined the operation as a whole and did nothing (see
    /// [`declines_bulk`]): its lines are written one by one instead.
    Declined(String),
}

impl From<Sent> for Submit {
    fn from(sent: Sent) -> Self {
        Submit::Sent(sent)
    }
}

/// Whether a bulk submit answered `status` was declined as a whole with nothing done, so
/// that writing its lines one by one may succeed: a client error other than 401 (the
/// credentials, which single writes share) and 429 (a refusal for now). A site without
/// Jira's bulk operations answers 404 or 405; an account without the global "Make bulk
/// changes" permission, 403; a body the bulk endpoint does not take, 400.
pub(crate) fn declines_bulk(status: http::StatusCode) -> bool {
    status.is_client_error() && !matches!(status.as_u16(), 401 | 429)
}

/// How long a bulk task is polled before its outcome is left unknown (Jira processes a
/// task of 1,000 issues in minutes).
pub(crate) const BULK_TASK_DEADLINE: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// The bulk tasks this process may run at once on `site`:
/// [`jira_model::BULK_OPERATIONS_IN_PROGRESS_MAX`].
fn bulk_slots(site: &str) -> Arc<tokio::sync::Semaphore> {
    static SLOTS: std::sync::OnceLock<Mutex<HashMap<String, Arc<tokio::sync::Semaphore>>>> =
        std::sync::OnceLock::new();
    let mut slots = SLOTS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    slots
        .entry(site.to_owned())
        .or_insert_with(|| {
            Arc::new(tokio::sync::Semaphore::new(
                jira_model::BULK_OPERATIONS_IN_PROGRESS_MAX,
            ))
        })
        .clone()
}

/// What a run's bulk groups are applied with: its lines and their journal ids, the journal
/// and its writer, and the transitions resolved so far.
#[derive(Clone, Copy)]
pub(crate) struct BulkRun<'a> {
    pub(crate) changes: &'a [Change],
    pub(crate) ids: &'a [String],
    /// The keys an earlier version gave the lines (`journal::positional_keys`).
    pub(crate) legacy: &'a [String],
    pub(crate) journal: &'a Arc<Mutex<Journal>>,
    pub(crate) writer: &'a JournalWriter,
    pub(crate) transitions: &'a Transitions,
}

/// A bulk task's results: issue ids processed, and failed ones with Jira's messages.
pub(crate) struct BulkDone {
    processed: std::collections::HashSet<String>,
    failed: HashMap<String, String>,
}

impl From<BulkOperationProgress> for BulkDone {
    /// From a complete task's progress.
    fn from(progress: BulkOperationProgress) -> Self {
        BulkDone {
            processed: progress.processed_accessible_issues.into_iter().collect(),
            failed: progress
                .failed_accessible_issues
                .into_iter()
                .map(|(id, messages)| (id, messages.join("; ")))
                .collect(),
        }
    }
}

/// The bulk operation and body for `op` on `issue_ids` (`edit`: the actions and fields
/// of an update or assignment, from `bulk_edit`).
pub(crate) fn bulk_body(
    op: &Operation,
    issue_ids: &[&str],
    transition: Option<&str>,
    edit: Option<&(Vec<String>, Value)>,
) -> Option<(BulkOperation, Value)> {
    if let Some((actions, input)) = edit {
        return Some((
            BulkOperation::EditFields,
            json!({
                "selectedIssueIdsOrKeys": issue_ids,
                "selectedActions": actions,
                "editedFieldsInput": input,
                "sendBulkNotification": false,
            }),
        ));
    }
    Some(match op {
        Operation::Label { add, remove, .. } => {
            let (option, labels) = if add.is_empty() {
                ("REMOVE", remove)
            } else {
                ("ADD", add)
            };
            let labels: Vec<Value> = labels.iter().map(|l| json!({ "name": l })).collect();
            (
                BulkOperation::EditFields,
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
            BulkOperation::Transition,
            json!({
                "bulkTransitionInputs": [{
                    "selectedIssueIdsOrKeys": issue_ids,
                    "transitionId": transition.unwrap_or_default(),
                }],
                "sendBulkNotification": false,
            }),
        ),
        Operation::Delete { .. } => (
            BulkOperation::Delete,
            json!({ "selectedIssueIdsOrKeys": issue_ids, "sendBulkNotification": false }),
        ),
        // An update or an assignment goes as a field edit (its `edit`, above); the rest
        // never join a bulk group.
        Operation::Update { .. }
        | Operation::Assign { .. }
        | Operation::Comment { .. }
        | Operation::Link { .. }
        | Operation::Create { .. }
        | Operation::DeleteComment { .. }
        | Operation::Unlink { .. } => return None,
    })
}

#[cfg(test)]
mod slots {
    #[test]
    fn at_most_five_bulk_tasks_run_at_once_per_site() {
        let site = super::bulk_slots("slots.example.net");
        let held: Vec<_> = (0..jira_model::BULK_OPERATIONS_IN_PROGRESS_MAX)
            .map(|_| site.clone().try_acquire_owned().expect("a free slot"))
            .collect();
        assert!(
            super::bulk_slots("slots.example.net")
                .try_acquire()
                .is_err()
        );
        // Another site has its own.
        assert!(super::bulk_slots("other.example.net").try_acquire().is_ok());
        drop(held);
        assert!(site.try_acquire().is_ok());
    }
}
