//! ai-spend-tracker: usage and cost tracking for teams that call paid AI APIs, as one
//! Cloudflare Worker. See ARCHITECTURE.md for the map.
//!
//! This crate is the edge: the Workers shell around the pure core, the `spend-core` crate
//! (re-exported as [`core`]), which holds every rule of the product.

pub use spend_core as core;
pub mod edge;
