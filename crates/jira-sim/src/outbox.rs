//! Where webhook deliveries go out: the HTTP client, the signature, the retried POST of
//! one delivery, and the counters `/__sim/stats` reports. What is delivered, and when, is
//! the `webhooks` module's.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::Webhook;

/// Attempts at one delivery before it is given up.
const ATTEMPTS: u32 = 5;

/// The client deliveries go out with, and what became of them.
pub(crate) struct Sink {
    client: reqwest::Client,
    pub(crate) sequence: AtomicU64,
    delivered: AtomicU64,
    failed: AtomicU64,
    /// Deliveries scheduled and not yet delivered or given up.
    pending: AtomicU64,
}

impl Sink {
    pub(crate) fn new() -> Result<Self, reqwest::Error> {
        Ok(Sink {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()?,
            sequence: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            pending: AtomicU64::new(0),
        })
    }

    /// Deliveries accepted, POSTs failed, and deliveries still under way.
    pub(crate) fn counts(&self) -> (u64, u64, u64) {
        (
            self.delivered.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            self.pending.load(Ordering::Acquire),
        )
    }

    /// Sends one delivery after `delay`, in the background; counted as pending from now
    /// until it is delivered or given up.
    pub(crate) fn schedule(
        self: &std::sync::Arc<Self>,
        hook: Webhook,
        identifier: String,
        body: Vec<u8>,
        delay: Duration,
    ) {
        self.pending.fetch_add(1, Ordering::AcqRel);
        let sink = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            deliver(&sink, &hook, &identifier, body).await;
            sink.pending.fetch_sub(1, Ordering::AcqRel);
        });
    }
}

/// The signature header's value for `body`.
pub(crate) fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any size");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// POSTs one delivery, retried with backoff until a 2xx or [`ATTEMPTS`].
async fn deliver(sink: &Sink, hook: &Webhook, identifier: &str, body: Vec<u8>) {
    let signature = signature(hook.secret.expose(), &body);
    for attempt in 0..ATTEMPTS {
        let mut request = sink
            .client
            .post(&hook.url)
            .header("content-type", "application/json")
            .header("x-hub-signature", &signature)
            .header("x-atlassian-webhook-identifier", identifier)
            .body(body.clone());
        if attempt > 0 {
            request = request.header("x-atlassian-webhook-retry", attempt.to_string());
        }
        match request.send().await {
            Ok(response) if response.status().is_success() => {
                sink.delivered.fetch_add(1, Ordering::Relaxed);
                return;
            }
            _ => {
                sink.failed.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_in_hex() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
