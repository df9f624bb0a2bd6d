//! Glob patterns for invalidation: `*` (any run), `?` (one character), `[...]` (a class),
//! case-sensitive, matched against the key within its category (`PROJ-123`).
//!
//! The literal prefix of a pattern (everything before its first wildcard) narrows the scan
//! of the ordered key space: `PROJ-*` reads only keys starting with `PROJ-`.

use globset::{GlobBuilder, GlobMatcher};

use crate::Error;

/// A compiled invalidation pattern.
#[derive(Clone, Debug)]
pub struct Pattern {
    text: String,
    matcher: GlobMatcher,
    prefix: String,
}

/// The longest pattern taken: keys are a project key and a number, or a short path.
const MAX_PATTERN_LEN: usize = 1_024;

/// The most wildcards (`*`, `?`, `[`) a pattern takes.
const MAX_WILDCARDS: usize = 64;

impl Pattern {
    /// Compiles `pattern`; a clear error for a bad one.
    pub fn new(pattern: &str) -> Result<Self, Error> {
        if pattern.is_empty() {
            return Err(Error::Pattern {
                pattern: pattern.into(),
                reason: "it is empty".into(),
            });
        }
        // The glob compiles to a regular expression: a huge one exhausts the compiler
        // (it panicked on 93,500 `*`). Keys are short; so are the patterns that match them.
        let wildcards = pattern
            .chars()
            .filter(|c| matches!(c, '*' | '?' | '['))
            .count();
        if pattern.len() > MAX_PATTERN_LEN || wildcards > MAX_WILDCARDS {
            return Err(Error::Pattern {
                pattern: pattern.chars().take(40).collect::<String>() + "…",
                reason: format!(
                    "it is {} characters with {wildcards} wildcards; a pattern is at most {MAX_PATTERN_LEN} characters with {MAX_WILDCARDS} wildcards (`PROJ-*` matches a project's keys)",
                    pattern.len()
                ),
            });
        }
        let glob = GlobBuilder::new(pattern)
            .case_insensitive(false)
            .literal_separator(false)
            .backslash_escape(true)
            .build()
            .map_err(|error| Error::Pattern {
                pattern: pattern.into(),
                reason: error.kind().to_string(),
            })?;
        // Everything before the first wildcard, escapes resolved (`PROJ\?-*` → `PROJ?-`).
        let mut prefix = String::new();
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            match c {
                '*' | '?' | '[' | '{' => break,
                '\\' => match chars.next() {
                    Some(escaped) => prefix.push(escaped),
                    None => break,
                },
                literal => prefix.push(literal),
            }
        }
        Ok(Pattern {
            text: pattern.into(),
            matcher: glob.compile_matcher(),
            prefix,
        })
    }

    /// `text` with every wildcard and escape character escaped: a pattern matching `text`
    /// alone (`PROJ-1?` → `PROJ-1\?`).
    pub fn escape(text: &str) -> String {
        text.chars()
            .flat_map(|c| {
                let special = matches!(c, '*' | '?' | '[' | ']' | '{' | '}' | '\\');
                special
                    .then_some('\\')
                    .into_iter()
                    .chain(std::iter::once(c))
            })
            .collect()
    }

    /// Whether `key` matches.
    pub fn matches(&self, key: &str) -> bool {
        self.matcher.is_match(key)
    }

    /// The literal text every match starts with.
    pub fn literal_prefix(&self) -> &str {
        &self.prefix
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pattern: &str, key: &str, expected: bool) {
        let compiled = Pattern::new(pattern).unwrap();
        assert_eq!(compiled.matches(key), expected, "{pattern} vs {key}");
    }

    #[test]
    fn semantics() {
        check("PROJ-*", "PROJ-1", true);
        check("PROJ-*", "PROJ-12345", true);
        check("PROJ-*", "PROJECT-1", false);
        check("PROJ-*", "proj-1", false);
        check("PROJ-?", "PROJ-7", true);
        check("PROJ-?", "PROJ-77", false);
        check("PROJ-[12]*", "PROJ-15", true);
        check("PROJ-[12]*", "PROJ-35", false);
        check("PROJ-[!1]", "PROJ-2", true);
        check("*", "anything/with/slashes", true);
        check("project:*:metadata", "project:PROJ:metadata", true);
        check(
            "search:*project=PROJ*",
            "search:jql=project=PROJ AND x",
            true,
        );
        check("a\\*b", "a*b", true);
        check("a\\*b", "axb", false);
    }

    #[test]
    fn literal_prefixes() {
        let prefix = |p: &str| Pattern::new(p).unwrap().literal_prefix().to_owned();
        assert_eq!(prefix("PROJ-*"), "PROJ-");
        assert_eq!(prefix("PROJ-1?"), "PROJ-1");
        assert_eq!(prefix("*-1"), "");
        assert_eq!(prefix("exact"), "exact");
    }

    #[test]
    fn a_huge_pattern_is_refused_not_compiled() {
        let error = Pattern::new(&"*".repeat(93_500)).unwrap_err().to_string();
        assert!(error.contains("at most 1024 characters"), "{error}");
        assert!(
            error.len() < 400,
            "the pattern is not echoed whole: {error}"
        );
        assert!(Pattern::new(&"?".repeat(65)).is_err());
        assert!(Pattern::new("PROJ-*").is_ok());
    }

    #[test]
    fn bad_patterns_say_what_is_wrong() {
        let message = Pattern::new("PROJ-[").unwrap_err().to_string();
        assert!(
            message.contains("\"PROJ-[\" is invalid") && message.contains("unclosed"),
            "{message}"
        );
        assert!(message.contains("--pattern 'PROJ-*'"));
        assert!(Pattern::new("").unwrap_err().to_string().contains("empty"));
    }
}
