//! One run of a change file: bulk groups, then every other line grouped by issue (in file
//! order within an issue, issues side by side).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt as _;

use crate::Writes;
use crate::bulk::BulkRun;
use crate::change::{Change, Operation};
use crate::journal::{Journal, JournalError, JournalRecord, WriteState};
use crate::outcome::{ApplyReport, LineResult, Outcome, line_result};
use crate::transition::Transitions;
use crate::undo::Undo;
use crate::writer::{JournalWriter, lock};

impl Writes<'_> {
    /// Applies `changes` (from [`parse_changes`]) exactly once, however often this runs and
    /// however a run ends (see the module docs); `stop` is asked before each line: once it
    /// says so, lines not started are `NotSent` and those in flight finish. `progress` is
    /// called with each line's result as it ends. One result per line, in file order; an
    /// error only when the journal cannot be written (then nothing more is sent).
    pub(crate) async fn apply(
        &self,
        changes: &[Change],
        journal: Arc<Mutex<Journal>>,
        stop: &(dyn Fn() -> bool + Sync),
        progress: &(dyn Fn(&LineResult) + Sync),
    ) -> Result<ApplyReport, JournalError> {
        self.apply_as("apply", changes, journal, stop, progress)
            .await
    }

    /// [`Writes::apply`] with the lines' content keys made for `job` (`apply`, or
    /// `apply/RUN` for a run asked for again).
    pub(crate) async fn apply_as(
        &self,
        job: &str,
        changes: &[Change],
        journal: Arc<Mutex<Journal>>,
        stop: &(dyn Fn() -> bool + Sync),
        progress: &(dyn Fn(&LineResult) + Sync),
    ) -> Result<ApplyReport, JournalError> {
        let ops: Vec<&Operation> = changes.iter().map(|c| &c.op).collect();
        let ids = crate::journal::content_keys(job, &ops);
        // Journals of earlier versions knew the first run's lines by place.
        let legacy = if job == "apply" {
            crate::journal::positional_keys(job, &ops)
        } else {
            ids.clone()
        };
        let path = lock(&journal).path().to_owned();
        // What each line changes, read before anything is written (kept from an earlier
        // attempt of the line when one recorded it), for `apply --revert`.
        let mut undos: HashMap<String, Undo> = HashMap::new();
        let priors: Vec<Option<JournalRecord>> = {
            let journal = lock(&journal);
            (0..changes.len())
                .map(|n| journal.latest_of(&ids[n], &legacy[n]).cloned())
                .collect()
        };
        // What a line changes is kept once (the first attempt's, on a resumed run), so
        // only lines without an undo and not done are read for one.
        let recorded = |n: usize| {
            priors[n]
                .as_ref()
                .is_some_and(|p| p.undo.is_some() || p.state == WriteState::Done)
        };
        // Lines done are not checked, nor lines sent whose answer was lost (resolved
        // against the site by the line itself: a transition may already have moved it).
        let settled = |n: usize| {
            priors[n].as_ref().is_some_and(|p| {
                matches!(
                    p.state,
                    WriteState::Done | WriteState::Intent | WriteState::Unknown
                )
            })
        };
        // One read before the first write serves both: the values the lines change (kept
        // for a revert) and the dry run's checks.
        let found = match self.first_reads(changes, &recorded, &settled).await {
            Ok(found) => found,
            Err(message) => {
                let message = format!(
                    "the issues could not be read before the first write (to check the lines and keep what they change for a revert): {message}; nothing was sent, run again"
                );
                return Ok(ApplyReport::finish(
                    changes
                        .iter()
                        .map(|c| line_result(c, Outcome::NotSent, Some(message.clone())))
                        .collect(),
                ));
            }
        };
        for (n, prior) in priors.iter().enumerate() {
            if let Some(undo) = prior.as_ref().and_then(|p| p.undo.clone()) {
                undos.insert(ids[n].clone(), undo);
            }
        }
        for (n, undo) in Self::capture_undos(changes, &recorded, &found) {
            undos.insert(ids[n].clone(), undo);
        }
        let transitions = Transitions::default();
        // A line the site would refuse is refused here, unsent.
        let problems = self.precheck(changes, &settled, &transitions, &found).await;
        let (writer, writing) = JournalWriter::start(journal.clone(), undos);
        let bulk: Vec<Vec<usize>> = self
            .bulk_groups(changes)
            .await
            .into_iter()
            .map(|group| {
                group
                    .into_iter()
                    .filter(|n| !problems.contains_key(n))
                    .collect::<Vec<usize>>()
            })
            .filter(|group| !group.is_empty())
            .collect();
        let in_bulk: std::collections::HashSet<usize> = bulk.iter().flatten().copied().collect();
        // Lines by issue, each issue's in file order; creates each on their own.
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut by_issue: HashMap<&str, usize> = HashMap::new();
        for (n, change) in changes.iter().enumerate() {
            if in_bulk.contains(&n) {
                continue;
            }
            match change.op.issue() {
                Some(issue) => {
                    let group = *by_issue.entry(issue).or_insert_with(|| {
                        groups.push(Vec::new());
                        groups.len() - 1
                    });
                    groups[group].push(n);
                }
                None => groups.push(vec![n]),
            }
        }
        let journal_failed = std::sync::atomic::AtomicBool::new(false);
        // Why the journal could not be written, first cause kept.
        let journal_error: Mutex<Option<String>> = Mutex::default();
        // One issue's lines, one after the other, each written on its own.
        let one_group = |group: Vec<usize>| {
            let (ids, legacy, writer, transitions, journal, journal_failed, journal_error) = (
                &ids,
                &legacy,
                &writer,
                &transitions,
                &journal,
                &journal_failed,
                &journal_error,
            );
            let problems = &problems;
            async move {
                let mut done = Vec::with_capacity(group.len());
                for n in group {
                    let change = &changes[n];
                    let prior = lock(journal).latest_of(&ids[n], &legacy[n]).cloned();
                    let result =
                        if journal_failed.load(std::sync::atomic::Ordering::SeqCst) || stop() {
                            line_result(
                                change,
                                Outcome::NotSent,
                                Some("interrupted before it was sent; run again".into()),
                            )
                        } else if let Some(why) = problems.get(&n) {
                            let message = format!("refused before it was sent: {why}");
                            let mut refused =
                                JournalRecord::new(&ids[n], WriteState::Refused, Some(change.line));
                            refused.message = Some(message.clone());
                            match writer.write(vec![refused]).await {
                                Ok(()) => line_result(change, Outcome::Refused, Some(message)),
                                Err(failure) => {
                                    journal_failed.store(true, std::sync::atomic::Ordering::SeqCst);
                                    lock_error(journal_error).get_or_insert(failure.clone());
                                    line_result(change, Outcome::NotSent, Some(failure))
                                }
                            }
                        } else {
                            match self
                                .apply_line(change, &ids[n], prior, writer, transitions)
                                .await
                            {
                                Ok(result) => result,
                                Err(message) => {
                                    journal_failed.store(true, std::sync::atomic::Ordering::SeqCst);
                                    lock_error(journal_error).get_or_insert(message.clone());
                                    line_result(change, Outcome::NotSent, Some(message))
                                }
                            }
                        };
                    progress(&result);
                    done.push((n, result));
                }
                done
            }
        };
        let side_by_side = self.client.batch_config().max_concurrent.max(1);
        let bulk_results = async {
            let mut done = Vec::new();
            for group in &bulk {
                let run = BulkRun {
                    changes,
                    ids: &ids,
                    legacy: &legacy,
                    journal: &journal,
                    writer: &writer,
                    transitions: &transitions,
                };
                match self.apply_bulk(run, group, stop).await {
                    Ok((results, one_by_one)) => {
                        for (_, result) in &results {
                            progress(result);
                        }
                        done.extend(results);
                        // The site declined the bulk operation: these lines (each the only
                        // one of its issue) are written on their own, side by side.
                        let singly: Vec<(usize, LineResult)> =
                            futures_util::stream::iter(one_by_one.into_iter().map(|n| vec![n]))
                                .map(&one_group)
                                .buffer_unordered(side_by_side)
                                .flat_map(futures_util::stream::iter)
                                .collect()
                                .await;
                        done.extend(singly);
                    }
                    Err(message) => {
                        journal_failed.store(true, std::sync::atomic::Ordering::SeqCst);
                        lock_error(&journal_error).get_or_insert(message);
                        break;
                    }
                }
            }
            done
        };
        let single_results = futures_util::stream::iter(groups)
            .map(&one_group)
            .buffer_unordered(side_by_side)
            .flat_map(futures_util::stream::iter)
            .collect::<Vec<(usize, LineResult)>>();
        let (mut results, singles) = futures_util::future::join(bulk_results, single_results).await;
        results.extend(singles);
        // Every record is on disk and the journal let go before this returns.
        drop(writer);
        writing.finish().await;
        if journal_failed.load(std::sync::atomic::Ordering::SeqCst) {
            let cause = lock_error(&journal_error)
                .take()
                .unwrap_or_else(|| "appending to the journal failed".into());
            return Err(JournalError {
                path,
                source: std::io::Error::other(cause),
            });
        }
        let mut ordered: Vec<Option<LineResult>> = vec![None; changes.len()];
        for (n, result) in results {
            ordered[n] = Some(result);
        }
        Ok(ApplyReport::finish(
            ordered
                .into_iter()
                .zip(changes)
                .map(|(result, change)| {
                    result.unwrap_or_else(|| line_result(change, Outcome::NotSent, None))
                })
                .collect(),
        ))
    }
}

impl Writes<'_> {
    /// The issues a run reads before its first write, in one set of bulk fetches: every
    /// issue its unsettled lines name ([`crate::precheck::named_issues`]), with the
    /// checks' fields and the fields its field lines change ([`crate::undo::undo_fields`]).
    async fn first_reads(
        &self,
        changes: &[Change],
        recorded: &dyn Fn(usize) -> bool,
        settled: &dyn Fn(usize) -> bool,
    ) -> Result<Vec<jira_model::Issue>, String> {
        let issues = crate::precheck::named_issues(changes, &|n| settled(n) && recorded(n));
        if issues.is_empty() {
            return Ok(Vec::new());
        }
        let mut fields = crate::undo::undo_fields(changes, recorded);
        fields.extend(crate::precheck::CHECK_FIELDS.map(str::to_owned));
        fields.sort();
        fields.dedup();
        let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
        self.read_raw(&issues, &fields).await
    }
}

fn lock_error(error: &Mutex<Option<String>>) -> std::sync::MutexGuard<'_, Option<String>> {
    error
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
