//! What an event is stored with: the price ingest and re-pricing compute
//! ([`crate::pricing::quote_as`], not itemised) is the itemised quote without its lines.

use proptest::prelude::*;

use crate::pricing::catalog::curated;
use crate::pricing::{quote, quote_as, Quote, Usage, UsageKind};

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
