//! Pricing one validated event: the entry in force at its time, and what a quote answers.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::access::projects::ProjectId;
use crate::kernel::error::FieldError;
use crate::kernel::money::Money;
use crate::pricing::catalog::{PriceBook, PriceEntry};
use crate::pricing::prices::Pricing;
use crate::pricing::{quote_as, Unpriced, UsageKind};
use crate::usage::event::UsageEvent;

/// Prices one validated event with the entry in force at its timestamp, itemised (a quote).
pub fn price_event(book: &PriceBook, event: &UsageEvent) -> Result<Pricing, FieldError> {
    price_with(book, event, true)
}

/// Prices one validated event to be stored: its cost and entry, without the itemised lines
/// ([`crate::pricing::quote_as`], not itemised).
pub fn price_to_store(book: &PriceBook, event: &UsageEvent) -> Result<Pricing, FieldError> {
    price_with(book, event, false)
}

fn price_with(book: &PriceBook, event: &UsageEvent, itemised: bool) -> Result<Pricing, FieldError> {
    priced(event, itemised, || {
        book.resolve(
            &event.provider,
            &event.model,
            event.timestamp,
            event.project_id.as_ref(),
        )
    })
}

/// An event's pricing with the entry `entry` finds (asked only when the event has usage to
/// price).
fn priced<'a>(
    event: &UsageEvent,
    itemised: bool,
    entry: impl FnOnce() -> Result<&'a PriceEntry, Unpriced>,
) -> Result<Pricing, FieldError> {
    let computed = if event.usage.is_empty() {
        Err(Unpriced::NoRateForUsage {
            message: if event.total_tokens > 0 {
                "only a token total was reported; send input_tokens and output_tokens to price it"
                    .to_string()
            } else {
                "the event reports no billable quantity".to_string()
            },
        })
    } else {
        match entry() {
            Ok(entry) => quote_as(entry, &event.usage, itemised)
                .map_err(|e| FieldError::new(e.field, e.message))?,
            Err(unpriced) => Err(unpriced),
        }
    };
    Ok(Pricing {
        computed,
        reported: event.reported_cost,
    })
}

/// Prices the events of one request to be stored, as [`price_to_store`] does each: the entry
/// in force for a project, provider, model and day is looked up once and remembered (a batch
/// of 1,000 events names a few models), at most [`REMEMBERED`] of them.
pub struct RequestPricer<'b, 'a> {
    book: &'b PriceBook<'a>,
    entries: Vec<Remembered<'a>>,
}

/// An entry found, with the project, provider, model and day it was found for.
type Remembered<'a> = (Option<ProjectId>, String, String, NaiveDate, &'a PriceEntry);

/// How many entries a [`RequestPricer`] remembers: the lookup is a scan.
const REMEMBERED: usize = 32;

impl<'b, 'a> RequestPricer<'b, 'a> {
    pub fn new(book: &'b PriceBook<'a>) -> Self {
        Self {
            book,
            entries: Vec::new(),
        }
    }

    pub fn price(&mut self, event: &UsageEvent) -> Result<Pricing, FieldError> {
        let (book, entries) = (self.book, &mut self.entries);
        priced(event, false, || {
            let day = event.timestamp.date_naive();
            let project = event.project_id.as_ref();
            let known = entries.iter().find(|(p, provider, model, d, _)| {
                *d == day
                    && *provider == event.provider
                    && *model == event.model
                    && p.as_ref() == project
            });
            if let Some((.., entry)) = known {
                return Ok(*entry);
            }
            // Only entries found are remembered: an unpriced event's answer names its own
            // provider and model.
            let entry = book.resolve(&event.provider, &event.model, event.timestamp, project)?;
            if entries.len() < REMEMBERED {
                entries.push((
                    project.cloned(),
                    event.provider.clone(),
                    event.model.clone(),
                    day,
                    entry,
                ));
            }
            Ok(entry)
        })
    }
}

/// What a quote answers: the price of an event without storing it.
#[derive(Debug, Serialize)]
pub struct QuoteView {
    pub provider: String,
    pub model: String,
    pub timestamp: DateTime<Utc>,
    pub cost: Option<Money>,
    pub computed_cost: Option<Money>,
    pub reported_cost: Option<Money>,
    pub unpriced: Option<Unpriced>,
    pub lines: Vec<crate::pricing::Line>,
    pub unbilled: Vec<UsageKind>,
    pub tier_above_prompt_tokens: Option<u64>,
    pub price: Option<crate::pricing::EntryRef>,
}

impl QuoteView {
    pub fn new(event: &UsageEvent, pricing: &Pricing) -> Self {
        let quote = pricing.computed.as_ref().ok();
        QuoteView {
            provider: event.provider.clone(),
            model: event.model.clone(),
            timestamp: event.timestamp,
            cost: pricing.cost(),
            computed_cost: quote.map(|q| q.cost),
            reported_cost: pricing.reported,
            unpriced: pricing.unpriced().cloned(),
            lines: quote.map(|q| q.lines.clone()).unwrap_or_default(),
            unbilled: quote.map(|q| q.unbilled.clone()).unwrap_or_default(),
            tier_above_prompt_tokens: quote.and_then(|q| q.tier_above_prompt_tokens),
            price: quote.map(|q| q.entry.clone()),
        }
    }
}
