//! The storage seam of pricing: custom prices. The edge implements it over D1,
//! `pricing::memory` in memory for host tests.
use crate::kernel::error::StoreError;
use crate::pricing::catalog::PriceEntry;

// Futures from D1 are not `Send` (wasm is single-threaded), so these traits use plain
// `async fn` and are only ever used through generics, never `dyn`.

#[allow(async_fn_in_trait)]
pub trait PriceStore {
    /// Inserts or replaces custom entries (same provider, model, date and scope = same id).
    async fn upsert_prices(&self, entries: &[PriceEntry]) -> Result<(), StoreError>;
    async fn list_custom_prices(&self) -> Result<Vec<PriceEntry>, StoreError>;
    /// Custom entries whose model or an alias matches one of `lookups` (`provider|name`).
    async fn custom_prices_for(&self, lookups: &[String]) -> Result<Vec<PriceEntry>, StoreError>;
    async fn delete_price(&self, id: &str) -> Result<bool, StoreError>;
}
