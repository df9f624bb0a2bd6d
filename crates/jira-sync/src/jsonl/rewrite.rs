//! What compaction keeps of each file, decided in a first pass that holds a few bytes per
//! record (never the records) and written in a second:
//!
//! - A table keyed by one column (`issues`, `worklogs`, `users`, `statuses`): the last
//!   whole line of each key, with the `deleted_at` of a tombstone after it folded in.
//! - A table written per issue (`issue_field_values`, `changelog`, `changelog_items`,
//!   `comments`) and the field catalogue: each issue's rows of the last commit that
//!   replaced them (`sets.jsonl` names it). A comment the issue no longer has keeps its
//!   last row, marked deleted when that commit was made, as the databases keep it.
//! - Every row of a deleted issue's comments is marked deleted with it, and every child
//!   row of an issue that moved to another project takes its new key.

use std::collections::HashMap;
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::io::{BufRead, BufReader};
use std::path::Path;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

use super::{FILES, SETS, SetsLine, TABLES, failed};
use crate::Error;
use crate::relational::schema::Table;

/// What compaction reads of a line.
#[derive(Deserialize)]
struct Head {
    id: Option<Id>,
    issue_id: Option<u64>,
    issue_key: Option<String>,
    key: Option<String>,
    account_id: Option<String>,
    deleted_at: Option<String>,
    /// A whole row has it; a tombstone (of an issue or a worklog) has not.
    json: Option<IgnoredAny>,
}

impl Head {
    /// Whether the line is a whole row of `table`, not a tombstone.
    fn whole(&self, table: &Table) -> bool {
        self.json.is_some() || !matches!(table.name, "issues" | "worklogs")
    }
}

/// An id: a number (issues, comments, worklogs) or text (fields, statuses).
#[derive(Deserialize, Clone, PartialEq, Eq, Hash)]
#[serde(untagged)]
enum Id {
    Number(u64),
    Text(String),
}

/// What the issues file tells the others: the issues deleted (and when) and the new
/// key of each issue that moved.
#[derive(Default)]
pub(super) struct Issues {
    deleted: HashMap<u64, String>,
    renamed: HashMap<u64, String>,
}

/// A file's lines, each with its offset.
fn lines(
    dir: &Path,
    name: &str,
) -> Result<impl Iterator<Item = Result<(u64, Vec<u8>), Error>> + use<>, Error> {
    let path = dir.join(name);
    let file = File::open(&path).map_err(|e| failed(&path, e))?;
    let mut at = 0u64;
    Ok(BufReader::new(file).split(b'\n').map(move |line| {
        let line = line.map_err(|e| failed(&path, e))?;
        let start = at;
        at += line.len() as u64 + 1;
        Ok((start, line))
    }))
}

fn head(name: &str, line: &[u8]) -> Result<Head, Error> {
    serde_json::from_slice(line).map_err(|e| {
        Error::Sync(format!(
            "sync: a committed line of {name} does not read ({e}); move the directory away to start over"
        ))
    })
}

fn hash(text: &str) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut hasher);
    hasher.finish()
}

/// `line` (a row of `table`) with `deleted_at` and `issue_key` replaced where given,
/// its columns in the table's order.
fn patch(
    table: &Table,
    line: &[u8],
    deleted_at: Option<&str>,
    issue_key: Option<&str>,
) -> Result<Vec<u8>, Error> {
    let path = || Path::new(FILES[super::file_of(table)]).to_owned();
    let values: HashMap<String, Box<RawValue>> =
        serde_json::from_slice(line).map_err(|e| failed(&path(), e))?;
    let mut out = Vec::with_capacity(line.len() + 40);
    out.push(b'{');
    for (n, column) in table.columns.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut out, column.name).map_err(|e| failed(&path(), e))?;
        out.push(b':');
        let replaced = match column.name {
            "deleted_at" => deleted_at,
            "issue_key" => issue_key,
            _ => None,
        };
        match (replaced, values.get(column.name)) {
            (Some(text), _) => {
                serde_json::to_writer(&mut out, text).map_err(|e| failed(&path(), e))?
            }
            (None, Some(raw)) => out.extend_from_slice(raw.get().as_bytes()),
            (None, None) => out.extend_from_slice(b"null"),
        }
    }
    out.push(b'}');
    Ok(out)
}

/// Where a key's lines are, by line number, and (in the issues file) what it was called.
#[derive(Clone, Copy)]
struct Slot {
    /// Its last whole line (`u32::MAX`: none, only tombstones).
    whole: u32,
    /// Its last line.
    last: u32,
    /// A hash of the issue key its lines last named (0 for other files).
    key: u64,
}

/// A second pass's lines: those kept, each as it is written.
pub(super) type Kept = Box<dyn Iterator<Item = Result<Vec<u8>, Error>>>;

/// The numeric id of a line (issues, worklogs): 8 bytes a key in the first pass.
fn number(head: &Head) -> Option<u64> {
    match head.id {
        Some(Id::Number(id)) => Some(id),
        _ => None,
    }
}

/// The text key of a line (users by account id, statuses by id).
fn text(head: &Head) -> Option<String> {
    match &head.id {
        Some(Id::Text(id)) => Some(id.clone()),
        Some(Id::Number(id)) => Some(id.to_string()),
        None => head.account_id.clone(),
    }
}

/// The lines to keep of a table keyed by one column (see the module), or `None` when
/// the file holds them already. Reading the issues file fills `issues`; the worklogs
/// file takes the new keys of the issues that moved from it.
pub(super) fn by_key(
    dir: &Path,
    table: &'static Table,
    issues: &mut Issues,
) -> Result<Option<Kept>, Error> {
    match table.name {
        "issues" | "worklogs" => keyed(dir, table, issues, number),
        _ => keyed(dir, table, issues, text),
    }
}

fn keyed<K: Hash + Eq + Clone + 'static>(
    dir: &Path,
    table: &'static Table,
    issues: &mut Issues,
    key_of: fn(&Head) -> Option<K>,
) -> Result<Option<Kept>, Error> {
    let name = FILES[super::file_of(table)];
    let is_issues = table.name == "issues";
    let mut slots: HashMap<K, Slot> = HashMap::new();
    let mut tombs: HashMap<K, String> = HashMap::new();
    let mut change = false;
    for (n, line) in lines(dir, name)?.enumerate() {
        let (_, line) = line?;
        let n = n as u32;
        let head = head(name, &line)?;
        let Some(key) = key_of(&head) else {
            continue;
        };
        let whole = head.whole(table);
        let key_hash = head.key.as_deref().map_or(0, hash);
        if is_issues && let Some(id) = &number(&head) {
            match &head.deleted_at {
                Some(at) => issues.deleted.insert(*id, at.clone()),
                None => issues.deleted.remove(id),
            };
            if let Some(text) = &head.key
                && (slots.get(&key).is_some_and(|s| s.key != key_hash)
                    || issues.renamed.contains_key(id))
            {
                issues.renamed.insert(*id, text.clone());
            }
        }
        if table.name == "worklogs"
            && let (Some(issue), Some(held)) = (head.issue_id, &head.issue_key)
            && issues.renamed.get(&issue).is_some_and(|new| new != held)
        {
            change = true;
        }
        if !whole && let Some(at) = head.deleted_at {
            tombs.insert(key.clone(), at);
        } else if whole {
            tombs.remove(&key);
        }
        match slots.get_mut(&key) {
            Some(slot) => {
                change = true;
                slot.last = n;
                if whole {
                    slot.whole = n;
                }
                if key_hash != 0 {
                    slot.key = key_hash;
                }
            }
            None => {
                slots.insert(
                    key,
                    Slot {
                        whole: if whole { n } else { u32::MAX },
                        last: n,
                        key: key_hash,
                    },
                );
            }
        }
    }
    if !change {
        return Ok(None);
    }
    let renamed = match table.name {
        "worklogs" => issues.renamed.clone(),
        _ => HashMap::new(),
    };
    let mut n = 0u32;
    let kept = lines(dir, name)?.filter_map(move |line| {
        let at = n;
        n += 1;
        let keep = || -> Result<Option<Vec<u8>>, Error> {
            let (_, line) = line?;
            let head = head(name, &line)?;
            let Some(key) = key_of(&head) else {
                return Ok(None);
            };
            let slot = slots[&key];
            if slot.whole == at {
                let tomb = tombs.get(&key).map(String::as_str);
                let moved = head
                    .issue_id
                    .and_then(|issue| renamed.get(&issue))
                    .filter(|new| head.issue_key.as_ref() != Some(*new))
                    .map(String::as_str);
                return match (tomb, moved) {
                    (None, None) => Ok(Some(line)),
                    _ => patch(table, &line, tomb, moved).map(Some),
                };
            }
            Ok((slot.whole == u32::MAX && slot.last == at).then_some(line))
        };
        keep().transpose()
    });
    Ok(Some(Box::new(kept)))
}

/// What `sets.jsonl` says of one file: which commit last replaced each issue's rows,
/// where each commit's lines begin, and when each commit was made.
struct Sets {
    replaced: HashMap<u64, u32>,
    starts: Vec<(u64, u32)>,
    at: Vec<String>,
}

impl Sets {
    fn read(dir: &Path, name: &str) -> Result<Sets, Error> {
        let mut sets = Sets {
            replaced: HashMap::new(),
            starts: Vec::new(),
            at: Vec::new(),
        };
        for (commit, line) in lines(dir, FILES[SETS])?.enumerate() {
            let (_, line) = line?;
            let line: SetsLine = serde_json::from_slice(&line).map_err(|e| {
                Error::Sync(format!(
                    "sync: a committed line of {} does not read ({e}); move the directory away to start over",
                    FILES[SETS]
                ))
            })?;
            let commit = commit as u32;
            if let Some(from) = line.from.get(name) {
                sets.starts.push((*from, commit));
            }
            for id in line.replaced.get(name).into_iter().flatten() {
                sets.replaced.insert(*id, commit);
            }
            sets.at.push(line.at);
        }
        Ok(sets)
    }

    /// The commit that appended the line at `offset` (`None`: one before them all).
    fn commit_of(&self, offset: u64) -> Option<u32> {
        match self.starts.partition_point(|(from, _)| *from <= offset) {
            0 => None,
            n => Some(self.starts[n - 1].1),
        }
    }

    /// Whether a line of `issue` at `offset` is among its current rows.
    fn current(&self, issue: u64, offset: u64) -> bool {
        match self.replaced.get(&issue) {
            None => true,
            Some(last) => self.commit_of(offset) == Some(*last),
        }
    }
}

/// The lines to keep of a table written per issue, or of the field catalogue (see the
/// module), or `None` when the file holds them already.
pub(super) fn by_issue(
    dir: &Path,
    table: &'static Table,
    issues: &Issues,
) -> Result<Option<Kept>, Error> {
    let name = FILES[super::file_of(table)];
    let sets = Sets::read(dir, name)?;
    let comments = table.name == "comments";
    let group = |head: &Head| head.issue_id.unwrap_or(0);
    let id = |head: &Head| match head.id {
        Some(Id::Number(id)) => id,
        _ => 0,
    };
    // Comments the issue's last rows no longer hold: their last line each.
    let mut gone: HashMap<u64, u32> = HashMap::new();
    let mut change = false;
    for (n, line) in lines(dir, name)?.enumerate() {
        let (offset, line) = line?;
        let head = head(name, &line)?;
        let issue = group(&head);
        if !sets.current(issue, offset) {
            change = true;
            if comments {
                gone.insert(id(&head), n as u32);
            }
            continue;
        }
        if comments {
            gone.remove(&id(&head));
            change |= head.deleted_at.is_none() && issues.deleted.contains_key(&issue);
        }
        change |= issues
            .renamed
            .get(&issue)
            .is_some_and(|new| head.issue_key.as_ref() != Some(new));
    }
    if !change {
        return Ok(None);
    }
    let deleted: HashMap<u64, String> = match comments {
        true => issues.deleted.clone(),
        false => HashMap::new(),
    };
    let renamed = issues.renamed.clone();
    let mut n = 0u32;
    let kept = lines(dir, name)?.filter_map(move |line| {
        let at = n;
        n += 1;
        let keep = || -> Result<Option<Vec<u8>>, Error> {
            let (offset, line) = line?;
            let head = head(name, &line)?;
            let issue = group(&head);
            let current = sets.current(issue, offset);
            let deleted_at = match current {
                true if head.deleted_at.is_none() => deleted.get(&issue).cloned(),
                true => None,
                false if gone.get(&id(&head)) == Some(&at) => match head.deleted_at {
                    Some(_) => None,
                    // Gone with the commit that last replaced the issue's comments.
                    None => Some(
                        sets.replaced
                            .get(&issue)
                            .and_then(|commit| sets.at.get(*commit as usize))
                            .cloned()
                            .unwrap_or_default(),
                    ),
                },
                false => return Ok(None),
            };
            let moved = renamed
                .get(&issue)
                .filter(|new| head.issue_key.as_ref() != Some(*new));
            match (&deleted_at, moved) {
                (None, None) => Ok(Some(line)),
                _ => patch(
                    table,
                    &line,
                    deleted_at.as_deref(),
                    moved.map(String::as_str),
                )
                .map(Some),
            }
        };
        keep().transpose()
    });
    Ok(Some(Box::new(kept)))
}

/// The tables compacted by key, and those written per issue.
/// Whether `table`'s lines supersede one another only when an issue is written again,
/// deleted or moved: `issues.jsonl` and the files written per issue, not the keyed
/// files (a worklog, a user, a status) nor the field catalogue.
pub(super) fn written_per_issue(table: &Table) -> bool {
    matches!(
        table.name,
        "issues" | "issue_field_values" | "changelog" | "changelog_items" | "comments"
    )
}

pub(super) fn kinds() -> (Vec<&'static Table>, Vec<&'static Table>) {
    TABLES
        .iter()
        .copied()
        .partition(|table| matches!(table.name, "issues" | "worklogs" | "users" | "statuses"))
}
