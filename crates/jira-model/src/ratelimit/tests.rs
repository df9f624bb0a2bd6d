//! Tests of the rate-limit headers' reading and the wait rule.

use super::*;

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            http::HeaderValue::from_bytes(value.as_bytes()).unwrap(),
        );
    }
    map
}

fn at(iso: &str) -> SystemTime {
    SystemTime::from(iso.parse::<JiraTimestamp>().unwrap().as_offset_date_time())
}

/// One case: the headers, then what `min_wait` at a fixed `now` must be.
fn check_wait(pairs: &[(&str, &str)], now: SystemTime, expected: Option<u64>) {
    let info = RateLimitInfo::from_headers(&headers(pairs));
    assert_eq!(
        info.requested_wait(now).map(|d| d.as_secs()),
        expected,
        "headers {pairs:?}"
    );
}

#[test]
fn retry_after_forms() {
    let now = SystemTime::now();
    check_wait(&[("Retry-After", "3")], now, Some(3));
    check_wait(&[("Retry-After", "0")], now, Some(0));
    check_wait(&[("Retry-After", " 12 ")], now, Some(12));
    check_wait(&[("Retry-After", "1.5")], now, Some(1));
    check_wait(&[("Retry-After", "-1")], now, None);
    check_wait(&[("Retry-After", "soon")], now, None);
    check_wait(&[("Retry-After", "")], now, None);
    check_wait(&[("Retry-After", "999999999")], now, Some(3600));
    check_wait(&[("Retry-After", "NaN")], now, None);
    let fixed = at("2015-10-21T07:28:00Z");
    check_wait(
        &[("Retry-After", "Wed, 21 Oct 2015 07:28:30 GMT")],
        fixed,
        Some(30),
    );
    check_wait(
        &[("Retry-After", "Wed, 21 Oct 2015 07:27:00 GMT")],
        fixed,
        Some(0),
    );
}

/// The wait rule, one line per combination: `Retry-After` (absent, seconds, HTTP
/// date) × `X-RateLimit-Reset` (absent, seconds, minute) × reason.
#[test]
fn the_wait_rule_by_retry_after_reset_precision_and_reason() {
    let now = at("2026-03-26T15:59:00Z");
    // (Retry-After, X-RateLimit-Reset, RateLimit-Reason, the wait in seconds)
    type Case = (
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
        Option<u64>,
    );
    let table: &[Case] = &[
        // Retry-After is the instruction whenever it is there, whatever the Reset says.
        (Some("5"), None, Some("jira-burst-based"), Some(5)),
        (
            Some("5"),
            Some("2026-03-26T16:00Z"),
            Some("jira-burst-based"),
            Some(5),
        ),
        (
            Some("5"),
            Some("2026-03-26T15:59:20Z"),
            Some("jira-quota-tenant-based"),
            Some(5),
        ),
        (Some("50"), Some("2026-03-26T15:59:20Z"), None, Some(50)),
        (
            Some("Thu, 26 Mar 2026 15:59:07 GMT"),
            Some("2026-03-26T16:00Z"),
            Some("jira-burst-based"),
            Some(7),
        ),
        (
            Some("Thu, 26 Mar 2026 15:59:07 GMT"),
            None,
            Some("jira-quota-global-based"),
            Some(7),
        ),
        // Burst and per-issue: a seconds Reset is exact; a minute Reset is no wait.
        (
            None,
            Some("2026-03-26T15:59:02Z"),
            Some("jira-burst-based"),
            Some(2),
        ),
        (
            None,
            Some("2026-03-26T16:00Z"),
            Some("jira-burst-based"),
            None,
        ),
        (
            None,
            Some("2026-03-26T16:00+0000"),
            Some("jira-burst-based"),
            None,
        ),
        (
            None,
            Some("2026-03-26T15:59:03Z"),
            Some("jira-per-issue-on-write"),
            Some(3),
        ),
        (
            None,
            Some("2026-03-26T16:00Z"),
            Some("jira-per-issue-on-write"),
            None,
        ),
        // Quota, cost, unknown or no reason: pause until the reset, either precision.
        (
            None,
            Some("2026-03-26T16:00Z"),
            Some("jira-quota-tenant-based"),
            Some(60),
        ),
        (
            None,
            Some("2026-03-26T15:59:30Z"),
            Some("jira-quota-global-based"),
            Some(30),
        ),
        (
            None,
            Some("2026-03-26T16:00Z"),
            Some("jira-cost-based"),
            Some(60),
        ),
        (
            None,
            Some("2026-03-26T16:00Z"),
            Some("something-new"),
            Some(60),
        ),
        (None, Some("2026-03-26T16:00Z"), None, Some(60)),
        (None, Some("2026-03-26T15:59:10.500Z"), None, Some(10)),
        // Nothing usable.
        (None, None, Some("jira-burst-based"), None),
        (
            None,
            Some("tomorrow"),
            Some("jira-quota-tenant-based"),
            None,
        ),
        (None, Some("2026-03-26T15:58Z"), None, Some(0)),
    ];
    for (retry_after, reset, reason, expected) in table {
        let mut pairs = Vec::new();
        if let Some(value) = retry_after {
            pairs.push(("Retry-After", *value));
        }
        if let Some(value) = reset {
            pairs.push(("X-RateLimit-Reset", *value));
        }
        if let Some(value) = reason {
            pairs.push(("RateLimit-Reason", *value));
        }
        check_wait(&pairs, now, *expected);
    }
}

#[test]
fn reset_precision_is_read_from_the_text() {
    let precision = |value: &str| {
        RateLimitInfo::from_headers(&headers(&[("X-RateLimit-Reset", value)]))
            .window
            .reset_precision
    };
    assert_eq!(precision("2026-03-26T16:00Z"), Some(ResetPrecision::Minute));
    assert_eq!(
        precision("2026-03-26T16:00:00Z"),
        Some(ResetPrecision::Seconds)
    );
    assert_eq!(
        precision("2026-03-26T16:00:00.123+0000"),
        Some(ResetPrecision::Seconds)
    );
    assert_eq!(
        precision("2026-03-26T16:00-0130"),
        Some(ResetPrecision::Minute)
    );
    assert_eq!(precision("garbage"), None);
}

#[test]
fn a_full_429_from_jira() {
    let info = RateLimitInfo::from_headers(&headers(&[
        ("Retry-After", "2"),
        ("X-RateLimit-Limit", "100"),
        ("X-RateLimit-Remaining", "0"),
        ("X-RateLimit-Reset", "2026-01-01T01:01:01Z"),
        ("RateLimit-Reason", "jira-burst-based"),
        ("X-RateLimit-NearLimit", "true"),
    ]));
    assert_eq!(
        info.retry_after,
        Some(RetryAfter::Delay(Duration::from_secs(2)))
    );
    assert_eq!(info.window.limit, Some(100));
    assert_eq!(info.window.remaining, Some(0));
    assert_eq!(info.window.reset, Some(at("2026-01-01T01:01:01Z")));
    assert_eq!(info.reason, Some(RateLimitReason::Burst));
    assert_eq!(
        info.reason.as_ref().unwrap().scope(),
        RateLimitScope::Endpoint
    );
    assert!(info.is_near_limit());
    assert!(!info.is_empty());
}

#[test]
fn reasons_and_their_scopes() {
    let cases = [
        ("jira-quota-global-based", RateLimitScope::Site),
        ("jira-quota-tenant-based", RateLimitScope::Site),
        ("jira-burst-based", RateLimitScope::Endpoint),
        ("jira-per-issue-on-write", RateLimitScope::IssueWrites),
        ("jira-cost-based", RateLimitScope::Site),
        ("jira-quota-based", RateLimitScope::Site),
        ("something-new", RateLimitScope::Site),
    ];
    for (value, scope) in cases {
        let reason = RateLimitReason::parse(value);
        assert_eq!(reason.scope(), scope, "{value}");
        assert_eq!(reason.as_str(), value);
    }
    assert_eq!(
        RateLimitReason::parse("something-new"),
        RateLimitReason::Other("something-new".into())
    );
}

#[test]
fn near_limit_from_flag_or_fraction() {
    let flag = |v| RateLimitInfo::from_headers(&headers(&[("X-RateLimit-NearLimit", v)]));
    assert!(flag("true").is_near_limit());
    assert!(flag("TRUE").is_near_limit());
    assert!(!flag("false").is_near_limit());
    assert!(!flag("maybe").is_near_limit());
    assert_eq!(flag("maybe").window.near_limit, None);
    let fraction = |remaining| {
        RateLimitInfo::from_headers(&headers(&[
            ("X-RateLimit-Limit", "100"),
            ("X-RateLimit-Remaining", remaining),
        ]))
    };
    assert!(fraction("19").is_near_limit());
    assert!(!fraction("20").is_near_limit());
    assert_eq!(fraction("lots").window.remaining, None);
}

#[test]
fn beta_policies_in_any_order_and_legacy_set() {
    let info = RateLimitInfo::from_headers(&headers(&[
        (
            "Beta-RateLimit-Policy",
            "\"burst-based\";w=1;q=100, \"global-app-quota\";q=65000;w=3600",
        ),
        ("Beta-RateLimit", "\"global-app-quota\";r=11000;t=600"),
        ("Beta-RateLimit", "\"burst-based\";t=1"),
        ("Beta-Retry-After", "7"),
        ("X-Beta-RateLimit-Limit", "65000"),
        ("X-Beta-RateLimit-Remaining", "64000"),
        ("X-Beta-RateLimit-NearLimit", "false"),
    ]));
    assert_eq!(
        info.policies,
        vec![
            RateLimitPolicy {
                name: "burst-based".into(),
                quota: Some(100),
                window: Some(Duration::from_secs(1))
            },
            RateLimitPolicy {
                name: "global-app-quota".into(),
                quota: Some(65000),
                window: Some(Duration::from_secs(3600))
            },
        ]
    );
    assert_eq!(info.states.len(), 2);
    assert_eq!(info.states[0].remaining, Some(11000));
    assert_eq!(info.states[0].reset_in, Some(Duration::from_secs(600)));
    assert_eq!(info.states[1].remaining, None);
    assert_eq!(info.beta_retry_after, Some(Duration::from_secs(7)));
    assert_eq!(info.beta_window.limit, Some(65000));
    assert_eq!(info.beta_window.remaining, Some(64000));
    assert_eq!(info.beta_window.near_limit, Some(false));
    // Beta headers are informational: they ask for no wait.
    assert_eq!(info.requested_wait(SystemTime::now()), None);
}

#[test]
fn garbage_never_panics() {
    let garbage = [
        ";;;",
        ",,,",
        "\"\";q=",
        "\"x\";q=abc;w=-1",
        "=",
        "\"unterminated;q=1",
    ];
    for value in garbage {
        let info = RateLimitInfo::from_headers(&headers(&[
            ("Beta-RateLimit-Policy", value),
            ("Beta-RateLimit", value),
            ("Retry-After", value),
            ("X-RateLimit-Reset", value),
            ("X-RateLimit-Limit", value),
        ]));
        assert_eq!(info.retry_after, None, "{value}");
        assert_eq!(info.window.limit, None, "{value}");
    }
    let mut map = HeaderMap::new();
    map.insert(
        "retry-after",
        http::HeaderValue::from_bytes(b"\xff\xfe").unwrap(),
    );
    assert_eq!(RateLimitInfo::from_headers(&map).retry_after, None);
    assert!(RateLimitInfo::from_headers(&HeaderMap::new()).is_empty());
}

#[test]
fn every_header_is_read_in_one_pass_as_a_lookup_by_name_would() {
    // Names in any case, other headers between them, a header sent twice: the first
    // value counts (as `HeaderMap::get` gives), every value of the structured lists.
    let info = RateLimitInfo::from_headers(&headers(&[
        ("Content-Type", "application/json"),
        ("X-RateLimit-Remaining", "7"),
        ("x-ratelimit-remaining", "3"),
        ("X-RATELIMIT-LIMIT", "100"),
        ("Retry-After", "5"),
        ("X-Beta-RateLimit-Limit", "40"),
        ("Beta-RateLimit-Policy", "\"burst\";q=100;w=1"),
        ("Beta-RateLimit-Policy", "\"quota\";q=65000;w=3600"),
        ("RateLimit-Reason", "jira-burst-based"),
    ]));
    assert_eq!(info.window.remaining, Some(7));
    assert_eq!(info.window.limit, Some(100));
    assert_eq!(info.beta_window.limit, Some(40));
    assert_eq!(info.policies.len(), 2, "{info:?}");
    assert!(info.reason.is_some());
    assert_eq!(
        info.requested_wait(SystemTime::now()),
        Some(Duration::from_secs(5))
    );
    assert!(RateLimitInfo::from_headers(&headers(&[("Server", "jira")])).is_empty());
}
