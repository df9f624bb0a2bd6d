//! Atlassian Document Format as plain text, for the places a person reads a cell (CSV,
//! tables): paragraphs and headings on their own lines, lists as `- ` and `1. ` items,
//! mentions, emoji, dates and status lozenges by their text, links by their URL, code
//! blocks as their code, tables a row a line with cells separated by ` | `. JSON output
//! keeps the ADF itself; this is only a rendering.
//!
//! No crate on crates.io converts ADF and is kept up (the ones there are one-off
//! ports without tests of tables or mentions), so this is a small converter tested on each
//! node type the REST v3 bodies use.

use serde_json::Value;

/// Whether `value` is an ADF document (`{"type": "doc", "content": [...]}`).
pub fn is_adf(value: &Value) -> bool {
    value.get("type").and_then(Value::as_str) == Some("doc") && value.get("content").is_some()
}

/// The plain text of an ADF document (or of any ADF node); blocks end with a newline
/// between them, no trailing newline.
///
/// ```
/// let doc = serde_json::json!({"type": "doc", "version": 1, "content": [
///     {"type": "paragraph", "content": [
///         {"type": "text", "text": "Ask "},
///         {"type": "mention", "attrs": {"id": "5b10", "text": "@Ana"}},
///     ]},
///     {"type": "bulletList", "content": [
///         {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "one"}]}]},
///     ]},
/// ]});
/// assert_eq!(jira_model::adf::to_text(&doc), "Ask @Ana\n- one");
/// ```
pub fn to_text(node: &Value) -> String {
    let mut out = Vec::new();
    block(node, &mut out, 0);
    out.join("\n")
}

/// Appends the lines of block `node` to `out`, lists indented by `depth`.
fn block(node: &Value, out: &mut Vec<String>, depth: usize) {
    let kind = node.get("type").and_then(Value::as_str).unwrap_or_default();
    let children = || {
        node.get("content")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
    };
    match kind {
        "doc" | "blockquote" | "panel" | "layoutSection" | "layoutColumn" | "nestedExpand"
        | "bodiedExtension" => {
            for child in children() {
                block(child, out, depth);
            }
        }
        "expand" => {
            if let Some(title) = attr(node, "title").filter(|t| !t.is_empty()) {
                out.push(title.to_owned());
            }
            for child in children() {
                block(child, out, depth);
            }
        }
        "bulletList" | "orderedList" | "taskList" | "decisionList" => {
            let start = node
                .get("attrs")
                .and_then(|a| a.get("order"))
                .and_then(Value::as_u64)
                .unwrap_or(1);
            for (n, item) in children().iter().enumerate() {
                let marker = match kind {
                    "orderedList" => format!("{}. ", start + n as u64),
                    "taskList" if attr(item, "state") == Some("DONE") => "[x] ".to_owned(),
                    "taskList" => "[ ] ".to_owned(),
                    _ => "- ".to_owned(),
                };
                let mut lines = Vec::new();
                // A list item holds paragraphs and nested lists; a task or decision
                // item holds inline content directly.
                if item
                    .get("content")
                    .and_then(Value::as_array)
                    .is_some_and(|c| c.iter().all(is_inline))
                {
                    lines.push(inline_text(item));
                } else {
                    for child in item
                        .get("content")
                        .and_then(Value::as_array)
                        .map(Vec::as_slice)
                        .unwrap_or_default()
                    {
                        block(child, &mut lines, depth + 1);
                    }
                }
                let indent = "  ".repeat(depth);
                for (i, line) in lines.into_iter().enumerate() {
                    if i == 0 {
                        out.push(format!("{indent}{marker}{line}"));
                    } else if line.starts_with(' ') {
                        out.push(line);
                    } else {
                        out.push(format!("{indent}  {line}"));
                    }
                }
            }
        }
        "codeBlock" => {
            let code: String = children()
                .iter()
                .filter_map(|c| c.get("text").and_then(Value::as_str))
                .collect();
            out.extend(code.lines().map(str::to_owned));
        }
        "rule" => out.push("---".to_owned()),
        "table" => {
            for row in children() {
                let cells: Vec<String> = row
                    .get("content")
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .map(|cell| {
                        let mut lines = Vec::new();
                        block(cell, &mut lines, 0);
                        lines.join(" ")
                    })
                    .collect();
                out.push(cells.join(" | "));
            }
        }
        "tableCell" | "tableHeader" | "listItem" => {
            for child in children() {
                block(child, out, depth);
            }
        }
        "mediaSingle" | "mediaGroup" => out.push("[attachment]".to_owned()),
        "blockCard" | "embedCard" => {
            if let Some(url) = attr(node, "url") {
                out.push(url.to_owned());
            }
        }
        _ if is_inline(node) => out.push(inline(node)),
        // Paragraphs, headings and any block type added later: their inline text.
        _ => {
            let text = inline_text(node);
            if !text.is_empty() || kind == "paragraph" {
                out.push(text);
            }
        }
    }
}

fn attr<'a>(node: &'a Value, name: &str) -> Option<&'a str> {
    node.get("attrs")
        .and_then(|a| a.get(name))
        .and_then(Value::as_str)
}

fn is_inline(node: &Value) -> bool {
    matches!(
        node.get("type").and_then(Value::as_str),
        Some(
            "text"
                | "hardBreak"
                | "mention"
                | "emoji"
                | "inlineCard"
                | "date"
                | "status"
                | "placeholder"
                | "inlineExtension"
                | "mediaInline"
        )
    )
}

/// The text of a node's inline children, one line (a hard break is a space).
fn inline_text(node: &Value) -> String {
    node.get("content")
        .and_then(Value::as_array)
        .map(|c| c.iter().map(inline).collect())
        .unwrap_or_default()
}

fn inline(node: &Value) -> String {
    let text = |name: &str| attr(node, name).unwrap_or_default().to_owned();
    match node.get("type").and_then(Value::as_str).unwrap_or_default() {
        "text" => node
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        "hardBreak" => " ".to_owned(),
        "mention" => {
            let name = text("text");
            if name.is_empty() {
                format!("@{}", text("id"))
            } else if name.starts_with('@') {
                name
            } else {
                format!("@{name}")
            }
        }
        "emoji" => attr(node, "text")
            .or_else(|| attr(node, "shortName"))
            .unwrap_or_default()
            .to_owned(),
        "inlineCard" => text("url"),
        "status" => format!("[{}]", text("text")),
        "date" => attr(node, "timestamp")
            .and_then(|t| t.parse::<i64>().ok())
            .and_then(|ms| {
                time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
            })
            .map(|d| {
                let date = d.date();
                format!(
                    "{:04}-{:02}-{:02}",
                    date.year(),
                    u8::from(date.month()),
                    date.day()
                )
            })
            .unwrap_or_default(),
        "mediaInline" => "[attachment]".to_owned(),
        _ => inline_text(node),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(content: Value) -> Value {
        json!({"type": "doc", "version": 1, "content": content})
    }

    fn para(text: &str) -> Value {
        json!({"type": "paragraph", "content": [{"type": "text", "text": text}]})
    }

    #[test]
    fn paragraphs_and_headings_are_lines() {
        let value = doc(json!([
            {"type": "heading", "attrs": {"level": 2}, "content": [{"type": "text", "text": "Title"}]},
            para("first"),
            {"type": "paragraph", "content": [
                {"type": "text", "text": "a", "marks": [{"type": "strong"}]},
                {"type": "hardBreak"},
                {"type": "text", "text": "b"},
            ]},
        ]));
        assert!(is_adf(&value));
        assert_eq!(to_text(&value), "Title\nfirst\na b");
    }

    #[test]
    fn lists_nest_and_number() {
        let value = doc(json!([
            {"type": "orderedList", "attrs": {"order": 3}, "content": [
                {"type": "listItem", "content": [para("three"),
                    {"type": "bulletList", "content": [
                        {"type": "listItem", "content": [para("inner")]},
                    ]},
                ]},
                {"type": "listItem", "content": [para("four")]},
            ]},
            {"type": "taskList", "content": [
                {"type": "taskItem", "attrs": {"state": "DONE"}, "content": [{"type": "text", "text": "done"}]},
                {"type": "taskItem", "attrs": {"state": "TODO"}, "content": [{"type": "text", "text": "todo"}]},
            ]},
        ]));
        assert_eq!(
            to_text(&value),
            "3. three\n  - inner\n4. four\n[x] done\n[ ] todo"
        );
    }

    #[test]
    fn mentions_emoji_cards_status_and_dates() {
        let value = doc(json!([{"type": "paragraph", "content": [
            {"type": "mention", "attrs": {"id": "5b10", "text": "@Ana"}},
            {"type": "text", "text": " "},
            {"type": "mention", "attrs": {"id": "5b11", "text": "Bo"}},
            {"type": "text", "text": " "},
            {"type": "mention", "attrs": {"id": "5b12"}},
            {"type": "text", "text": " "},
            {"type": "emoji", "attrs": {"shortName": ":smile:", "text": "😄"}},
            {"type": "text", "text": " "},
            {"type": "inlineCard", "attrs": {"url": "https://example.com/x"}},
            {"type": "text", "text": " "},
            {"type": "status", "attrs": {"text": "DONE", "color": "green"}},
            {"type": "text", "text": " "},
            {"type": "date", "attrs": {"timestamp": "1733011200000"}},
        ]}]));
        assert_eq!(
            to_text(&value),
            "@Ana @Bo @5b12 😄 https://example.com/x [DONE] 2024-12-01"
        );
    }

    #[test]
    fn code_blocks_keep_their_lines() {
        let value = doc(json!([
            {"type": "codeBlock", "attrs": {"language": "rust"}, "content": [
                {"type": "text", "text": "fn main() {\n    run();\n}"},
            ]},
            {"type": "rule"},
            {"type": "blockquote", "content": [para("quoted")]},
        ]));
        assert_eq!(to_text(&value), "fn main() {\n    run();\n}\n---\nquoted");
    }

    #[test]
    fn tables_are_a_row_a_line() {
        let cell = |kind: &str, text: &str| json!({"type": kind, "content": [para(text)]});
        let value = doc(json!([{"type": "table", "content": [
            {"type": "tableRow", "content": [cell("tableHeader", "Name"), cell("tableHeader", "Points")]},
            {"type": "tableRow", "content": [cell("tableCell", "login"), cell("tableCell", "3")]},
        ]}]));
        assert_eq!(to_text(&value), "Name | Points\nlogin | 3");
    }

    #[test]
    fn media_and_unknown_nodes_do_not_fail() {
        let value = doc(json!([
            {"type": "mediaSingle", "content": [{"type": "media", "attrs": {"id": "x"}}]},
            {"type": "somethingNew", "content": [{"type": "text", "text": "kept"}]},
            {"type": "paragraph"},
            "not an object",
        ]));
        assert_eq!(to_text(&value), "[attachment]\nkept\n");
        assert!(!is_adf(&json!({"type": "paragraph"})));
        assert!(!is_adf(&json!("doc")));
    }
}
