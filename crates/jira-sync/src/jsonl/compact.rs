//! Compaction of a JSON Lines sink: each file rewritten to hold one line per entity, the
//! last one (tombstones kept), and `members.jsonl` one line per query. A sync compacts
//! when its run ends; `jira-ops sync compact` does it on demand.
//!
//! The swap is atomic across files by a roll-forward journal:
//!
//! 1. each file that holds a superseded line is written whole beside it
//!    (`issues.jsonl.compact`) and synced, and so is the new manifest
//!    (`manifest.json.compact`);
//! 2. `compact.pending` names them (written beside, synced, renamed): the commit point;
//! 3. each is renamed over its file, the manifest last, and the journal removed.
//!
//! Opening a sink first finishes a swap its journal names ([`recover`]), or removes the
//! leftovers of one that never reached its commit point: a compaction killed at any
//! moment leaves the export as it was or as compacted, never a mix.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use serde::Deserialize;

use super::{FILES, Manifest, MembersLine, failed};
use crate::Error;

const JOURNAL: &str = "compact.pending";
const SUFFIX: &str = ".compact";

/// What one line is the record of.
#[derive(Deserialize)]
struct Head {
    id: Option<u64>,
    issue_id: Option<u64>,
}

fn sync_dir(dir: &Path) {
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
}

/// Finishes the swap a journal in `dir` names, or removes what an unfinished compaction
/// left; nothing to do in a directory without either.
pub(super) fn recover(dir: &Path) -> Result<(), Error> {
    let journal = dir.join(JOURNAL);
    match std::fs::read(&journal) {
        Ok(bytes) => {
            let names: Vec<String> = serde_json::from_slice(&bytes).map_err(|e| {
                Error::Sync(format!(
                    "sync: {} does not read ({e}): a compaction was cut off mid-swap; restore the directory from a copy, or move it away and sync into a new one",
                    journal.display()
                ))
            })?;
            swap(dir, &names)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            for name in FILES.iter().copied().chain(["manifest.json"]) {
                let leftover = dir.join(format!("{name}{SUFFIX}"));
                if leftover.exists() {
                    std::fs::remove_file(&leftover).map_err(|e| failed(&leftover, e))?;
                }
            }
            Ok(())
        }
        Err(e) => Err(failed(&journal, e)),
    }
}

/// Step 3: renames each compacted file over its own (those already renamed are gone),
/// then removes the journal.
fn swap(dir: &Path, names: &[String]) -> Result<(), Error> {
    for name in names {
        let compacted = dir.join(format!("{name}{SUFFIX}"));
        if compacted.exists() {
            std::fs::rename(&compacted, dir.join(name)).map_err(|e| failed(&compacted, e))?;
        }
    }
    sync_dir(dir);
    let journal = dir.join(JOURNAL);
    std::fs::remove_file(&journal).map_err(|e| failed(&journal, e))?;
    sync_dir(dir);
    Ok(())
}

/// Writes `lines` into `NAME.compact` and syncs it; its length.
fn write_file(
    dir: &Path,
    name: &str,
    lines: impl Iterator<Item = Result<Vec<u8>, Error>>,
) -> Result<u64, Error> {
    let path = dir.join(format!("{name}{SUFFIX}"));
    let file = File::create(&path).map_err(|e| failed(&path, e))?;
    let mut out = BufWriter::with_capacity(256 * 1024, file);
    let mut written = 0u64;
    for line in lines {
        let line = line?;
        out.write_all(&line).map_err(|e| failed(&path, e))?;
        out.write_all(b"\n").map_err(|e| failed(&path, e))?;
        written += line.len() as u64 + 1;
    }
    let file = out
        .into_inner()
        .map_err(|e| failed(&path, e.into_error()))?;
    file.sync_all().map_err(|e| failed(&path, e))?;
    Ok(written)
}

/// The lines of the entity file `name` that are the last of their record, with a
/// worklog tombstone given back the issue its earlier lines named; `None` when every
/// line is already its record's last.
fn compact_file(dir: &Path, name: &str) -> Result<Option<u64>, Error> {
    let path = dir.join(name);
    let by_issue = matches!(name, "changelog.jsonl" | "comments.jsonl");
    let reader = || -> Result<_, Error> {
        let file = File::open(&path).map_err(|e| failed(&path, e))?;
        Ok(BufReader::new(file).split(b'\n'))
    };
    // Pass 1: the last line of each record, and each worklog's issue.
    let mut last: HashMap<u64, u64> = HashMap::new();
    let mut owners: HashMap<u64, u64> = HashMap::new();
    let mut lines = 0u64;
    for line in reader()? {
        let line = line.map_err(|e| failed(&path, e))?;
        let head: Head = serde_json::from_slice(&line).map_err(|e| failed(&path, e))?;
        let key = if by_issue { head.issue_id } else { head.id }.unwrap_or_default();
        last.insert(key, lines);
        if let (Some(id), Some(issue)) = (head.id, head.issue_id) {
            owners.insert(id, issue);
        }
        lines += 1;
    }
    if last.len() as u64 == lines {
        return Ok(None);
    }
    // Pass 2: those lines, in their order.
    let mut number = 0u64;
    let kept = reader()?.filter_map(|line| {
        let at = number;
        number += 1;
        let line = match line {
            Ok(line) => line,
            Err(e) => return Some(Err(failed(&path, e))),
        };
        let head: Head = match serde_json::from_slice(&line) {
            Ok(head) => head,
            Err(e) => return Some(Err(failed(&path, e))),
        };
        let key = if by_issue { head.issue_id } else { head.id }.unwrap_or_default();
        if last.get(&key) != Some(&at) {
            return None;
        }
        match (name, head.id.and_then(|id| owners.get(&id)), head.issue_id) {
            ("worklogs.jsonl", Some(owner), None) => {
                let mut record: serde_json::Value = match serde_json::from_slice(&line) {
                    Ok(record) => record,
                    Err(e) => return Some(Err(failed(&path, e))),
                };
                record["issue_id"] = (*owner).into();
                Some(Ok(record.to_string().into_bytes()))
            }
            _ => Some(Ok(line)),
        }
    });
    write_file(dir, name, kept).map(Some)
}

/// Compacts the export in `dir` whose committed manifest is `manifest` and whose
/// queries hold `members` (each query's place and the ids it holds); `manifest` is
/// updated to the compacted files. Whether anything was rewritten.
pub(super) fn compact(
    dir: &Path,
    manifest: &mut Manifest,
    members: &[(usize, Vec<u64>)],
) -> Result<bool, Error> {
    recover(dir)?;
    let mut rewritten = Vec::new();
    let mut compacted = manifest.clone();
    for name in FILES {
        let length = if name == "members.jsonl" {
            let lines: u64 = std::fs::read(dir.join(name)).map_or(0, |bytes| {
                bytes.iter().filter(|b| **b == b'\n').count() as u64
            });
            if lines <= members.len() as u64 {
                continue;
            }
            write_file(
                dir,
                name,
                members.iter().map(|(query, held)| {
                    serde_json::to_vec(&MembersLine {
                        query: *query,
                        held: held.clone(),
                        released: Vec::new(),
                    })
                    .map_err(|e| failed(&dir.join(name), e))
                }),
            )?
        } else {
            match compact_file(dir, name)? {
                Some(length) => length,
                None => continue,
            }
        };
        compacted.bytes.insert(name.to_owned(), length);
        rewritten.push(name.to_owned());
    }
    if rewritten.is_empty() {
        return Ok(false);
    }
    let manifest_path = dir.join(format!("manifest.json{SUFFIX}"));
    let body = serde_json::to_vec_pretty(&compacted).map_err(|e| failed(&manifest_path, e))?;
    write_file(dir, "manifest.json", std::iter::once(Ok(body)))?;
    rewritten.push("manifest.json".to_owned());
    // The commit point: the journal, whole, under its name.
    let journal = dir.join(JOURNAL);
    let temporary = dir.join(format!("{JOURNAL}.tmp"));
    let mut file = File::create(&temporary).map_err(|e| failed(&temporary, e))?;
    let names = serde_json::to_vec(&rewritten).map_err(|e| failed(&temporary, e))?;
    file.write_all(&names).map_err(|e| failed(&temporary, e))?;
    file.sync_all().map_err(|e| failed(&temporary, e))?;
    std::fs::rename(&temporary, &journal).map_err(|e| failed(&journal, e))?;
    sync_dir(dir);
    swap(dir, &rewritten)?;
    *manifest = compacted;
    Ok(true)
}
