//! An asynchronous bulk operation's state, kept in the `AppState` by task id.

use std::collections::BTreeMap;

/// A task's state, as `BulkOperationProgress` reports it.
#[derive(Clone, Debug)]
pub(crate) struct Task {
    pub(crate) id: u64,
    pub(crate) status: &'static str,
    pub(crate) total: usize,
    pub(crate) done: usize,
    pub(crate) processed: Vec<u64>,
    pub(crate) failed: BTreeMap<String, Vec<String>>,
    pub(crate) invalid: usize,
    pub(crate) submitted_by: usize,
    pub(crate) created_ms: i64,
    pub(crate) started_ms: Option<i64>,
    pub(crate) updated_ms: i64,
}
