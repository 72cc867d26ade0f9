//! The pure core of ai-spend-tracker: every rule of the product, host-tested.
//!
//! This crate depends on no platform crate (no `worker`, `wasm-bindgen`, `js-sys` or
//! `web-sys`: see its `Cargo.toml`), so its purity is a build fact. Storage, time and
//! randomness come in through traits, so everything here runs and is tested on the host.
//!
//! One folder per capability, each owning its types, services, store traits and tests.
//! Dependencies point one way, from the top of this list to the bottom:
//!
//! - [`guard`]: the spend guard: decisions before spending, reservations held against every
//!   limit at once.
//! - [`budgets`]: budget settings, the budget check, alerts, their delivery, digests.
//! - [`plans`]: plans, allotments and their state, workload profiles and capacity.
//! - [`reports`]: ranges and periods, rollup reads, grouping, stats, jobs, summaries.
//! - [`usage`]: events as sent and as stored, ingestion, the raw log, rebuild, re-pricing,
//!   retention and listing.
//! - [`pricing`]: the pricing engine, the catalog, LiteLLM conversion, price services.
//! - [`access`]: projects, ingest keys and authentication.
//! - [`kernel`]: money, clock, errors, input and query parsing, the cache, and the in-memory
//!   store the host tests run on.

pub mod access;
pub mod budgets;
pub mod guard;
pub mod kernel;
pub mod plans;
pub mod pricing;
pub mod reports;
pub mod usage;
