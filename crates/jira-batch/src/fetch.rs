//! [`fetch_issues`]: many issues in as few requests as the API allows.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use futures_util::stream::{self, StreamExt};
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
/// `POST /issue/bulkfetch` calls of at most `fetch_chunk` keys, `max_concurrent` at a time.
/// Keys the server reports in `issueErrors`, or silently leaves out, are
/// [`FetchError::NotFound`]. Fetched issues fill the cache. Where bulkfetch is not available
/// (404 on the endpoint), that chunk falls back to single GETs.
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
    S: CacheStore,
{
    let mut order: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut found: HashMap<String, Result<Issue, FetchError>> = HashMap::new();
    for key in keys {
        let key = key.trim().to_ascii_uppercase();
        if !key.is_empty() && seen.insert(key.clone()) {
            order.push(key);
        }
    }
    let mut report = FetchReport::default();
    let mut misses = Vec::new();
    // A failing store never costs a result: the first error is reported and the cache is
    // left out for the rest of the call.
    let mut cache = cache;
    for key in &order {
        let cached = match cache {
            Some(store) => {
                match store
                    .get::<Issue>(&Category::Issue, &issue_cache_key(key, fields, expand))
                    .await
                {
                    Ok(cached) => cached,
                    Err(error) => {
                        tracing::warn!(%error, "the cache failed; going on without it");
                        report.cache_failure = Some(error.to_string());
                        cache = None;
                        None
                    }
                }
            }
            None => None,
        };
        match cached {
            Some(issue) => {
                report.cache_hits += 1;
                found.insert(key.clone(), Ok(issue));
            }
            None => misses.push(key.clone()),
        }
    }

    let chunk_size = config
        .fetch_chunk
        .clamp(1, jira_model::BULK_FETCH_MAX_ISSUES);
    let chunks: Vec<Vec<String>> = misses.chunks(chunk_size).map(<[String]>::to_vec).collect();
    let outcomes: Vec<(ChunkResults, usize)> = stream::iter(chunks)
        .map(|chunk| fetch_chunk(transport, chunk, fields, expand))
        .buffer_unordered(config.max_concurrent.max(1))
        .collect()
        .await;
    for (results, requests) in outcomes {
        report.requests += requests;
        for (key, result) in results {
            if let (Some(store), Ok(issue)) = (cache, &result)
                && let Err(error) = store
                    .set(
                        &Category::Issue,
                        &issue_cache_key(&key, fields, expand),
                        issue,
                    )
                    .await
            {
                tracing::warn!(%key, %error, "could not cache a fetched issue; going on without the cache");
                report
                    .cache_failure
                    .get_or_insert_with(|| error.to_string());
                cache = None;
            }
            found.insert(key, result);
        }
    }
    let results = order
        .into_iter()
        .map(|key| {
            let result = found
                .remove(&key)
                .unwrap_or_else(|| Err(FetchError::NotFound(key.clone())));
            (key, result)
        })
        .collect();
    Ok((results, report))
}

/// The results of one chunk, by key.
type ChunkResults = BTreeMap<String, Result<Issue, FetchError>>;

/// Attempts at a bulk fetch whose 200 answer does not decode, before its keys fail.
pub(crate) const UNDECODABLE_ATTEMPTS: usize = 3;

/// One bulkfetch (or, where it is missing, single GETs); every key gets a result, and the
/// number of requests it took.
async fn fetch_chunk<T: Transport + 'static>(
    transport: &Arc<T>,
    keys: Vec<String>,
    fields: &[&str],
    expand: &[&str],
) -> (ChunkResults, usize) {
    let body = BulkFetchRequest {
        issue_ids_or_keys: keys.clone(),
        fields: fields.iter().map(|f| (*f).to_owned()).collect(),
        expand: expand.iter().map(|e| (*e).to_owned()).collect(),
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
    let mut results = ChunkResults::new();
    for issue in page.issues {
        let key = issue.key.to_ascii_uppercase();
        // A key requested by id comes back under its key; map it back when we can.
        let requested = if keys.contains(&key) {
            key
        } else {
            keys.iter()
                .find(|k| **k == issue.id)
                .cloned()
                .unwrap_or(key)
        };
        results.insert(requested, Ok(issue));
    }
    for key in keys {
        results
            .entry(key.clone())
            .or_insert_with(|| Err(FetchError::NotFound(key)));
    }
    (results, 1)
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
