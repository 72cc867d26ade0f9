//! Host benchmark of the pricing engine: resolves the entry in force and prices a mix of
//! events, one core. Run by `npm run bench` (`cargo run --release --example bench_pricing`).

use std::time::Instant;

use chrono::{TimeZone, Utc};
use spend_core::pricing::catalog::{builtin, Catalog, PriceBook};
use spend_core::pricing::{price, quote, Usage, UsageKind};

fn main() {
    let custom = Catalog::default();
    let book = PriceBook {
        builtin: builtin(),
        custom: &custom,
    };
    let models = [
        ("openai", "gpt-4o-2024-08-06"),
        ("openai", "gpt-4o-mini"),
        ("anthropic", "claude-3-5-sonnet-20241022"),
        ("google", "gemini-2.5-pro"),
        ("elevenlabs", "eleven_multilingual_v2"),
        ("openai", "o3"),
    ];
    let at = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
    let events: Vec<(usize, Usage)> = (0..1_000_000u64)
        .map(|i| {
            let m = (i % models.len() as u64) as usize;
            let usage = if m == 4 {
                Usage::new().with(UsageKind::Characters, 100 + i % 900)
            } else {
                Usage::new()
                    .with(UsageKind::InputTokens, 1_000 + i % 250_000)
                    .with(UsageKind::CachedInputTokens, i % 500)
                    .with(UsageKind::OutputTokens, 10 + i % 4_000)
            };
            (m, usage)
        })
        .collect();

    // Resolution and pricing, as ingestion does for each event.
    let started = Instant::now();
    let mut total: i128 = 0;
    for (m, usage) in &events {
        let (provider, model) = models[*m];
        if let Ok(entry) = book.resolve(provider, model, at, None) {
            if let Ok(Ok(cost)) = price(entry, usage) {
                total += cost.nanos;
            }
        }
    }
    let resolve_and_price = started.elapsed();

    // Pricing alone, with entries resolved once per model (a batch of one model).
    let entries: Vec<_> = models
        .iter()
        .map(|(p, m)| book.resolve(p, m, at, None).unwrap())
        .collect();
    let started = Instant::now();
    let mut total2: i128 = 0;
    for (m, usage) in &events {
        if let Ok(Ok(cost)) = price(entries[*m], usage) {
            total2 += cost.nanos;
        }
    }
    let price_only = started.elapsed();
    // The itemised quote the API answers, for comparison.
    let started = Instant::now();
    let mut total3: i128 = 0;
    for (m, usage) in &events {
        if let Ok(Ok(q)) = quote(entries[*m], usage) {
            total3 += q.cost.nanos;
        }
    }
    let itemised = started.elapsed();
    assert_eq!(total, total3);
    assert_eq!(total, total2);
    let rate = |d: std::time::Duration| events.len() as f64 / d.as_secs_f64();
    println!("events: {}", events.len());
    println!("checksum (nano-USD): {total}");
    println!(
        "resolve + price: {:.0} events/s ({:.0} ns/event)",
        rate(resolve_and_price),
        resolve_and_price.as_nanos() as f64 / events.len() as f64
    );
    println!(
        "price only:      {:.0} events/s ({:.0} ns/event)",
        rate(price_only),
        price_only.as_nanos() as f64 / events.len() as f64
    );
    println!(
        "itemised quote:  {:.0} events/s ({:.0} ns/event)",
        rate(itemised),
        itemised.as_nanos() as f64 / events.len() as f64
    );
}
