//! What a fresh isolate runs once, at its start: the curated price catalog (which every priced
//! request reads) and one sample event read, validated, priced and answered, the way a request
//! does them. The runtime compiles wasm functions at their first call and starts an isolate
//! while the client's TLS handshake is still under way, so this moves that work out of the
//! first request. The LiteLLM layer under the curated catalog stays lazy: only a model the
//! curated file does not name reads it, and indexing it at every start (about 40 ms in the
//! wasm) would charge every isolate, the cron's and the dashboard's too, for it.

use chrono::{DateTime, Utc};

use crate::pricing::catalog::{builtin, Catalog, PriceBook};
use crate::usage::event::{EventName, EventRules};
use crate::usage::ingest::parse_batch;
use crate::usage::price::{price_event, QuoteView};

/// A batch of one priced call, as apps send it.
const SAMPLE: &[u8] = br#"{"events": [{"id": "warm-up", "provider": "openai", "model": "gpt-4o-mini", "operation": "warm-up", "input_tokens": 1000, "output_tokens": 100}]}"#;

/// Builds the curated catalog and runs the sample through reading, validation, pricing and the
/// answer's encoding; answers the encoded quote (`None` if any step failed, which only
/// means the first request does that work itself).
pub fn warm_up(now: DateTime<Utc>) -> Option<Vec<u8>> {
    let batch = parse_batch(SAMPLE).ok()?;
    let input = batch.events.into_iter().next()?.ok()?;
    let rules = EventRules {
        now,
        max_age_days: 1,
        pruned_before: None,
    };
    let event = input.validate(EventName::At(0), &rules).ok()?;
    let custom = Catalog::new(Vec::new());
    let book = PriceBook {
        builtin: builtin(),
        custom: &custom,
    };
    let pricing = price_event(&book, &event).ok()?;
    serde_json::to_vec(&QuoteView::new(&event, &pricing)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_warm_up_prices_its_sample_with_the_built_in_catalog() {
        let now = Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0).unwrap();
        let quote: serde_json::Value =
            serde_json::from_slice(&warm_up(now).expect("the sample is priced")).unwrap();
        assert_eq!(quote["provider"], "openai");
        assert_eq!(quote["model"], "gpt-4o-mini");
        // 1,000 input and 100 output tokens of gpt-4o-mini: $0.15 and $0.60 per million.
        assert_eq!(quote["computed_cost"]["amount"], "0.00021");
        assert_eq!(quote["computed_cost"]["currency"], "USD");
    }
}
