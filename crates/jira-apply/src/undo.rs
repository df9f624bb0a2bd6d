//! What a line's write changed, kept in the journal with it, so a run can be reverted
//! ([`crate::revert`]).
//!
//! Before a run writes anything, the issues its field lines touch (update, label, assign,
//! transition) are read in bulk fetches of just those fields; each issue's lines are then
//! walked in file order, so every line gets the values its fields held just before it and
//! those it leaves ([`Undo::Fields`]). The undo goes into every journal record of the line
//! (its intent included), so a line whose answer was lost and was found done later still
//! has it, and a resumed run keeps the first one recorded. Comments keep the id Jira gave
//! them, links their ends, creates their key.
//!
//! A transition's status is kept by name. A second transition of one issue in a run is
//! recorded as leaving the status the first was asked for (a line may name the
//! transition, not the status); [`crate::revert`] reads where the first really landed
//! (the `target` of its record) instead.

use std::collections::HashMap;

use futures_util::StreamExt as _;
use jira_model::{ApiRequest, BulkFetchRequest, BulkFetchResponse};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::Writes;
use crate::change::{Change, Operation};

/// What a written line changed, and so how it is undone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Undo {
    /// Field values the line set: as they stood before it and as it left them (`status`
    /// by name, `assignee` as `{"accountId"}` or `null`, `labels` as the whole list).
    Fields {
        /// The issue, as the line named it.
        issue: String,
        /// Each field it changed, as it stood before.
        before: Map<String, Value>,
        /// Each field it changed, as it left it.
        after: Map<String, Value>,
    },
    /// A comment the line added.
    Comment {
        /// The issue, as the line named it.
        issue: String,
        /// The comment's id.
        id: String,
    },
    /// A link the line made.
    Link {
        /// The link type's name.
        link_type: String,
        /// The inward issue.
        inward: String,
        /// The outward issue.
        outward: String,
    },
    /// An issue the line created.
    Created {
        /// Its key.
        key: String,
    },
}

/// The fields `op` changes, as its undo records them.
pub(crate) fn touched(op: &Operation) -> Vec<String> {
    match op {
        Operation::Update { fields, update, .. } => {
            let mut ids: Vec<String> = fields.keys().cloned().collect();
            ids.extend(update.keys().filter(|k| !fields.contains_key(*k)).cloned());
            ids
        }
        Operation::Label { .. } => vec!["labels".into()],
        Operation::Assign { .. } => vec!["assignee".into()],
        Operation::Transition { fields, .. } => std::iter::once("status".to_owned())
            .chain(fields.keys().cloned())
            .collect(),
        _ => Vec::new(),
    }
}

/// A field's value as the undo keeps it: a status by name, anything else as read.
pub(crate) fn normalized(field: &str, value: &Value) -> Value {
    if field == "status" {
        return value.get("name").cloned().unwrap_or_else(|| value.clone());
    }
    value.clone()
}

/// `state` after `op` (the field values of one issue, as the undo keeps them); the fields
/// whose effect cannot be worked out here (an update verb other than set, add, remove)
/// are returned, and left out of the undo.
fn evolve(state: &mut Map<String, Value>, op: &Operation) -> Vec<String> {
    let mut unknown = Vec::new();
    match op {
        Operation::Update { fields, update, .. } => {
            for (id, value) in fields {
                state.insert(id.clone(), value.clone());
            }
            for (id, verbs) in update {
                for verb in verbs.as_array().into_iter().flatten() {
                    let Some((name, value)) = verb.as_object().and_then(|o| o.iter().next()) else {
                        continue;
                    };
                    match name.as_str() {
                        "set" => {
                            state.insert(id.clone(), value.clone());
                        }
                        "add" => push_unique(state, id, value),
                        "remove" => remove_matching(state, id, value),
                        _ => unknown.push(id.clone()),
                    }
                }
            }
        }
        Operation::Label { add, remove, .. } => {
            for label in add {
                push_unique(state, "labels", &json!(label));
            }
            for label in remove {
                remove_matching(state, "labels", &json!(label));
            }
        }
        Operation::Assign { account_id, .. } => {
            let assignee = account_id
                .as_ref()
                .map_or(Value::Null, |a| json!({ "accountId": a }));
            state.insert("assignee".into(), assignee);
        }
        Operation::Transition { to, fields, .. } => {
            state.insert("status".into(), json!(to));
            for (id, value) in fields {
                state.insert(id.clone(), value.clone());
            }
        }
        _ => {}
    }
    unknown
}

fn push_unique(state: &mut Map<String, Value>, id: &str, value: &Value) {
    let entry = state.entry(id.to_owned()).or_insert_with(|| json!([]));
    if !entry.is_array() {
        *entry = json!([]);
    }
    if let Some(list) = entry.as_array_mut()
        && !list.iter().any(|v| holds(v, value))
    {
        list.push(value.clone());
    }
}

fn remove_matching(state: &mut Map<String, Value>, id: &str, value: &Value) {
    if let Some(list) = state.get_mut(id).and_then(Value::as_array_mut) {
        list.retain(|v| !holds(v, value));
    }
}

/// Whether `current` (as Jira returns a field) holds what `expected` (as a line or an
/// undo gives it) says: equal scalars; for an object, each key it names equal (so
/// `{"name": "High"}` holds for Jira's whole priority object); an ADF document by its
/// text; lists by their elements, in any order.
pub fn holds(current: &Value, expected: &Value) -> bool {
    match (current, expected) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && b.iter().all(|e| a.iter().any(|c| holds(c, e)))
        }
        (Value::Object(a), Value::Object(b)) if b.get("type") == Some(&json!("doc")) => {
            a.get("type") == Some(&json!("doc"))
                && jira_model::adf::to_text(current).trim()
                    == jira_model::adf::to_text(expected).trim()
        }
        (Value::Object(a), Value::Object(b)) => {
            b.iter().all(|(k, v)| a.get(k).is_some_and(|c| holds(c, v)))
        }
        // A status kept by name against Jira's status object.
        (Value::Object(a), Value::String(name)) => a
            .get("name")
            .and_then(Value::as_str)
            .is_some_and(|n| n.eq_ignore_ascii_case(name)),
        (Value::String(a), Value::String(b)) => a == b,
        (Value::Null, Value::Array(b)) | (Value::Array(b), Value::Null) => b.is_empty(),
        (a, b) => a == b,
    }
}

/// A value as read from Jira, in the form Jira takes it back: objects by `accountId`,
/// `id`, `value` or `name` (in that order of preference), ADF documents and scalars as
/// they are, lists element by element.
pub fn writable(value: &Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(writable).collect()),
        Value::Object(object) if object.get("type") == Some(&json!("doc")) => value.clone(),
        Value::Object(object) => {
            for key in ["accountId", "id", "value", "name"] {
                if let Some(v) = object.get(key).filter(|v| v.is_string()) {
                    return json!({ key: v });
                }
            }
            value.clone()
        }
        other => other.clone(),
    }
}

impl Writes<'_> {
    /// The undo of every field line of `changes` that has none recorded yet (`recorded`
    /// says which do), from their issues as read before the run's first write (`found`,
    /// holding at least [`undo_fields`]) walked through each issue's lines in file order.
    /// Keyed by the line's index.
    pub(crate) fn capture_undos(
        changes: &[Change],
        recorded: &dyn Fn(usize) -> bool,
        found: &[jira_model::Issue],
    ) -> HashMap<usize, Undo> {
        let mut wanted: Vec<usize> = Vec::new();
        let mut undos = HashMap::new();
        for (n, change) in changes.iter().enumerate() {
            if let Operation::Link {
                link_type,
                inward,
                outward,
            } = &change.op
            {
                undos.insert(
                    n,
                    Undo::Link {
                        link_type: link_type.clone(),
                        inward: inward.clone(),
                        outward: outward.clone(),
                    },
                );
                continue;
            }
            if change.op.issue().is_some() && !touched(&change.op).is_empty() && !recorded(n) {
                wanted.push(n);
            }
        }
        let fields = undo_fields(changes, recorded);
        let mut states = states_of(found, &fields);
        for n in wanted {
            let op = &changes[n].op;
            let Some(issue) = op.issue() else { continue };
            let state = states.entry(issue.to_ascii_uppercase()).or_default();
            let mut touched = touched(op);
            let before: Map<String, Value> = touched
                .iter()
                .map(|f| (f.clone(), state.get(f).cloned().unwrap_or(Value::Null)))
                .collect();
            let unknown = evolve(state, op);
            touched.retain(|f| !unknown.contains(f));
            let before: Map<String, Value> = before
                .into_iter()
                .filter(|(f, _)| touched.contains(f))
                .collect();
            let after = touched
                .iter()
                .map(|f| (f.clone(), state.get(f).cloned().unwrap_or(Value::Null)))
                .collect();
            undos.insert(
                n,
                Undo::Fields {
                    issue: issue.to_owned(),
                    before,
                    after,
                },
            );
        }
        undos
    }

    /// `fields` of `issues` (keys or ids) as they stand, fresh, in bulk fetches of as many
    /// issues as Jira takes for that field list; each issue under its key and id
    /// (upper-cased), statuses by name. An issue the site does not return is left out.
    pub(crate) async fn read_fields(
        &self,
        issues: &[String],
        fields: &[String],
    ) -> Result<HashMap<String, Map<String, Value>>, String> {
        let field_refs: Vec<&str> = fields.iter().map(String::as_str).collect();
        Ok(states_of(
            &self.read_raw(issues, &field_refs).await?,
            fields,
        ))
    }

    /// `fields` of `issues` (keys or ids) as Jira returns them, fresh, in bulk fetches of
    /// as many issues as Jira takes for that field list, side by side. An issue the site
    /// does not return is left out.
    pub(crate) async fn read_raw(
        &self,
        issues: &[String],
        field_refs: &[&str],
    ) -> Result<Vec<jira_model::Issue>, String> {
        let fields: Vec<String> = field_refs.iter().map(|f| (*f).to_owned()).collect();
        let per_request = jira_model::bulk_fetch_max_issues(field_refs, &[]);
        let requests: Vec<ApiRequest> = issues
            .chunks(per_request.max(1))
            .map(|chunk| {
                ApiRequest::bulk_fetch(&BulkFetchRequest {
                    issue_ids_or_keys: chunk.to_vec(),
                    fields: fields.to_vec(),
                    ..BulkFetchRequest::default()
                })
                .map_err(|e| e.to_string())
            })
            .collect::<Result<_, _>>()?;
        let pages: Vec<Result<BulkFetchResponse, String>> = futures_util::stream::iter(requests)
            .map(|request| self.read::<BulkFetchResponse>(request))
            .buffer_unordered(self.client.batch_config().max_concurrent.max(1))
            .collect()
            .await;
        let mut found = Vec::new();
        for page in pages {
            found.extend(page?.issues);
        }
        Ok(found)
    }
}

/// The fields the undos of `changes` need read (those its field lines not `recorded`
/// change).
pub(crate) fn undo_fields(changes: &[Change], recorded: &dyn Fn(usize) -> bool) -> Vec<String> {
    let mut fields: Vec<String> = changes
        .iter()
        .enumerate()
        .filter(|(n, c)| !recorded(*n) && c.op.issue().is_some())
        .flat_map(|(_, c)| touched(&c.op))
        .collect();
    fields.sort();
    fields.dedup();
    fields
}

/// `fields` of each of `issues`, under its key and its id (upper-cased), statuses by name.
fn states_of(
    issues: &[jira_model::Issue],
    fields: &[String],
) -> HashMap<String, Map<String, Value>> {
    let mut states = HashMap::new();
    for issue in issues {
        let state: Map<String, Value> = fields
            .iter()
            .map(|f| {
                let value = issue.fields.get(f).cloned().unwrap_or(Value::Null);
                (f.clone(), normalized(f, &value))
            })
            .collect();
        states.insert(issue.id.to_ascii_uppercase(), state.clone());
        states.insert(issue.key.to_ascii_uppercase(), state);
    }
    states
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_line_gets_the_values_before_it_and_after_it() {
        let mut state = Map::new();
        state.insert("labels".into(), json!(["a"]));
        state.insert("priority".into(), json!({"id": "3", "name": "Medium"}));
        let label = Operation::Label {
            issue: "P-1".into(),
            add: vec!["b".into()],
            remove: vec!["a".into()],
        };
        evolve(&mut state, &label);
        assert_eq!(state["labels"], json!(["b"]));
        let update = Operation::Update {
            issue: "P-1".into(),
            fields: Map::from_iter([("priority".into(), json!({"name": "High"}))]),
            update: Map::from_iter([("components".into(), json!([{"add": {"name": "UI"}}]))]),
        };
        assert_eq!(touched(&update), ["priority", "components"]);
        assert!(evolve(&mut state, &update).is_empty());
        assert_eq!(state["components"], json!([{"name": "UI"}]));
        assert_eq!(state["priority"], json!({"name": "High"}));
    }

    #[test]
    fn values_compare_as_jira_returns_them_and_go_back_as_jira_takes_them() {
        let read = json!({"self": "https://x/priority/3", "id": "3", "name": "Medium"});
        assert!(holds(&read, &json!({"name": "Medium"})));
        assert!(!holds(&read, &json!({"name": "High"})));
        assert_eq!(writable(&read), json!({"id": "3"}));
        assert_eq!(
            writable(&json!({"accountId": "abc", "displayName": "A"})),
            json!({"accountId": "abc"})
        );
        assert_eq!(
            writable(&json!([{"value": "Red", "self": "s"}])),
            json!([{"value": "Red"}])
        );
        assert!(holds(&json!(["b", "a"]), &json!(["a", "b"])));
        assert!(holds(&json!(5.0), &json!(5)));
        assert!(holds(&json!({"name": "Done", "id": "3"}), &json!("done")));
        assert!(holds(&Value::Null, &json!([])));
        let doc = |t: &str| json!({"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": t}]}]});
        assert!(holds(&doc("x"), &doc("x")) && !holds(&doc("x"), &doc("y")));
    }
}
