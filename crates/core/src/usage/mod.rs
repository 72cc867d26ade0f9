//! Usage events: as sent ([`event`]) and as stored ([`record`]), their ingestion (R2, then
//! D1), the raw log and rebuild from it, re-pricing, retention and listing.

pub mod event;
pub mod ingest;
pub mod list;
pub mod memory;
pub mod otlp;
pub mod price;
pub mod record;
pub mod reprice;
pub mod retention;
pub mod store;
pub mod stored_price;
pub mod warm;

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod tests;
