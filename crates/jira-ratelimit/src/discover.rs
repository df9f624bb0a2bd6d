//! Rate discovery for endpoints whose limit nobody announced: the rate half of AIMD.
//!
//! A concurrency limit alone cannot hold a rate limit: when a server's bucket refills after
//! a pause, any concurrency drains it again and earns a burst of 429s. So, per endpoint, we
//! also keep a discovered rate. On the first 429 it becomes half of what was admitted in
//! the last second: Jira's buckets hold one second of tokens, so a client that drained a
//! full bucket was admitted about twice the rate in its first second. Each later 429 cuts it
//! to 80%; every second without a 429 grows it by 5%, never above the configured rate.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

const WINDOW: Duration = Duration::from_secs(1);
const FIRST_DECREASE: f64 = 0.5;
const DECREASE: f64 = 0.8;
const INCREASE: f64 = 1.05;

#[derive(Debug, Default)]
struct Endpoint {
    admitted: VecDeque<Instant>,
    rate: Option<f64>,
    changed: Option<Instant>,
    decreased: Option<Instant>,
}

/// Discovered rates, per burst key.
#[derive(Debug, Default)]
pub(crate) struct RateDiscovery {
    endpoints: Mutex<HashMap<String, Endpoint>>,
}

impl RateDiscovery {
    /// The discovered rate of `key`, if a 429 taught one.
    pub fn rate(&self, key: &str) -> Option<f64> {
        self.endpoints.lock().get(key).and_then(|e| e.rate)
    }

    /// A request to `key` was admitted; grows the rate after a quiet second.
    pub fn admitted(&self, key: &str, ceiling: f64, now: Instant) {
        let mut endpoints = self.endpoints.lock();
        let endpoint = endpoints.entry(key.to_owned()).or_default();
        endpoint.admitted.push_back(now);
        while endpoint
            .admitted
            .front()
            .is_some_and(|t| now.duration_since(*t) > WINDOW)
        {
            endpoint.admitted.pop_front();
        }
        if let (Some(rate), Some(changed)) = (endpoint.rate, endpoint.changed)
            && now.duration_since(changed) >= WINDOW
        {
            endpoint.rate = Some((rate * INCREASE).min(ceiling));
            endpoint.changed = Some(now);
        }
    }

    /// A request to `key` was refused: slow down (see the module docs).
    pub fn refused(&self, key: &str, now: Instant) {
        let mut endpoints = self.endpoints.lock();
        let endpoint = endpoints.entry(key.to_owned()).or_default();
        // Several refusals of one burst are one signal.
        if endpoint
            .decreased
            .is_some_and(|decreased| now.duration_since(decreased) < WINDOW / 2)
        {
            return;
        }
        let admitted = endpoint
            .admitted
            .iter()
            .filter(|t| now.duration_since(**t) <= WINDOW)
            .count() as f64;
        endpoint.rate = Some(
            match endpoint.rate {
                Some(rate) => rate * DECREASE,
                None => admitted * FIRST_DECREASE,
            }
            .max(1.0),
        );
        endpoint.changed = Some(now);
        endpoint.decreased = Some(now);
        tracing::info!(key, rate = endpoint.rate, "discovered rate after a 429");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn decreases_to_what_was_admitted_and_grows_back() {
        let discovery = RateDiscovery::default();
        let key = "burst:GET /x";
        for _ in 0..100 {
            discovery.admitted(key, 1_000.0, Instant::now());
            tokio::time::advance(Duration::from_millis(5)).await;
        }
        assert_eq!(discovery.rate(key), None);
        discovery.refused(key, Instant::now());
        // 100 admitted over 0.5 s all fall in the last second: half of it.
        assert_eq!(discovery.rate(key), Some(50.0));
        // A second refusal of the same burst changes nothing.
        discovery.refused(key, Instant::now());
        assert_eq!(discovery.rate(key), Some(50.0));
        tokio::time::advance(Duration::from_secs(1)).await;
        discovery.admitted(key, 1_000.0, Instant::now());
        assert!((discovery.rate(key).unwrap() - 52.5).abs() < 1e-9);
        // A later refusal cuts to 80%.
        discovery.refused(key, Instant::now());
        assert!(
            (discovery.rate(key).unwrap() - 42.0).abs() < 1e-9,
            "{:?}",
            discovery.rate(key)
        );
        // Never above the configured ceiling.
        for _ in 0..100 {
            tokio::time::advance(Duration::from_secs(1)).await;
            discovery.admitted(key, 120.0, Instant::now());
        }
        assert_eq!(discovery.rate(key), Some(120.0));
    }
}
