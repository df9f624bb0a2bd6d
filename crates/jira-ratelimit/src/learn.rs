//! What the limiter learns of each endpoint's bucket: how fast it refills and how much it
//! holds, learned apart.
//!
//! A burst limit is a token bucket of some capacity refilled at some rate, and a strict
//! server announces neither before its first 429 (and maybe not even then). Jira's
//! published defaults are only the first guess. A client that paces at the right rate but
//! bursts more than the bucket holds earns a refusal after every pause; one that bursts
//! right but paces too fast earns one every few seconds. So each endpoint keeps both:
//!
//! - **A run** starts when the server's bucket is presumed full (the first request, the
//!   first after a pause, or the first after a quiet second) and counts the successes of
//!   the requests sent in it. When a request of the run is refused, `n` admitted in `e`
//!   seconds mean `n = capacity + rate × e` (the bucket was full and is now empty). The
//!   admitted are the run's requests sent before the refused one (requests are numbered
//!   as they go), their successes back or not: a far site answers a refusal at once, and
//!   the successes sent ahead of it a whole latency later. A run begins with its first
//!   request sent, not its first answer back.
//! - **The rate**: `X-RateLimit-Limit` when the server names it and the run agrees with it;
//!   once the capacity is known, a refusal late in a run (the burst long spent) measures
//!   the refill directly, `(n − capacity) / e`; with nothing announced and nothing known,
//!   the lower bound `n / (1 + e)` (a bucket holds at most a second of refill), grown
//!   while requests keep succeeding at the pace.
//! - **The capacity**: `n − rate × e` from the run, or what `X-RateLimit-Remaining` showed
//!   on successful answers; used at 80% so that timing jitter never overdraws it. Before
//!   either is known a burst uses a tenth of a second of the guessed rate.
//!
//! Growth: after every second in which the pace held a request back and nothing was
//! refused, a measured rate grows 5%, never above the announced or configured rate nor
//! above the pace at which the last refusal came.

use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

/// Before the capacity is known, a burst may use this share of a second of the rate.
const FIRST_BURST: f64 = 0.1;
/// The share of a learned bucket a burst uses.
const CAPACITY_MARGIN: f64 = 0.8;
/// Growth of a measured rate per second in which the pace held requests back.
const GROWTH: f64 = 1.05;
const GROWTH_EVERY: Duration = Duration::from_secs(1);
/// A refusal this long after its run started (plus the time to spend the burst) came
/// from the pace, not the burst.
const STEADY_AFTER: Duration = Duration::from_millis(250);

#[derive(Debug, Default)]
struct Bucket {
    /// `X-RateLimit-Limit`, the latest the server sent.
    announced_rate: Option<f64>,
    /// The most `X-RateLimit-Remaining` showed on a success, plus the request itself.
    announced_capacity: Option<f64>,
    /// The refill rate measured from runs.
    measured_rate: Option<f64>,
    /// The capacity measured from runs.
    measured_capacity: Option<f64>,
    /// The pace at which the latest refusal came: growth stays under it.
    refused_pace: Option<f64>,
    run: Option<Run>,
    grown: Option<Instant>,
    /// Requests of the bucket sent so far: the next one's number.
    sent: u64,
    /// The number of the first request sent after the latest run ended (a request
    /// numbered below it belongs to an older run).
    run_ended_at: u64,
    /// That first request, once sent: a run begins with it, whether or not its answer
    /// is the first back.
    next_run: Option<Sent>,
}

#[derive(Clone, Copy, Debug)]
struct Run {
    /// Its first request.
    first: Sent,
    /// When the latest success of the run was sent.
    last: Instant,
    successes: u32,
}

/// A request as it went on the wire: its number in its bucket and when it was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Sent {
    pub seq: u64,
    pub at: Instant,
}

/// A pause this long between requests refills any bucket we pace for: a new run starts.
const IDLE: Duration = Duration::from_secs(1);

/// The pace of one bucket: refill per second and the tokens a burst may take.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Pace {
    pub rate: f64,
    pub capacity: f64,
    /// Whether the rate is the server's (announced or measured) rather than the guess.
    pub learned: bool,
}

/// What a refusal taught, for the caller's log and its concurrency window.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Lesson {
    pub rate: f64,
    pub capacity: f64,
}

/// Learned buckets, by burst key.
#[derive(Debug, Default)]
pub(crate) struct Learning {
    buckets: Mutex<crate::Map<String, Bucket>>,
}

impl Learning {
    /// The pace of `key`: learned figures, else `configured` (the published default).
    pub fn pace(&self, key: &str, configured: f64) -> Pace {
        let buckets = self.buckets.lock();
        let bucket = buckets.get(key);
        let measured = bucket.and_then(|b| b.measured_rate);
        let announced = bucket.and_then(|b| b.announced_rate);
        let rate = measured.or(announced).unwrap_or(configured).max(0.01);
        let capacity = match bucket {
            Some(Bucket {
                measured_capacity: Some(capacity),
                ..
            }) => capacity * CAPACITY_MARGIN,
            Some(Bucket {
                announced_capacity: Some(capacity),
                ..
            }) => *capacity,
            _ => rate * FIRST_BURST,
        };
        Pace {
            rate,
            capacity: capacity.min(rate.max(1.0)).max(1.0),
            learned: measured.is_some() || announced.is_some(),
        }
    }

    /// The server named the limit (`X-RateLimit-Limit`) and, on a success, what remains;
    /// whether that changed what is known.
    pub fn announced(&self, key: &str, limit: Option<u64>, remaining: Option<u64>) -> bool {
        let mut buckets = self.buckets.lock();
        let bucket = buckets.entry(key.to_owned()).or_default();
        let before = (bucket.announced_rate, bucket.announced_capacity);
        if let Some(limit) = limit.filter(|l| *l > 0) {
            bucket.announced_rate = Some(limit as f64);
        }
        if let Some(remaining) = remaining {
            let seen = remaining as f64 + 1.0;
            bucket.announced_capacity = Some(bucket.announced_capacity.unwrap_or(0.0).max(seen));
        }
        before != (bucket.announced_rate, bucket.announced_capacity)
    }

    /// A request of `key` goes on the wire now: its number in the bucket. A refusal
    /// counts the requests of its run numbered below it as admitted (see the module
    /// docs).
    pub fn sending(&self, key: &str) -> Sent {
        let at = Instant::now();
        let mut buckets = self.buckets.lock();
        if !buckets.contains_key(key) {
            buckets.insert(key.to_owned(), Bucket::default());
        }
        let Some(bucket) = buckets.get_mut(key) else {
            return Sent { seq: 0, at };
        };
        let sent = Sent {
            seq: bucket.sent,
            at,
        };
        bucket.sent += 1;
        if bucket.run.is_none() && bucket.next_run.is_none() {
            bucket.next_run = Some(sent);
        }
        sent
    }

    /// A request of `key` (`sent`) succeeded. `held` says whether the pace made it wait
    /// (then the pace, not the caller, decides the rate, and may grow); whether the rate
    /// grew.
    pub fn succeeded(&self, key: &str, sent: Sent, held: bool, ceiling: f64) -> bool {
        let sent_at = sent.at;
        let now = Instant::now();
        let mut buckets = self.buckets.lock();
        // The common case finds its bucket: no key copied per answer.
        if !buckets.contains_key(key) {
            buckets.insert(key.to_owned(), Bucket::default());
        }
        let Some(bucket) = buckets.get_mut(key) else {
            return false;
        };
        match bucket.run {
            // After a quiet spell the bucket is full again: a new run, from this request.
            Some(run) if sent_at.saturating_duration_since(run.last) >= IDLE => {
                bucket.run = Some(Run {
                    first: sent,
                    last: sent_at,
                    successes: 1,
                });
            }
            Some(ref mut run) if sent.seq >= run.first.seq => {
                run.successes += 1;
                run.last = run.last.max(sent_at);
            }
            Some(_) => {}
            // The first success of a new run: the run began with its first request sent,
            // which may still be on the wire (answers come back out of order).
            None if sent.seq >= bucket.run_ended_at => {
                bucket.run = Some(Run {
                    first: bucket.next_run.take().unwrap_or(sent),
                    last: sent_at,
                    successes: 1,
                });
            }
            None => {}
        }
        if let Some(rate) = bucket.measured_rate
            && held
            && bucket
                .grown
                .is_none_or(|grown| now.duration_since(grown) >= GROWTH_EVERY)
        {
            let limit = bucket
                .announced_rate
                .unwrap_or(ceiling)
                .min(bucket.refused_pace.unwrap_or(f64::INFINITY));
            bucket.grown = Some(now);
            if rate < limit {
                bucket.measured_rate = Some((rate * GROWTH).min(limit));
                return true;
            }
        }
        false
    }

    /// A request of `key` (`sent`), while the pace was `paced` a second, was refused for
    /// its burst. The first refusal of a run ends it and teaches the bucket (see the
    /// module docs); refusals of requests sent before that are the same signal and teach
    /// nothing (`None`).
    pub fn refused(&self, key: &str, sent: Sent, paced: f64) -> Option<Lesson> {
        let now = Instant::now();
        let sent_at = sent.at;
        let mut buckets = self.buckets.lock();
        let bucket = buckets.entry(key.to_owned()).or_default();
        if sent.seq < bucket.run_ended_at {
            return None;
        }
        // No success back yet: the run began with the first request sent since the last
        // one ended.
        let run = bucket.run.take().or_else(|| {
            bucket.next_run.map(|first| Run {
                first,
                last: first.at,
                successes: 0,
            })
        });
        bucket.next_run = None;
        bucket.run_ended_at = bucket.sent;
        bucket.grown = Some(now);
        let run = run.filter(|run| sent.seq >= run.first.seq)?;
        // Admitted: every request of the run sent before this one, whether its success is
        // back or still on the wire (the server refused this one once its bucket was
        // empty, and answers a refusal at once, a success a latency later).
        let n = f64::from(run.successes).max((sent.seq - run.first.seq) as f64);
        if n < 1.0 {
            // Refused at once after a pause: the wait was not over (the caller backs off
            // harder); the bucket's figures are not in question.
            return None;
        }
        let e = sent_at.duration_since(run.first.at).as_secs_f64().max(1e-3);
        let announced = bucket.announced_rate;
        let (rate, capacity) = match (bucket.measured_rate, bucket.measured_capacity, announced) {
            // The bucket is known and the burst long spent: the pace was too fast, and the
            // successes beyond the burst measure the refill.
            (Some(_), Some(capacity), _)
                if e >= STEADY_AFTER.as_secs_f64() + capacity / paced.max(1.0) =>
            {
                let rate = ((n - capacity) / e).clamp(1.0, paced * 0.95);
                (rate, capacity)
            }
            // Known, and refused while the burst was spent: the bucket is smaller.
            (Some(rate), Some(_), _) => (rate, n - rate * e),
            // The server named its rate: the run says the capacity, if they agree.
            (_, _, Some(limit)) => {
                let capacity = n - limit * e;
                if capacity >= 1.0 {
                    (limit, capacity.min(limit.max(1.0)))
                } else {
                    // Fewer succeeded than the named rate alone refills: it overstates.
                    (((n - 1.0).max(1.0) / e).min(limit) * 0.9, 1.0)
                }
            }
            // Nothing named, nothing known: the lower bound, grown later.
            (_, _, None) => {
                let rate = n / (1.0 + e);
                (rate, (n - rate * e).max(1.0))
            }
        };
        let rate = rate.max(1.0);
        let capacity = match bucket.measured_capacity {
            Some(known) => known.min(capacity).max(1.0),
            None => capacity.max(1.0),
        };
        bucket.measured_rate = Some(rate);
        bucket.measured_capacity = Some(capacity);
        bucket.refused_pace = Some(paced);
        Some(Lesson { rate, capacity })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "burst:GetIssue";

    /// Runs `n` successes spaced `every` from a fresh run, then refuses the next.
    async fn run(learning: &Learning, n: u32, every: Duration, paced: f64) -> Option<Lesson> {
        for _ in 0..n {
            let sent = learning.sending(KEY);
            learning.succeeded(KEY, sent, true, 150.0);
            tokio::time::advance(every).await;
        }
        let refused = learning.sending(KEY);
        learning.refused(KEY, refused, paced)
    }

    #[tokio::test(start_paused = true)]
    async fn a_named_rate_and_a_run_give_the_capacity() {
        let learning = Learning::default();
        assert_eq!(learning.pace(KEY, 150.0).capacity, 15.0);
        learning.announced(KEY, Some(50), None);
        // A bucket of 20 refilled at 50/s, drained at 150/s: 30 in 0.2 s.
        let lesson = run(&learning, 30, Duration::from_nanos(6_666_667), 150.0)
            .await
            .unwrap();
        assert_eq!(lesson.rate, 50.0);
        assert!((lesson.capacity - 20.0).abs() < 0.5, "{lesson:?}");
        let pace = learning.pace(KEY, 150.0);
        assert_eq!(pace.rate, 50.0);
        assert!((pace.capacity - 16.0).abs() < 0.5, "{pace:?}");
        // A request sent before that refusal is the same signal.
        let before = Sent {
            seq: learning.buckets.lock()[KEY].sent - 1,
            at: Instant::now() - Duration::from_millis(5),
        };
        assert_eq!(learning.refused(KEY, before, 150.0), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_late_refusal_measures_the_refill() {
        let learning = Learning::default();
        learning.announced(KEY, Some(50), None);
        run(&learning, 30, Duration::from_nanos(6_666_667), 150.0).await;
        // The server really refills 45/s: paced at 48.5 from a burst of 16, refused after
        // 16 + 48.5 e = 20 + 45 e, e ≈ 1.14 s.
        tokio::time::advance(Duration::from_secs(1)).await;
        let lesson = run(&learning, 71, Duration::from_millis(16), 48.5)
            .await
            .unwrap();
        assert!(
            (42.0..=46.5).contains(&lesson.rate),
            "the refill measured at {lesson:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn with_nothing_named_the_lower_bound_then_growth_under_the_refused_pace() {
        let learning = Learning::default();
        let lesson = run(&learning, 30, Duration::from_nanos(6_666_667), 150.0)
            .await
            .unwrap();
        assert!((lesson.rate - 25.0).abs() < 0.5, "{lesson:?}");
        for _ in 0..100 {
            tokio::time::advance(Duration::from_secs(1)).await;
            let sent = learning.sending(KEY);
            learning.succeeded(KEY, sent, true, 150.0);
        }
        assert_eq!(learning.pace(KEY, 150.0).rate, 150.0);
        // Without the pace holding requests back, nothing grows.
        let learning = Learning::default();
        run(&learning, 30, Duration::from_nanos(6_666_667), 100.0).await;
        for _ in 0..10 {
            tokio::time::advance(Duration::from_secs(1)).await;
            let sent = learning.sending(KEY);
            learning.succeeded(KEY, sent, false, 150.0);
        }
        assert!(learning.pace(KEY, 150.0).rate < 26.0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_named_rate_the_run_contradicts_is_not_believed() {
        let learning = Learning::default();
        learning.announced(KEY, Some(500), None);
        // 30 successes in 0.3 s: fewer than 500/s would refill alone.
        let lesson = run(&learning, 30, Duration::from_millis(10), 600.0)
            .await
            .unwrap();
        assert!(lesson.rate < 100.0, "{lesson:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn requests_still_on_the_wire_when_a_refusal_comes_back_were_admitted() {
        // A far site: a bucket of 100 refilled at 100/s. The client sends 100 at once and
        // then 100 a second; every answer takes 1.5 s, a refusal 10 ms. The 201st request
        // (just after 1 s) is refused while the first 100 are still on the wire and no success
        // is back yet.
        let learning = Learning::default();
        learning.announced(KEY, Some(100), None);
        let mut wire = Vec::new();
        for _ in 0..100 {
            wire.push(learning.sending(KEY));
        }
        for _ in 0..100 {
            tokio::time::advance(Duration::from_millis(10)).await;
            wire.push(learning.sending(KEY));
        }
        tokio::time::advance(Duration::from_millis(5)).await;
        let refused = learning.sending(KEY);
        tokio::time::advance(Duration::from_millis(10)).await;
        let lesson = learning.refused(KEY, refused, 100.0).unwrap();
        // 200 admitted in 1 s at 100/s: a bucket of 100, the named rate. Counting only
        // the successes back (none) taught nothing here, and with one back a rate of 1
        // and a bucket of 1: the endpoint then crawled at a request a second for half a
        // minute.
        assert_eq!(lesson.rate, 100.0, "{lesson:?}");
        assert!((lesson.capacity - 100.0).abs() < 1.0, "{lesson:?}");
        // The answers of that run, back later, are the same signal.
        for sent in wire.drain(..) {
            learning.succeeded(KEY, sent, true, 100.0);
        }
        assert!(learning.buckets.lock()[KEY].run.is_none());
        // A success back first starts its run with the first request sent after the last
        // run ended, still on the wire: the next refusal counts from there.
        tokio::time::advance(Duration::from_secs(2)).await;
        let early = learning.sending(KEY);
        tokio::time::advance(Duration::from_millis(100)).await;
        let quick = learning.sending(KEY);
        learning.succeeded(KEY, quick, true, 100.0);
        assert_eq!(learning.buckets.lock()[KEY].run.unwrap().first, early);
    }

    #[tokio::test(start_paused = true)]
    async fn remaining_on_successes_says_the_capacity() {
        let learning = Learning::default();
        learning.announced(KEY, Some(200), Some(199));
        learning.announced(KEY, Some(200), Some(150));
        let pace = learning.pace(KEY, 150.0);
        assert_eq!((pace.rate, pace.capacity), (200.0, 200.0));
        assert!(pace.learned);
    }
}
