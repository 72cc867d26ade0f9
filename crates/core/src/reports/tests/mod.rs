//! Host tests of reports over the in-memory stores.

mod grouping;
mod periods;
mod retention;
mod rollups;
mod stats;
mod views;
