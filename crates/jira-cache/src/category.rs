//! Cache categories and their default time to live (from the reference guide).

use std::time::Duration;

use crate::Error;

/// What kind of data an entry holds; decides its default TTL.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Category {
    /// Issues: 5 minutes.
    Issue,
    /// Projects: 1 hour.
    Project,
    /// Field definitions: 1 day.
    Field,
    /// Users: 1 hour.
    User,
    /// Search pages: 1 minute.
    Search,
    /// A category of the caller's, with its TTL.
    Custom {
        /// Its name (letters, digits, `-`, `_`).
        name: String,
        /// Its TTL.
        ttl: Duration,
    },
}

impl Category {
    /// The built-in categories.
    pub const BUILT_IN: [Category; 5] = [
        Category::Issue,
        Category::Project,
        Category::Field,
        Category::User,
        Category::Search,
    ];

    /// The default TTL.
    pub fn ttl(&self) -> Duration {
        match self {
            Category::Issue => Duration::from_secs(5 * 60),
            Category::Project | Category::User => Duration::from_secs(60 * 60),
            Category::Field => Duration::from_secs(24 * 60 * 60),
            Category::Search => Duration::from_secs(60),
            Category::Custom { ttl, .. } => *ttl,
        }
    }

    /// Its name, as used in keys and on the command line.
    pub fn name(&self) -> &str {
        match self {
            Category::Issue => "issue",
            Category::Project => "project",
            Category::Field => "field",
            Category::User => "user",
            Category::Search => "search",
            Category::Custom { name, .. } => name,
        }
    }

    /// A built-in category by name.
    pub fn parse(name: &str) -> Result<Self, Error> {
        Self::BUILT_IN
            .into_iter()
            .find(|c| c.name() == name)
            .ok_or_else(|| Error::UnknownCategory(name.to_owned()))
    }

    /// A custom category; the name must be `[A-Za-z0-9_-]+` and not a built-in one.
    pub fn custom(name: &str, ttl: Duration) -> Result<Self, Error> {
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && Self::parse(name).is_err();
        if !valid {
            return Err(Error::UnknownCategory(name.to_owned()));
        }
        Ok(Category::Custom {
            name: name.to_owned(),
            ttl,
        })
    }
}
