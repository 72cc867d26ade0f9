//! Per-isolate caches of ingest keys, custom prices and the retention watermark, so that
//! recording one event needs no database read before its write. An entry lives 60 seconds; the
//! isolate that revokes a key, deletes a project, changes a price or prunes forgets at once,
//! others within the minute (an event that races a prune is still never counted twice: the
//! insert checks the watermark itself).

use std::cell::RefCell;

use chrono::{DateTime, NaiveDate, Utc};

use crate::core::access::keys::ApiKeyRecord;
use crate::core::access::projects::ProjectId;
use crate::core::access::store::KeyStore;
use crate::core::kernel::cache::TtlCache;
use crate::core::kernel::error::StoreError;
use crate::core::pricing::catalog::PriceEntry;
use crate::core::pricing::store::PriceStore;
use crate::core::usage::retention::RetentionState;
use crate::core::usage::store::RetentionStore;

use super::d1::{now, D1Store};

const TTL_MS: i64 = 60_000;

thread_local! {
    static KEYS: RefCell<TtlCache<ApiKeyRecord>> = RefCell::new(TtlCache::new(TTL_MS, 1000));
    static PRICES: RefCell<TtlCache<Vec<PriceEntry>>> = RefCell::new(TtlCache::new(TTL_MS, 1));
    static WATERMARK: RefCell<TtlCache<Option<NaiveDate>>> = RefCell::new(TtlCache::new(TTL_MS, 1));
}

/// Forget the cached retention watermark (when it moves).
fn forget_watermark() {
    WATERMARK.with(|w| w.borrow_mut().clear());
}

/// The retention watermark, read through the cache.
pub async fn watermark(store: &D1Store) -> Result<Option<NaiveDate>, StoreError> {
    if let Some(hit) = WATERMARK.with(|w| w.borrow_mut().get("", now_ms())) {
        return Ok(hit);
    }
    let watermark = store.retention_state().await?.pruned_before;
    WATERMARK.with(|w| w.borrow_mut().put("", watermark, now_ms()));
    Ok(watermark)
}

fn now_ms() -> i64 {
    now().timestamp_millis()
}

/// Forget every cached key (after a revocation or a project deletion).
pub fn forget_keys() {
    KEYS.with(|k| k.borrow_mut().clear());
}

/// Forget the cached custom prices (after any price write).
pub fn forget_prices() {
    PRICES.with(|p| p.borrow_mut().clear());
}

/// The D1 store read through the caches.
pub struct Cached<'a>(pub &'a D1Store);

impl KeyStore for Cached<'_> {
    async fn insert_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
        self.0.insert_key(key).await
    }

    async fn list_keys(&self, project: &ProjectId) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.0.list_keys(project).await
    }

    async fn revoke_key(
        &self,
        project: &ProjectId,
        key_id: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        forget_keys();
        self.0.revoke_key(project, key_id, at).await
    }

    async fn find_active_key(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        if let Some(hit) = KEYS.with(|k| k.borrow_mut().get(key_hash, now_ms())) {
            return Ok(Some(hit));
        }
        let found = self.0.find_active_key(key_hash).await?;
        // Only known keys are kept: unknown tokens never fill the cache.
        if let Some(record) = &found {
            KEYS.with(|k| k.borrow_mut().put(key_hash, record.clone(), now_ms()));
        }
        Ok(found)
    }
}

/// Moving the watermark forgets this isolate's cached copy at once.
impl RetentionStore for Cached<'_> {
    async fn retention_state(&self) -> Result<RetentionState, StoreError> {
        self.0.retention_state().await
    }

    async fn advance_watermark(&self, before: NaiveDate) -> Result<NaiveDate, StoreError> {
        let moved = self.0.advance_watermark(before).await;
        forget_watermark();
        moved
    }

    async fn prune_rows(&self, limit: u32) -> Result<u64, StoreError> {
        self.0.prune_rows(limit).await
    }

    async fn record_prune(&self, rows: u64, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.0.record_prune(rows, at).await
    }
}

impl PriceStore for Cached<'_> {
    async fn upsert_prices(&self, entries: &[PriceEntry]) -> Result<(), StoreError> {
        forget_prices();
        self.0.upsert_prices(entries).await
    }

    async fn list_custom_prices(&self) -> Result<Vec<PriceEntry>, StoreError> {
        if let Some(hit) = PRICES.with(|p| p.borrow_mut().get("all", now_ms())) {
            return Ok(hit);
        }
        let all = self.0.list_custom_prices().await?;
        PRICES.with(|p| p.borrow_mut().put("all", all.clone(), now_ms()));
        Ok(all)
    }

    async fn custom_prices_for(&self, lookups: &[String]) -> Result<Vec<PriceEntry>, StoreError> {
        let all = self.list_custom_prices().await?;
        Ok(all
            .into_iter()
            .filter(|entry| entry.answers_to(lookups))
            .collect())
    }

    async fn delete_price(&self, id: &str) -> Result<bool, StoreError> {
        forget_prices();
        self.0.delete_price(id).await
    }
}
