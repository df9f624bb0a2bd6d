//! End-to-end tests of jira-ops against jira-sim over real HTTP. One binary, one module per
//! area (see STYLE.md).

mod cache_store;
mod clients;
mod facade;
mod model_vs_sim;
mod redis_budget;
mod scaleout;
mod tidy;
