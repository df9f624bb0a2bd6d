//! [`Batcher`]: any requests, bounded concurrency, exactly one result per request.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use jira_model::{ApiRequest, ApiResponse};
use jira_transport::{Error as TransportError, Transport};
use tokio::sync::{Semaphore, mpsc};

use crate::BatchConfig;

/// A request's id within its batch (its submission index).
pub type RequestId = usize;

/// What happened to one request.
pub type RequestResult = Result<ApiResponse, TransportError>;

/// A progress event, for a progress bar or a log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    /// The request is waiting for a slot.
    Queued(RequestId),
    /// It was sent.
    Started(RequestId),
    /// It got a successful answer.
    Done {
        /// The request.
        id: RequestId,
        /// The status.
        status: u16,
        /// How long it took.
        elapsed: Duration,
    },
    /// It failed (after the transport's own retries).
    Failed {
        /// The request.
        id: RequestId,
        /// What went wrong.
        error: String,
    },
    /// It is being retried in a batch of failures ([`BatchResults::retry_failures`]).
    Retried(RequestId),
}

/// A batch of requests, run once.
pub struct Batcher<T> {
    transport: Arc<T>,
    config: BatchConfig,
    requests: Vec<ApiRequest>,
    retry_of: Vec<Option<RequestId>>,
}

impl<T: Transport + 'static> Batcher<T> {
    /// An empty batch.
    pub fn new(transport: Arc<T>, config: BatchConfig) -> Self {
        Batcher {
            transport,
            config,
            requests: Vec::new(),
            retry_of: Vec::new(),
        }
    }

    /// Adds a request; returns its id.
    pub fn add(&mut self, request: ApiRequest) -> RequestId {
        self.requests.push(request);
        self.retry_of.push(None);
        self.requests.len() - 1
    }

    /// How many requests it holds.
    pub fn len(&self) -> usize {
        self.requests.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }

    /// Runs every request, at most `max_concurrent` at a time.
    pub async fn run(self) -> BatchResults<T> {
        self.run_inner(None).await
    }

    /// Runs every request, sending progress events to `progress`.
    pub async fn run_with_progress(
        self,
        progress: mpsc::UnboundedSender<Progress>,
    ) -> BatchResults<T> {
        self.run_inner(Some(progress)).await
    }

    async fn run_inner(self, progress: Option<mpsc::UnboundedSender<Progress>>) -> BatchResults<T> {
        let emit = |event: Progress| {
            if let Some(progress) = &progress {
                let _ = progress.send(event);
            }
        };
        for (id, retry_of) in self.retry_of.iter().enumerate() {
            emit(match retry_of {
                Some(_) => Progress::Retried(id),
                None => Progress::Queued(id),
            });
        }
        let slots = Arc::new(Semaphore::new(self.config.max_concurrent.max(1)));
        let mut tasks = tokio::task::JoinSet::new();
        let mut task_ids = std::collections::HashMap::new();
        for (id, request) in self.requests.iter().cloned().enumerate() {
            let (transport, slots, progress) =
                (self.transport.clone(), slots.clone(), progress.clone());
            let timeout = self.config.request_timeout;
            let handle = tasks.spawn(async move {
                let _slot = slots
                    .acquire_owned()
                    .await
                    .expect("the semaphore is never closed");
                if let Some(progress) = &progress {
                    let _ = progress.send(Progress::Started(id));
                }
                let (method, path) = (request.method.clone(), request.path.clone());
                let sent = transport.send(request);
                let outcome = match timeout {
                    Some(limit) => match tokio::time::timeout(limit, sent).await {
                        Ok(outcome) => outcome,
                        Err(_) => Err(TransportError::Timeout {
                            method: method.clone(),
                            path: path.clone(),
                            phase: jira_transport::TimeoutPhase::Total,
                            after: limit,
                        }),
                    },
                    None => sent.await,
                };
                // A batch result is a success only with a 2xx answer.
                let outcome = outcome
                    .and_then(|response| TransportError::from_response(&method, &path, response));
                (id, outcome)
            });
            task_ids.insert(handle.id(), id);
        }
        let mut results = BTreeMap::new();
        while let Some(joined) = tasks.join_next().await {
            // Even a request whose task panicked (a bug in a layer) gets its one result.
            let (id, outcome) = match joined {
                Ok(done) => done,
                Err(error) => (
                    task_ids[&error.id()],
                    Err(TransportError::layer_after_sending("batcher", error)),
                ),
            };
            match &outcome {
                Ok(response) => emit(Progress::Done {
                    id,
                    status: response.status.as_u16(),
                    elapsed: response.elapsed,
                }),
                Err(error) => emit(Progress::Failed {
                    id,
                    error: error.to_string(),
                }),
            }
            results.insert(id, outcome);
        }
        BatchResults {
            transport: self.transport,
            config: self.config,
            requests: self.requests,
            retry_of: self.retry_of,
            results,
        }
    }
}

/// Every request's result: exactly one per request.
pub struct BatchResults<T> {
    transport: Arc<T>,
    config: BatchConfig,
    requests: Vec<ApiRequest>,
    retry_of: Vec<Option<RequestId>>,
    results: BTreeMap<RequestId, RequestResult>,
}

impl<T: Transport + 'static> BatchResults<T> {
    /// Results by id.
    pub fn by_id(&self) -> &BTreeMap<RequestId, RequestResult> {
        &self.results
    }

    /// Results in submission order.
    pub fn in_order(&self) -> impl Iterator<Item = (RequestId, &RequestResult)> {
        self.results.iter().map(|(id, result)| (*id, result))
    }

    /// How many results there are.
    pub fn len(&self) -> usize {
        self.results.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.results.is_empty()
    }

    /// The successful ones.
    pub fn successes(&self) -> usize {
        self.results.values().filter(|r| r.is_ok()).count()
    }

    /// The failed ones.
    pub fn failures(&self) -> impl Iterator<Item = (RequestId, &TransportError)> {
        self.results
            .iter()
            .filter_map(|(id, result)| result.as_ref().err().map(|error| (*id, error)))
    }

    /// The request of `id` in the original batch (following retries back).
    pub fn original_id(&self, id: RequestId) -> RequestId {
        self.retry_of.get(id).copied().flatten().unwrap_or(id)
    }

    /// A new batch of only the failed requests; [`BatchResults::original_id`] of its results
    /// names the request they retry.
    pub fn retry_failures(&self) -> Batcher<T> {
        let mut batch = Batcher::new(self.transport.clone(), self.config.clone());
        for (id, _) in self.failures() {
            batch.requests.push(self.requests[id].clone());
            batch.retry_of.push(Some(self.original_id(id)));
        }
        batch
    }
}
