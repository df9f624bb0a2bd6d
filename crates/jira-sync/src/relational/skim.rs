//! [`Skim`]: one level of a JSON object, its members as borrowed slices of the text.
//!
//! A commit reads a few columns out of every entity it writes (an issue's status name,
//! a comment's author), and keeps each entity's text whole beside them. Parsing that text
//! into a `serde_json::Value` tree to read those columns built every string, number and
//! map node of it (the people's avatar URLs, every field a column does not name) as an
//! allocation of its own, then dropped them: the larger part of a commit's work. A skim
//! makes one pass over the object (serde skips what it does not keep), keeps each member
//! as the slice of the text it spans, and parses only the members a column reads, a
//! nested object by skimming its slice in turn. Rich text (ADF) and custom field values
//! are still made into `Value`s, member by member, since their columns read all of them.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use super::SqlValue;
use super::values::{rich_text, time};

/// One level of a JSON object: its members by name, each the text it spans.
#[derive(Debug, Default)]
pub(crate) struct Skim<'a> {
    members: Vec<(Cow<'a, str>, &'a RawValue)>,
}

/// A member name, borrowed from the text unless it holds an escape.
struct Name<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl<'de> Visitor<'de> for NameVisitor {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, name: &'de str) -> Result<Self::Value, E> {
                Ok(Name(Cow::Borrowed(name)))
            }
            fn visit_str<E>(self, name: &str) -> Result<Self::Value, E> {
                Ok(Name(Cow::Owned(name.to_owned())))
            }
        }
        deserializer.deserialize_str(NameVisitor)
    }
}

impl<'de> Deserialize<'de> for Skim<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SkimVisitor;
        impl<'de> Visitor<'de> for SkimVisitor {
            type Value = Skim<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some((Name(name), raw)) = map.next_entry::<Name<'de>, &RawValue>()? {
                    members.push((name, raw));
                }
                Ok(Skim { members })
            }
        }
        deserializer.deserialize_map(SkimVisitor)
    }
}

impl<'a> Skim<'a> {
    /// The object `text` holds; an error when it is not one.
    pub(crate) fn parse(text: &'a str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The member `name` as the text it spans (the last one when it is there twice, as
    /// a parse into a map keeps).
    pub(crate) fn raw(&self, name: &str) -> Option<&'a RawValue> {
        self.members
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, raw)| *raw)
    }

    /// The member `name` when it is an object.
    pub(crate) fn object(&self, name: &str) -> Option<Skim<'a>> {
        self.raw(name)
            .filter(|raw| raw.get().starts_with('{'))
            .and_then(|raw| Skim::parse(raw.get()).ok())
    }

    /// The member `name` when it is a string.
    pub(crate) fn str(&self, name: &str) -> Option<Cow<'a, str>> {
        self.raw(name)
            .filter(|raw| raw.get().starts_with('"'))
            .and_then(|raw| serde_json::from_str::<Cow<'a, str>>(raw.get()).ok())
    }

    /// The member `name` parsed whole (null when absent).
    pub(crate) fn value(&self, name: &str) -> Value {
        self.raw(name)
            .and_then(|raw| serde_json::from_str(raw.get()).ok())
            .unwrap_or(Value::Null)
    }

    /// The member `name` when it is `true` or `false`.
    pub(crate) fn bool(&self, name: &str) -> Option<bool> {
        match self.raw(name).map(RawValue::get) {
            Some("true") => Some(true),
            Some("false") => Some(false),
            _ => None,
        }
    }

    /// The member `name` as text; NULL when absent, empty or not a string.
    pub(crate) fn text(&self, name: &str) -> SqlValue {
        super::values::non_empty(self.str(name).as_deref())
    }

    /// `name.member` as text (`status.name`, `assignee.accountId`).
    pub(crate) fn member(&self, name: &str, member: &str) -> SqlValue {
        self.object(name)
            .map_or(SqlValue::Null, |object| object.text(member))
    }

    /// The Jira timestamp `name` as UTC ISO 8601; NULL when absent or unreadable.
    pub(crate) fn time(&self, name: &str) -> SqlValue {
        self.str(name).map_or(SqlValue::Null, |text| time(&text))
    }

    /// The integer `name`; NULL when absent or not one.
    pub(crate) fn integer(&self, name: &str) -> SqlValue {
        self.raw(name)
            .and_then(|raw| raw.get().parse::<i64>().ok())
            .map_or(SqlValue::Null, SqlValue::Int)
    }

    /// The rich text (ADF, or a plain string) `name` as plain text.
    pub(crate) fn rich_text(&self, name: &str) -> SqlValue {
        match self.raw(name) {
            Some(raw) if raw.get().starts_with('{') || raw.get().starts_with('"') => {
                rich_text(Some(&self.value(name)))
            }
            _ => SqlValue::Null,
        }
    }

    /// Every member, in the text's order.
    pub(crate) fn members(&self) -> impl Iterator<Item = (&str, &'a RawValue)> {
        self.members.iter().map(|(name, raw)| (name.as_ref(), *raw))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skim_reads_members_as_a_value_tree_would() {
        let text = r#"{"id":"7","n":12,"s":"a\"b","e":"","t":true,"o":{"name":"Done","c":{"key":"done"}},
            "when":"2024-01-18T07:33:17.016+0000","doc":{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"hi"}]}]},
            "na\u006de":"escaped","id":"8","x":1.5}"#;
        let skim = Skim::parse(text).unwrap();
        let tree: Value = serde_json::from_str(text).unwrap();
        assert_eq!(skim.text("id"), super::super::values::text(tree.get("id")));
        assert_eq!(
            skim.text("id"),
            SqlValue::Text("8".into()),
            "the last of a name"
        );
        assert_eq!(skim.text("s"), SqlValue::Text("a\"b".into()));
        assert_eq!(skim.text("e"), SqlValue::Null);
        assert_eq!(skim.text("n"), SqlValue::Null, "a number is not text");
        assert_eq!(skim.integer("n"), SqlValue::Int(12));
        assert_eq!(skim.integer("x"), SqlValue::Null);
        assert_eq!(skim.bool("t"), Some(true));
        assert_eq!(skim.member("o", "name"), SqlValue::Text("Done".into()));
        assert_eq!(
            skim.object("o").unwrap().member("c", "key"),
            SqlValue::Text("done".into())
        );
        assert_eq!(skim.member("s", "name"), SqlValue::Null);
        assert_eq!(
            skim.time("when"),
            SqlValue::Text("2024-01-18T07:33:17.016Z".into())
        );
        assert_eq!(skim.time("s"), SqlValue::Null);
        assert_eq!(skim.rich_text("doc"), SqlValue::Text("hi".into()));
        assert_eq!(skim.rich_text("s"), SqlValue::Text("a\"b".into()));
        assert_eq!(skim.rich_text("n"), SqlValue::Null);
        assert_eq!(skim.text("name"), SqlValue::Text("escaped".into()));
        assert_eq!(skim.value("o"), tree["o"]);
        assert!(Skim::parse("[1]").is_err());
        // Pretty-printed text reads the same: a member's slice holds no whitespace.
        let pretty = serde_json::to_string_pretty(&tree).unwrap();
        let spaced = Skim::parse(&pretty).unwrap();
        assert_eq!(spaced.bool("t"), Some(true));
        assert_eq!(spaced.integer("n"), SqlValue::Int(12));
        assert_eq!(spaced.member("o", "name"), SqlValue::Text("Done".into()));
        assert_eq!(spaced.rich_text("doc"), SqlValue::Text("hi".into()));
    }
}
