//! Workflow vocabulary the write jobs read: an issue's available transitions and the
//! site's priorities.

use serde::{Deserialize, Serialize};

/// A status as a transition names it (`StatusDetails`, the fields jira-ops reads).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusDetails {
    /// The status's id.
    #[serde(default)]
    pub id: String,
    /// The status's name.
    #[serde(default)]
    pub name: String,
}

/// One transition an issue can take now (`IssueTransition`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IssueTransition {
    /// The transition's id, sent to make it.
    #[serde(default)]
    pub id: String,
    /// The transition's name ("Start progress").
    #[serde(default)]
    pub name: String,
    /// The status it leads to.
    #[serde(default)]
    pub to: StatusDetails,
    /// Whether it shows a screen (its fields may be set with it).
    #[serde(default)]
    pub has_screen: bool,
}

/// `GET /issue/{key}/transitions` (`Transitions`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransitionsPage {
    /// The transitions available to the caller.
    #[serde(default)]
    pub transitions: Vec<IssueTransition>,
}

/// A priority (`Priority`, the fields jira-ops reads).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Priority {
    /// The priority's id.
    #[serde(default)]
    pub id: String,
    /// The priority's name.
    #[serde(default)]
    pub name: String,
}

/// A page of priorities (`PageBeanPriority`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PriorityPage {
    /// Index of the first priority of this page.
    #[serde(default)]
    pub start_at: u64,
    /// Whether this is the last page (absent: taken as the last).
    #[serde(default = "yes")]
    pub is_last: bool,
    /// The priorities of this page.
    #[serde(default)]
    pub values: Vec<Priority>,
}

fn yes() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_read_their_target_status() {
        let page: TransitionsPage = serde_json::from_str(
            r#"{"expand":"transitions","transitions":[{"id":"31","name":"Done",
                "hasScreen":true,"to":{"id":"10002","name":"Done","self":"x"}}]}"#,
        )
        .unwrap();
        let done = &page.transitions[0];
        assert_eq!((done.id.as_str(), done.to.name.as_str()), ("31", "Done"));
        assert!(done.has_screen);
        let priorities: PriorityPage = serde_json::from_str(r#"{"values":[]}"#).unwrap();
        assert!(priorities.is_last, "a page that does not say is the last");
    }
}
