//! The pure core: domain types, validation, money, pricing and the rules of the product.
//!
//! Nothing under `core` imports the Workers runtime or any JavaScript binding crate (a test
//! in `tests/core_is_pure.rs` reads the sources to prove it). Storage, time and randomness come
//! in through the traits in [`store`] and [`clock`], so everything here runs and is tested on
//! the host.

pub mod alerts;
pub mod auth;
pub mod budgets;
pub mod cache;
pub mod clock;
pub mod delivery;
pub mod digest;
pub mod error;
pub mod ingest;
pub mod input;
pub mod jobs;
pub mod keys;
pub mod memory;
pub mod money;
pub mod plans;
pub mod prices;
pub mod pricing;
pub mod projects;
pub mod query;
pub mod record;
pub mod report;
pub mod reprice;
pub mod retention;
pub mod store;
pub mod summaries;
pub mod usage;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_acknowledged;
#[cfg(test)]
mod tests_ingest;
#[cfg(test)]
mod tests_periods;
#[cfg(test)]
mod tests_reports;
#[cfg(test)]
mod tests_retention;
