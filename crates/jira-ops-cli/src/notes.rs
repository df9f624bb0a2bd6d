//! Lines for people on stderr (notes, warnings, errors, the counts a command ends with):
//! text, or with `--log-format json` one JSON object each, shaped as the log lines around
//! them (`timestamp`, `level`, `target`, `fields.message`), so that a log collector reads
//! every line of stderr the same way.

use std::sync::atomic::{AtomicBool, Ordering};

static JSON: AtomicBool = AtomicBool::new(false);

/// Makes every later line a JSON object (`--log-format json`).
pub fn use_json(on: bool) {
    JSON.store(on, Ordering::Relaxed);
}

/// Whether lines are JSON objects.
pub fn json() -> bool {
    JSON.load(Ordering::Relaxed)
}

/// The level a line's prefix says (`jira-ops: error: …` is an error) and its message
/// without the prefix.
fn classify(text: &str) -> (&'static str, &str) {
    let Some(rest) = text.strip_prefix("jira-ops: ") else {
        return ("INFO", text);
    };
    for (prefix, level) in [
        ("error: ", "ERROR"),
        ("warning: ", "WARN"),
        ("note: ", "INFO"),
    ] {
        if let Some(message) = rest.strip_prefix(prefix) {
            return (level, message);
        }
    }
    if rest.starts_with("interrupted") || rest.starts_with("stopped") {
        return ("WARN", rest);
    }
    ("INFO", rest)
}

/// Writes `text` on stderr as one line (or, in JSON, one object).
pub fn line(text: &str) {
    if !json() {
        eprintln!("{text}");
        return;
    }
    let (level, message) = classify(text);
    let timestamp = jiff::Timestamp::now().to_string();
    eprintln!(
        "{}",
        serde_json::json!({
            "timestamp": timestamp,
            "level": level,
            "target": "jira_ops",
            "fields": { "message": message },
        })
    );
}

/// `eprintln!` that follows `--log-format`: see [`line()`].
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::notes::line(&format!($($arg)*))
    };
}
pub(crate) use say;

#[cfg(test)]
mod tests {
    use super::classify;

    #[test]
    fn prefixes_say_the_level() {
        assert_eq!(classify("jira-ops: error: bad"), ("ERROR", "bad"));
        assert_eq!(classify("jira-ops: warning: hm"), ("WARN", "hm"));
        assert_eq!(classify("jira-ops: note: fyi"), ("INFO", "fyi"));
        assert_eq!(
            classify("jira-ops: interrupted: finishing"),
            ("WARN", "interrupted: finishing")
        );
        assert_eq!(classify("fetched 1 of 1"), ("INFO", "fetched 1 of 1"));
    }
}
