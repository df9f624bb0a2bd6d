//! A window's issues read as units, each way: the `ids` way (the window's ids listed,
//! then bulk fetches started in id order and handed on as they come back) and the
//! `pages`/`slices` ways (search pages of listed ids with the fields, in order), each
//! unit completed ([`crate::read`]) and handed on with the cursor it moves.
//!
//! JQL cannot page by id (`id > N` keeps to issue N's project: [`jira_batch::query_ids`]),
//! so every way lists the window's ids by page token first and keeps its cursor on its
//! own side; a listing of more than one page is listed again once read, and what the
//! first lacked is read too.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::FutureExt as _;
use futures_util::StreamExt as _;
use jira_batch::{BatchConfig, QueryIds, SearchOptions};
use jira_model::SearchPage;
use jira_transport::Transport;

use crate::Error;
use crate::memory::AbortOnDrop;
use crate::options::SyncOptions;
use crate::read::{Completion, Tuning, complete, fetch_unit};
use crate::record::numeric_id;
use crate::run::{Event, Unit};
use crate::window::{Slice, Window};

/// A run of ids to read, with the listing requests it carries and whether reading it
/// moves the slice's cursor (ids of the first listing, in order) or not (ids a second
/// listing found that the first lacked, below the cursor as often as not; the listing's
/// first page, read before its later pages are back).
struct Run {
    ids: Vec<u64>,
    requests: usize,
    moves_cursor: bool,
    /// The listing's first page, read while its later pages are asked: its ids are in no
    /// order of the whole listing's, so its units move no cursor; each is durable once
    /// back as the runs of the listing's ids it holds whole ([`listed_runs`]), and no
    /// other unit counts as read ahead until they are all back (a range read ahead says
    /// every id in it durable, and a first-page id in it may still be on the wire).
    early: bool,
}

/// One unit's worth of a [`Run`]: its ids, the listing requests it carries (the run's
/// first chunk), and the run's kind.
struct Chunk {
    ids: Vec<u64>,
    requests: usize,
    moves_cursor: bool,
    early: bool,
}

/// `ids` (ascending) as the ranges of `listing` (the whole listing, ascending) they fill:
/// no listed id outside `ids` lies within a range. An id the listing lacks is in none.
fn listed_runs(ids: &[u64], listing: &[u64]) -> Vec<(u64, u64)> {
    let mut runs: Vec<(u64, u64, usize)> = Vec::new();
    for id in ids {
        let Ok(at) = listing.binary_search(id) else {
            continue;
        };
        match runs.last_mut() {
            Some((_, last, next)) if *next == at => {
                *last = *id;
                *next = at + 1;
            }
            _ => runs.push((*id, *id, at + 1)),
        }
    }
    runs.into_iter()
        .map(|(first, last, _)| (first, last))
        .collect()
}

/// The ids of `page` (the listing's first page, as the plan read it) still to read, when
/// the listing goes on past it: read at once, before the later pages are back. Ascending;
/// empty when the page is the whole listing (it is read in order then) or an id is not a
/// number (the listing says so).
fn first_page_ids(page: Option<&SearchPage>, slice: &Slice) -> Vec<u64> {
    let Some(page) = page.filter(|page| !page.is_last && page.next_page_token.is_some()) else {
        return Vec::new();
    };
    let ids: Option<Vec<u64>> = page.issues.iter().map(|i| i.id.parse().ok()).collect();
    let mut ids: Vec<u64> = ids
        .unwrap_or_default()
        .into_iter()
        .filter(|id| slice.unread(*id))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// A second listing of the window (`bounds`), asked once the stream is polled past the
/// first listing's ids, when that one (`listed`) took more than one page: a run of the ids
/// it lacked (see [`jira_batch::query_ids`]). Nothing when it took one page.
fn second_listing<T: Transport + 'static>(
    transport: Arc<T>,
    bounds: String,
    listed: Arc<QueryIds>,
) -> impl futures_util::Stream<Item = Result<Run, Error>> {
    futures_util::stream::once(async move {
        if !listed.paged() {
            return None;
        }
        Some(
            jira_batch::query_ids(&*transport, &bounds, None)
                .await
                .map(|again| Run {
                    ids: listed.missing_from(&again),
                    requests: again.requests,
                    moves_cursor: false,
                    early: false,
                })
                .map_err(Error::from),
        )
    })
    .filter_map(futures_util::future::ready)
}

/// The `ids` strategy: the window's ids listed by page token (`first_ids`, the listing's
/// first page when the plan read it, is not asked again), sorted, and cut into bulk
/// fetches in id order from the slice's cursor, a number at a time (both from `tuning`);
/// a listing of more than one page is listed again once its ids are under way, and what
/// it lacked is read too. When the listing goes on past `first_ids`, that page's ids are
/// read first, while the later pages are asked (units that move no cursor, each durable
/// as the runs of listed ids it holds once it is back). `past_first`: when given (a far
/// site's plan still measuring), only the first page and the lowest other ids to a page's
/// worth (5,000) with it are read unless it says go on; the slice is then done only if
/// the rest was; the listing is handed back (a plan that chose another way reads the rest
/// from it).
pub(crate) fn ids_events<'a, T: Transport + 'static>(
    transport: &'a Arc<T>,
    batch: &'a BatchConfig,
    options: &'a SyncOptions,
    window: &Window,
    (first_ids, past_first): (Option<SearchPage>, Option<crate::early::PastFirst>),
    completion: Completion,
    tuning: Tuning,
) -> impl futures_util::Stream<Item = Result<Event, Error>> + 'a {
    let Completion {
        worklogs,
        recent,
        budget,
    } = completion;
    let slice = window.slices[0].clone();
    let to_ms = window.to_ms;
    let first_ids = first_ids.filter(|_| slice.after_id == 0);
    // The listing's first page, when more follow: its units go as soon as the plan's page
    // is in hand instead of after the listing's last page (on a far site each page of
    // 5,000 ids is a round trip of a third of a second, and a page's token is the next
    // one's key, so they chain).
    let first_page = first_page_ids(first_ids.as_ref(), &slice);
    let early = past_first.is_some();
    let (past_first, publish) = past_first.map(|p| (p.go_on, p.listed)).unzip();
    // Whether the ids past the first page's worth are read (and so the slice done at the
    // end).
    let go_on = async move {
        match past_first {
            None => true,
            Some(decision) => decision.await.unwrap_or(false),
        }
    }
    .shared();
    let bounds = window.bounds(&options.jql);
    let first_run = Run {
        ids: first_page.clone(),
        requests: 0,
        moves_cursor: false,
        early: true,
    };
    // The whole listing's ids, ascending, once it is in: what a first-page unit waits for
    // once back, to be durable as the runs of it it holds (`listed_runs`).
    let (listed_tx, listed_rx) = tokio::sync::watch::channel(None::<Arc<Vec<u64>>>);
    // The listing: asked as the read starts, or, when the first page's units go first,
    // at once in a task of its own (it waits for none of them, and they wait for it).
    let listing = {
        let (transport, bounds) = (transport.clone(), bounds.clone());
        // A far site's plan that chooses another way reads the rest from this listing.
        let list = async move {
            let listed = jira_batch::query_ids(&*transport, &bounds, first_ids).await;
            if let (Ok(listed), Some(publish)) = (&listed, publish) {
                publish.send_replace(Some(Arc::new(listed.clone())));
            }
            listed
        };
        match first_page.is_empty() {
            true => async move { list.await.map_err(Error::from) }.boxed(),
            false => {
                let listing = AbortOnDrop::new(tokio::spawn(async move {
                    let listed = list.await;
                    if let Ok(listed) = &listed {
                        let _ = listed_tx.send(Some(Arc::new(listed.ids.clone())));
                    }
                    listed
                }));
                async move { listing.join().await?.map_err(Error::from) }.boxed()
            }
        }
    };
    let runs = {
        let (transport, go_on) = (transport.clone(), go_on.clone());
        let first_page = first_page.clone();
        futures_util::stream::once(async move {
            let listed = listing.await?;
            Ok::<_, Error>((transport, bounds, listed))
        })
        .flat_map(move |listed| {
            let (transport, bounds, listed) = match listed {
                Ok(listed) => listed,
                Err(error) => return futures_util::stream::iter([Err(error)]).left_stream(),
            };
            let mut unread: Vec<u64> = listed
                .ids
                .iter()
                .copied()
                .filter(|id| slice.unread(*id) && first_page.binary_search(id).is_err())
                .collect();
            // Before the plan lands, a far site reads a page's worth of ids: the first
            // page's and the lowest others.
            let rest = match early {
                true => {
                    let page =
                        (jira_model::SEARCH_ID_PAGE_MAX as usize).saturating_sub(first_page.len());
                    unread.split_off(page.min(unread.len()))
                }
                false => Vec::new(),
            };
            let first = Run {
                ids: unread,
                requests: listed.requests,
                moves_cursor: true,
                early: false,
            };
            let listed = Arc::new(listed);
            let go_on = go_on.clone();
            // Each part is asked for only once the one before it is under way: the second
            // listing comes after every id of the first is.
            let past = futures_util::stream::once(async move {
                match go_on.await {
                    true => futures_util::stream::iter([Ok(Run {
                        ids: rest,
                        requests: 0,
                        moves_cursor: true,
                        early: false,
                    })])
                    .chain(second_listing(transport, bounds, listed))
                    .left_stream(),
                    false => futures_util::stream::empty().right_stream(),
                }
            })
            .flatten();
            futures_util::stream::iter([Ok(first)])
                .chain(past)
                .right_stream()
        })
    };
    // The first page's run goes first: its units start while the listing goes on.
    let runs = futures_util::stream::iter([Ok(first_run)]).chain(runs);
    // First-page units started and not yet back: until none is, no unit is read ahead.
    let first_page_out = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let first_page_started = first_page_out.clone();
    let units = runs
        .flat_map({
            let tuning = tuning.clone();
            move |run| match run {
                Err(error) => futures_util::stream::iter(vec![Err(error)]).left_stream(),
                Ok(run) => {
                    // Cut as the units start, each at the unit size of that moment; the
                    // first chunk of a run carries its listing's requests (an empty run
                    // that sent some is one empty chunk).
                    let tuning = tuning.clone();
                    let Run {
                        ids,
                        requests,
                        moves_cursor,
                        early,
                    } = run;
                    let alone = ids.is_empty() && requests > 0;
                    futures_util::stream::unfold(
                        (ids, 0, requests, alone),
                        move |(ids, at, requests, alone)| {
                            let end = (at + tuning.unit_issues()).min(ids.len());
                            let chunk: Result<Chunk, Error> = Ok(Chunk {
                                ids: ids[at..end].to_vec(),
                                requests,
                                moves_cursor,
                                early,
                            });
                            futures_util::future::ready(
                                (at < ids.len() || alone).then_some((chunk, (ids, end, 0, false))),
                            )
                        },
                    )
                    .right_stream()
                }
            }
        })
        // A unit's place among those in flight, then its share of the memory budget: both
        // taken one unit after the other, in order, before a unit starts.
        .then({
            let (budget, units) = (budget.clone(), tuning.units.clone());
            move |chunk| {
                let (budget, units) = (budget.clone(), units.clone());
                async move {
                    let place = units.acquire(1).await;
                    (chunk, (place, budget.share().await))
                }
            }
        })
        .enumerate()
        .map(move |(seq, (chunk, (place, share)))| {
            let budget = budget.clone();
            // The unit's task starts here, as the unit takes its place, not when this
            // stream is next polled: the reader stops polling while the commit loop has
            // as many units waiting as it may, and a unit that had its place but no task
            // until then would hold its place and read nothing while a commit is made.
            let started = chunk.map(|chunk| {
                let Chunk {
                    ids,
                    requests,
                    moves_cursor,
                    early,
                } = chunk;
                // The unit's id range, when it is one of the listing's in order (and so
                // may move the cursor); a first-page unit's ids, to say what of the
                // listing it holds once back.
                let range = match (moves_cursor, ids.iter().min(), ids.iter().max()) {
                    (true, Some(first), Some(last)) => Some((*first, *last)),
                    _ => None,
                };
                let first_page_ids = early.then(|| {
                    first_page_started.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    ids.clone()
                });
                let ids: Vec<String> = ids.iter().map(u64::to_string).collect();
                // In a task of its own: while the events wait for a commit, a unit on the
                // wire still reads its answers instead of stalling towards its deadline.
                let (transport, batch, options, recent) = (
                    transport.clone(),
                    batch.clone(),
                    options.clone(),
                    recent.clone(),
                );
                let fetching = AbortOnDrop::new(tokio::spawn(async move {
                    if ids.is_empty() {
                        return Ok(Unit::default());
                    }
                    fetch_unit(
                        &transport,
                        &batch,
                        &options,
                        &ids,
                        worklogs,
                        &recent,
                        Some(to_ms),
                    )
                    .await
                }));
                (range, first_page_ids, requests, fetching)
            });
            let mut listed = listed_rx.clone();
            let unit = async move {
                let (range, first_page_ids, requests, fetching) = started?;
                let mut unit = fetching.join().await??;
                drop(place);
                budget.observe(unit.bytes());
                unit.share = share;
                unit.requests += requests;
                unit.search_pages += requests;
                // A first-page unit is durable as the runs of the listing it holds: it
                // waits for the listing (its place given back). A listing that failed
                // fails the read; the unit is then durable as nothing.
                let first_page_runs = match first_page_ids {
                    Some(ids) => Some(match listed.wait_for(Option::is_some).await {
                        Ok(listing) => listing
                            .as_deref()
                            .map(|listing| listed_runs(&ids, listing))
                            .unwrap_or_default(),
                        Err(_) => Vec::new(),
                    }),
                    None => None,
                };
                Ok((range, first_page_runs, unit))
            };
            async move { (seq, unit.await) }
        })
        // Units run unordered (a slow one never keeps the next from starting: what is in
        // flight is bounded by the concurrency and the memory budget, not by the oldest
        // unit) and are handed on as they come back, so the commit loop never waits for
        // the oldest either: units that came back behind a slow one are committed while it
        // is on the wire, not all at once after it. (`tuning` bounds them; this only caps
        // what it may be set to.)
        .buffer_unordered(
            crate::plan::MAX_CONCURRENCY
                .max(batch.max_concurrent)
                .max(window.concurrency),
        )
        .scan(Cursor::default(), move |cursor, (seq, read)| {
            futures_util::future::ready(Some(read.map(|(range, first_page_runs, unit)| {
                use std::sync::atomic::Ordering::SeqCst;
                let (last_id, ahead) = match first_page_runs {
                    Some(runs) => {
                        first_page_out.fetch_sub(1, SeqCst);
                        (cursor.back(seq, None, false).0, runs)
                    }
                    None => {
                        // Every unit started before this one was counted as it started
                        // (the first page's run is cut before any other).
                        let settled = first_page_out.load(SeqCst) == 0;
                        let (last_id, ahead) = cursor.back(seq, range, settled);
                        (last_id, ahead.into_iter().collect())
                    }
                };
                Event::Unit {
                    slice: 0,
                    last_id,
                    ahead,
                    unit: Box::new(unit),
                }
            })))
        });
    units.chain(
        futures_util::stream::once(go_on).filter_map(|go| {
            futures_util::future::ready(go.then_some(Ok(Event::Done { slice: 0 })))
        }),
    )
}

/// Where the `ids` way's cursor stands while its units come back out of order: units are
/// numbered as they start (in id order, those of a listing's first reading), and the
/// cursor is the last id of the longest run of units back from the first.
#[derive(Default)]
struct Cursor {
    /// The number of the first unit not yet back.
    next: usize,
    /// The units back past `next`: their last ids (0 for one that moves no cursor).
    back: BTreeMap<usize, u64>,
    /// The last id of every unit before `next`.
    after_id: u64,
}

impl Cursor {
    /// Unit `seq` came back having read `range` (first and last id, when it moves the
    /// cursor): where the cursor now stands, and the unit's range when it is still past
    /// it (read ahead) and `settled` (no unit whose ids the range may hold is still on the
    /// wire: the listing's first page's are all back).
    fn back(
        &mut self,
        seq: usize,
        range: Option<(u64, u64)>,
        settled: bool,
    ) -> (u64, Option<(u64, u64)>) {
        self.back.insert(seq, range.map_or(0, |(_, last)| last));
        while let Some(last) = self.back.remove(&self.next) {
            self.after_id = self.after_id.max(last);
            self.next += 1;
        }
        let ahead = range.filter(|(_, last)| settled && *last > self.after_id);
        (self.after_id, ahead)
    }
}

/// The `pages` and `slices` strategies: the window's ids listed once (by page token,
/// [`jira_batch::query_ids`]), then every unfinished slice read as search pages of its
/// unread ids with the fields (`id in (...)`, [`jira_batch::search_pages_of_ids`]), the
/// slices side by side, each in id order; a listing of more than one page is listed again
/// at the end, and what it lacked is read too. A window the plan counted at one search
/// page (`expected`) is asked as that page with the fields, nothing listed: one answer
/// holds it all (should it not be the last page after all, its issues are kept and the
/// rest listed). `first_ids`: the listing's first page, when the plan read it; `listed`:
/// the whole listing, when the run has it (the slices were cut from it, or a far site's
/// first-page read made it): the window is not listed again.
pub(crate) fn page_events<'a, T: Transport + 'static>(
    transport: &'a Arc<T>,
    options: &'a SyncOptions,
    window: &Window,
    completion: Completion,
    (expected, first_ids, listed): (Option<u64>, Option<SearchPage>, Option<Arc<QueryIds>>),
) -> impl futures_util::Stream<Item = Result<Event, Error>> + 'a {
    let Completion {
        worklogs,
        recent,
        budget,
    } = completion;
    let fields = options.read_fields(worklogs.carried());
    let bounds = window.bounds(&options.jql);
    let slices: Vec<(usize, Slice)> = window
        .slices
        .iter()
        .cloned()
        .enumerate()
        .filter(|(_, slice)| !slice.done)
        .collect();
    let page_options = SearchOptions {
        fields,
        page_size: jira_model::SEARCH_PAGE_MAX,
        prefetch: true,
        limit: None,
    };
    // A page read, as a unit of slice `index` (moving its cursor, or not).
    let unit =
        move |page: Result<SearchPage, jira_batch::Error>, index: usize, moves_cursor: bool| {
            let (recent, budget) = (recent.clone(), budget.clone());
            async move {
                // A slice is read one page after the other: its next page waits for this
                // one's share.
                let share = budget.share().await;
                let page = page?;
                let last_id = match moves_cursor {
                    true => page
                        .issues
                        .iter()
                        .map(|i| numeric_id(&i.id))
                        .try_fold(0, |m, id| id.map(|id| m.max(id)))?,
                    false => 0,
                };
                let mut unit =
                    complete(transport, options, page.issues, worklogs, &recent, None).await?;
                budget.observe(unit.bytes());
                unit.share = share;
                unit.requests += 1;
                unit.search_pages += 1;
                Ok(Event::Unit {
                    slice: index,
                    last_id,
                    ahead: Vec::new(),
                    unit: Box::new(unit),
                })
            }
        };
    // Pages of `ids`, as units of slice `index`.
    let read = {
        let (bounds, page_options, unit) = (bounds.clone(), page_options.clone(), unit.clone());
        move |ids: Vec<u64>, index: usize, moves_cursor: bool| {
            let unit = unit.clone();
            jira_batch::search_pages_of_ids(
                transport.clone(),
                bounds.clone(),
                ids,
                page_options.clone(),
            )
            .then(move |page| unit(page, index, moves_cursor))
            .boxed()
        }
    };
    // The listing's requests, as a unit of no issues.
    let counted = |requests: usize| Event::Unit {
        slice: 0,
        last_id: 0,
        ahead: Vec::new(),
        unit: Box::new(Unit {
            requests,
            search_pages: requests,
            ..Unit::default()
        }),
    };
    let whole = expected.is_some_and(|n| n <= u64::from(jira_model::SEARCH_PAGE_MAX))
        && matches!(
            slices.as_slice(),
            [(
                0,
                Slice {
                    after_id: 0,
                    last_id: None,
                    ..
                }
            )]
        );
    let first_page = {
        let (transport, bounds, page_options) =
            (transport.clone(), bounds.clone(), page_options.clone());
        async move {
            if !whole {
                return None;
            }
            // One page, none asked ahead: were it not the last, the rest is listed.
            let one = SearchOptions {
                prefetch: false,
                ..page_options
            };
            let pages = jira_batch::search_pages(transport, bounds, one);
            tokio::pin!(pages);
            pages.next().await
        }
    };
    futures_util::stream::once(first_page).flat_map(move |first| {
        let complete_page = first.as_ref().is_some_and(|page| {
            page.as_ref()
                .is_ok_and(|page| page.is_last || page.next_page_token.is_none())
        });
        let read_first: std::collections::HashSet<u64> = match &first {
            Some(Ok(page)) => page
                .issues
                .iter()
                .filter_map(|i| i.id.parse().ok())
                .collect(),
            _ => std::collections::HashSet::new(),
        };
        let head = futures_util::stream::iter(first).then({
            let unit = unit.clone();
            move |page| unit(page, 0, complete_page)
        });
        if complete_page {
            let done = futures_util::stream::once(async { Ok(Event::Done { slice: 0 }) });
            return head.chain(done).boxed();
        }
        // The window's listing: the one its slices were cut from (its requests counted
        // there), or one made now.
        let listing = {
            let (transport, bounds, first_ids, listed) = (
                transport.clone(),
                bounds.clone(),
                first_ids.clone(),
                listed.clone(),
            );
            async move {
                match listed {
                    Some(listed) => Ok((listed, 0)),
                    None => jira_batch::query_ids(&*transport, &bounds, first_ids)
                        .await
                        .map(|listed| {
                            let requests = listed.requests;
                            (Arc::new(listed), requests)
                        }),
                }
            }
        };
        let (slices, read, bounds) = (slices.clone(), read.clone(), bounds.clone());
        let rest = futures_util::stream::once(listing).flat_map(move |listed| {
            let (listed, requests) = match listed {
                Ok(listed) => listed,
                Err(error) => {
                    return futures_util::stream::iter([Err(Error::from(error))]).left_stream();
                }
            };
            let streams = slices
                .iter()
                .map(|(index, slice)| {
                    let ids = listed
                        .ids
                        .iter()
                        .copied()
                        .filter(|id| slice.unread(*id) && !read_first.contains(id))
                        .collect();
                    let index = *index;
                    read(ids, index, true)
                        .chain(futures_util::stream::once(async move {
                            Ok(Event::Done { slice: index })
                        }))
                        .boxed()
                })
                .collect::<Vec<_>>();
            let read = read.clone();
            let again = second_listing(transport.clone(), bounds.clone(), listed.clone()).flat_map(
                move |run| match run {
                    Ok(run) => futures_util::stream::iter([Ok(counted(run.requests))])
                        .chain(read(run.ids, 0, false))
                        .left_stream(),
                    Err(error) => futures_util::stream::iter([Err(error)]).right_stream(),
                },
            );
            futures_util::stream::iter([Ok(counted(requests))])
                .chain(futures_util::stream::select_all(streams))
                .chain(again)
                .right_stream()
        });
        head.chain(rest).boxed()
    })
}

#[cfg(test)]
mod tests {
    use super::Cursor;

    #[test]
    fn the_cursor_follows_the_units_back_in_a_row_and_names_those_ahead() {
        let mut cursor = Cursor::default();
        // Units 0..4 read ids 1–10, 11–20, 21–30 and 31–40; 2 and 1 come back first.
        assert_eq!(cursor.back(2, Some((21, 30)), true), (0, Some((21, 30))));
        assert_eq!(cursor.back(1, Some((11, 20)), true), (0, Some((11, 20))));
        // Unit 0 closes the gap: the cursor passes every unit back so far.
        assert_eq!(cursor.back(0, Some((1, 10)), true), (30, None));
        // A unit that moves no cursor (ids a second listing found) is passed over.
        assert_eq!(cursor.back(4, None, true), (30, None));
        assert_eq!(cursor.back(3, Some((31, 40)), true), (40, None));
    }

    #[test]
    fn no_unit_is_read_ahead_while_a_first_page_unit_is_out() {
        let mut cursor = Cursor::default();
        // Unit 0 reads the listing's first page (ids 5, 25 and 60: no range); units 1 and
        // 2 the listing's other ids in order, 1–20 and 21–50. Unit 2 comes back first: its
        // range holds 25, still on the wire with unit 0, so it is not durable as a range.
        assert_eq!(cursor.back(2, Some((21, 50)), false), (0, None));
        assert_eq!(cursor.back(0, None, true), (0, None));
        // Every unit is back: the cursor passes them, the first page's ids with them.
        assert_eq!(cursor.back(1, Some((1, 20)), true), (50, None));
    }

    #[test]
    fn a_first_page_unit_is_durable_as_the_runs_of_the_listing_it_holds() {
        let listing = [3, 5, 8, 9, 12, 15, 20, 21, 30];
        // 5 and 8 are neighbours in the listing, and 20 and 21; 9 and 15 are listed and not
        // the unit's, so no range spans them (12 is a range alone). 4 is not listed.
        assert_eq!(
            super::listed_runs(&[4, 5, 8, 12, 20, 21], &listing),
            [(5, 8), (12, 12), (20, 21)]
        );
        assert_eq!(super::listed_runs(&[], &listing), []);
    }
}
