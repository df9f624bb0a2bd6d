//! Creates applied exactly once: [`crate::create_issues_once`], through the write
//! journal (`journal.rs`).

use std::sync::Mutex;

use futures_util::{StreamExt, TryStreamExt, stream};
use jira_client::{BatchConfig, CreateError, SearchOptions};
use jira_model::{
    ApiRequest, BulkFetchRequest, BulkFetchResponse, CreatedIssue, EntityProperty, IssueUpdate,
};
use serde_json::json;

use crate::Writes;
use crate::journal::{
    IDEMPOTENCY_PROPERTY, Journal, JournalError, JournalRecord, WriteState, content_keys,
    positional_keys,
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

/// Lost creates looked for together.
const LOOKUP_GROUP: usize = 50;

impl Writes<'_> {
    /// Creates `inputs` (each with the number the caller knows it by, e.g. its line) so that
    /// each is created once however often this runs and however a run ends: the journal
    /// records each chunk's intent (synced) before it is sent and its outcomes after; an
    /// input known done is not sent again; one whose outcome was lost is looked for
    /// ([`Writes::find_created`]) and created only if it is not found.
    /// `stop` is asked before each chunk: once it says so, the chunks not yet sent are
    /// `NotSent` and those in flight finish. One result per input, in input order; an
    /// error only when the journal cannot be written (then nothing more is sent).
    pub(crate) async fn create_issues_once(
        &self,
        inputs: Vec<(usize, IssueUpdate)>,
        journal: &Mutex<Journal>,
        stop: &(dyn Fn() -> bool + Sync),
    ) -> Result<Vec<Result<OnceCreated, CreateError>>, JournalError> {
        self.create_issues_once_as("create", inputs, journal, stop)
            .await
    }

    /// [`Writes::create_issues_once`] with the content keys made for `job` (`create`, or
    /// `create/RUN` for a run asked for again).
    pub(crate) async fn create_issues_once_as(
        &self,
        job: &str,
        inputs: Vec<(usize, IssueUpdate)>,
        journal: &Mutex<Journal>,
        stop: &(dyn Fn() -> bool + Sync),
    ) -> Result<Vec<Result<OnceCreated, CreateError>>, JournalError> {
        let contents: Vec<&IssueUpdate> = inputs.iter().map(|(_, issue)| issue).collect();
        let ids = content_keys(job, &contents);
        // Journals of earlier versions knew the first run's inputs by place.
        let legacy = if job == "create" {
            positional_keys(job, &contents)
        } else {
            ids.clone()
        };
        let mut results: Vec<Option<Result<OnceCreated, CreateError>>> = vec![None; inputs.len()];
        let mut lost = Vec::new();
        let mut todo = Vec::new();
        {
            let journal = lock(journal);
            for (n, id) in ids.iter().enumerate() {
                match journal.latest_of(id, &legacy[n]) {
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
                        at_ms,
                        ..
                    }) => lost.push((n, *at_ms)),
                    _ => todo.push(n),
                }
            }
        }
        // Outcomes lost by an earlier run: found on the server, or created now.
        for group in lost.chunks(LOOKUP_GROUP) {
            let lookups: Vec<LostCreate<'_>> = group
                .iter()
                .map(|(n, at_ms)| LostCreate {
                    id: &ids[*n],
                    issue: &inputs[*n].1,
                    since_ms: *at_ms,
                })
                .collect();
            let group: Vec<usize> = group.iter().map(|(n, _)| *n).collect();
            let group = &group[..];
            let found = match self.find_created(&lookups).await {
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

    /// The issues created for these lost creates: `(content key, issue)` for each found.
    ///
    /// Jira Cloud indexes an entity property for JQL only when an app declares it, so the
    /// idempotency property cannot be searched for. Candidates come from what Jira does
    /// index: the project, `created` since the intent (less a margin for clocks) and,
    /// unless the create named its reporter, `reporter = currentUser()`; each candidate's
    /// idempotency property, read with a bulk fetch, confirms it. Jira's search lags its
    /// writes, so what is not found is looked for again until its intent is
    /// `search_settle` old (`BatchConfig`); only then is it reported missing.
    pub(crate) async fn find_created(
        &self,
        lost: &[LostCreate<'_>],
    ) -> Result<Vec<(String, CreatedIssue)>, String> {
        let settle =
            i64::try_from(self.client.batch_config().search_settle.as_millis()).unwrap_or(i64::MAX);
        let mut found = Vec::new();
        let mut remaining: Vec<&LostCreate<'_>> = lost.iter().collect();
        loop {
            let searched_at = now_ms();
            let batch = self.search_created(&remaining, searched_at).await?;
            remaining.retain(|l| !batch.iter().any(|(id, _)| id == l.id));
            found.extend(batch);
            let Some(newest) = remaining.iter().map(|l| l.since_ms).max() else {
                break;
            };
            let age = searched_at - newest;
            if age >= settle {
                break;
            }
            tracing::debug!(
                missing = remaining.len(),
                wait_ms = settle - age,
                "lost creates not in search yet; looking again once the index has settled"
            );
            tokio::time::sleep(std::time::Duration::from_millis((settle - age) as u64)).await;
        }
        Ok(found)
    }

    /// One look for `lost` through search at `now_ms`: candidates per project, confirmed
    /// by their idempotency property.
    async fn search_created(
        &self,
        lost: &[&LostCreate<'_>],
        now_ms: i64,
    ) -> Result<Vec<(String, CreatedIssue)>, String> {
        let mut groups: std::collections::BTreeMap<(String, bool), Vec<&LostCreate<'_>>> =
            Default::default();
        for create in lost {
            // Without a project Jira refuses the create: there is nothing to find.
            if let Some(project) = create.project() {
                groups
                    .entry((project, create.names_reporter()))
                    .or_default()
                    .push(create);
            }
        }
        let mut found = Vec::new();
        for ((project, names_reporter), group) in groups {
            let oldest = group.iter().map(|l| l.since_ms).min().unwrap_or(now_ms);
            let minutes = (now_ms - oldest + LOOKUP_MARGIN_MS).max(0) / 60_000 + 1;
            let mut jql = format!(
                "project = \"{}\" AND created >= -{minutes}m",
                project.replace('"', "")
            );
            if !names_reporter {
                jql.push_str(" AND reporter = currentUser()");
            }
            let options = SearchOptions {
                fields: vec!["created".into()],
                page_size: 100,
                prefetch: false,
                limit: None,
            };
            let candidates: Vec<jira_model::Issue> = self
                .client
                .search(&jql, options)
                .try_collect()
                .await
                .map_err(|e| e.to_string())?;
            let wanted: Vec<&str> = group.iter().map(|l| l.id).collect();
            let ids: Vec<String> = candidates.iter().map(|i| i.id.clone()).collect();
            let fields = ["created"];
            let chunk = jira_model::bulk_fetch_max_issues(&fields, &[]);
            for chunk in ids.chunks(chunk) {
                let request = ApiRequest::bulk_fetch(&BulkFetchRequest {
                    issue_ids_or_keys: chunk.to_vec(),
                    fields: fields.iter().map(|f| (*f).to_owned()).collect(),
                    properties: vec![IDEMPOTENCY_PROPERTY.into()],
                    ..BulkFetchRequest::default()
                })
                .map_err(|e| e.to_string())?;
                let page: BulkFetchResponse = self.read(request).await?;
                for issue in page.issues {
                    let key = issue
                        .properties
                        .as_ref()
                        .and_then(|p| p.get(IDEMPOTENCY_PROPERTY))
                        .and_then(|v| v["key"].as_str())
                        .map(str::to_owned);
                    if let Some(key) = key.filter(|k| wanted.contains(&k.as_str())) {
                        found.push((
                            key,
                            CreatedIssue {
                                id: issue.id.clone(),
                                key: issue.key.clone(),
                                self_url: None,
                            },
                        ));
                    }
                }
            }
        }
        Ok(found)
    }
}

/// A create whose answer was lost: what finds it on the site.
pub(crate) struct LostCreate<'a> {
    /// Its content key (the idempotency property's value).
    pub(crate) id: &'a str,
    /// What was sent.
    pub(crate) issue: &'a IssueUpdate,
    /// When its intent was recorded, milliseconds since the epoch.
    pub(crate) since_ms: i64,
}

impl LostCreate<'_> {
    /// The project it was created in (key or id, as sent).
    fn project(&self) -> Option<String> {
        let project = self.issue.fields.get("project")?;
        project["key"]
            .as_str()
            .or_else(|| project["id"].as_str())
            .map(str::to_owned)
            .or_else(|| project["id"].as_u64().map(|id| id.to_string()))
    }

    /// Whether it named its reporter (then it need not be the caller).
    fn names_reporter(&self) -> bool {
        self.issue.fields.contains_key("reporter")
    }
}

/// How far before its intent a lost create is looked for: the intent is written before
/// the request leaves, and the site's clock is not this machine's.
const LOOKUP_MARGIN_MS: i64 = 120_000;

/// Now, in milliseconds since the epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
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
