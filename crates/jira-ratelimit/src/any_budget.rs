//! [`AnyBudget`]: a budget chosen at run time (from a config file or a flag), as
//! `jira_cache::AnyStore` is for cache stores.

use crate::{Budget, Demand, Error, Feedback, Grant, InProcessBudget, RedisBudget};

/// Either budget, for programs that pick one from their configuration. Every call goes to
/// the budget inside; the enum adds nothing else.
#[derive(Debug)]
pub enum AnyBudget {
    /// This process alone.
    InProcess(InProcessBudget),
    /// Shared through Redis by every process and machine of the site.
    Redis(RedisBudget),
}

impl AnyBudget {
    /// `local` or `redis <url>` (password redacted), for status lines.
    pub fn describe(&self) -> String {
        match self {
            AnyBudget::InProcess(_) => "local".to_owned(),
            AnyBudget::Redis(budget) => format!("redis {}", budget.url()),
        }
    }
}

impl From<InProcessBudget> for AnyBudget {
    fn from(budget: InProcessBudget) -> Self {
        AnyBudget::InProcess(budget)
    }
}

impl From<RedisBudget> for AnyBudget {
    fn from(budget: RedisBudget) -> Self {
        AnyBudget::Redis(budget)
    }
}

impl Budget for AnyBudget {
    async fn acquire(&self, demand: &Demand) -> Result<Grant, Error> {
        match self {
            AnyBudget::InProcess(budget) => budget.acquire(demand).await,
            AnyBudget::Redis(budget) => budget.acquire(demand).await,
        }
    }

    async fn observe(&self, feedback: &Feedback) -> Result<(), Error> {
        match self {
            AnyBudget::InProcess(budget) => budget.observe(feedback).await,
            AnyBudget::Redis(budget) => budget.observe(feedback).await,
        }
    }
}
