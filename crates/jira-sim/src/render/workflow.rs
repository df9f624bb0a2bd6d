//! Workflow transitions as Jira renders them (`IssueTransition`): for
//! `/issue/{key}/transitions` and `expand=transitions`.

use serde_json::{Map, Value, json};

use super::Renderer;
use crate::data::{IssueData, Transition, available};

impl Renderer<'_> {
    /// A transition as `IssueTransition` (with its screen's fields when `with_fields`).
    pub fn transition(&self, transition: &Transition, with_fields: bool) -> Value {
        let to: Value = serde_json::from_str(self.catalog.statuses()[transition.to].get())
            .expect("the catalog holds valid JSON");
        let mut value = json!({
            "id": transition.id,
            "name": transition.name,
            "to": to,
            "hasScreen": transition.needs_resolution,
            "isGlobal": false,
            "isInitial": false,
            "isAvailable": true,
            "isConditional": false,
            "looped": false,
        });
        if with_fields {
            let mut fields = Map::new();
            if transition.needs_resolution {
                let allowed = self.resolutions(false);
                fields.insert(
                    "resolution".into(),
                    json!({
                        "required": true,
                        "schema": {"type": "resolution", "system": "resolution"},
                        "name": "Resolution",
                        "key": "resolution",
                        "operations": ["set"],
                        "allowedValues": allowed,
                        "hasDefaultValue": false,
                    }),
                );
            }
            value["fields"] = Value::Object(fields);
        }
        value
    }

    /// The transitions `issue` can take now, as `expand=transitions` lists them.
    pub fn transitions(&self, issue: &IssueData) -> Vec<Value> {
        available(issue.status)
            .map(|t| self.transition(t, false))
            .collect()
    }
}
