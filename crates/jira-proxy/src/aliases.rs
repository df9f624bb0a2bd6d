//! [`Aliases`]: an issue's id and key, learned from the answers that pass, so a write that
//! names an issue one way invalidates what was cached under the other.
//!
//! Clients mix the two: the PyPI `jira` package reads `PROJ-7`, then edits and deletes
//! through the issue's `self` link, which names it by id (`/rest/api/2/issue/10007`).

use std::collections::HashMap;

use parking_lot::Mutex;

/// Pairs remembered before the map starts over (a few MiB at most).
const REMEMBERED: usize = 100_000;

/// Id ↔ key, both directions, keys uppercased.
#[derive(Default)]
pub(crate) struct Aliases {
    map: Mutex<HashMap<String, String>>,
}

/// What an issue's (or a create's) answer names.
#[derive(serde::Deserialize)]
struct Named {
    id: Option<String>,
    key: Option<String>,
}

impl Aliases {
    /// Learns the id and key an issue answer (`GET /issue/{x}`, `POST /issue`) names.
    pub(crate) fn learn(&self, body: &[u8]) {
        let Ok(Named {
            id: Some(id),
            key: Some(key),
        }) = serde_json::from_slice::<Named>(body)
        else {
            return;
        };
        let key = key.to_ascii_uppercase();
        let mut map = self.map.lock();
        if map.len() >= REMEMBERED {
            map.clear();
        }
        map.insert(id.clone(), key.clone());
        map.insert(key, id);
    }

    /// The other name of `issue` (its key for an id, its id for a key), if known.
    pub(crate) fn other(&self, issue: &str) -> Option<String> {
        self.map.lock().get(&issue.to_ascii_uppercase()).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issue_answer_teaches_both_names() {
        let aliases = Aliases::default();
        aliases.learn(br#"{"expand":"x","id":"10007","self":"s","key":"proj-7","fields":{}}"#);
        assert_eq!(aliases.other("10007").as_deref(), Some("PROJ-7"));
        assert_eq!(aliases.other("Proj-7").as_deref(), Some("10007"));
        aliases.learn(b"not json");
        aliases.learn(br#"{"errorMessages":["no"]}"#);
        assert_eq!(aliases.other("10008"), None);
    }
}
