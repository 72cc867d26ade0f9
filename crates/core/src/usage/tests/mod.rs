//! Host tests of usage over the in-memory stores.

mod acknowledged;
mod ingest;
mod list;
mod rebuild;
mod reprice;
mod validation;
