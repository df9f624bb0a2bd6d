//! The in-memory index of a JSON Lines sink: what it keeps of each issue (its key, its
//! `updated`, its counts and the queries that hold it) and of each worklog, rebuilt from
//! the committed (compacted) files when the sink opens.

use serde::Deserialize;

use super::{JsonlSink, MAX_QUERIES, MembersLine};
use crate::Error;

/// What the index keeps of an issue: 32 bytes in one map entry (the key is its project
/// prefix's number and its own number).
#[derive(Clone, Debug)]
pub(super) struct IssueEntry {
    pub(super) key: Key,
    pub(super) updated_ms: i64,
    pub(super) history: u32,
    pub(super) comments: u32,
    pub(super) deleted: bool,
    /// The queries that hold it, a bit each (their place in the manifest's `queries`).
    pub(super) queries: u16,
}

/// An issue key as a prefix (interned in [`Prefixes`]) and a number; a key of another
/// shape is kept whole as a prefix with no number.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Key {
    prefix: u32,
    number: Option<std::num::NonZeroU32>,
}

/// The key prefixes an export holds (its projects): few, so a list.
#[derive(Debug, Default)]
pub(super) struct Prefixes(Vec<Box<str>>);

impl Prefixes {
    pub(super) fn intern(&mut self, key: &str) -> Key {
        let (prefix, number) = match key.rsplit_once('-') {
            Some((prefix, digits)) => match digits.parse::<std::num::NonZeroU32>() {
                // Only a number that prints back the same (no leading zeros).
                Ok(n) if n.to_string() == digits => (prefix, Some(n)),
                _ => (key, None),
            },
            None => (key, None),
        };
        let index = match self.0.iter().position(|p| &**p == prefix) {
            Some(index) => index,
            None => {
                self.0.push(prefix.into());
                self.0.len() - 1
            }
        };
        Key {
            prefix: index as u32,
            number,
        }
    }

    pub(super) fn key(&self, key: Key) -> String {
        let prefix = self.0.get(key.prefix as usize).map_or("", |p| &**p);
        match key.number {
            Some(n) => format!("{prefix}-{n}"),
            None => prefix.to_owned(),
        }
    }
}

/// What the index reads of a line of `issues.jsonl` (a tombstone has no `updated`).
#[derive(Deserialize)]
struct IssueLine {
    id: u64,
    key: Option<String>,
    updated: Option<String>,
    deleted_at: Option<String>,
}

/// What the index reads of a line of `changelog.jsonl` or `comments.jsonl`.
#[derive(Deserialize)]
struct ChildLine {
    issue_id: u64,
    deleted_at: Option<String>,
}

/// What the index reads of a line of `worklogs.jsonl` (a tombstone names no issue).
#[derive(Deserialize)]
struct WorklogLine {
    id: u64,
    issue_id: Option<u64>,
    deleted_at: Option<String>,
}

/// What the index reads of a line of `fields.jsonl`.
#[derive(Deserialize)]
struct FieldLine {
    id: String,
    name: String,
}

/// Epoch milliseconds of the UTC ISO 8601 text the files hold.
fn millis(text: &str) -> Option<i64> {
    text.parse::<jira_model::JiraTimestamp>()
        .ok()
        .map(|t| t.unix_millis())
}

impl JsonlSink {
    /// Rebuilds the in-memory index from the committed files, which hold no rows a later
    /// commit replaced (a sink compacts what an interrupted run appended when it opens);
    /// the last line of an issue or a worklog wins, as a tombstone follows its row.
    pub(super) fn index(&mut self) -> Result<(), Error> {
        let bad = |name: &str, e: serde_json::Error| {
            Error::Sync(format!(
                "sync: a committed line of {name} does not read ({e}); move the directory away to start over"
            ))
        };
        for line in self.lines("issues.jsonl")? {
            let line: IssueLine =
                serde_json::from_str(&line?).map_err(|e| bad("issues.jsonl", e))?;
            let key = line.key.as_deref().map(|key| self.prefixes.intern(key));
            // A second line of an issue (a row written again, a tombstone after its
            // row): the files were not compacted since, and the next compaction reads
            // every file.
            self.rewritten |= self.issues.contains_key(&line.id);
            let entry = self.issues.entry(line.id).or_insert(IssueEntry {
                key: key.unwrap_or_default(),
                updated_ms: 0,
                history: 0,
                comments: 0,
                deleted: false,
                queries: 0,
            });
            if let Some(key) = key {
                entry.key = key;
            }
            if let Some(updated) = line.updated.as_deref().and_then(millis) {
                entry.updated_ms = updated;
            }
            entry.deleted = line.deleted_at.is_some();
        }
        for (name, history) in [("changelog.jsonl", true), ("comments.jsonl", false)] {
            for line in self.lines(name)? {
                let line: ChildLine = serde_json::from_str(&line?).map_err(|e| bad(name, e))?;
                if let Some(entry) = self.issues.get_mut(&line.issue_id) {
                    match history {
                        true => entry.history += 1,
                        false if line.deleted_at.is_none() => entry.comments += 1,
                        false => {}
                    }
                }
            }
        }
        for line in self.lines("worklogs.jsonl")? {
            let line: WorklogLine =
                serde_json::from_str(&line?).map_err(|e| bad("worklogs.jsonl", e))?;
            let issue = line
                .issue_id
                .or_else(|| self.worklogs.get(&line.id).map(|(issue, _)| *issue))
                .unwrap_or(0);
            // A second line of a worklog: the next compaction reads the file.
            self.worklogs_rewritten |= self.worklogs.contains_key(&line.id);
            self.worklogs
                .insert(line.id, (issue, line.deleted_at.is_some()));
        }
        for line in self.lines("fields.jsonl")? {
            let line: FieldLine =
                serde_json::from_str(&line?).map_err(|e| bad("fields.jsonl", e))?;
            self.names.insert(line.id, line.name);
        }
        let mut members = 0;
        for line in self.lines("members.jsonl")? {
            let line: MembersLine =
                serde_json::from_str(&line?).map_err(|e| bad("members.jsonl", e))?;
            members += 1;
            let bit = 1u16.checked_shl(line.query as u32).unwrap_or(0);
            for (ids, held) in [(&line.held, true), (&line.released, false)] {
                for id in ids {
                    if let Some(entry) = self.issues.get_mut(id) {
                        match held {
                            true => entry.queries |= bit,
                            false => entry.queries &= !bit,
                        }
                    }
                }
            }
        }
        if members == 0 && !self.issues.is_empty() {
            // A directory from before `members.jsonl`: every query holds every issue,
            // so a census marks one deleted only once every query's census missed it.
            for jql in self.manifest.states.keys() {
                if !self.manifest.queries.contains(jql) {
                    self.manifest.queries.push(jql.clone());
                }
            }
            let all = match self.manifest.queries.len() {
                0 => 0,
                n => u16::MAX >> (16 - n.min(MAX_QUERIES)),
            };
            for entry in self.issues.values_mut().filter(|e| !e.deleted) {
                entry.queries = all;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_interned_and_print_back_whole() {
        let mut prefixes = Prefixes::default();
        for key in ["APO-1", "APO-12345", "BEA-7", "ODD", "APO-007", "X-Y-3", ""] {
            let interned = prefixes.intern(key);
            assert_eq!(prefixes.key(interned), key);
        }
        // One prefix for a project's keys.
        assert_eq!(
            prefixes.intern("APO-2").prefix,
            prefixes.intern("APO-3").prefix
        );
        assert_eq!(std::mem::size_of::<IssueEntry>(), 32);
    }
}
