//! Property tests of the rate-limit header parser: it never panics on any bytes, reads
//! every well-formed value exactly, and clamps every wait.

use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderName, HeaderValue};
use jira_model::{MAX_RATE_LIMIT_WAIT, RateLimitInfo};
use proptest::prelude::*;

const NAMES: [&str; 10] = [
    "retry-after",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "x-ratelimit-nearlimit",
    "ratelimit-reason",
    "beta-ratelimit-policy",
    "beta-ratelimit",
    "beta-retry-after",
    "x-beta-ratelimit-remaining",
];

fn headers(pairs: &[(usize, Vec<u8>)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            map.append(HeaderName::from_static(NAMES[*name % NAMES.len()]), value);
        }
    }
    map
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_bytes_parse_without_panicking_and_waits_stay_clamped(
        pairs in proptest::collection::vec((0..NAMES.len(), proptest::collection::vec(any::<u8>(), 0..40)), 0..8)
    ) {
        let info = RateLimitInfo::from_headers(&headers(&pairs));
        if let Some(wait) = info.requested_wait(SystemTime::now()) {
            prop_assert!(wait <= MAX_RATE_LIMIT_WAIT);
        }
        if let Some(fraction) = info.window.remaining_fraction() {
            prop_assert!(fraction >= 0.0);
        }
    }

    #[test]
    fn plausible_text_parses_without_panicking(
        pairs in proptest::collection::vec((0..NAMES.len(), "[ -~]{0,40}"), 0..8)
    ) {
        let pairs: Vec<(usize, Vec<u8>)> = pairs.into_iter().map(|(n, v)| (n, v.into_bytes())).collect();
        let info = RateLimitInfo::from_headers(&headers(&pairs));
        let _ = info.is_near_limit();
        let _ = info.is_empty();
    }

    #[test]
    fn numbers_are_read_exactly(limit in 1u64..1_000_000, used in 0u64..1_000_000, retry in 0u64..100_000) {
        let remaining = used.min(limit);
        let mut map = HeaderMap::new();
        map.insert("x-ratelimit-limit", HeaderValue::from(limit));
        map.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
        map.insert("retry-after", HeaderValue::from(retry));
        let info = RateLimitInfo::from_headers(&map);
        prop_assert_eq!(info.window.limit, Some(limit));
        prop_assert_eq!(info.window.remaining, Some(remaining));
        let wait = info.requested_wait(SystemTime::now()).unwrap();
        prop_assert_eq!(wait, Duration::from_secs(retry).min(MAX_RATE_LIMIT_WAIT));
        prop_assert_eq!(info.is_near_limit(), (remaining as f64) < 0.2 * limit as f64);
    }

    #[test]
    fn an_http_date_retry_after_waits_until_it(seconds in 0u64..7_200) {
        let now = SystemTime::now();
        let at = now + Duration::from_secs(seconds);
        let mut map = HeaderMap::new();
        map.insert("retry-after", HeaderValue::from_str(&httpdate::fmt_http_date(at)).unwrap());
        let wait = RateLimitInfo::from_headers(&map).requested_wait(now).unwrap();
        // HTTP dates have whole seconds.
        let expected = Duration::from_secs(seconds).min(MAX_RATE_LIMIT_WAIT);
        prop_assert!(wait <= expected && expected - wait <= Duration::from_secs(1), "{wait:?} vs {expected:?}");
    }
}
