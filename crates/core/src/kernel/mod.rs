//! The kernel: what every capability stands on. Money and its one rounding rule, the clock
//! and entropy, the error types, input and query-string parsing, the bounded cache, and the
//! in-memory store of the host tests. It imports no capability.

pub mod cache;
pub mod clock;
pub mod columns;
pub mod csv;
pub mod date_text;
pub mod deflated;
pub mod digest;
pub mod error;
pub mod input;
pub mod json_out;
pub mod json_path;
pub mod json_value;
pub mod limits;
pub mod money;
pub mod object;
pub mod query;
pub mod sort;
pub mod testing;
pub mod tz;
