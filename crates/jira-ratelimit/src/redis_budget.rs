//! [`RedisBudget`]: one budget shared by many processes and machines.
//!
//! Every decision is one Lua script run inside Redis, on Redis's own clock (`TIME`), so N
//! workers on N machines take tokens from the same buckets and see the same pauses: one
//! worker's 429 slows them all. Keys live under `jira-ops:rl:{<site>}:`; the braces make
//! the site a Redis Cluster hash tag, so a script's keys share a slot. Keys expire on their
//! own once idle.
//!
//! If Redis cannot be reached, a call fails loudly ([`crate::Error::Redis`]) unless the
//! caller chose [`Fallback::LocalShare`]: then the process paces alone to its share of each
//! limit (the limit divided by the number of workers) until Redis answers again. It never
//! runs unlimited.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use jira_model::SiteKey;
use jira_redis::ConnectionManager;
use redis::Script;

use crate::Error;
use crate::budget::{Budget, BurstDemand, Demand, Feedback, Grant, InProcessBudget, PointsDemand};

/// What to do when Redis cannot be reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// Fail every request with [`Error::Redis`].
    Fail,
    /// Pace locally to `1 / workers` of every limit.
    LocalShare {
        /// How many workers share the tenant's budget.
        workers: u32,
    },
}

impl Default for Fallback {
    /// A local share for one worker: Redis going away never means "unlimited".
    fn default() -> Self {
        Fallback::LocalShare { workers: 1 }
    }
}

/// A budget kept in Redis.
pub struct RedisBudget {
    connection: ConnectionManager,
    prefix: String,
    url: String,
    fallback: Fallback,
    local: InProcessBudget,
    degraded: AtomicBool,
    /// While degraded, Redis is tried again only after this instant, so each request does
    /// not pay for a failing round trip.
    retry_redis_at: parking_lot::Mutex<Option<tokio::time::Instant>>,
    acquire: Script,
    observe: Script,
}

impl std::fmt::Debug for RedisBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBudget")
            .field("url", &self.url)
            .field("prefix", &self.prefix)
            .field("fallback", &self.fallback)
            .finish_non_exhaustive()
    }
}

const ACQUIRE: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local wait = 0
local k = 1
local a = 1
local function fmt(x) return string.format('%.0f', x) end

local n_pauses = tonumber(ARGV[a]); a = a + 1
for i = 1, n_pauses do
  local untl = tonumber(redis.call('GET', KEYS[k]) or '0')
  if untl > now then wait = math.max(wait, untl - now) end
  k = k + 1
end

local has_burst = tonumber(ARGV[a]); a = a + 1
local burst_key, interval, tat
if has_burst == 1 then
  local rate = tonumber(ARGV[a]); local capacity = tonumber(ARGV[a + 1]); a = a + 2
  burst_key = KEYS[k]; k = k + 1
  -- What a process learned of this bucket (rate and capacity) is every process's pace.
  local learned = redis.call('HMGET', KEYS[k], 'rate', 'capacity'); k = k + 1
  if learned[1] and learned[2] then rate = tonumber(learned[1]); capacity = tonumber(learned[2]) end
  interval = 1000000 / rate
  local tolerance = interval * math.max(capacity - 1, 0)
  tat = tonumber(redis.call('GET', burst_key) or '0')
  if tat < now then tat = now end
  if tat - tolerance > now then wait = math.max(wait, tat - tolerance - now) end
end

local has_points = tonumber(ARGV[a]); a = a + 1
local points_key, cost, index, spent, window
if has_points == 1 then
  cost = tonumber(ARGV[a]); local quota = tonumber(ARGV[a + 1]); window = tonumber(ARGV[a + 2]); a = a + 3
  points_key = KEYS[k]; k = k + 1
  index = math.floor(now / window)
  local stored = redis.call('HMGET', points_key, 'index', 'spent')
  spent = 0
  if stored[1] and tonumber(stored[1]) == index then spent = tonumber(stored[2] or '0') end
  if spent > 0 and spent + cost > quota then wait = math.max(wait, (index + 1) * window - now) end
end

local has_issue = tonumber(ARGV[a]); a = a + 1
local issue_key, longest, member
if has_issue == 1 then
  issue_key = KEYS[k]; k = k + 1
  local n = tonumber(ARGV[a]); a = a + 1
  longest = 0
  local windows = {}
  for i = 1, n do
    windows[i] = {tonumber(ARGV[a]), tonumber(ARGV[a + 1])}; a = a + 2
    longest = math.max(longest, windows[i][1])
  end
  member = ARGV[a]; a = a + 1
  redis.call('ZREMRANGEBYSCORE', issue_key, '-inf', fmt(now - longest))
  for i = 1, n do
    local w, allowed = windows[i][1], windows[i][2]
    local inside = redis.call('ZRANGEBYSCORE', issue_key, '(' .. fmt(now - w), '+inf', 'WITHSCORES')
    local count = #inside / 2
    if allowed > 0 and count >= allowed then
      local oldest = tonumber(inside[(count - allowed) * 2 + 2])
      wait = math.max(wait, oldest + w - now)
    end
  end
end

if wait > 0 then return math.ceil(wait) end

if has_burst == 1 then
  local next_tat = tat + interval
  redis.call('SET', burst_key, fmt(next_tat), 'PX', math.ceil((next_tat - now) / 1000) + 1000)
end
if has_points == 1 then
  redis.call('HSET', points_key, 'index', fmt(index), 'spent', fmt(spent + cost))
  redis.call('PEXPIRE', points_key, math.ceil(((index + 1) * window - now) / 1000) + 1000)
end
if has_issue == 1 then
  redis.call('ZADD', issue_key, fmt(now), member)
  redis.call('PEXPIRE', issue_key, math.ceil(longest / 1000) + 1000)
end
return 0
"#;

const OBSERVE: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local function fmt(x) return string.format('%.0f', x) end
local kind = ARGV[1]
if kind == 'pause' then
  local untl = now + tonumber(ARGV[2])
  local current = tonumber(redis.call('GET', KEYS[1]) or '0')
  if untl > current then
    redis.call('SET', KEYS[1], fmt(untl), 'PX', math.ceil(tonumber(ARGV[2]) / 1000) + 1)
  end
elseif kind == 'remaining' then
  local interval = 1000000 / tonumber(ARGV[2])
  local owed = interval * math.max(tonumber(ARGV[3]) - tonumber(ARGV[4]), 0)
  local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
  if tat < now + owed then
    redis.call('SET', KEYS[1], fmt(now + owed), 'PX', math.ceil(owed / 1000) + 1000)
  end
elseif kind == 'bucket' then
  redis.call('HSET', KEYS[1], 'rate', ARGV[2], 'capacity', ARGV[3])
  redis.call('PEXPIRE', KEYS[1], 3600000)
elseif kind == 'points' then
  local index = math.floor(now / tonumber(ARGV[2]))
  local stored = redis.call('HGET', KEYS[1], 'index')
  if stored and tonumber(stored) == index then
    local spent = tonumber(redis.call('HGET', KEYS[1], 'spent') or '0') + tonumber(ARGV[3])
    if spent < 0 then spent = 0 end
    redis.call('HSET', KEYS[1], 'spent', fmt(spent))
  end
end
return 0
"#;

impl RedisBudget {
    /// Connects to `url` (e.g. `redis://127.0.0.1:6379/0`) for `site`.
    pub async fn connect(
        url: &str,
        site: impl Into<SiteKey>,
        fallback: Fallback,
    ) -> Result<Self, Error> {
        let site: SiteKey = site.into();
        if let Fallback::LocalShare { workers: 0 } = fallback {
            return Err(Error::Config(
                "Fallback::LocalShare with 0 workers: use the number of workers sharing the tenant (at least 1)".into(),
            ));
        }
        let (connection, redacted) = jira_redis::connect(url).await?;
        Ok(RedisBudget {
            connection,
            prefix: format!("jira-ops:rl:{{{site}}}:"),
            url: redacted,
            fallback,
            local: InProcessBudget::new(),
            degraded: AtomicBool::new(false),
            retry_redis_at: parking_lot::Mutex::new(None),
            acquire: Script::new(ACQUIRE),
            observe: Script::new(OBSERVE),
        })
    }

    /// The Redis URL, password redacted.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The key prefix of this site.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Whether the last call fell back to the local share.
    pub fn is_degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    async fn run_acquire(&self, demand: &Demand) -> redis::RedisResult<Grant> {
        let mut invocation = self.acquire.prepare_invoke();
        invocation.arg(demand.scopes.len());
        for scope in &demand.scopes {
            invocation.key(self.key(&format!("pause:{scope}")));
        }
        match &demand.burst {
            Some(burst) => {
                invocation.arg(1).arg(burst.rate).arg(burst.capacity);
                invocation.key(self.key(&burst.key));
                invocation.key(self.key(&format!("{}:bucket", burst.key)));
            }
            None => {
                invocation.arg(0);
            }
        }
        match &demand.points {
            Some(points) => {
                invocation
                    .arg(1)
                    .arg(points.cost)
                    .arg(points.quota)
                    .arg(points.window.as_micros() as u64);
                invocation.key(self.key(&format!("points:{}", points.quota)));
            }
            None => {
                invocation.arg(0);
            }
        }
        match &demand.issue_write {
            Some(write) => {
                invocation.arg(1).arg(write.windows.len());
                for (window, allowed) in &write.windows {
                    invocation.arg(window.as_micros() as u64).arg(*allowed);
                }
                invocation.arg(unique_member());
                invocation.key(self.key(&write.key));
            }
            None => {
                invocation.arg(0);
            }
        }
        let mut connection = self.connection.clone();
        let wait_us: u64 = invocation.invoke_async(&mut connection).await?;
        Ok(if wait_us == 0 {
            Grant::Granted
        } else {
            Grant::RetryIn(Duration::from_micros(wait_us))
        })
    }

    async fn run_observe(&self, feedback: &Feedback) -> redis::RedisResult<()> {
        let mut invocation = self.observe.prepare_invoke();
        match feedback {
            Feedback::Pause { scope, duration } => {
                invocation
                    .key(self.key(&format!("pause:{scope}")))
                    .arg("pause")
                    .arg(duration.as_micros() as u64);
            }
            Feedback::BurstRemaining { burst, remaining } => {
                invocation
                    .key(self.key(&burst.key))
                    .arg("remaining")
                    .arg(burst.rate)
                    .arg(burst.capacity)
                    .arg(*remaining);
            }
            Feedback::Bucket {
                key,
                rate,
                capacity,
            } => {
                invocation
                    .key(self.key(&format!("{key}:bucket")))
                    .arg("bucket")
                    .arg(*rate)
                    .arg(*capacity);
            }
            Feedback::PointsCorrection { points, delta } => {
                invocation
                    .key(self.key(&format!("points:{}", points.quota)))
                    .arg("points")
                    .arg(points.window.as_micros() as u64)
                    .arg(*delta);
            }
        }
        let mut connection = self.connection.clone();
        let _: i64 = invocation.invoke_async(&mut connection).await?;
        Ok(())
    }

    /// The local share of a demand: every limit divided by the number of workers.
    fn local_share(demand: &Demand, workers: u32) -> Demand {
        let share = f64::from(workers.max(1));
        Demand {
            burst: demand.burst.as_ref().map(|burst| BurstDemand {
                key: burst.key.clone(),
                rate: burst.rate / share,
                capacity: (burst.capacity / share).max(1.0),
            }),
            points: demand.points.as_ref().map(|points| PointsDemand {
                quota: (points.quota as f64 / share).floor() as u64,
                ..points.clone()
            }),
            issue_write: demand.issue_write.clone(),
            scopes: demand.scopes.clone(),
        }
    }

    fn unreachable(&self, source: redis::RedisError) -> Error {
        Error::Redis {
            url: self.url.clone(),
            source,
        }
    }

    fn note_degraded(&self, degraded: bool, error: Option<&redis::RedisError>) {
        let was = self.degraded.swap(degraded, Ordering::Relaxed);
        if degraded && !was {
            tracing::warn!(url = %self.url, error = ?error, "shared rate budget unreachable: pacing to this worker's local share");
        } else if !degraded && was {
            tracing::info!(url = %self.url, "shared rate budget reachable again");
        }
    }
}

/// How long a degraded budget paces locally before trying Redis again.
const REDIS_RETRY_INTERVAL: Duration = Duration::from_secs(1);

impl RedisBudget {
    /// Whether to skip Redis for now (degraded, and the retry interval has not passed).
    fn skip_redis(&self) -> bool {
        self.retry_redis_at
            .lock()
            .is_some_and(|at| tokio::time::Instant::now() < at)
    }

    fn redis_failed(&self, error: &redis::RedisError) {
        *self.retry_redis_at.lock() = Some(tokio::time::Instant::now() + REDIS_RETRY_INTERVAL);
        self.note_degraded(true, Some(error));
    }
}

impl Budget for RedisBudget {
    async fn acquire(&self, demand: &Demand) -> Result<Grant, Error> {
        if let Fallback::LocalShare { workers } = self.fallback
            && self.skip_redis()
        {
            return self
                .local
                .acquire(&Self::local_share(demand, workers))
                .await;
        }
        match self.run_acquire(demand).await {
            Ok(grant) => {
                self.note_degraded(false, None);
                *self.retry_redis_at.lock() = None;
                Ok(grant)
            }
            Err(error) => match self.fallback {
                Fallback::Fail => Err(self.unreachable(error)),
                Fallback::LocalShare { workers } => {
                    self.redis_failed(&error);
                    self.local
                        .acquire(&Self::local_share(demand, workers))
                        .await
                }
            },
        }
    }

    async fn observe(&self, feedback: &Feedback) -> Result<(), Error> {
        if matches!(self.fallback, Fallback::LocalShare { .. }) && self.skip_redis() {
            return self.local.observe(feedback).await;
        }
        match self.run_observe(feedback).await {
            Ok(()) => Ok(()),
            Err(error) => match self.fallback {
                Fallback::Fail => Err(self.unreachable(error)),
                Fallback::LocalShare { .. } => {
                    self.redis_failed(&error);
                    self.local.observe(feedback).await
                }
            },
        }
    }
}

/// A member name unique to this write, for the issue window's sorted set.
fn unique_member() -> String {
    use std::sync::atomic::AtomicU64;
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_share_divides_every_limit() {
        let demand = Demand {
            burst: Some(BurstDemand {
                key: "b".into(),
                rate: 100.0,
                capacity: 100.0,
            }),
            points: Some(PointsDemand {
                cost: 2,
                quota: 1_000,
                window: Duration::from_secs(3600),
            }),
            ..Demand::default()
        };
        let share = RedisBudget::local_share(&demand, 4);
        assert_eq!(share.burst.as_ref().unwrap().rate, 25.0);
        assert_eq!(share.burst.as_ref().unwrap().capacity, 25.0);
        assert_eq!(share.points.as_ref().unwrap().quota, 250);
        assert_eq!(share.points.as_ref().unwrap().cost, 2);
    }
}
