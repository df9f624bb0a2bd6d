//! What bounds a run's memory ([`MemoryBudget`]) and the small task helpers of a run.

use std::sync::Arc;

use crate::Error;

/// The memory budget of a run's reads, in KiB: each unit takes a share (the running
/// average of what units held) before it starts, and gives it back once committed.
/// Shares are taken in the order units start, so the unit every later one waits behind
/// always has its share: the budget never deadlocks the ordered commits.
#[derive(Clone)]
pub(crate) struct MemoryBudget {
    kib: Arc<tokio::sync::Semaphore>,
    total_kib: u32,
    unit_kib: Arc<std::sync::atomic::AtomicU32>,
}

impl MemoryBudget {
    /// `bytes` in all, shared by up to `units` units at first.
    pub(crate) fn new(bytes: usize, units: usize) -> Self {
        let total_kib = u32::try_from(bytes / 1024).unwrap_or(u32::MAX).max(1);
        MemoryBudget {
            kib: Arc::new(tokio::sync::Semaphore::new(total_kib as usize)),
            total_kib,
            unit_kib: Arc::new(std::sync::atomic::AtomicU32::new(
                (total_kib / (2 * units.max(1) as u32).max(1)).max(1),
            )),
        }
    }

    /// Waits for one unit's share.
    pub(crate) async fn share(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        // The semaphore is never closed.
        self.kib
            .clone()
            .acquire_many_owned(self.unit_share())
            .await
            .ok()
    }

    /// Learns what a unit held.
    pub(crate) fn observe(&self, bytes: usize) {
        let kib = u32::try_from(bytes / 1024).unwrap_or(u32::MAX).max(1);
        let _ = self.unit_kib.fetch_update(
            std::sync::atomic::Ordering::Relaxed,
            std::sync::atomic::Ordering::Relaxed,
            |old| Some(((u64::from(old) * 3 + u64::from(kib)) / 4) as u32),
        );
    }

    /// The share the next unit takes.
    fn unit_share(&self) -> u32 {
        self.unit_kib
            .load(std::sync::atomic::Ordering::Relaxed)
            .clamp(1, self.total_kib)
    }

    /// Whether `held` KiB of gathered units call for a commit: a quarter of the budget,
    /// or too little left for the next unit to start (which only a commit frees).
    pub(crate) fn commit_due(&self, held: u32) -> bool {
        held >= self.total_kib / 4 || self.kib.available_permits() < self.unit_share() as usize
    }
}

/// A task aborted when its owner ends early (a failed commit, a dropped run).
pub(crate) struct AbortOnDrop<R>(Option<tokio::task::JoinHandle<R>>);

impl<R> AbortOnDrop<R> {
    pub(crate) fn new(handle: tokio::task::JoinHandle<R>) -> Self {
        AbortOnDrop(Some(handle))
    }

    /// Waits for the task's result.
    pub(crate) async fn join(mut self) -> Result<R, Error> {
        let handle = self.0.take().expect("joined once");
        handle
            .await
            .map_err(|e| Error::Sync(format!("sync: a read task ended abnormally: {e}")))
    }
}

impl<R> Drop for AbortOnDrop<R> {
    fn drop(&mut self) {
        if let Some(handle) = &self.0 {
            handle.abort();
        }
    }
}

/// Runs a sink's synchronous work without stalling the runtime's other tasks (on a
/// multi-threaded runtime; on a current-thread one it simply runs).
pub(crate) fn blocking<R>(work: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}
