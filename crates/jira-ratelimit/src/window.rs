//! A concurrency window per burst key: unbounded until the endpoint's refusals come back in
//! clusters, then bounded and grown back one slot per window of successes.
//!
//! When a bucket runs dry, every request already on the wire is refused too, and a strict
//! server may renew its wait for each of them (a penalty loop for a client that keeps many
//! requests in flight). So the first refusal of a run that finds other requests of its
//! endpoint in flight halves the window to what was in flight (at least 2); each window's
//! worth of successes adds one slot back (additive increase), up to [`MAX`].

use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use tokio::sync::Semaphore;

/// The window never grows past this (effectively unbounded again).
const MAX: usize = 1_024;

#[derive(Debug, Default)]
struct State {
    /// `None` until the first clustered refusal.
    limit: Option<usize>,
    in_flight: usize,
    /// Permits to forget as they come back, after the window shrank below what was held.
    debt: usize,
    /// Successes since the window last grew.
    successes: usize,
}

/// One endpoint's window.
#[derive(Debug)]
pub(crate) struct Window {
    permits: Semaphore,
    state: Mutex<State>,
}

/// A place in a window, released on drop.
#[derive(Debug)]
pub(crate) struct Place {
    window: Arc<Window>,
}

impl Window {
    fn new() -> Self {
        Window {
            permits: Semaphore::new(0),
            state: Mutex::default(),
        }
    }

    async fn enter(self: &Arc<Self>) -> Place {
        {
            let mut state = self.state.lock();
            if state.limit.is_none() {
                state.in_flight += 1;
                return Place {
                    window: self.clone(),
                };
            }
        }
        // Bounded: the semaphore holds the free places. It is never closed.
        if let Ok(permit) = self.permits.acquire().await {
            permit.forget();
        }
        self.state.lock().in_flight += 1;
        Place {
            window: self.clone(),
        }
    }

    /// The current limit (`None`: unbounded) and what is in flight.
    pub fn limit(&self) -> (Option<usize>, usize) {
        let state = self.state.lock();
        (state.limit, state.in_flight)
    }

    /// A refusal found `in_flight` requests of this endpoint on the wire (itself
    /// included): with others beside it, halve the window to them.
    pub fn clustered(&self) {
        let mut state = self.state.lock();
        if state.in_flight < 3 {
            return;
        }
        let target = (state.in_flight / 2).max(2);
        match state.limit {
            None => {
                state.limit = Some(target);
                // Places free now: the target less what is held; the excess is owed.
                self.permits
                    .add_permits(target.saturating_sub(state.in_flight));
                state.debt = state.in_flight.saturating_sub(target);
            }
            Some(limit) if target < limit => {
                let mut shrink = limit - target;
                while shrink > 0
                    && self.permits.try_acquire().is_ok_and(|p| {
                        p.forget();
                        true
                    })
                {
                    shrink -= 1;
                }
                state.debt += shrink;
                state.limit = Some(target);
            }
            Some(_) => {}
        }
        state.successes = 0;
    }

    /// A request of this endpoint succeeded: a window's worth grows the window by one.
    pub fn succeeded(&self) {
        let mut state = self.state.lock();
        let Some(limit) = state.limit else { return };
        state.successes += 1;
        if state.successes >= limit && limit < MAX {
            state.successes = 0;
            state.limit = Some(limit + 1);
            if state.debt > 0 {
                state.debt -= 1;
            } else {
                self.permits.add_permits(1);
            }
        }
    }
}

impl Place {
    /// The window this place is in.
    pub fn window(&self) -> &Window {
        &self.window
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut state = self.window.state.lock();
        state.in_flight = state.in_flight.saturating_sub(1);
        if state.limit.is_some() {
            if state.debt > 0 {
                state.debt -= 1;
            } else {
                self.window.permits.add_permits(1);
            }
        }
    }
}

/// The windows of every burst key.
#[derive(Debug, Default)]
pub(crate) struct Windows {
    windows: RwLock<crate::Map<String, Arc<Window>>>,
}

impl Windows {
    /// `key`'s window.
    pub fn get(&self, key: &str) -> Arc<Window> {
        if let Some(window) = self.windows.read().get(key) {
            return window.clone();
        }
        self.windows
            .write()
            .entry(key.to_owned())
            .or_insert_with(|| Arc::new(Window::new()))
            .clone()
    }

    /// Takes a place in `key`'s window, waiting while it is full.
    pub async fn enter(&self, key: &str) -> Place {
        self.get(key).enter().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_cluster_halves_the_window_and_successes_grow_it_back() {
        let windows = Windows::default();
        let mut places = Vec::new();
        for _ in 0..8 {
            places.push(windows.enter("k").await);
        }
        let window = windows.get("k");
        assert_eq!(window.limit(), (None, 8));
        window.clustered();
        assert_eq!(window.limit(), (Some(4), 8));
        // Eight held against four: the first four back are owed, then places free up.
        places.truncate(4);
        let blocked =
            tokio::time::timeout(std::time::Duration::from_millis(20), windows.enter("k")).await;
        assert!(blocked.is_err(), "the window is full at 4");
        places.pop();
        let place = windows.enter("k").await;
        assert_eq!(window.limit(), (Some(4), 4));
        drop(place);
        drop(places);
        for _ in 0..4 {
            window.succeeded();
        }
        assert_eq!(window.limit(), (Some(5), 0));
        let five: Vec<_> = futures_util::future::join_all((0..5).map(|_| windows.enter("k"))).await;
        assert_eq!(window.limit(), (Some(5), 5));
        drop(five);
        // A lone refusal (nothing else in flight) is no cluster.
        let one = windows.enter("k").await;
        window.clustered();
        assert_eq!(window.limit(), (Some(5), 1));
        drop(one);
    }
}
