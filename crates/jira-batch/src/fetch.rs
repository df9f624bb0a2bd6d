//! [`fetch_issues`]: many issues in as few requests as the API allows.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::Stream;
use futures_util::stream::{self, BoxStream, StreamExt};
use jira_cache::{CacheStore, Category, JiraCache, issue_cache_key};
use jira_model::{ApiRequest, BulkFetchRequest, BulkFetchResponse, Comment, CommentPage, Issue};
use jira_transport::Transport;

use crate::{BatchConfig, Batcher};

/// Why one issue could not be fetched.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// It does not exist, or this account cannot see it.
    #[error("issue {0} does not exist or is not visible to this account")]
    NotFound(String),
    /// The request that should have brought it failed.
    #[error("fetching issue {key} failed: {message}")]
    Failed {
        /// The key.
        key: String,
        /// What went wrong (shared by the keys of one request).
        message: String,
    },
}

/// The outcome for each requested key, in the order first requested.
pub type IssueResults = Vec<(String, Result<Issue, FetchError>)>;

/// What a fetch cost.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FetchReport {
    /// Served from the cache.
    pub cache_hits: usize,
    /// HTTP requests sent (bulk fetches and fallback GETs).
    pub requests: usize,
    /// The cache store failed (disk full, Redis gone, damaged files): what it said. The
    /// fetch went on without it from that point, so no key was lost to it.
    pub cache_failure: Option<String>,
}

/// Fetches `keys` (duplicates once): cache hits first, the misses coalesced into
/// `POST /issue/bulkfetch` calls of at most `fetch_chunk` keys (1,000 for a lean read:
/// [`jira_model::bulk_fetch_max_issues`]), `max_concurrent` at a time.
/// Keys the server reports in `issueErrors` are [`FetchError::NotFound`]; keys it leaves
/// out without a word are asked once more (in calls of as many as it answered), and are
/// `NotFound` only if that ask leaves them out too. A moved issue asked by its old key,
/// which Jira answers under its new key, is that old key's result. Fetched issues fill the
/// cache. Where bulkfetch is not available (404 on the endpoint), that chunk falls back to
/// single GETs.
///
/// This collects [`fetch_issues_stream`] in input order; stream it to write results as they
/// become final.
pub async fn fetch_issues<T, S>(
    transport: &Arc<T>,
    cache: Option<&JiraCache<S>>,
    config: &BatchConfig,
    keys: &[String],
    fields: &[&str],
    expand: &[&str],
) -> Result<(IssueResults, FetchReport), crate::Error>
where
    T: Transport + 'static,
    S: CacheStore + 'static,
{
    let owned = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let stream = fetch_issues_stream(
        transport.clone(),
        cache.cloned(),
        config,
        keys,
        owned(fields),
        owned(expand),
        Order::Input,
    )
    .await;
    let (results, stream) = collect(stream).await;
    Ok((results, stream.report()))
}

async fn collect(mut stream: IssueStream) -> (IssueResults, IssueStream) {
    let mut results = Vec::with_capacity(stream.len());
    while let Some(item) = stream.next().await {
        results.push(item);
    }
    (results, stream)
}

/// In what order an [`IssueStream`] yields its results.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Order {
    /// The order first requested. A result waits for the bulk fetches before it, so at
    /// most `max_concurrent` chunks are held back (the reorder window).
    #[default]
    Input,
    /// As they become final: cache hits first, then each bulk fetch's keys when it ends.
    Completion,
}

/// Streams the results of fetching `keys`, one per distinct key, as they become final (see
/// [`fetch_issues`] for how they are fetched and [`Order`] for their order).
///
/// The cache is read before the first result; a store that fails is reported in
/// [`IssueStream::report`] and left out from then on, so it never costs a result.
/// [`IssueStream::stop_admitting`] lets the fetches on the wire finish and sends no more:
/// what was not fetched is [`IssueStream::not_done`].
pub async fn fetch_issues_stream<T, S>(
    transport: Arc<T>,
    cache: Option<JiraCache<S>>,
    config: &BatchConfig,
    keys: &[String],
    fields: Vec<String>,
    expand: Vec<String>,
    order: Order,
) -> IssueStream
where
    T: Transport + 'static,
    S: CacheStore + 'static,
{
    let mut keys_in_order: Vec<String> = Vec::new();
    let mut seen = HashSet::new();
    for key in keys {
        let key = key.trim().to_ascii_uppercase();
        if !key.is_empty() && seen.insert(key.clone()) {
            keys_in_order.push(key);
        }
    }
    let shared = Arc::new(StreamShared::default());
    let field_refs: Vec<&str> = fields.iter().map(String::as_str).collect();
    let expand_refs: Vec<&str> = expand.iter().map(String::as_str).collect();
    let mut cache = cache;
    let mut resolved = HashMap::new();
    let mut hits = 0;
    let mut ages = HashMap::new();
    // Misses with their position in the input.
    let mut misses: Vec<(usize, String)> = Vec::new();
    let max_age = config.cache_max_age.unwrap_or(std::time::Duration::MAX);
    for (position, key) in keys_in_order.iter().enumerate() {
        let cached = match &cache {
            Some(store) => match store
                .get_within::<Issue>(
                    &Category::Issue,
                    &issue_cache_key(key, &field_refs, &expand_refs),
                    max_age,
                )
                .await
            {
                Ok(cached) => cached,
                Err(error) => {
                    tracing::warn!(%error, "the cache failed; going on without it");
                    shared.cache_failed(error.to_string());
                    cache = None;
                    None
                }
            },
            None => None,
        };
        match cached {
            Some((issue, age)) => {
                hits += 1;
                ages.insert(key.clone(), age);
                resolved.insert(key.clone(), Ok(issue));
            }
            None => misses.push((position, key.clone())),
        }
    }

    // A lean read (a few plain fields) is asked 1,000 issues a call, as Jira allows;
    // a smaller `fetch_chunk` than the default is the user's and is kept.
    let most = jira_model::bulk_fetch_max_issues(&field_refs, &expand_refs);
    let chunk_size = if config.fetch_chunk >= jira_model::BULK_FETCH_MAX_ISSUES {
        most
    } else {
        config.fetch_chunk.max(1)
    };
    let chunks: Vec<(usize, Vec<String>)> = misses
        .chunks(chunk_size)
        .map(|chunk| {
            let last = chunk.last().map_or(0, |(position, _)| *position);
            (last, chunk.iter().map(|(_, key)| key.clone()).collect())
        })
        .collect();
    let (fields, expand) = (Arc::new(fields), Arc::new(expand));
    let work = {
        let shared = shared.clone();
        stream::iter(chunks).map(move |(last, keys)| {
            let (transport, cache, shared) = (transport.clone(), cache.clone(), shared.clone());
            let (fields, expand) = (fields.clone(), expand.clone());
            async move {
                if shared.stopped.load(Ordering::Relaxed) {
                    return ChunkDone {
                        last,
                        results: ChunkResults::new(),
                        requests: 0,
                    };
                }
                let field_refs: Vec<&str> = fields.iter().map(String::as_str).collect();
                let expand_refs: Vec<&str> = expand.iter().map(String::as_str).collect();
                let (results, requests) =
                    fetch_chunk(&transport, keys, &field_refs, &expand_refs, Silence::AskAgain)
                        .await;
                if let Some(store) = cache.filter(|_| !shared.cache_has_failed()) {
                    for (key, result) in &results {
                        let Ok(issue) = result else { continue };
                        let cache_key = issue_cache_key(key, &field_refs, &expand_refs);
                        if let Err(error) = store.set(&Category::Issue, &cache_key, issue).await {
                            tracing::warn!(%key, %error, "could not cache a fetched issue; going on without the cache");
                            shared.cache_failed(error.to_string());
                            break;
                        }
                    }
                }
                ChunkDone {
                    last,
                    results,
                    requests,
                }
            }
        })
    };
    let concurrent = config.max_concurrent.max(1);
    let chunks: BoxStream<'static, ChunkDone> = match order {
        Order::Input => work.buffered(concurrent).boxed(),
        Order::Completion => work.buffer_unordered(concurrent).boxed(),
    };
    let mut stream = IssueStream {
        keys: keys_in_order,
        order,
        ready: VecDeque::new(),
        resolved,
        cursor: 0,
        chunks,
        chunks_done: false,
        emitted: HashSet::new(),
        cache_hits: hits,
        ages,
        requests: 0,
        shared,
    };
    if order == Order::Completion {
        let hits: Vec<String> = stream
            .keys
            .iter()
            .filter(|k| stream.resolved.contains_key(*k))
            .cloned()
            .collect();
        for key in hits {
            if let Some(result) = stream.resolved.remove(&key) {
                stream.ready.push_back((key, result));
            }
        }
    }
    stream
}

/// State an [`IssueStream`] shares with its fetches in flight.
#[derive(Default)]
struct StreamShared {
    stopped: AtomicBool,
    cache_failure: parking_lot::Mutex<Option<String>>,
}

impl StreamShared {
    fn cache_failed(&self, message: String) {
        self.cache_failure.lock().get_or_insert(message);
    }

    fn cache_has_failed(&self) -> bool {
        self.cache_failure.lock().is_some()
    }
}

/// One bulk fetch ended: its results, and the input position of its last key.
struct ChunkDone {
    last: usize,
    results: ChunkResults,
    requests: usize,
}

/// The results of [`fetch_issues_stream`], one per distinct key, as they become final.
/// Dropping it cancels the fetches in flight.
pub struct IssueStream {
    keys: Vec<String>,
    order: Order,
    ready: VecDeque<(String, Result<Issue, FetchError>)>,
    /// Final results not yet released (input order: waiting for a fetch before them).
    resolved: HashMap<String, Result<Issue, FetchError>>,
    /// Input order: the position of the next key to release.
    cursor: usize,
    chunks: BoxStream<'static, ChunkDone>,
    chunks_done: bool,
    emitted: HashSet<String>,
    cache_hits: usize,
    /// The age of each issue served from the cache, by key.
    ages: HashMap<String, std::time::Duration>,
    requests: usize,
    shared: Arc<StreamShared>,
}

impl IssueStream {
    /// Distinct keys asked for.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key was asked for.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Sends no more bulk fetches; those on the wire finish and their results come out.
    pub fn stop_admitting(&self) {
        self.shared.stopped.store(true, Ordering::Relaxed);
    }

    /// How old the cached copy of `key` was, when it was served from the cache (`None`:
    /// read from the site).
    pub fn cache_age(&self, key: &str) -> Option<std::time::Duration> {
        self.ages.get(&key.to_ascii_uppercase()).copied()
    }

    /// The keys whose result has not come out (yet), in input order.
    pub fn not_done(&self) -> Vec<String> {
        self.keys
            .iter()
            .filter(|key| !self.emitted.contains(*key))
            .cloned()
            .collect()
    }

    /// What the fetch has cost so far (all of it once the stream ended).
    pub fn report(&self) -> FetchReport {
        FetchReport {
            cache_hits: self.cache_hits,
            requests: self.requests,
            cache_failure: self.shared.cache_failure.lock().clone(),
        }
    }

    /// Takes one ended bulk fetch in; queues what it makes final.
    fn absorb(&mut self, done: ChunkDone) {
        self.requests += done.requests;
        match self.order {
            Order::Completion => self.ready.extend(done.results),
            Order::Input => {
                self.resolved.extend(done.results);
                // Every key up to this chunk's last one is final now (the fetches before
                // it ended first).
                while self.cursor < self.keys.len() && self.cursor <= done.last {
                    self.release(self.cursor);
                    self.cursor += 1;
                }
            }
        }
    }

    /// Input order, every fetch ended: the rest, past any key that was not sent.
    fn release_rest(&mut self) {
        if self.order == Order::Input {
            for position in self.cursor..self.keys.len() {
                self.release(position);
            }
            self.cursor = self.keys.len();
        }
    }

    fn release(&mut self, position: usize) {
        let key = &self.keys[position];
        if let Some(result) = self.resolved.remove(key) {
            self.ready.push_back((key.clone(), result));
        }
    }
}

impl Stream for IssueStream {
    type Item = (String, Result<Issue, FetchError>);

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use std::task::Poll;
        let this = self.get_mut();
        loop {
            if let Some((key, result)) = this.ready.pop_front() {
                this.emitted.insert(key.clone());
                return Poll::Ready(Some((key, result)));
            }
            if this.chunks_done {
                return Poll::Ready(None);
            }
            match this.chunks.as_mut().poll_next(cx) {
                Poll::Ready(Some(done)) => this.absorb(done),
                Poll::Ready(None) => {
                    this.chunks_done = true;
                    this.release_rest();
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// The results of one chunk, by key.
type ChunkResults = BTreeMap<String, Result<Issue, FetchError>>;

/// What a bulk fetch does with keys its answer leaves out without naming them in
/// `issueErrors`. Atlassian's reference names every issue it could not return; a site
/// that answers only the first issues asked (its reference read "up to 100") says nothing
/// of the rest, and a reader that took them for deleted would lose them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Silence {
    /// Ask for them once more, in requests of as many as the site answered.
    AskAgain,
    /// They are not found (what the second ask left out).
    Final,
}

/// Attempts at a bulk fetch whose 200 answer does not decode, before its keys fail.
pub(crate) const UNDECODABLE_ATTEMPTS: usize = 3;

/// One bulkfetch (or, where it is missing, single GETs); every key gets a result, and the
/// number of requests it took. Keys the answer leaves out without naming them in its
/// `issueErrors` are asked once more when `ask_again` (see [`Silence`]).
async fn fetch_chunk<T: Transport + 'static>(
    transport: &Arc<T>,
    keys: Vec<String>,
    fields: &[&str],
    expand: &[&str],
    ask_again: Silence,
) -> (ChunkResults, usize) {
    let body = BulkFetchRequest {
        issue_ids_or_keys: keys.clone(),
        fields: fields.iter().map(|f| (*f).to_owned()).collect(),
        expand: expand.iter().map(|e| (*e).to_owned()).collect(),
        ..BulkFetchRequest::default()
    };
    let failed_all = |message: String| {
        keys.iter()
            .map(|key| {
                (
                    key.clone(),
                    Err(FetchError::Failed {
                        key: key.clone(),
                        message: message.clone(),
                    }),
                )
            })
            .collect::<BTreeMap<_, _>>()
    };
    let request = match ApiRequest::bulk_fetch(&body) {
        Ok(request) => request,
        Err(error) => return (failed_all(error.to_string()), 0),
    };
    // A 200 whose body does not decode (cut short or garbled on the way) is asked for
    // again: a read is safe to repeat, and the transport cannot judge a body it does not
    // parse.
    let mut sent = 0;
    let (response, page) = loop {
        sent += 1;
        let response = match transport.send(request.clone()).await {
            Ok(response) => response,
            Err(error) => return (failed_all(error.to_string()), sent),
        };
        if !response.is_success() {
            break (response, None);
        }
        match response.json::<BulkFetchResponse>() {
            Ok(page) => break (response, Some(page)),
            Err(error) if sent >= UNDECODABLE_ATTEMPTS => {
                return (failed_all(error.to_string()), sent);
            }
            Err(error) => {
                tracing::warn!(%error, attempt = sent, "a bulk fetch answer did not decode; asking again");
            }
        }
    };
    if response.status == 400 && keys.len() > jira_model::BULK_FETCH_MAX_ISSUES {
        // More than 100 keys are allowed only for a lean request, and whether a custom
        // field returns several values is the site's to know: refused, asked in hundreds.
        tracing::info!(
            issues = keys.len(),
            "the site refused a bulk fetch of more than 100 issues; asking in hundreds"
        );
        let mut results = ChunkResults::new();
        let mut requests = sent;
        for part in keys.chunks(jira_model::BULK_FETCH_MAX_ISSUES) {
            let (part, part_sent) = Box::pin(fetch_chunk(
                transport,
                part.to_vec(),
                fields,
                expand,
                ask_again,
            ))
            .await;
            results.extend(part);
            requests += part_sent;
        }
        return (results, requests);
    }
    if response.status == 404 {
        // This site has no bulkfetch: one GET per key.
        let mut results = BTreeMap::new();
        let count = keys.len();
        for key in keys {
            let outcome = transport
                .send(ApiRequest::get_issue(&key, fields, expand))
                .await;
            let result = match outcome {
                Ok(answer) if answer.status == 404 => Err(FetchError::NotFound(key.clone())),
                Ok(answer) if answer.is_success() => {
                    answer.json::<Issue>().map_err(|e| FetchError::Failed {
                        key: key.clone(),
                        message: e.to_string(),
                    })
                }
                Ok(answer) => Err(FetchError::Failed {
                    key: key.clone(),
                    message: format!("HTTP {}", answer.status.as_u16()),
                }),
                Err(error) => Err(FetchError::Failed {
                    key: key.clone(),
                    message: error.to_string(),
                }),
            };
            results.insert(key, result);
        }
        return (results, sent + count);
    }
    let Some(page) = page else {
        return (
            failed_all(format!(
                "bulkfetch answered HTTP {}",
                response.status.as_u16()
            )),
            sent,
        );
    };
    // Issues the site named as errors are answered; any other it left out is not (see
    // `Silence`).
    let answered = page.issues.len();
    let named: std::collections::HashSet<String> = page
        .issue_errors
        .iter()
        .map(|error| error.id.to_ascii_uppercase())
        .collect();
    let mut results = ChunkResults::new();
    // Issues no key or id asked names: Jira answers a moved issue's old key with the issue
    // under its new one.
    let mut strangers = Vec::new();
    for issue in page.issues {
        let key = issue.key.to_ascii_uppercase();
        // A key requested by id comes back under its key; map it back when we can.
        let requested = if keys.contains(&key) {
            Some(key)
        } else {
            keys.iter().find(|k| **k == issue.id).cloned()
        };
        match requested {
            Some(requested) => {
                results.insert(requested, Ok(issue));
            }
            None => strangers.push(issue),
        }
    }
    let unplaced: Vec<&String> = keys.iter().filter(|k| !results.contains_key(*k)).collect();
    // One key asked and one stranger answered: it is that key's issue, moved.
    if let ([key], [_]) = (unplaced.as_slice(), strangers.as_slice()) {
        let key = (*key).clone();
        results.insert(key, Ok(strangers.remove(0)));
    }
    let mut requests = sent;
    let unanswered: Vec<String> = keys
        .iter()
        .filter(|key| !results.contains_key(*key) && !named.contains(&key.to_ascii_uppercase()))
        .cloned()
        .collect();
    if ask_again == Silence::AskAgain && answered > 0 && !unanswered.is_empty() {
        // In requests of what the site did answer: that is its cap, if it has one. With
        // issues no key named among the answers (moved ones), one key a request, so each
        // comes back as the one issue of its own answer.
        let size = match strangers.is_empty() {
            true => answered.min(jira_model::BULK_FETCH_MAX_ISSUES),
            false => 1,
        };
        tracing::info!(
            asked = keys.len(),
            answered,
            unanswered = unanswered.len(),
            "a bulk fetch left issues out without naming an error; asking for them again, {size} a request"
        );
        for part in unanswered.chunks(size) {
            let (part, part_sent) = Box::pin(fetch_chunk(
                transport,
                part.to_vec(),
                fields,
                expand,
                Silence::Final,
            ))
            .await;
            results.extend(part);
            requests += part_sent;
        }
    }
    for key in keys {
        results
            .entry(key.clone())
            .or_insert_with(|| Err(FetchError::NotFound(key)));
    }
    (results, requests)
}

/// Fetches issues, then the comments of those that were found: the dependent-batch pattern
/// (the second batch is built from the first one's successes).
pub async fn fetch_issues_with_comments<T, S>(
    transport: &Arc<T>,
    cache: Option<&JiraCache<S>>,
    config: &BatchConfig,
    keys: &[String],
) -> Result<Vec<(String, Result<(Issue, Vec<Comment>), FetchError>)>, crate::Error>
where
    T: Transport + 'static,
    S: CacheStore,
{
    let (issues, _) = fetch_issues(transport, cache, config, keys, &["summary"], &[]).await?;
    let mut batch = Batcher::new(transport.clone(), config.clone());
    let mut ids = HashMap::new();
    for (key, result) in &issues {
        if result.is_ok() {
            ids.insert(batch.add(ApiRequest::comments(key, 0, 5_000)), key.clone());
        }
    }
    let mut comments: HashMap<String, Result<Vec<Comment>, FetchError>> = HashMap::new();
    for (id, result) in batch.run().await.in_order() {
        let key = ids[&id].clone();
        let parsed = match result {
            Ok(response) => response
                .json::<CommentPage>()
                .map(|page| page.comments)
                .map_err(|e| e.to_string()),
            Err(error) => Err(error.to_string()),
        };
        comments.insert(
            key.clone(),
            parsed.map_err(|message| FetchError::Failed { key, message }),
        );
    }
    Ok(issues
        .into_iter()
        .map(|(key, issue)| {
            let combined = issue.and_then(|issue| {
                comments
                    .remove(&key)
                    .unwrap_or_else(|| Ok(Vec::new()))
                    .map(|comments| (issue, comments))
            });
            (key, combined)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use jira_transport::testing::{Scripted, Step};

    use super::*;

    /// A bulk fetch's answer of `issues` (id, key).
    fn answer(issues: &[(u64, &str)]) -> Step {
        let issues: Vec<String> = issues
            .iter()
            .map(|(id, key)| format!(r#"{{"id":"{id}","key":"{key}","fields":{{}}}}"#))
            .collect();
        Step::json(200, &format!(r#"{{"issues":[{}]}}"#, issues.join(",")))
    }

    /// `keys` fetched from `site` with one field, no cache.
    async fn fetch(site: &Arc<Scripted>, keys: &[String]) -> (IssueResults, FetchReport) {
        fetch_issues::<_, jira_cache::SledStore>(
            site,
            None,
            &BatchConfig::default(),
            keys,
            &["summary"],
            &[],
        )
        .await
        .unwrap()
    }

    /// Jira answers a moved issue's old key with the issue under its new key, naming no
    /// error. One such key among the asked is placed at once; two are asked again one
    /// at a time, so each comes back alone. None is reported not found.
    #[tokio::test]
    async fn moved_issues_asked_by_their_old_keys_are_found_under_them() {
        let keys: Vec<String> = ["OLD-1", "OLD-2", "APO-3"].map(String::from).to_vec();
        let site = Arc::new(Scripted::new([
            answer(&[(10_003, "APO-3"), (20_005, "NEW-5"), (20_006, "NEW-6")]),
            answer(&[(20_005, "NEW-5")]),
            answer(&[(20_006, "NEW-6")]),
        ]));
        let (results, report) = fetch(&site, &keys).await;
        let found: Vec<(String, String)> = results
            .into_iter()
            .map(|(asked, result)| (asked, result.unwrap().key))
            .collect();
        assert_eq!(
            found,
            [("OLD-1", "NEW-5"), ("OLD-2", "NEW-6"), ("APO-3", "APO-3")]
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
        );
        assert_eq!(report.requests, 3);
        let asked: Vec<Vec<String>> = site.requests()[1..]
            .iter()
            .map(|r| {
                let body: serde_json::Value =
                    serde_json::from_slice(r.body.as_deref().unwrap()).unwrap();
                serde_json::from_value(body["issueIdsOrKeys"].clone()).unwrap()
            })
            .collect();
        assert_eq!(asked, [vec!["OLD-1".to_owned()], vec!["OLD-2".to_owned()]]);

        // One moved key among those asked: placed from the first answer.
        let site = Arc::new(Scripted::new([answer(&[
            (10_003, "APO-3"),
            (20_005, "NEW-5"),
        ])]));
        let keys: Vec<String> = ["OLD-1", "APO-3"].map(String::from).to_vec();
        let (results, report) = fetch(&site, &keys).await;
        assert_eq!(results[0].1.as_ref().unwrap().key, "NEW-5");
        assert_eq!(report.requests, 1);
    }
}
