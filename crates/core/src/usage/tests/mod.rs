//! Host tests of usage over the in-memory stores.

mod acknowledged;
mod ingest;
mod list;
mod priced;
mod projects;
mod queued;
mod rebuild;
mod reprice;
mod validation;
mod written;
