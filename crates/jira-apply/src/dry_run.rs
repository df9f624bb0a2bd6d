//! What each line would change, read from the site (`apply --dry-run`).

use futures_util::StreamExt as _;
use http::Method;
use jira_model::ApiRequest;
use serde::Serialize;
use serde_json::Value;

use crate::Writes;
use crate::change::{Change, Operation};
use crate::line::comment_adf;
use crate::transition::{Prepared, Transitions};

/// What a line would change, read from the site (`--dry-run`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DryLine {
    /// The line number.
    pub line: usize,
    /// The operation.
    pub op: String,
    /// The issue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issue: Option<String>,
    /// The change, from what the issue holds now to what the line asks.
    pub change: String,
    /// Whether the line would do anything (false: already so, or it would be refused).
    pub would_write: bool,
    /// Whether the real run would refuse it (an issue that does not exist, a field not on
    /// its edit screen or given a value of the wrong type, an unknown account or link
    /// type, a transition not open from the issue's status); `change` says why and how
    /// to fix it.
    pub would_fail: bool,
}

impl Writes<'_> {
    /// What each line would change, read from the site; nothing is written.
    pub(crate) async fn apply_dry_run(&self, changes: &[Change]) -> Vec<DryLine> {
        let transitions = Transitions::default();
        let permissions = crate::precheck::Permissions::default();
        futures_util::stream::iter(changes)
            .map(|change| {
                let (transitions, permissions) = (&transitions, &permissions);
                async move { self.dry_line(change, transitions, permissions).await }
            })
            .buffered(self.client.batch_config().max_concurrent.max(1))
            .collect()
            .await
    }

    pub(crate) async fn dry_line(
        &self,
        change: &Change,
        transitions: &Transitions,
        permissions: &crate::precheck::Permissions,
    ) -> DryLine {
        let op = &change.op;
        let dry = |change_text: String, would_write: bool| DryLine {
            line: change.line,
            op: op.name().into(),
            issue: op.issue().map(str::to_owned),
            change: change_text,
            would_write,
            would_fail: false,
        };
        let fail = |why: String| DryLine {
            would_fail: true,
            ..dry(format!("would be refused: {why}"), false)
        };
        if let Err(why) = self.permitted(op, permissions).await {
            return fail(why);
        }
        let current = |issue: &str, fields: Vec<String>| {
            let issue = issue.to_owned();
            async move {
                let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
                self.read_json(ApiRequest::get_issue(&issue, &refs, &[]))
                    .await
                    .map(|v| v["fields"].clone())
            }
        };
        let show = |v: &Value| match v {
            Value::Null => "(none)".to_owned(),
            Value::String(s) => format!("{s:?}"),
            Value::Object(o) => o
                .get("name")
                .or_else(|| o.get("displayName"))
                .or_else(|| o.get("value"))
                .or_else(|| o.get("key"))
                .map_or_else(
                    || v.to_string(),
                    |n| n.as_str().map_or(n.to_string(), str::to_owned),
                ),
            other => other.to_string(),
        };
        match op {
            Operation::Update {
                issue,
                fields,
                update,
            } => {
                let names: Vec<String> = fields.keys().chain(update.keys()).cloned().collect();
                if let Err(why) = self.editable(issue, fields, update).await {
                    return fail(why);
                }
                match current(issue, names).await {
                    Err(message) => fail(message),
                    Ok(now) => {
                        let mut parts = Vec::new();
                        let mut changes = false;
                        for (field, value) in fields {
                            let before = &now[field];
                            let same = before == value
                                || (value.is_object()
                                    && value
                                        .as_object()
                                        .is_some_and(|o| o.iter().all(|(k, v)| &before[k] == v)));
                            changes |= !same;
                            parts.push(format!(
                                "{field}: {} → {}{}",
                                show(before),
                                show(value),
                                if same { " (already so)" } else { "" }
                            ));
                        }
                        for (field, verbs) in update {
                            changes = true;
                            parts.push(format!("{field}: {} then {verbs}", show(&now[field])));
                        }
                        dry(parts.join("; "), changes)
                    }
                }
            }
            Operation::Label { issue, add, remove } => {
                match current(issue, vec!["labels".into()]).await {
                    Err(message) => fail(message),
                    Ok(now) => {
                        let labels: Vec<String> = now["labels"]
                            .as_array()
                            .map(Vec::as_slice)
                            .unwrap_or_default()
                            .iter()
                            .filter_map(|l| l.as_str().map(str::to_owned))
                            .collect();
                        let mut after = labels.clone();
                        for label in add {
                            if !after.contains(label) {
                                after.push(label.clone());
                            }
                        }
                        after.retain(|l| !remove.contains(l));
                        dry(format!("labels: {labels:?} → {after:?}"), after != labels)
                    }
                }
            }
            Operation::Assign { issue, account_id } => {
                if let Some(account) = account_id
                    && let Err(why) = self.account_known(account).await
                {
                    return fail(why);
                }
                match current(issue, vec!["assignee".into()]).await {
                    Err(message) => fail(message),
                    Ok(now) => {
                        let before = now["assignee"]["accountId"].as_str().map(str::to_owned);
                        dry(
                            format!(
                                "assignee: {} → {}",
                                before.as_deref().unwrap_or("(none)"),
                                account_id.as_deref().unwrap_or("(none)")
                            ),
                            before != *account_id,
                        )
                    }
                }
            }
            Operation::Transition {
                issue,
                to,
                fields,
                walk,
            } => {
                let walked: &[String] = &[];
                match self
                    .prepare_transition(
                        issue,
                        to,
                        fields,
                        transitions,
                        None,
                        walk.then_some(walked),
                    )
                    .await
                {
                    Prepared::Send(request, target) => {
                        let chosen = request
                            .body
                            .as_ref()
                            .and_then(|b| serde_json::from_slice::<Value>(b).ok())
                            .and_then(|b| b["transition"]["id"].as_str().map(str::to_owned));
                        let last = target
                            .as_deref()
                            .is_none_or(|t| !*walk || t.eq_ignore_ascii_case(to));
                        if let Some(id) = chosen.filter(|_| last)
                            && let Err(why) = self.screen_takes(issue, &id, fields).await
                        {
                            return fail(why);
                        }
                        let from = self
                            .standing(issue)
                            .await
                            .map(|s| s.status.0)
                            .unwrap_or_default();
                        // The status it leads to, not the transition's own name.
                        let status = target.as_deref().unwrap_or(to);
                        let (status, via) = if status.eq_ignore_ascii_case(to) {
                            (status, String::new())
                        } else if *walk {
                            (
                                to.as_str(),
                                format!(" (through other statuses, first {status})"),
                            )
                        } else {
                            (status, format!(" (through {to:?})"))
                        };
                        dry(format!("status: {from} → {status}{via}"), true)
                    }
                    Prepared::AlreadySo(message) => dry(message, false),
                    Prepared::Refused(message) | Prepared::Failed(message) => fail(message),
                }
            }
            Operation::Comment { issue, body } => {
                if let Err(message) = current(issue, vec!["summary".into()]).await {
                    return fail(message);
                }
                let text = jira_model::adf::to_text(&comment_adf(body));
                dry(
                    format!(
                        "adds a comment to {issue} ({} characters)",
                        text.chars().count()
                    ),
                    true,
                )
            }
            Operation::Link {
                link_type,
                inward,
                outward,
            } => {
                if let Err(why) = self.link_type_known(link_type).await {
                    return fail(why);
                }
                for issue in [inward, outward] {
                    if let Err(message) = current(issue, vec!["summary".into()]).await {
                        return fail(message);
                    }
                }
                dry(format!("links {inward} and {outward} ({link_type})"), true)
            }
            Operation::Delete { issue, subtasks } => {
                match current(issue, vec!["summary".into()]).await {
                    Err(message) => fail(format!("nothing to delete: {message}")),
                    Ok(now) => dry(
                        format!(
                            "deletes {issue} ({}){}",
                            show(&now["summary"]),
                            if *subtasks { " with its subtasks" } else { "" }
                        ),
                        true,
                    ),
                }
            }
            Operation::DeleteComment { issue, id } => {
                let path = format!("/rest/api/3/issue/{issue}/comment/{id}");
                let request = ApiRequest::new(
                    http::Method::GET,
                    "/rest/api/3/issue/{issueIdOrKey}/comment/{id}",
                    path,
                );
                match self.read_json(request).await {
                    Ok(_) => dry(format!("deletes comment {id} of {issue}"), true),
                    Err(_) => dry(format!("comment {id} of {issue} is already gone"), false),
                }
            }
            Operation::Unlink {
                link_type,
                inward,
                outward,
            } => match self.link_id(link_type, inward, outward).await {
                Ok(Some(_)) => dry(
                    format!("removes the {link_type} link from {inward} to {outward}"),
                    true,
                ),
                Ok(None) => dry(
                    format!("no {link_type} link from {inward} to {outward}"),
                    false,
                ),
                Err(message) => fail(message),
            },
            Operation::Create { fields } => dry(
                format!(
                    "creates an issue in {} ({})",
                    show(&fields["project"]),
                    show(fields.get("summary").unwrap_or(&Value::Null))
                ),
                true,
            ),
        }
    }

    /// Whether the transition `id` of `issue` can be made with `fields`: every field its
    /// screen requires (and has no default for) given, every field given on its screen,
    /// each value one it allows; the reason and the fix when not.
    pub(crate) async fn screen_takes(
        &self,
        issue: &str,
        id: &str,
        fields: &serde_json::Map<String, Value>,
    ) -> Result<(), String> {
        let page = self
            .read_json(
                ApiRequest::transitions(issue)
                    .query("transitionId", id)
                    .query("expand", "transitions.fields"),
            )
            .await?;
        let Some(transition) = page["transitions"].as_array().and_then(|t| t.first()) else {
            return Ok(());
        };
        let name = transition["name"].as_str().unwrap_or(id);
        let empty = serde_json::Map::new();
        let screen = transition["fields"].as_object().unwrap_or(&empty);
        let allowed = |meta: &Value| -> Vec<String> {
            meta["allowedValues"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v["name"].as_str().or_else(|| v["value"].as_str()))
                .map(str::to_owned)
                .collect()
        };
        for (key, meta) in screen {
            let required = meta["required"] == true && meta["hasDefaultValue"] != true;
            if required && !fields.contains_key(key) {
                let choices = allowed(meta);
                let example = choices
                    .first()
                    .map_or_else(|| "…".to_owned(), |c| format!("{{\"name\": \"{c}\"}}"));
                return Err(format!(
                    "the {name} transition's screen requires {} ({key}): add \"fields\": {{\"{key}\": {example}}}{}",
                    meta["name"].as_str().unwrap_or(key),
                    if choices.is_empty() {
                        String::new()
                    } else {
                        format!(" (allowed: {})", choices.join(", "))
                    }
                ));
            }
        }
        for (key, value) in fields {
            let Some(meta) = screen.get(key) else {
                return Err(format!(
                    "{key} is not on the {name} transition's screen, so Jira will not set it with the transition: set it with an update line instead{}",
                    if screen.is_empty() {
                        " (the transition has no screen)".to_owned()
                    } else {
                        format!(
                            " (its screen has {})",
                            screen.keys().cloned().collect::<Vec<_>>().join(", ")
                        )
                    }
                ));
            };
            let choices = allowed(meta);
            if choices.is_empty() {
                continue;
            }
            let given = value["name"]
                .as_str()
                .or_else(|| value["value"].as_str())
                .map(str::to_owned);
            let by_id = value["id"].as_str().is_some_and(|id| {
                meta["allowedValues"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|v| v["id"].as_str() == Some(id))
            });
            if !by_id
                && !given
                    .as_ref()
                    .is_some_and(|g| choices.iter().any(|c| c.eq_ignore_ascii_case(g)))
            {
                return Err(format!(
                    "{key} {} is not one the {name} transition allows: use one of {}",
                    value,
                    choices.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// Whether every field an update sets is on `issue`'s edit screen and each value has
    /// the field's type (a number for a number field, an account for a user field, an
    /// allowed option, a `YYYY-MM-DD` date); the reason and the fix when not.
    async fn editable(
        &self,
        issue: &str,
        fields: &serde_json::Map<String, Value>,
        update: &serde_json::Map<String, Value>,
    ) -> Result<(), String> {
        editable_in(&self.editmeta(issue).await?, issue, fields, update)
    }

    /// `issue`'s edit screen (`GET /issue/{key}/editmeta`).
    pub(crate) async fn editmeta(&self, issue: &str) -> Result<Value, String> {
        let path = format!("/rest/api/3/issue/{issue}/editmeta");
        self.read_json(ApiRequest::new(
            Method::GET,
            "/rest/api/3/issue/{issueIdOrKey}/editmeta",
            path,
        ))
        .await
    }

    /// Whether the site has the account `account`; why not, and how to find one.
    pub(crate) async fn account_known(&self, account: &str) -> Result<(), String> {
        self.read_json(
            ApiRequest::new(Method::GET, "/rest/api/3/user", "/rest/api/3/user")
                .query("accountId", account),
        )
        .await
        .map(|_| ())
        .map_err(|message| {
            format!(
                "no account {account:?} on the site ({message}); find the account id with `GET /rest/api/3/user/search?query=NAME`"
            )
        })
    }

    /// Whether the site has a link type named `name` (by its name, inward or outward
    /// description); the types it has when not.
    pub(crate) async fn link_type_known(&self, name: &str) -> Result<(), String> {
        let types = self
            .read_json(ApiRequest::new(
                Method::GET,
                "/rest/api/3/issueLinkType",
                "/rest/api/3/issueLinkType",
            ))
            .await?;
        let types = types["issueLinkTypes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let known = types.iter().any(|t| {
            ["name", "inward", "outward"]
                .iter()
                .any(|k| t[*k].as_str().is_some_and(|v| v.eq_ignore_ascii_case(name)))
        });
        if known {
            return Ok(());
        }
        let names: Vec<&str> = types.iter().filter_map(|t| t["name"].as_str()).collect();
        Err(format!(
            "the site has no link type {name:?}; it has: {}",
            names.join(", ")
        ))
    }
}

/// Whether every field an update sets is on the edit screen `meta` describes and each
/// value has the field's type; the reason and the fix when not.
pub(crate) fn editable_in(
    meta: &Value,
    issue: &str,
    fields: &serde_json::Map<String, Value>,
    update: &serde_json::Map<String, Value>,
) -> Result<(), String> {
    let screen = meta["fields"].as_object().cloned().unwrap_or_default();
    for field in fields.keys().chain(update.keys()) {
        let Some(info) = screen.get(field) else {
            let mut editable: Vec<&str> = screen.keys().map(String::as_str).collect();
            editable.sort_unstable();
            return Err(format!(
                "{field:?} is not a field {issue}'s edit screen has (it does not exist, or cannot be edited there); it has: {}",
                editable.join(", ")
            ));
        };
        let Some(value) = fields.get(field) else {
            continue;
        };
        if value.is_null() {
            continue;
        }
        let allowed: Vec<String> = info["allowedValues"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|a| {
                a["value"]
                    .as_str()
                    .or_else(|| a["name"].as_str())
                    .map(str::to_owned)
            })
            .collect();
        let kind = info["schema"]["type"].as_str().unwrap_or_default();
        let wrong = match kind {
            "number" => (!value.is_number()).then(|| "a number".to_owned()),
            "user" => value["accountId"]
                .as_str()
                .is_none()
                .then(|| "an account: {\"accountId\": \"...\"}".to_owned()),
            "date" => {
                (!value.as_str().is_some_and(is_date)).then(|| "a date as YYYY-MM-DD".to_owned())
            }
            _ if !allowed.is_empty() => {
                let named = value["value"].as_str().or_else(|| value["name"].as_str());
                let by_id = value["id"].is_string();
                (!by_id
                    && !named.is_some_and(|n| allowed.iter().any(|a| a.eq_ignore_ascii_case(n))))
                .then(|| format!("one of: {}", allowed.join(", ")))
            }
            _ => None,
        };
        if let Some(expected) = wrong {
            return Err(format!("{field:?} takes {expected}; {value} is not"));
        }
    }
    Ok(())
}

/// Whether `text` is a date as Jira's date fields take it (`2026-12-05`).
fn is_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit())
}
