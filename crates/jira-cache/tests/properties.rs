//! Property tests of the glob matcher (against a plain reference matcher) and of the cache
//! key scheme (an issue's targets cover its entries and nothing of another issue; sites
//! and profiles never see each other's entries).

use std::sync::Arc;
use std::time::Duration;

use jira_cache::{
    CacheConfig, Category, JiraCache, Pattern, SledStore, Target, issue_cache_key, issue_targets,
};
use proptest::prelude::*;

/// The reference: `*` any run, `?` one character, everything else itself.
fn reference(pattern: &[char], text: &[char]) -> bool {
    match (pattern.first(), text.first()) {
        (None, None) => true,
        (None, Some(_)) => false,
        (Some('*'), _) => {
            reference(&pattern[1..], text) || (!text.is_empty() && reference(pattern, &text[1..]))
        }
        (Some('?'), Some(_)) => reference(&pattern[1..], &text[1..]),
        (Some(p), Some(t)) if p == t => reference(&pattern[1..], &text[1..]),
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn globs_match_as_the_reference_does(pattern in "[AB1\\-*?]{1,8}", key in "[AB1\\-]{0,10}") {
        let compiled = Pattern::new(&pattern).unwrap();
        let chars = |s: &str| s.chars().collect::<Vec<_>>();
        prop_assert_eq!(compiled.matches(&key), reference(&chars(&pattern), &chars(&key)));
        // Everything a pattern matches starts with its literal prefix (what the scan reads).
        if compiled.matches(&key) {
            prop_assert!(key.starts_with(compiled.literal_prefix()));
        }
    }

    #[test]
    fn an_escaped_key_matches_itself_only(key in "[ -~]{1,16}", other in "[ -~]{1,16}") {
        let pattern = Pattern::new(&Pattern::escape(&key)).unwrap();
        prop_assert!(pattern.matches(&key));
        prop_assert_eq!(pattern.matches(&other), other == key);
        prop_assert_eq!(pattern.literal_prefix(), key.as_str());
    }

    #[test]
    fn an_issues_targets_cover_its_entries_and_no_other_issue(
        project in "[A-Z]{1,5}",
        number in 1u32..100_000,
        fields in proptest::collection::vec("[a-z]{1,8}", 0..4),
        expand in proptest::collection::vec("[a-z]{1,8}", 0..2),
        suffix in "[0-9]{1,2}",
    ) {
        let key = format!("{project}-{number}");
        let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
        let expand: Vec<&str> = expand.iter().map(String::as_str).collect();
        let entry = issue_cache_key(&key.to_lowercase(), &fields, &expand);
        prop_assert!(entry.starts_with(&key), "keys are upper case: {}", entry);
        let covers = |target: &Target, entry: &str| match target {
            Target::Key(Category::Issue, k) => k == entry,
            Target::Pattern(Category::Issue, p) => p.matches(entry),
            _ => false,
        };
        let targets = issue_targets(&key);
        prop_assert!(targets.iter().any(|t| covers(t, &entry)));
        prop_assert!(targets.iter().any(|t| covers(t, &key)));
        // PROJ-12 must not take PROJ-123 with it.
        let longer = issue_cache_key(&format!("{key}{suffix}"), &fields, &expand);
        prop_assert!(!targets.iter().any(|t| covers(t, &longer)));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn sites_and_profiles_never_see_each_others_entries(
        keys in proptest::collection::btree_set("[A-Z]{1,3}-[0-9]{1,3}", 1..12),
        pattern in "[A-Z]{0,2}\\*",
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let store = Arc::new(SledStore::open(dir.path().join("c"), Duration::from_secs(2)).unwrap());
            let open = |site: &str, profile: &str| {
                let config = CacheConfig { profile: profile.into(), ..CacheConfig::new(site) };
                JiraCache::open(store.clone(), config)
            };
            let a = open("a.example", "default").await.unwrap();
            let b = open("a.example.evil", "default").await.unwrap();
            let c = open("a.example", "other").await.unwrap();
            for key in &keys {
                for cache in [&a, &b, &c] {
                    cache.set(&Category::Issue, key, &1).await.unwrap();
                }
            }
            let target = Target::Pattern(Category::Issue, Pattern::new(&pattern).unwrap());
            let expected = keys.iter().filter(|k| Pattern::new(&pattern).unwrap().matches(k)).count() as u64;
            assert_eq!(a.count_matching(&target).await.unwrap(), expected);
            assert_eq!(a.invalidate(&target).await.unwrap(), expected);
            for other in [&b, &c] {
                for key in &keys {
                    assert!(other.contains(&Category::Issue, key).await.unwrap(), "{key}");
                }
                assert_eq!(other.count_matching(&target).await.unwrap(), expected);
            }
        });
    }
}
