//! The journal's one writer: records of every task waiting appended and synced together
//! (a group commit).

use std::sync::{Arc, Mutex};

use crate::journal::{Journal, JournalRecord};

/// The journal, written by one thread in batches: the records of every task waiting are
/// appended and synced once (a group commit).
#[derive(Clone)]
pub(crate) struct JournalWriter {
    sender: tokio::sync::mpsc::UnboundedSender<Append>,
}

/// Records to append, and where to say they are durable.
pub(crate) type Append = (
    Vec<JournalRecord>,
    tokio::sync::oneshot::Sender<Result<(), String>>,
);

impl JournalWriter {
    /// Starts the writer thread; [`Writing::finish`] waits for it once every writer is
    /// dropped. A record without an undo whose item `undos` holds one gets it: every
    /// record of a line carries what the line changes.
    pub(crate) fn start(
        journal: Arc<Mutex<Journal>>,
        undos: std::collections::HashMap<String, crate::undo::Undo>,
    ) -> (Self, Writing) {
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<Append>();
        let task = tokio::task::spawn_blocking(move || {
            while let Some(first) = receiver.blocking_recv() {
                let mut waiting = vec![first];
                while let Ok(more) = receiver.try_recv() {
                    waiting.push(more);
                }
                let records: Vec<JournalRecord> = waiting
                    .iter()
                    .flat_map(|(records, _)| records.iter().cloned())
                    .map(|mut record| {
                        if record.undo.is_none() {
                            record.undo = undos.get(&record.id).cloned();
                        }
                        record
                    })
                    .collect();
                let result = lock(&journal).append(&records).map_err(|e| e.to_string());
                for (_, reply) in waiting {
                    let _ = reply.send(result.clone());
                }
            }
        });
        (JournalWriter { sender }, Writing(task))
    }

    /// Appends `records`, durable when this returns `Ok`.
    pub(crate) async fn write(&self, records: Vec<JournalRecord>) -> Result<(), String> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.sender
            .send((records, reply))
            .map_err(|_| "the journal writer stopped".to_owned())?;
        answer
            .await
            .map_err(|_| "the journal writer stopped".to_owned())?
    }
}

/// The writer thread, to wait for.
pub(crate) struct Writing(tokio::task::JoinHandle<()>);

impl Writing {
    /// Waits until the writer has appended everything sent to it and let go of the
    /// journal (every [`JournalWriter`] must be dropped first).
    pub(crate) async fn finish(self) {
        let _ = self.0.await;
    }
}

pub(crate) fn lock(journal: &Mutex<Journal>) -> std::sync::MutexGuard<'_, Journal> {
    journal
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
