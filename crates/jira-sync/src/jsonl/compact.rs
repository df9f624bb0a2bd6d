//! Compaction of a JSON Lines sink: each file rewritten to hold one line per row, its
//! current one ([`rewrite`](super::rewrite) says which), `members.jsonl` one line per
//! query and `sets.jsonl` none. A sync compacts when its run ends, and when it opens a
//! sink a run was cut off in; `jira-ops sync compact` does it on demand.
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

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use super::{FILES, MEMBERS, Manifest, MembersLine, SETS, failed, rewrite};
use crate::Error;
use crate::relational::schema::Table;

const JOURNAL: &str = "compact.pending";
/// What a file being written beside its own is called after: `issues.jsonl.compact`.
pub(super) const SUFFIX: &str = ".compact";

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

/// Writes each of `files` (a name and its lines) into `NAME.compact`, then swaps them
/// in at once with the manifest (`manifest`, given their lengths).
pub(super) fn replace_files(
    dir: &Path,
    manifest: &mut Manifest,
    files: Vec<(&str, rewrite::Kept)>,
) -> Result<(), Error> {
    let mut replaced = manifest.clone();
    for (name, lines) in files {
        let length = write_file(dir, name, lines)?;
        replaced.bytes.insert(name.to_owned(), length);
    }
    swap_in(dir, manifest, replaced)
}

/// Swaps in every file `replaced` names a length of whose `NAME.compact` is written,
/// with `replaced` as the manifest: steps 1 (the manifest) to 3 of the module.
pub(super) fn swap_in(
    dir: &Path,
    manifest: &mut Manifest,
    replaced: Manifest,
) -> Result<(), Error> {
    let mut rewritten: Vec<String> = replaced
        .bytes
        .keys()
        .filter(|name| dir.join(format!("{name}{SUFFIX}")).exists())
        .cloned()
        .collect();
    let manifest_path = dir.join(format!("manifest.json{SUFFIX}"));
    let body = serde_json::to_vec_pretty(&replaced).map_err(|e| failed(&manifest_path, e))?;
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
    *manifest = replaced;
    Ok(())
}

/// Compacts the export in `dir` whose committed manifest is `manifest` (updated to the
/// compacted files) and, when `members` is given (each query's place and the ids it
/// holds), `members.jsonl` to a line per query. `(issue_files, worklogs)`: with
/// `issue_files` false the caller knows no issue was written twice, deleted or moved
/// since the last compaction, so `issues.jsonl` and the files written per issue (field
/// values, histories, comments: the bulk of an export) hold no superseded line and are
/// not read; with both false, no worklog was either and `worklogs.jsonl` is not read. The
/// small keyed files (users, statuses) and the field catalogue always are. Whether
/// anything was rewritten.
pub(super) fn compact(
    dir: &Path,
    manifest: &mut Manifest,
    members: Option<&[(usize, Vec<u64>)]>,
    (issue_files, worklogs): (bool, bool),
) -> Result<bool, Error> {
    recover(dir)?;
    let mut files: Vec<(&str, rewrite::Kept)> = Vec::new();
    let mut issues = rewrite::Issues::default();
    let (keyed, per_issue) = rewrite::kinds();
    let read = |table: &Table| match table.name {
        "worklogs" => issue_files || worklogs,
        _ => issue_files || !rewrite::written_per_issue(table),
    };
    for table in keyed.into_iter().filter(|t| read(t)) {
        if let Some(kept) = rewrite::by_key(dir, table, &mut issues)? {
            files.push((FILES[super::file_of(table)], kept));
        }
    }
    for table in per_issue.into_iter().filter(|t| read(t)) {
        if let Some(kept) = rewrite::by_issue(dir, table, &issues)? {
            files.push((FILES[super::file_of(table)], kept));
        }
    }
    if let Some(members) = members {
        let lines: u64 = std::fs::read(dir.join(FILES[MEMBERS])).map_or(0, |bytes| {
            bytes.iter().filter(|b| **b == b'\n').count() as u64
        });
        if lines > members.len() as u64 {
            let path = dir.join(FILES[MEMBERS]);
            let held: Vec<Result<Vec<u8>, Error>> = members
                .iter()
                .map(|(query, held)| {
                    serde_json::to_vec(&MembersLine {
                        query: *query,
                        held: held.clone(),
                        released: Vec::new(),
                    })
                    .map_err(|e| failed(&path, e))
                })
                .collect();
            files.push((FILES[MEMBERS], Box::new(held.into_iter())));
        }
    }
    if manifest.bytes.get(FILES[SETS]).is_some_and(|b| *b > 0) {
        files.push((FILES[SETS], Box::new(std::iter::empty())));
    }
    if files.is_empty() {
        return Ok(false);
    }
    replace_files(dir, manifest, files)?;
    Ok(true)
}
