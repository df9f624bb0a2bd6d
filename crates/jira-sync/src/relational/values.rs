//! Reading the columns out of Jira's JSON: times in UTC, ADF as text, users by account
//! id, and custom field values flattened to one row per element.

use serde_json::Value;

use super::SqlValue;

/// A Jira timestamp as UTC ISO 8601 (`2025-03-19T07:52:08.734Z`); NULL when unreadable.
pub(crate) fn time(text: &str) -> SqlValue {
    text.parse::<jira_model::JiraTimestamp>()
        .map_or(SqlValue::Null, |t| SqlValue::Text(t.to_utc_iso()))
}

/// UTC ISO 8601 of epoch milliseconds.
pub(crate) fn time_ms(ms: i64) -> SqlValue {
    jira_model::JiraTimestamp::from_unix_millis(ms)
        .map_or(SqlValue::Null, |t| SqlValue::Text(t.to_utc_iso()))
}

/// A string member as text; NULL when absent or empty.
pub(crate) fn text(value: Option<&Value>) -> SqlValue {
    non_empty(value.and_then(Value::as_str))
}

/// A text column's value: the text, or NULL when there is none or it is empty (the one
/// rule for every text column, whether read from a tree or a skim).
pub(crate) fn non_empty(text: Option<&str>) -> SqlValue {
    match text {
        Some(text) if !text.is_empty() => SqlValue::Text(text.to_owned()),
        _ => SqlValue::Null,
    }
}

/// `object.member` as text (`status.name`, `assignee.accountId`).
pub(crate) fn member(object: Option<&Value>, name: &str) -> SqlValue {
    text(object.and_then(|o| o.get(name)))
}

/// Rich text (ADF in REST v3, a plain string in v2) as plain text.
pub(crate) fn rich_text(value: Option<&Value>) -> SqlValue {
    match value {
        Some(Value::String(text)) => SqlValue::Text(text.clone()),
        Some(doc @ Value::Object(_)) => SqlValue::Text(jira_model::adf::to_text(doc)),
        _ => SqlValue::Null,
    }
}

/// One value of a custom field: its text, its number when it is one, its JSON.
pub(crate) struct FieldValue {
    pub(crate) text: SqlValue,
    pub(crate) number: SqlValue,
    pub(crate) json: String,
}

/// The rows a custom field's value makes: none when empty (`null`, `""`, `[]`), one per
/// element of an array, else one. Options give their `value` (a cascading option
/// `parent / child`), users their account id, versions, sprints and the like their
/// `name`, rich text its text, numbers their number (and its text).
pub(crate) fn field_values(value: &Value) -> Vec<FieldValue> {
    match value {
        Value::Null => Vec::new(),
        Value::String(text) if text.is_empty() => Vec::new(),
        Value::Array(items) => items.iter().filter_map(one_value).collect(),
        Value::Object(_) if jira_model::adf::is_adf(value) => vec![FieldValue {
            text: rich_text(Some(value)),
            number: SqlValue::Null,
            json: value.to_string(),
        }],
        _ => one_value(value).into_iter().collect(),
    }
}

fn one_value(value: &Value) -> Option<FieldValue> {
    let (text, number) = match value {
        Value::Null => return None,
        Value::String(text) if text.is_empty() => return None,
        Value::String(text) => (SqlValue::Text(text.clone()), SqlValue::Null),
        Value::Number(n) => (
            SqlValue::Text(n.to_string()),
            n.as_f64().map_or(SqlValue::Null, SqlValue::Real),
        ),
        Value::Bool(b) => (SqlValue::Text(b.to_string()), SqlValue::Null),
        Value::Object(object) => {
            let first = ["accountId", "value", "name", "key", "displayName", "id"]
                .iter()
                .find_map(|member| object.get(*member).and_then(Value::as_str));
            let text = match (first, object.get("child").and_then(|c| c.get("value"))) {
                (Some(parent), Some(Value::String(child))) => format!("{parent} / {child}"),
                (Some(text), _) => text.to_owned(),
                (None, _) => value.to_string(),
            };
            (SqlValue::Text(text), SqlValue::Null)
        }
        Value::Array(_) => (SqlValue::Text(value.to_string()), SqlValue::Null),
    };
    Some(FieldValue {
        text,
        number,
        json: value.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn texts(value: Value) -> Vec<SqlValue> {
        field_values(&value).into_iter().map(|v| v.text).collect()
    }

    #[test]
    fn custom_values_flatten_to_their_text_one_row_per_element() {
        assert!(texts(json!(null)).is_empty());
        assert!(texts(json!([])).is_empty());
        assert_eq!(
            texts(json!({"id": "1", "value": "Platform"})),
            [SqlValue::Text("Platform".into())]
        );
        assert_eq!(
            texts(json!({"value": "EU", "child": {"value": "Berlin"}})),
            [SqlValue::Text("EU / Berlin".into())]
        );
        assert_eq!(
            texts(json!([{"accountId": "a1", "displayName": "Ana"}, {"name": "Sprint 4"}])),
            [
                SqlValue::Text("a1".into()),
                SqlValue::Text("Sprint 4".into())
            ]
        );
        let points = field_values(&json!(5.5));
        assert_eq!(points[0].number, SqlValue::Real(5.5));
        assert_eq!(points[0].text, SqlValue::Text("5.5".into()));
        let doc = json!({"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": "hi"}]}]});
        assert_eq!(texts(doc), [SqlValue::Text("hi".into())]);
    }

    #[test]
    fn times_are_utc_iso_that_sql_reads() {
        assert_eq!(
            time("2025-03-19T08:52:08.734+0100"),
            SqlValue::Text("2025-03-19T07:52:08.734Z".into())
        );
        assert_eq!(time("soon"), SqlValue::Null);
    }
}
