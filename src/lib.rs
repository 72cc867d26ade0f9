//! ai-spend-tracker: usage and cost tracking for teams that call paid AI APIs, as one
//! Cloudflare Worker. See ARCHITECTURE.md for the map.

pub mod core;
pub mod edge;
