//! [`create_issues`]: bulk creates of at most 50, each element's outcome mapped back.

use std::sync::Arc;

use futures_util::stream::{self, StreamExt};
use jira_model::{
    ApiRequest, BulkCreateRequest, BulkCreateResponse, CreatedIssue, ErrorCollection, IssueUpdate,
};
use jira_transport::Transport;

use crate::BatchConfig;

/// Why one issue was not created.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CreateError {
    /// Jira refused this element, with its reasons.
    #[error("Jira refused element {index} (0-based) of the input: {}", .errors.summary())]
    Refused {
        /// The element's index in the caller's input.
        index: usize,
        /// Jira's element errors.
        errors: ErrorCollection,
    },
    /// The request carrying it never reached Jira, or Jira refused it whole (circuit open,
    /// no connection, rate limited, a 4xx such as 413 for the whole request): nothing was
    /// created, and it is safe to create again once the cause is fixed.
    #[error("element {index} was not created (the request was not performed): {message}")]
    NotSent {
        /// The element's index in the caller's input.
        index: usize,
        /// What went wrong.
        message: String,
    },
    /// The request carrying it failed; the element may or may not have been created (it is
    /// not retried, to avoid duplicates: check before creating it again).
    #[error("creating element {index} failed, outcome unknown: {message}")]
    Unknown {
        /// The element's index in the caller's input.
        index: usize,
        /// What went wrong.
        message: String,
    },
}

/// Creates `inputs` in chunks of at most `create_chunk` (≤ 50) on `POST /issue/bulk`, up to
/// `max_concurrent` chunks at a time. Returns one result per input, in input order. The
/// transport's `Retrying` repeats a chunk only when the server refused it whole with
/// `Retry-After`, so nothing is created twice.
pub async fn create_issues<T: Transport + 'static>(
    transport: &Arc<T>,
    config: &BatchConfig,
    inputs: Vec<IssueUpdate>,
) -> Vec<Result<CreatedIssue, CreateError>> {
    let chunk_size = config
        .create_chunk
        .clamp(1, jira_model::BULK_CREATE_MAX_ISSUES);
    let chunks: Vec<(usize, Vec<IssueUpdate>)> = inputs
        .chunks(chunk_size)
        .enumerate()
        .map(|(n, chunk)| (n * chunk_size, chunk.to_vec()))
        .collect();
    let mut outcomes: Vec<(usize, Vec<Result<CreatedIssue, CreateError>>)> = stream::iter(chunks)
        .map(
            |(offset, chunk)| async move { (offset, create_chunk(transport, offset, chunk).await) },
        )
        .buffer_unordered(config.max_concurrent.max(1))
        .collect()
        .await;
    outcomes.sort_by_key(|(offset, _)| *offset);
    outcomes
        .into_iter()
        .flat_map(|(_, results)| results)
        .collect()
}

async fn create_chunk<T: Transport>(
    transport: &T,
    offset: usize,
    chunk: Vec<IssueUpdate>,
) -> Vec<Result<CreatedIssue, CreateError>> {
    let count = chunk.len();
    let unknown = |message: String| {
        (0..count)
            .map(|n| {
                Err(CreateError::Unknown {
                    index: offset + n,
                    message: message.clone(),
                })
            })
            .collect::<Vec<_>>()
    };
    let request = match ApiRequest::bulk_create(&BulkCreateRequest {
        issue_updates: chunk,
    }) {
        Ok(request) => request,
        Err(error) => return unknown(error.to_string()),
    };
    let response = match transport.send(request).await {
        Ok(response) => response,
        Err(error) if error.not_performed() => {
            let message = error.to_string();
            return (0..count)
                .map(|n| {
                    Err(CreateError::NotSent {
                        index: offset + n,
                        message: message.clone(),
                    })
                })
                .collect();
        }
        Err(error) => return unknown(error.to_string()),
    };
    let status = response.status.as_u16();
    let refused_whole = |message: String| {
        (0..count)
            .map(|n| {
                Err(CreateError::NotSent {
                    index: offset + n,
                    message: message.clone(),
                })
            })
            .collect::<Vec<_>>()
    };
    // A 4xx other than 400 (element errors) and 408 (a timeout: it may have run) is a
    // refusal of the whole request before any work: nothing was created.
    if (401..500).contains(&status) && status != 408 {
        let hint = if status == 413 {
            "; the request is too large: lower the issues per request or shorten the fields"
        } else {
            ""
        };
        return refused_whole(format!(
            "bulk create refused whole with HTTP {status}, nothing was created{hint}"
        ));
    }
    if !(status == 201 || status == 400) {
        return unknown(format!("bulk create answered HTTP {status}"));
    }
    let answer: BulkCreateResponse = match response.json() {
        Ok(answer) => answer,
        // A 400 that is not the bulk answer is Jira refusing the request itself.
        Err(_) if status == 400 => {
            let reason = response
                .error_collection()
                .map(|e| e.summary())
                .unwrap_or_default();
            return refused_whole(format!(
                "bulk create refused whole with HTTP 400, nothing was created: {reason}"
            ));
        }
        Err(error) => return unknown(error.to_string()),
    };
    let mut failed: std::collections::HashMap<usize, ErrorCollection> = answer
        .errors
        .into_iter()
        .map(|e| (e.failed_element_number, e.element_errors))
        .collect();
    // Created issues come back in request order, skipping the failed elements.
    let mut created = answer.issues.into_iter();
    (0..count)
        .map(|n| match failed.remove(&n) {
            Some(errors) => Err(CreateError::Refused {
                index: offset + n,
                errors,
            }),
            None => created.next().ok_or_else(|| CreateError::Unknown {
                index: offset + n,
                message: "the answer lists fewer created issues than elements".into(),
            }),
        })
        .collect()
}
