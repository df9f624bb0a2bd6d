//! What bounds a run's memory ([`MemoryBudget`]) and the small task helpers of a run.

use std::sync::Arc;

use crate::Error;

/// A semaphore whose size can change while it is in use: growing adds permits at once;
/// shrinking takes permits back as their holders return them (a task waits for them and
/// forgets them), so nothing already granted is revoked.
#[derive(Clone)]
pub(crate) struct Gauge {
    permits: Arc<tokio::sync::Semaphore>,
    total: Arc<std::sync::atomic::AtomicUsize>,
}

impl Gauge {
    pub(crate) fn new(total: usize) -> Self {
        let total = total.clamp(1, tokio::sync::Semaphore::MAX_PERMITS);
        Gauge {
            permits: Arc::new(tokio::sync::Semaphore::new(total)),
            total: Arc::new(std::sync::atomic::AtomicUsize::new(total)),
        }
    }

    /// Its size.
    pub(crate) fn total(&self) -> usize {
        self.total.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Permits free now.
    fn available(&self) -> usize {
        self.permits.available_permits()
    }

    /// Waits for `n` permits (at most its size: never a wait that cannot end).
    pub(crate) async fn acquire(&self, n: usize) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let n = n.clamp(1, self.total()) as u32;
        // The semaphore is never closed.
        self.permits.clone().acquire_many_owned(n).await.ok()
    }

    /// Makes its size `total` (at least 1).
    pub(crate) fn resize(&self, total: usize) {
        let total = total.clamp(1, tokio::sync::Semaphore::MAX_PERMITS);
        let old = self.total.swap(total, std::sync::atomic::Ordering::Relaxed);
        if total > old {
            self.permits.add_permits(total - old);
        } else if total < old {
            let debt = old - total;
            let left = debt - self.permits.forget_permits(debt);
            if left > 0 {
                let permits = self.permits.clone();
                tokio::spawn(async move {
                    if let Ok(permit) = permits.acquire_many_owned(left as u32).await {
                        permit.forget();
                    }
                });
            }
        }
    }
}

/// The memory budget of a run's reads, in KiB: each unit takes a share (the running
/// average of what units held) before it starts, and gives it back once committed.
/// Shares are taken in the order units start, and every unit that holds one is committed
/// once it is back (units are committed as they come back, not in id order), so a share
/// waited for is always given back: the budget never deadlocks the read. Its size may
/// change while units hold shares ([`MemoryBudget::resize`]: the plan of a far site lands
/// after its first units started).
#[derive(Clone)]
pub(crate) struct MemoryBudget {
    kib: Gauge,
    unit_kib: Arc<std::sync::atomic::AtomicU32>,
}

impl MemoryBudget {
    /// `bytes` in all, shared by up to `units` units at first.
    pub(crate) fn new(bytes: usize, units: usize) -> Self {
        let total_kib = u32::try_from(bytes / 1024).unwrap_or(u32::MAX).max(1);
        MemoryBudget {
            kib: Gauge::new(total_kib as usize),
            unit_kib: Arc::new(std::sync::atomic::AtomicU32::new(
                (total_kib / (2 * units.max(1) as u32).max(1)).max(1),
            )),
        }
    }

    /// Makes the budget `bytes` in all.
    pub(crate) fn resize(&self, bytes: usize) {
        self.kib.resize(bytes / 1024);
    }

    /// Waits for one unit's share.
    pub(crate) async fn share(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.kib.acquire(self.unit_share() as usize).await
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
            .clamp(1, u32::try_from(self.kib.total()).unwrap_or(u32::MAX))
    }

    /// Whether `held` KiB of gathered units call for a commit: a quarter of the budget,
    /// or too little left for the next unit to start (which only a commit frees).
    pub(crate) fn commit_due(&self, held: u32) -> bool {
        held as usize >= self.kib.total() / 4 || self.kib.available() < self.unit_share() as usize
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
        self.wait().await
    }

    /// Waits for the task's result, borrowed: a wait dropped part way leaves the task
    /// running (it is waited for again), and one that ended leaves nothing to wait for.
    pub(crate) async fn wait(&mut self) -> Result<R, Error> {
        let Some(handle) = self.0.as_mut() else {
            return Err(Error::Sync("sync: a read task was waited for twice".into()));
        };
        let result = handle
            .await
            .map_err(|e| Error::Sync(format!("sync: a read task ended abnormally: {e}")));
        self.0 = None;
        result
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
