//! Custom prices in memory, for host tests: the table `pricing` keeps in a [`MemoryStore`].

use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::kernel::error::StoreError;
use crate::kernel::testing::MemoryStore;
use crate::pricing::catalog::{Origin, PriceEntry};
use crate::pricing::store::PriceStore;

#[derive(Debug, Default)]
pub(crate) struct PriceTables {
    pub(crate) prices: RefCell<BTreeMap<String, PriceEntry>>,
}

impl MemoryStore {
    fn price_tables(&self) -> &PriceTables {
        self.part()
    }
}

fn price_id(entry: &PriceEntry) -> String {
    match &entry.origin {
        Origin::Custom { id, .. } => id.clone(),
        Origin::Builtin => format!(
            "{}|{}|{}",
            entry.provider, entry.model, entry.effective_from
        ),
    }
}

impl PriceStore for MemoryStore {
    async fn upsert_prices(&self, entries: &[PriceEntry]) -> Result<(), StoreError> {
        self.check()?;
        let mut prices = self.price_tables().prices.borrow_mut();
        for entry in entries {
            prices.insert(price_id(entry), entry.clone());
        }
        Ok(())
    }

    async fn list_custom_prices(&self) -> Result<Vec<PriceEntry>, StoreError> {
        self.check()?;
        Ok(self
            .price_tables()
            .prices
            .borrow()
            .values()
            .cloned()
            .collect())
    }

    async fn custom_prices_for(&self, lookups: &[String]) -> Result<Vec<PriceEntry>, StoreError> {
        self.check()?;
        Ok(self
            .price_tables()
            .prices
            .borrow()
            .values()
            .filter(|entry| entry.answers_to(lookups))
            .cloned()
            .collect())
    }

    async fn delete_price(&self, id: &str) -> Result<bool, StoreError> {
        self.check()?;
        Ok(self.price_tables().prices.borrow_mut().remove(id).is_some())
    }
}
