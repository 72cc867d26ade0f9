//! What an event is stored with: the price ingest and re-pricing compute
//! ([`crate::pricing::quote_as`], not itemised) is the itemised quote without its lines.

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use serde_json::json;

use crate::access::projects::ProjectId;
use crate::pricing::catalog::{curated, Catalog, EntryInput, Origin, PriceBook, PriceEntry};
use crate::pricing::{quote, quote_as, Quote, Usage, UsageKind};
use crate::usage::event::{EventInput, EventName, EventRules};
use crate::usage::price::{price_to_store, RequestPricer};

proptest! {
    #[test]
    fn the_quote_an_event_is_stored_with_is_the_itemised_quote_without_its_lines(
        pick in any::<prop::sample::Index>(),
        quantities in prop::collection::vec(prop_oneof![Just(0u64), 1u64..5_000_000], UsageKind::ALL.len()),
    ) {
        let entries = curated().entries();
        let entry = &entries[pick.index(entries.len())];
        let mut usage = Usage::new();
        for (kind, quantity) in UsageKind::ALL.into_iter().zip(&quantities) {
            usage = usage.with(kind, *quantity);
        }
        let itemised = quote(entry, &usage).map(|q| {
            q.map(|q| Quote { lines: Vec::new(), unbilled: Vec::new(), ..q })
        });
        prop_assert_eq!(quote_as(entry, &usage, false), itemised);
    }
}

fn entry(value: serde_json::Value) -> PriceEntry {
    let input: EntryInput = serde_json::from_value(value).unwrap();
    input.parse("", Origin::Builtin).unwrap()
}

fn custom(value: serde_json::Value, id: &str, project: Option<&str>) -> PriceEntry {
    let input: EntryInput = serde_json::from_value(value).unwrap();
    let origin = Origin::Custom {
        id: id.into(),
        project_id: project.map(|p| ProjectId::parse(p).unwrap()),
    };
    input.parse("", origin).unwrap()
}

#[test]
fn a_requests_pricer_prices_each_event_as_pricing_it_alone_does() {
    // Two prices of one model in force on different days, a project's own price of it, and a
    // model no entry prices: the events cycle through them, so an entry remembered for one
    // day, project or model must not answer for another.
    let rates = |input: &str, output: &str| json!({"input_tokens": {"price": input, "per": 1000000}, "output_tokens": {"price": output, "per": 1000000}});
    let old = entry(
        json!({"provider": "openai", "model": "o3", "currency": "USD",
        "effective_from": "2025-04-16", "rates": rates("10", "40")}),
    );
    let new = entry(
        json!({"provider": "openai", "model": "o3", "currency": "USD",
        "effective_from": "2025-06-10", "rates": rates("2", "8")}),
    );
    let own = custom(
        json!({"provider": "openai", "model": "o3", "currency": "EUR",
            "effective_from": "2025-01-01", "rates": rates("5", "5")}),
        "p1-o3",
        Some("p1"),
    );
    let gpt4o = entry(
        json!({"provider": "openai", "model": "gpt-4o", "currency": "USD",
        "effective_from": "2024-08-06", "rates": rates("2.5", "10")}),
    );
    let builtin = Catalog::new(vec![new, old, gpt4o]);
    let custom = Catalog::new(vec![own]);
    let book = PriceBook {
        builtin: &builtin,
        custom: &custom,
    };
    let rules = EventRules {
        now: Utc.with_ymd_and_hms(2025, 7, 1, 0, 0, 0).unwrap(),
        max_age_days: 400,
        pruned_before: None,
    };
    let mut pricer = RequestPricer::new(&book);
    let mut costs = Vec::new();
    for i in 0..48 {
        let model = ["o3", "gpt-4o", "o3-mini-unknown"][i % 3];
        let day = ["2025-05-01", "2025-06-20"][i / 3 % 2];
        let project = ["p1", "p2"][i / 6 % 2];
        let input: EventInput = serde_json::from_value(json!({
            "provider": "openai", "model": model, "project_id": project,
            "timestamp": format!("{day}T12:00:00Z"), "input_tokens": 1000 + i, "output_tokens": 10,
        }))
        .unwrap();
        let event = input.validate(EventName::Alone, &rules).unwrap();
        let alone = price_to_store(&book, &event);
        assert_eq!(
            pricer.price(&event),
            alone,
            "event {i}: {model} {day} {project}"
        );
        costs.push(
            alone
                .unwrap()
                .cost()
                .map(|m| format!("{} {}", m.amount_string(), m.currency)),
        );
    }
    // p1's own price (5 and 5 EUR per million), the old and the new built-in ones, and none.
    assert_eq!(costs[0].as_deref(), Some("0.00505 EUR"));
    assert_eq!(costs[6].as_deref(), Some("0.01046 USD"));
    assert_eq!(costs[9].as_deref(), Some("0.002098 USD"));
    assert_eq!(costs[2], None);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    /// The pricer's remembered entries never cross projects, days or spellings: a batch mixing
    /// four projects (with prices of their own and a global one), model aliases, provider
    /// spellings and time stamps with offsets around midnight prices every event as pricing it
    /// alone does.
    #[test]
    fn a_requests_pricer_mixing_projects_days_and_spellings_prices_each_event_as_alone(
        picks in prop::collection::vec((0usize..4, 0usize..4, 0usize..8, 0usize..4), 1..80),
    ) {
        let rates = |price: &str| json!({
            "input_tokens": {"price": price, "per": 1000000},
            "output_tokens": {"price": price, "per": 1000000},
        });
        let builtin_entry = |model: &str, from: &str, price: &str| entry(json!({
            "provider": "openai", "model": model, "currency": "USD", "effective_from": from,
            "rates": rates(price),
        }));
        let own = |model: &str, from: &str, price: &str, currency: &str, id: &str, project: Option<&str>| {
            custom(json!({
                "provider": "openai", "model": model, "currency": currency, "effective_from": from,
                "rates": rates(price),
            }), id, project)
        };
        let builtin = Catalog::new(vec![
            builtin_entry("o3", "2025-04-16", "10"),
            builtin_entry("o3", "2025-06-10", "2"),
            builtin_entry("gpt-4o", "2024-08-06", "2.5"),
        ]);
        let custom = Catalog::new(vec![
            own("o3", "2025-06-01", "5", "EUR", "p1-o3", Some("p1")),
            own("o3", "2025-06-02", "7", "GBP", "p2-o3", Some("p2")),
            own("gpt-4o", "2025-06-01", "3", "JPY", "all-4o", None),
            own("gpt-4o", "2025-06-02", "4", "EUR", "p3-4o", Some("p3")),
        ]);
        let book = PriceBook { builtin: &builtin, custom: &custom };
        let rules = EventRules {
            now: Utc.with_ymd_and_hms(2025, 7, 1, 0, 0, 0).unwrap(),
            max_age_days: 400,
            pruned_before: None,
        };
        let mut pricer = RequestPricer::new(&book);
        for (i, (m, p, t, s)) in picks.into_iter().enumerate() {
            let model = ["o3", "gpt-4o", "gpt-4o-2024-08-06", "nope"][m];
            let project = ["p1", "p2", "p3", "p4"][p];
            let timestamp = [
                "2025-05-31T23:59:59.999Z",
                "2025-06-01T00:00:00Z",
                "2025-06-01T23:30:00-01:00",
                "2025-06-02T00:30:00+01:00",
                "2025-06-02T12:00:00Z",
                "2025-06-10T00:00:00.000000001Z",
                "2025-06-09t23:59:59z",
                "2025-06-01T12:00:00+23:59",
            ][t];
            let provider = ["openai", "OpenAI", "open ai", "openai"][s];
            let input: EventInput = serde_json::from_value(json!({
                "provider": provider, "model": model, "project_id": project,
                "timestamp": timestamp, "input_tokens": 1000 + i, "output_tokens": 10,
            })).unwrap();
            let mut event = input.validate(EventName::Alone, &rules).unwrap();
            event.project_id = Some(ProjectId::parse(project).unwrap());
            prop_assert_eq!(
                pricer.price(&event),
                price_to_store(&book, &event),
                "{} {} {} {}", model, project, timestamp, provider
            );
        }
    }
}
