//! [`Flights`]: identical reads in flight share one upstream request.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::OnceCell;

use crate::answer::Answer;

/// Reads in flight, by their identity (the caller's credential digest, method, path,
/// query, body and `Accept`): a caller arriving while one is in flight waits for its
/// answer instead of sending another.
#[derive(Default)]
pub(crate) struct Flights {
    map: Mutex<HashMap<String, Arc<OnceCell<Answer>>>>,
}

impl Flights {
    /// `fetch`'s answer for `key`, run once for every caller asking at the same time;
    /// `true` when this caller shared another's.
    pub(crate) async fn run<F, Fut>(&self, key: String, fetch: F) -> (Answer, bool)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Answer>,
    {
        let cell = self
            .map
            .lock()
            .entry(key.clone())
            .or_insert_with(|| Arc::new(OnceCell::new()))
            .clone();
        let mut ran = false;
        let answer = cell
            .get_or_init(|| {
                ran = true;
                fetch()
            })
            .await
            .clone();
        if ran {
            // The flight is over: later callers send their own request.
            let mut map = self.map.lock();
            if map.get(&key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
                map.remove(&key);
            }
        }
        (answer, !ran)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    #[tokio::test]
    async fn callers_at_the_same_time_share_one_fetch_and_later_ones_fetch_again() {
        let flights = Arc::new(Flights::default());
        let fetched = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let fetch = |fetched: Arc<std::sync::atomic::AtomicU32>| async move {
            fetched.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            Answer::failure(StatusCode::OK, "x")
        };
        let calls = (0..5).map(|_| {
            let (flights, fetched) = (flights.clone(), fetched.clone());
            async move { flights.run("k".into(), || fetch(fetched)).await.1 }
        });
        let shared = futures_join(calls).await;
        assert_eq!(fetched.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(shared.iter().filter(|s| **s).count(), 4);
        flights.run("k".into(), || fetch(fetched.clone())).await;
        assert_eq!(fetched.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    async fn futures_join<F: Future<Output = bool> + Send + 'static>(
        calls: impl Iterator<Item = F>,
    ) -> Vec<bool> {
        let handles: Vec<_> = calls.map(tokio::spawn).collect();
        let mut out = Vec::new();
        for handle in handles {
            out.push(handle.await.expect("the call ran"));
        }
        out
    }
}
