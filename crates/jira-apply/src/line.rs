//! One line's write: what it sends, how its answer is read, and how a lost answer is
//! resolved before anything is sent again.

use jira_client::Transport as _;
use jira_model::{ApiRequest, ApiResponse, CommentPage, IssueUpdate};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::Writes;
use crate::change::{Change, Operation};
use crate::journal::{IDEMPOTENCY_PROPERTY, JournalRecord, WriteState};
use crate::outcome::{LineResult, Outcome, line_result};
use crate::transition::{Prepared, Transitions};
use crate::undo::Undo;
use crate::writer::JournalWriter;

/// A line's text as ADF: a document as given, text as paragraphs.
pub(crate) fn comment_adf(body: &Value) -> Value {
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

/// A write found on the site: an earlier attempt took effect (a create's key with it, a
/// comment's id).
pub(crate) struct Applied {
    pub(crate) key: Option<String>,
    pub(crate) comment: Option<String>,
}

/// The undo of a comment line done: the comment Jira made.
fn comment_undo(op: &Operation, id: Option<String>) -> Option<Undo> {
    match (op, id) {
        (Operation::Comment { issue, .. }, Some(id)) => Some(Undo::Comment {
            issue: issue.clone(),
            id,
        }),
        _ => None,
    }
}

/// How one attempt at a write ended.
#[allow(clippy::enum_variant_names)]
pub(crate) enum Sent {
    Done(Option<String>),
    Refused(String),
    NotSent(String),
    Unknown(String),
}

pub(crate) fn answer(result: Result<ApiResponse, jira_client::TransportError>) -> Sent {
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

/// A 2xx, taken as done only when it is the answer Jira gives for `op`: a created
/// issue's id and key, a created comment's id, 201 for a link, 204 for an edit, a
/// transition, an assignment and a delete. Anything else (a 200 with an HTML page from a
/// proxy or a captive portal, an empty body where Jira sends JSON) may never have reached
/// Jira: the write is unknown, and resolved as a lost answer is.
pub(crate) fn jira_said_done(op: &Operation, response: &ApiResponse) -> Sent {
    let json = || response.json::<Value>().ok();
    let status = response.status.as_u16();
    let done = match op {
        Operation::Create { .. } => json()
            .filter(|v| v["id"].is_string())
            .and_then(|v| v["key"].as_str().map(|k| Some(k.to_owned()))),
        Operation::Comment { .. } => json().filter(|v| v["id"].is_string()).map(|_| None),
        Operation::Link { .. } => matches!(status, 200 | 201).then_some(None),
        Operation::Update { .. }
        | Operation::Label { .. }
        | Operation::Transition { .. }
        | Operation::Assign { .. }
        | Operation::Delete { .. }
        | Operation::DeleteComment { .. }
        | Operation::Unlink { .. } => (status == 204).then_some(None),
    };
    match done {
        Some(key) => Sent::Done(key),
        None => Sent::Unknown(format!(
            "HTTP {status} with {} is not what Jira answers for a {}: the change may not have reached Jira (a proxy or portal in between?)",
            response.body_description(),
            op.name()
        )),
    }
}

/// Jira's own words for a refusal.
pub(crate) fn jira_message(response: &ApiResponse) -> String {
    let summary = response
        .error_collection()
        .map(|errors| errors.summary())
        .filter(|s| !s.is_empty());
    match summary {
        Some(summary) => format!("HTTP {}: {summary}", response.status.as_u16()),
        None => format!("HTTP {}", response.status.as_u16()),
    }
}

impl Writes<'_> {
    /// One line: resolved against the journal and the site, then sent (at most three
    /// times when answers are lost and the lookup finds nothing). `Err` only when the
    /// journal cannot be written.
    pub(crate) async fn apply_line(
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
        // When the write was last sent (its intent recorded): where a lookup through
        // search starts, and what its settle time counts from.
        let mut intent_at = prior.as_ref().map_or_else(crate::once::now_ms, |r| r.at_ms);
        match prior.as_ref().map(|r| r.state) {
            Some(WriteState::Done) => {
                let mut result = crate::outcome::earlier_result(change, prior.as_ref());
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
        // A line that ends here without a key: its state journaled, its result returned.
        let settle = async |state: WriteState, outcome: Outcome, message: String| {
            let journaled = (state != WriteState::Done).then(|| message.clone());
            writer.write(vec![record(state, journaled, None)]).await?;
            Ok::<_, String>(line_result(change, outcome, Some(message)))
        };
        // Sends whose answer was lost, and the statuses a walking transition passed.
        let mut unknowns = 0;
        let mut walked: Vec<String> = Vec::new();
        for attempt in 0.. {
            // An outcome lost (by an earlier run, or by the attempt before): found on the
            // site before anything is sent again.
            if lost && !op.idempotent() {
                match self.find_applied(op, id, intent_at).await {
                    Ok(Some(Applied { key, comment })) => {
                        let mut done = record(WriteState::Done, None, key.clone());
                        done.undo = comment_undo(op, comment);
                        writer.write(vec![done]).await?;
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
            let request = match self
                .prepare(op, id, transitions, landed.as_deref(), &walked)
                .await
            {
                Prepared::Send(request, target) => {
                    landed = target.or(landed);
                    *request
                }
                Prepared::AlreadySo(message) => {
                    let mut done = record(WriteState::Done, Some(message.clone()), None);
                    done.already_so = true;
                    writer.write(vec![done]).await?;
                    return Ok(line_result(change, Outcome::AlreadySo, Some(message)));
                }
                Prepared::Refused(message) => {
                    return settle(WriteState::Refused, Outcome::Refused, message).await;
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
            intent_at = intent.at_ms;
            writer.write(vec![intent]).await?;
            let response = self.client.transport().send(request).await;
            let comment = match (&response, op) {
                (Ok(r), Operation::Comment { .. }) if r.is_success() => r
                    .json::<Value>()
                    .ok()
                    .and_then(|v| v["id"].as_str().map(str::to_owned)),
                _ => None,
            };
            let sent = match (&response, op) {
                (Ok(r), Operation::Delete { .. }) if r.status.as_u16() == 404 && lost => {
                    Sent::Done(None)
                }
                // The comment is gone: what the line asks for holds.
                (Ok(r), Operation::DeleteComment { .. }) if r.status.as_u16() == 404 => {
                    Sent::Done(None)
                }
                (Ok(r), _) if r.is_success() => jira_said_done(op, r),
                _ => answer(response),
            };
            match sent {
                Sent::Done(key) => {
                    if let Operation::Transition { to, walk: true, .. } = op
                        && let Some(step) = landed.clone().filter(|l| !l.eq_ignore_ascii_case(to))
                    {
                        // A step on the way: on to the next (a crash here resumes from
                        // where the issue stands; the intent says where it was going).
                        if walked.len() + 1 >= crate::transition::WALK_MAX_STEPS {
                            let message = format!(
                                "{} did not reach {to} in {} transitions (through {}); move it by hand",
                                op.issue().unwrap_or_default(),
                                crate::transition::WALK_MAX_STEPS,
                                walked.join(", ")
                            );
                            return settle(WriteState::Refused, Outcome::Refused, message).await;
                        }
                        walked.push(step);
                        lost = false;
                        continue;
                    }
                    let mut done = record(WriteState::Done, None, key.clone());
                    done.undo = comment_undo(op, comment);
                    done.target = landed.clone();
                    writer.write(vec![done]).await?;
                    let mut result = line_result(change, Outcome::Done, None);
                    if key.is_some() {
                        result.issue = key;
                    }
                    return Ok(result);
                }
                Sent::Refused(message) => {
                    return settle(WriteState::Refused, Outcome::Refused, message).await;
                }
                Sent::NotSent(message) => {
                    return settle(WriteState::NotSent, Outcome::NotSent, message).await;
                }
                Sent::Unknown(message) => {
                    writer
                        .write(vec![JournalRecord {
                            target: landed.clone(),
                            ..record(WriteState::Unknown, Some(message.clone()), None)
                        }])
                        .await?;
                    unknowns += 1;
                    if unknowns == 3 {
                        return Ok(line_result(change, Outcome::Unknown, Some(message)));
                    }
                    lost = true;
                }
            }
        }
        // Not reached: every pass above returns, or continues within its bounds.
        Ok(line_result(change, Outcome::Unknown, None))
    }

    /// A read, fresh (below the cache): its JSON body, or what went wrong.
    pub(crate) async fn read_json(&self, request: ApiRequest) -> Result<Value, String> {
        self.read(request).await
    }

    /// A read, fresh (below the cache): its body as `T`, or what went wrong.
    pub(crate) async fn read<T: DeserializeOwned>(&self, request: ApiRequest) -> Result<T, String> {
        let response = self
            .client
            .uncached()
            .send(request)
            .await
            .map_err(|e| e.to_string())?;
        if !response.is_success() {
            return Err(jira_message(&response));
        }
        response.json().map_err(|e| e.to_string())
    }

    /// Whether a non-idempotent write an earlier attempt sent took effect (`Some` when
    /// it did, with a create's key).
    pub(crate) async fn find_applied(
        &self,
        op: &Operation,
        id: &str,
        since_ms: i64,
    ) -> Result<Option<Applied>, String> {
        match op {
            Operation::Comment { issue, .. } => {
                let mut start = 0u64;
                loop {
                    let page: CommentPage = self
                        .read(ApiRequest::comments_with_properties(issue, start, 100))
                        .await?;
                    let found = page.comments.iter().find(|comment| {
                        comment
                            .properties
                            .iter()
                            .any(|p| p.key == IDEMPOTENCY_PROPERTY && p.value["key"] == id)
                    });
                    if let Some(comment) = found {
                        return Ok(Some(Applied {
                            key: None,
                            comment: Some(comment.id.clone()),
                        }));
                    }
                    start = page.start_at + page.comments.len() as u64;
                    if page.comments.is_empty() || start >= page.total {
                        return Ok(None);
                    }
                }
            }
            Operation::Link {
                link_type,
                inward,
                outward,
            } => Ok(self
                .link_id(link_type, inward, outward)
                .await?
                .map(|_| Applied {
                    key: None,
                    comment: None,
                })),
            Operation::Create { fields } => {
                let issue = IssueUpdate {
                    fields: fields.clone(),
                    ..IssueUpdate::default()
                };
                let lost = crate::once::LostCreate {
                    id,
                    issue: &issue,
                    since_ms,
                };
                let found = self.find_created(&[lost]).await?;
                Ok(found.into_iter().next().map(|(_, issue)| Applied {
                    key: Some(issue.key),
                    comment: None,
                }))
            }
            // A transition and a delete are checked against the issue itself (prepare).
            _ => Ok(None),
        }
    }

    /// The id of the `link_type` link from `inward` to `outward`, if there is one (read
    /// fresh from the inward issue).
    pub(crate) async fn link_id(
        &self,
        link_type: &str,
        inward: &str,
        outward: &str,
    ) -> Result<Option<String>, String> {
        let issue = self
            .read_json(ApiRequest::get_issue(inward, &["issuelinks"], &[]))
            .await?;
        let links = issue["fields"]["issuelinks"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        // Seen from the inward issue, the link names the other as outward.
        Ok(links
            .iter()
            .find(|link| {
                link["type"]["name"]
                    .as_str()
                    .is_some_and(|t| t.eq_ignore_ascii_case(link_type))
                    && link["outwardIssue"]["key"]
                        .as_str()
                        .is_some_and(|k| k.eq_ignore_ascii_case(outward))
            })
            .and_then(|link| link["id"].as_str().map(str::to_owned)))
    }

    /// The request a line sends, after the reads it needs.
    pub(crate) async fn prepare(
        &self,
        op: &Operation,
        id: &str,
        transitions: &Transitions,
        landed: Option<&str>,
        walked: &[String],
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
            Operation::Transition {
                issue,
                to,
                fields,
                walk,
            } => {
                let walk = walk.then_some(walked);
                return self
                    .prepare_transition(issue, to, fields, transitions, landed, walk)
                    .await;
            }
            Operation::DeleteComment { issue, id } => Ok(ApiRequest::delete_comment(issue, id)),
            Operation::Unlink {
                link_type,
                inward,
                outward,
            } => {
                return match self.link_id(link_type, inward, outward).await {
                    Ok(Some(link)) => {
                        Prepared::Send(Box::new(ApiRequest::delete_link(&link, inward)), None)
                    }
                    Ok(None) => Prepared::AlreadySo(format!(
                        "no {link_type} link from {inward} to {outward}"
                    )),
                    Err(message) => Prepared::Failed(message),
                };
            }
        };
        match built {
            Ok(request) => Prepared::Send(Box::new(request), None),
            Err(error) => Prepared::Refused(error.to_string()),
        }
    }
}
