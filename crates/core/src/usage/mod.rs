//! Usage events: as sent ([`event`]) and as stored ([`record`]), their ingestion (R2, then
//! D1), the raw log and rebuild from it, re-pricing, retention and listing.

pub mod event;
pub mod ingest;
pub mod record;
pub mod reprice;
pub mod retention;
pub mod store;

#[cfg(test)]
mod tests_acknowledged;
#[cfg(test)]
mod tests_ingest;
#[cfg(test)]
mod tests_retention;
