//! Creates applied exactly once: [`crate::create_issues_once`], through the write
//! journal (`journal.rs`).

use std::sync::Mutex;

use futures_util::{StreamExt, TryStreamExt, stream};
use jira_client::Transport as _;
use jira_client::{BatchConfig, CreateError, SearchOptions};
use jira_model::{ApiRequest, CreatedIssue, EntityProperty, IssueUpdate};
use serde_json::json;

use crate::Writes;
use crate::journal::{
    IDEMPOTENCY_PROPERTY, Journal, JournalError, JournalRecord, WriteState, content_keys,
};

/// A create that is done: now, or by an earlier run (found in the journal, or found on the
/// server by its idempotency key after an answer was lost).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnceCreated {
    /// The issue.
    pub issue: CreatedIssue,
    /// Whether an earlier run created it (nothing was sent for it now).
    pub earlier: bool,
}

/// Content keys asked for in one JQL lookup.
const LOOKUP_GROUP: usize = 50;

impl Writes<'_> {
    /// Creates `inputs` (each with the number the caller knows it by, e.g. its line) so that
    /// each is created once however often this runs and however a run ends: the journal
    /// records each chunk's intent (synced) before it is sent and its outcomes after; an
    /// input known done is not sent again; one whose outcome was lost is looked up by the
    /// idempotency property every create carries, and created only if it is not found.
    /// `stop` is asked before each chunk: once it says so, the chunks not yet sent are
    /// `NotSent` and those in flight finish. One result per input, in input order; an
    /// error only when the journal cannot be written (then nothing more is sent).
    pub(crate) async fn create_issues_once(
        &self,
        inputs: Vec<(usize, IssueUpdate)>,
        journal: &Mutex<Journal>,
        stop: &(dyn Fn() -> bool + Sync),
    ) -> Result<Vec<Result<OnceCreated, CreateError>>, JournalError> {
        let contents: Vec<&IssueUpdate> = inputs.iter().map(|(_, issue)| issue).collect();
        let ids = content_keys("create", &contents);
        let mut results: Vec<Option<Result<OnceCreated, CreateError>>> = vec![None; inputs.len()];
        let mut lost = Vec::new();
        let mut todo = Vec::new();
        {
            let journal = lock(journal);
            for (n, id) in ids.iter().enumerate() {
                match journal.latest(id) {
                    Some(JournalRecord {
                        state: WriteState::Done,
                        key: Some(key),
                        issue_id,
                        ..
                    }) => {
                        results[n] = Some(Ok(OnceCreated {
                            issue: CreatedIssue {
                                id: issue_id.clone().unwrap_or_default(),
                                key: key.clone(),
                                self_url: None,
                            },
                            earlier: true,
                        }));
                    }
                    Some(JournalRecord {
                        state: WriteState::Intent | WriteState::Unknown,
                        ..
                    }) => lost.push(n),
                    _ => todo.push(n),
                }
            }
        }
        // Outcomes lost by an earlier run: found on the server, or created now.
        for group in lost.chunks(LOOKUP_GROUP) {
            let group_ids: Vec<&str> = group.iter().map(|n| ids[*n].as_str()).collect();
            let found = match self.find_by_idempotency(&group_ids).await {
                Ok(found) => found,
                Err(message) => {
                    // Unknown still: sending again could duplicate, so nothing is sent.
                    for n in group {
                        results[*n] = Some(Err(CreateError::Unknown {
                            index: *n,
                            message: format!(
                                "an earlier run sent it and its answer was lost; looking it up failed ({message}), so it was not sent again"
                            ),
                        }));
                    }
                    continue;
                }
            };
            let mut records = Vec::new();
            for n in group {
                match found.iter().find(|(id, _)| *id == ids[*n]) {
                    Some((_, issue)) => {
                        let mut record =
                            JournalRecord::new(&ids[*n], WriteState::Done, Some(inputs[*n].0));
                        record.key = Some(issue.key.clone());
                        record.issue_id = Some(issue.id.clone());
                        records.push(record);
                        results[*n] = Some(Ok(OnceCreated {
                            issue: issue.clone(),
                            earlier: true,
                        }));
                    }
                    None => todo.push(*n),
                }
            }
            lock(journal).append(&records)?;
        }
        todo.sort_unstable();

        let batch = self.client.batch_config();
        let chunk = batch
            .create_chunk
            .clamp(1, jira_model::BULK_CREATE_MAX_ISSUES);
        let one_chunk = BatchConfig {
            max_concurrent: 1,
            ..batch.clone()
        };
        let chunks: Vec<Vec<usize>> = todo.chunks(chunk).map(<[usize]>::to_vec).collect();
        let outcomes: Vec<Vec<(usize, Result<OnceCreated, CreateError>)>> = stream::iter(chunks)
            .map(|members| {
                let (ids, inputs, one_chunk) = (&ids, &inputs, &one_chunk);
                async move {
                    if stop() {
                        return Ok(members
                            .iter()
                            .map(|n| {
                                let error = CreateError::NotSent {
                                    index: *n,
                                    message: "interrupted before it was sent".into(),
                                };
                                (*n, Err(error))
                            })
                            .collect());
                    }
                    let intents: Vec<JournalRecord> = members
                        .iter()
                        .map(|n| {
                            JournalRecord::new(&ids[*n], WriteState::Intent, Some(inputs[*n].0))
                        })
                        .collect();
                    lock(journal).append(&intents)?;
                    let issues: Vec<IssueUpdate> = members
                        .iter()
                        .map(|n| with_idempotency(&inputs[*n].1, &ids[*n]))
                        .collect();
                    let answers = self.client.create_issues_in_chunks(one_chunk, issues).await;
                    let mut records = Vec::new();
                    let mut done = Vec::new();
                    for (n, answer) in members.iter().zip(answers) {
                        let (state, result) = match answer {
                            Ok(issue) => (
                                WriteState::Done,
                                Ok(OnceCreated {
                                    issue,
                                    earlier: false,
                                }),
                            ),
                            Err(error) => {
                                let error = reindex(error, *n);
                                let state = match error {
                                    CreateError::Refused { .. } => WriteState::Refused,
                                    CreateError::NotSent { .. } => WriteState::NotSent,
                                    CreateError::Unknown { .. } => WriteState::Unknown,
                                };
                                (state, Err(error))
                            }
                        };
                        let mut record = JournalRecord::new(&ids[*n], state, Some(inputs[*n].0));
                        match &result {
                            Ok(created) => {
                                record.key = Some(created.issue.key.clone());
                                record.issue_id = Some(created.issue.id.clone());
                            }
                            Err(error) => record.message = Some(error.to_string()),
                        }
                        records.push(record);
                        done.push((*n, result));
                    }
                    lock(journal).append(&records)?;
                    Ok::<_, JournalError>(done)
                }
            })
            .buffer_unordered(batch.max_concurrent.max(1))
            .try_collect()
            .await?;
        for (n, result) in outcomes.into_iter().flatten() {
            results[n] = Some(result);
        }
        Ok(results
            .into_iter()
            .enumerate()
            .map(|(n, result)| {
                result.unwrap_or(Err(CreateError::NotSent {
                    index: n,
                    message: "not sent".into(),
                }))
            })
            .collect())
    }

    /// The issues carrying these idempotency keys: `(content key, issue)` for each found.
    pub(crate) async fn find_by_idempotency(
        &self,
        ids: &[&str],
    ) -> Result<Vec<(String, CreatedIssue)>, String> {
        let quoted: Vec<String> = ids.iter().map(|id| format!("\"{id}\"")).collect();
        let jql = format!(
            "issue.property[{IDEMPOTENCY_PROPERTY}].key in ({})",
            quoted.join(", ")
        );
        let options = SearchOptions {
            fields: vec!["summary".into()],
            page_size: 100,
            prefetch: false,
            limit: None,
        };
        let issues: Vec<jira_model::Issue> = self
            .client
            .search(&jql, options)
            .try_collect()
            .await
            .map_err(|e| e.to_string())?;
        let mut found = Vec::new();
        for issue in issues {
            let response = self
                .client
                .uncached()
                .send(ApiRequest::get_issue_property(
                    &issue.key,
                    IDEMPOTENCY_PROPERTY,
                ))
                .await
                .map_err(|e| e.to_string())?;
            let id = response
                .json::<serde_json::Value>()
                .ok()
                .and_then(|v| v["value"]["key"].as_str().map(str::to_owned));
            if let Some(id) = id {
                found.push((
                    id,
                    CreatedIssue {
                        id: issue.id.clone(),
                        key: issue.key.clone(),
                        self_url: None,
                    },
                ));
            }
        }
        Ok(found)
    }
}

fn lock(journal: &Mutex<Journal>) -> std::sync::MutexGuard<'_, Journal> {
    journal
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `issue` with its idempotency key as an entity property.
fn with_idempotency(issue: &IssueUpdate, id: &str) -> IssueUpdate {
    let mut issue = issue.clone();
    issue.properties.retain(|p| p.key != IDEMPOTENCY_PROPERTY);
    issue.properties.push(EntityProperty {
        key: IDEMPOTENCY_PROPERTY.into(),
        value: json!({ "key": id }),
    });
    issue
}

/// `error` for the input at `index` (the batch layer numbered it within its chunk).
fn reindex(error: CreateError, index: usize) -> CreateError {
    match error {
        CreateError::Refused { errors, .. } => CreateError::Refused { index, errors },
        CreateError::NotSent { message, .. } => CreateError::NotSent { index, message },
        CreateError::Unknown { message, .. } => CreateError::Unknown { index, message },
    }
}
