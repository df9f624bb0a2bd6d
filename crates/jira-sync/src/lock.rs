//! One sync per sink at a time. Two syncs into one sink would each read the whole window
//! (twice the requests), and two JSON Lines writers would append over each other and each
//! rewrite the manifest, leaving a directory no later run can read. So a sink, once
//! opened, holds an OS lock (`flock` through [`File::try_lock`]) on a lock file beside its
//! data until it is dropped; a second opener is refused at once, naming the holder, whom
//! the lock file records. A process that dies lets go with it: nothing stale to clean.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, Write as _};
use std::path::Path;

use crate::Error;

/// The lock a sink holds while it is open.
#[derive(Debug)]
pub(crate) struct SinkLock {
    _file: File,
}

impl SinkLock {
    /// Takes the lock at `lock_path` for the sink `sink` (named in the refusal), waiting
    /// up to `wait` for another run to let go, or says who holds it.
    pub(crate) fn acquire(
        lock_path: &Path,
        sink: &Path,
        wait: std::time::Duration,
    ) -> Result<Self, Error> {
        let failed = |e: std::io::Error| {
            Error::Sync(format!(
                "sync: the lock file {} could not be opened: {e} (check the path's permissions)",
                lock_path.display()
            ))
        };
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(lock_path)
            .map_err(failed)?;
        let started = std::time::Instant::now();
        // A quarter second at least: `sync status` takes the lock shared for an instant
        // to see whether anyone holds it, which must not turn a sync away.
        let patience = wait.max(std::time::Duration::from_millis(250));
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < patience => {
                    std::thread::sleep(std::time::Duration::from_millis(25));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    let mut holder = String::new();
                    let _ = file.read_to_string(&mut holder);
                    let holder = match holder.trim() {
                        "" => "another process".to_owned(),
                        text => text.to_owned(),
                    };
                    let waited = if wait.is_zero() {
                        ""
                    } else {
                        " (it waited as long as allowed)"
                    };
                    return Err(Error::Sync(format!(
                        "sync: {} is being synced by {holder}: two syncs into one sink would each read the whole window and write over each other, so this one stops{waited}; run it again once that one has ended (or stop it), or wait for it with --wait SECS",
                        sink.display(),
                    )));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(failed(e)),
            }
        }
        let since = jira_model::JiraTimestamp::from_unix_millis(crate::record::now_ms())
            .map_or_else(String::new, |t| format!(" since {t}"));
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .map_or_else(String::new, |h| format!(" on {h}"));
        let note = format!("process {}{host}{since}\n", std::process::id());
        let written = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(note.as_bytes()));
        written.map_err(failed)?;
        Ok(SinkLock { _file: file })
    }
}

/// Who holds the lock at `lock_path` now, as the lock file names them; `None` when no sync
/// does (or none ever made the file).
pub(crate) fn holder(lock_path: &Path) -> Option<String> {
    let mut file = OpenOptions::new().read(true).open(lock_path).ok()?;
    match file.try_lock_shared() {
        Ok(()) => None,
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            Some(match text.trim() {
                "" => "another process".to_owned(),
                text => text.to_owned(),
            })
        }
        Err(std::fs::TryLockError::Error(_)) => None,
    }
}
