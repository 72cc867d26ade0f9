//! Handlers of the price routes that need query parsing or several stores.

use crate::core::json;
use chrono::NaiveDate;
use worker::Response;

use crate::core::access::auth::Principal;
use crate::core::access::projects::project_param;
use crate::core::kernel::clock::Clock;
use crate::core::kernel::error::CoreError;
use crate::core::kernel::input::parse_json;
use crate::core::kernel::query::{only_known, param, parse_day, parse_flag, QueryPairs};
use crate::core::pricing::bundled;
use crate::core::pricing::catalog::{
    builtin, builtin_read_on, canonical_provider, Catalog, PriceBook,
};
use crate::core::pricing::prices::{effective_page, import_litellm, lookups_for, PriceFilter};
use crate::core::pricing::store::PriceStore;
use crate::core::usage::event::{EventInput, EventRules};
use crate::core::usage::price::{price_event, QuoteView};

use super::d1::D1Store;
use super::router::ok;

fn flag(query: &QueryPairs, name: &str) -> Result<bool, CoreError> {
    param(query, name)
        .map(|v| parse_flag(v).map_err(|m| CoreError::invalid(name, m)))
        .transpose()
        .map(|v| v.unwrap_or(false))
}

fn day(name: &str, value: &str) -> Result<NaiveDate, CoreError> {
    parse_day(value).map_err(|m| CoreError::invalid(name, m))
}

/// `GET /api/prices`: the effective catalog, filterable by provider, model, day and project,
/// a page of at most `limit` models at a time (every match without `limit`; the dashboard's
/// pages are `DEFAULT_PRICE_PAGE` or fewer).
pub async fn list_prices(
    store: &D1Store,
    clock: &impl Clock,
    principal: &Principal,
    query: &QueryPairs,
) -> Result<Response, CoreError> {
    only_known(
        query,
        &[
            "provider",
            "model",
            "on",
            "history",
            "project_id",
            "model_prefix",
            "mode",
            "limit",
            "cursor",
        ],
    )?;
    let limit = match param(query, "limit") {
        Some(v) => Some(
            v.parse::<usize>()
                .ok()
                .filter(|n| (1..=1000).contains(n))
                .ok_or_else(|| CoreError::invalid("limit", "must be an integer from 1 to 1000"))?,
        ),
        // Without `limit`, every match, as before the bundled layer: older callers look for
        // a model in the whole list. Pages are asked for (the dashboard always pages).
        None => None,
    };
    let after = match param(query, "cursor") {
        Some(c) => Some(
            c.split_once('/')
                .map(|(p, m)| (p.to_string(), m.to_string()))
                .ok_or_else(|| {
                    CoreError::invalid("cursor", "expected a next_cursor of this route")
                })?,
        ),
        None => None,
    };
    let requested = project_param(query)?;
    let project = principal.scope_to(requested.as_ref())?;
    let on = match param(query, "on") {
        Some(value) => day("on", value)?,
        None => clock.now().date_naive(),
    };
    let filter = PriceFilter {
        provider: param(query, "provider").map(|p| canonical_provider(&p.to_ascii_lowercase())),
        model: param(query, "model").map(str::to_ascii_lowercase),
        on,
        history: flag(query, "history")?,
        project,
        model_prefix: param(query, "model_prefix").map(str::to_ascii_lowercase),
        mode: param(query, "mode").map(str::to_ascii_lowercase),
        after,
        limit,
    };
    let custom = store.list_custom_prices().await?;
    let page = effective_page(&custom, &filter);
    let litellm = bundled::header();
    ok(
        200,
        &json!({
            "on": filter.on,
            "history": filter.history,
            "builtin_catalog_read_on": builtin_read_on(),
            "litellm_version": litellm.version,
            "litellm_read_on": litellm.read_on,
            "count": page.prices.len(),
            "total": page.total,
            "limit": filter.limit,
            "next_cursor": page.next_cursor,
            "prices": page.prices,
        }),
    )
}

/// `POST /api/prices/quote`: prices one event exactly as ingestion would, storing nothing.
pub async fn quote_price(
    store: &D1Store,
    clock: &impl Clock,
    principal: &Principal,
    body: &[u8],
) -> Result<Response, CoreError> {
    let input: EventInput = parse_json(body)?;
    let rules = EventRules {
        now: clock.now(),
        max_age_days: 36_500,
        pruned_before: None,
    };
    let mut event = input
        .validate(crate::core::usage::event::EventName::Alone, &rules)
        .map_err(CoreError::Validation)?;
    event.project_id = principal.scope_to(event.project_id.as_ref())?;
    let custom = Catalog::new(
        store
            .custom_prices_for(&lookups_for([(
                event.provider.as_str(),
                event.model.as_str(),
            )]))
            .await?,
    );
    let book = PriceBook {
        builtin: builtin(),
        custom: &custom,
    };
    let pricing = price_event(&book, &event).map_err(|e| CoreError::Validation(vec![e]))?;
    ok(200, &QuoteView::new(&event, &pricing))
}

/// `POST /api/admin/prices/import`: LiteLLM's price file as custom prices.
pub async fn import_prices(
    store: &D1Store,
    clock: &impl Clock,
    query: &QueryPairs,
    body: &[u8],
) -> Result<Response, CoreError> {
    only_known(
        query,
        &["effective_from", "project_id", "providers", "dry_run"],
    )?;
    let effective_from = match param(query, "effective_from") {
        Some(value) => day("effective_from", value)?,
        None => clock.now().date_naive(),
    };
    let providers: Option<Vec<String>> = param(query, "providers").map(|list| {
        list.split(',')
            .map(|p| canonical_provider(&p.trim().to_ascii_lowercase()))
            .filter(|p| !p.is_empty())
            .collect()
    });
    let dry_run = flag(query, "dry_run")?;
    let file: serde_json::Value = parse_json(body)?;
    let report = import_litellm(
        store,
        store,
        &file,
        effective_from,
        param(query, "project_id"),
        providers.as_deref(),
        dry_run,
    )
    .await?;
    ok(if dry_run { 200 } else { 201 }, &report)
}
