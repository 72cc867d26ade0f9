//! Re-pricing stored events after prices change, and the list of models that need a price.
//!
//! Re-pricing follows ingestion's durable order: the re-priced records are first written to
//! the raw log as one immutable object under `usage-logs/reprice/`, then to the store. Rebuild
//! replays raw objects and then re-price objects, so a rebuilt store carries the same prices.

use serde::Serialize;

use crate::access::projects::ProjectId;
use crate::kernel::clock::format_timestamp;
use crate::kernel::clock::{random_token, Clock, Entropy};
use crate::kernel::date_text::{compact_stamp, date_text};
use crate::kernel::error::{CoreError, Problems};
use crate::kernel::money::{Money, Totals};
use crate::kernel::query::parse_bound;
use crate::pricing::catalog::{builtin, canonical_provider, Catalog, PriceBook};
use crate::pricing::prices::lookups_for;
use crate::pricing::store::PriceStore;
use crate::usage::price::price_to_store;
use crate::usage::record::{to_ndjson, StoredEvent};
use crate::usage::store::{RawLog, RepriceStore, ScanFilter, UnpricedModel};

/// Where re-priced records are logged.
pub const REPRICE_PREFIX: &str = "usage-logs/reprice/";
pub const DEFAULT_REPRICE_EVENTS: usize = 1000;
pub const MAX_REPRICE_EVENTS: usize = 5000;

/// Body of `POST /api/admin/usage/reprice`.
#[derive(Debug, Clone, Default)]
pub struct RepriceRequest {
    /// Event time range: dates (`to` inclusive) or RFC 3339 instants (`to` exclusive).
    pub from: Option<String>,
    pub to: Option<String>,
    pub project_id: Option<String>,
    pub provider: Option<String>,
    pub model: Option<String>,
    /// Only events stored without a price.
    pub only_unpriced: bool,
    /// Report what would change, change nothing.
    pub dry_run: bool,
    /// `next_cursor` of the previous call.
    pub cursor: Option<String>,
    /// Events examined per call (default 1,000, at most 5,000).
    pub limit: Option<usize>,
}

crate::object_reader!(
    RepriceRequest,
    deny {
        from: default,
        to: default,
        project_id: default,
        provider: default,
        model: default,
        only_unpriced: default,
        dry_run: default,
        cursor: default,
        limit: default,
    }
);

/// One event whose price changed.
#[derive(Debug, Clone, Serialize)]
pub struct PriceChange {
    pub project_id: String,
    pub id: String,
    pub provider: String,
    pub model: String,
    pub timestamp: String,
    pub before: Option<Money>,
    pub after: Option<Money>,
    pub unpriced_before: Option<String>,
    pub unpriced_after: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RepriceReport {
    pub dry_run: bool,
    pub examined: usize,
    pub changed: usize,
    /// Were unpriced, now have a cost.
    pub newly_priced: usize,
    /// Had a cost, now unpriced (a price was removed).
    pub now_unpriced: usize,
    /// Cost of the changed events before and after, per currency.
    pub cost_before: Totals,
    pub cost_after: Totals,
    /// The first changes, to review.
    pub changes: Vec<PriceChange>,
    /// The re-price object written to the raw log, when anything changed.
    pub raw_object: Option<String>,
    pub next_cursor: Option<String>,
    pub done: bool,
    /// The retention watermark, when rows were ever pruned: events of earlier days have no
    /// raw row left to re-price and keep the prices they had, in every rollup.
    pub pruned_before: Option<chrono::NaiveDate>,
}

const SHOWN_CHANGES: usize = 100;

fn parse_filter(request: &RepriceRequest) -> Result<(ScanFilter, i64, usize), CoreError> {
    let mut p = Problems::new();
    let mut filter = ScanFilter {
        only_unpriced: request.only_unpriced,
        ..ScanFilter::default()
    };
    if let Some(id) = &request.project_id {
        filter.project_id = ProjectId::parse(id)
            .map_err(|m| p.push("project_id", m))
            .ok();
    }
    filter.provider = request
        .provider
        .as_deref()
        .map(|v| canonical_provider(&v.trim().to_ascii_lowercase()));
    filter.models = request
        .model
        .as_deref()
        .map(|v| vec![v.trim().to_ascii_lowercase()])
        .unwrap_or_default();
    let from = request
        .from
        .as_deref()
        .and_then(|v| parse_bound(v, false).map_err(|m| p.push("from", m)).ok());
    let to = request
        .to
        .as_deref()
        .and_then(|v| parse_bound(v, true).map_err(|m| p.push("to", m)).ok());
    if let (Some(f), Some(t)) = (from, to) {
        if f >= t {
            p.push("to", "must be after `from`");
        }
    }
    filter.from = from.map(format_timestamp);
    filter.to = to.map(format_timestamp);
    let after = match &request.cursor {
        Some(c) => c
            .parse::<i64>()
            .map_err(|_| p.push("cursor", "is not a cursor this API returned"))
            .unwrap_or(0),
        None => 0,
    };
    let limit = request.limit.unwrap_or(DEFAULT_REPRICE_EVENTS);
    if !(1..=MAX_REPRICE_EVENTS).contains(&limit) {
        p.push("limit", format!("must be from 1 to {MAX_REPRICE_EVENTS}"));
    }
    p.finish()?;
    Ok((filter, after, limit))
}

/// The stored names a re-price's `model` stands for, as the reports group them: the model
/// and the dated aliases and snapshots usage was recorded under (`gpt-4o-mini-2024-07-18` for
/// `gpt-4o-mini`), so that re-pricing a model re-prices every event a price of it covers.
async fn stored_names(
    store: &impl RepriceStore,
    filter: &ScanFilter,
) -> Result<Vec<String>, CoreError> {
    let [wanted] = filter.models.as_slice() else {
        return Ok(filter.models.clone());
    };
    let stored = store
        .stored_models(filter.project_id.as_ref(), filter.provider.as_deref())
        .await?;
    let mut names: Vec<String> = stored
        .into_iter()
        .filter(|(provider, model)| {
            model != wanted && crate::pricing::catalog::filed_under(provider, model, wanted)
        })
        .map(|(_, model)| model)
        .collect();
    names.push(wanted.clone());
    Ok(names)
}

/// Prices stored events again with the prices in force at each event's time, as they are now,
/// and stores the prices that changed. A reported cost stays the cost that counts; its
/// computed cost beside it is updated.
pub async fn reprice(
    store: &(impl RepriceStore + crate::usage::store::RetentionStore),
    prices: &impl PriceStore,
    log: &impl RawLog,
    clock: &impl Clock,
    entropy: &impl Entropy,
    request: &RepriceRequest,
) -> Result<RepriceReport, CoreError> {
    let (mut filter, after, limit) = parse_filter(request)?;
    filter.models = stored_names(store, &filter).await?;
    let events = store.scan_events(&filter, after, limit + 1).await?;
    let more = events.len() > limit;
    let events = &events[..events.len().min(limit)];
    let lookups = lookups_for(
        events
            .iter()
            .map(|e| (e.event.provider.as_str(), e.event.model.as_str())),
    );
    let custom = Catalog::new(prices.custom_prices_for(&lookups).await?);
    let book = PriceBook {
        builtin: builtin(),
        custom: &custom,
    };
    let mut report = RepriceReport {
        dry_run: request.dry_run,
        examined: events.len(),
        changed: 0,
        newly_priced: 0,
        now_unpriced: 0,
        cost_before: Totals::new(),
        cost_after: Totals::new(),
        changes: Vec::new(),
        raw_object: None,
        pruned_before: store.retention_state().await?.pruned_before,
        next_cursor: if more {
            events.last().map(|e| e.seq.to_string())
        } else {
            None
        },
        done: !more,
    };
    let mut updated: Vec<StoredEvent> = Vec::new();
    for listed in events {
        let before = &listed.event;
        if before.cached {
            // A cache hit costs nothing whatever the prices are.
            continue;
        }
        let Some(usage_event) = before.to_usage_event() else {
            continue;
        };
        let Ok(pricing) = price_to_store(&book, &usage_event) else {
            continue;
        };
        let mut after = before.clone();
        if after.set_pricing(&pricing).is_err() || after.same_pricing(before) {
            continue;
        }
        report.changed += 1;
        if before.cost_nanos.is_none() && after.cost_nanos.is_some() {
            report.newly_priced += 1;
        }
        if before.cost_nanos.is_some() && after.cost_nanos.is_none() {
            report.now_unpriced += 1;
        }
        if let Some(m) = before.cost_money() {
            report.cost_before.add(m);
        }
        if let Some(m) = after.cost_money() {
            report.cost_after.add(m);
        }
        if report.changes.len() < SHOWN_CHANGES {
            report.changes.push(PriceChange {
                project_id: before.project_id.clone(),
                id: before.id.clone(),
                provider: before.provider.clone(),
                model: before.model.clone(),
                timestamp: before.request_timestamp.clone(),
                before: before.cost_money(),
                after: after.cost_money(),
                unpriced_before: before.unpriced_reason.clone(),
                unpriced_after: after.unpriced_reason.clone(),
            });
        }
        updated.push(after);
    }
    if !request.dry_run && !updated.is_empty() {
        let now = clock.now();
        let key = format!(
            "{REPRICE_PREFIX}{}/{}-{}.ndjson",
            date_text(now.date_naive()),
            compact_stamp(now),
            random_token(entropy, "", 16)?
        );
        let bytes = to_ndjson(&updated).map_err(|e| {
            CoreError::Misconfigured(format!("encoding the re-price log failed: {e}"))
        })?;
        log.put(&key, bytes).await?;
        if let Err(e) = store.update_pricing(&updated).await {
            // The update may have committed with its answer lost: the page is read again.
            match repriced_after_all(store, &filter, after, limit, &updated).await {
                Some(true) => {}
                Some(false) => {
                    // Nothing changed: the object must not re-price a rebuild either.
                    let _ = log.delete(&key).await;
                    return Err(e.into());
                }
                // Unknown: the object stays (a rebuild applies it; the retry the error asks
                // for writes a later object, which wins).
                None => return Err(e.into()),
            }
        }
        report.raw_object = Some(key);
    }
    Ok(report)
}

/// Whether an update of `updated` whose answer was an error committed after all, read from
/// the same page of stored events: `Some(true)` when every row holds its new prices,
/// `Some(false)` when every row is there with prices other than its new ones, `None` when the
/// page cannot be read or is neither. A row the page no longer shows counts as unknown: with
/// `only_unpriced`, an event the update priced leaves the page.
async fn repriced_after_all(
    store: &impl RepriceStore,
    filter: &ScanFilter,
    after: i64,
    limit: usize,
    updated: &[StoredEvent],
) -> Option<bool> {
    let rows = store.scan_events(filter, after, limit + 1).await.ok()?;
    let (mut repriced, mut not) = (0, 0);
    for update in updated {
        match rows.iter().find(|row| row.event.key() == update.key()) {
            Some(row) if row.event.same_pricing(update) => repriced += 1,
            Some(_) => not += 1,
            None => {}
        }
    }
    if repriced == updated.len() {
        Some(true)
    } else if not == updated.len() {
        Some(false)
    } else {
        None
    }
}

/// `GET /api/admin/prices/unpriced`: the models that need a price, most events first.
#[derive(Debug, Clone, Serialize)]
pub struct UnpricedReport {
    pub models: Vec<UnpricedModel>,
    pub events: i64,
    /// Provider and model pairs, to add as custom prices.
    pub distinct_models: usize,
}

pub async fn unpriced_models(
    store: &impl RepriceStore,
    filter: &ScanFilter,
) -> Result<UnpricedReport, CoreError> {
    let models = store.unpriced_models(filter).await?;
    let distinct = crate::kernel::sort::distinct(
        models
            .iter()
            .map(|m| (m.provider.as_str(), m.model.as_str())),
    );
    Ok(UnpricedReport {
        events: models.iter().map(|m| m.events).sum(),
        distinct_models: distinct.len(),
        models,
    })
}
