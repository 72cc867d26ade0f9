//! The warning of an event recorded as model `default`: what priced it, or why nothing did.

use super::*;

/// The warning of an event recorded as model `default` (sent without a model, for a provider
/// that takes one: see `usage::model_required`): which entry priced it; else the entry that
/// answers to `default` for the event's project and time (resolved in `book` as pricing
/// resolves it) and why it did not price the event (a reported cost counts; no usage, or none
/// it has a rate for); else that no entry answers to `default`.
pub fn model_warning(
    record: &StoredEvent,
    pricing: &Pricing,
    book: &PriceBook,
    at: DateTime<Utc>,
    project: &ProjectId,
) -> Option<FieldError> {
    if record.model != DEFAULT_MODEL {
        return None;
    }
    let provider = &record.provider;
    if let Some(entry) = &record.price_id {
        return Some(FieldError::new(
            "model",
            format!(
                "recorded as model `default`: priced with {provider}'s default entry ({entry}); \
                 send the model the call used if it was another"
            ),
        ));
    }
    let counts = match record.reported_cost_nanos {
        Some(_) => "the cost you reported counts; ",
        None => "",
    };
    let message = match book.resolve(provider, DEFAULT_MODEL, at, Some(project)) {
        Ok(entry) => {
            // The entry was found, so what failed is the quote: no usage, or none it has a
            // rate for (what `unpriced` says when no cost is reported).
            let why = pricing
                .computed
                .as_ref()
                .err()
                .map_or("", Unpriced::message);
            let entry = price_id(&entry.reference());
            format!(
                "recorded as model `default`: {counts}{provider}'s default entry ({entry}) \
                 prices none of it ({why}); send the model the call used if it was another"
            )
        }
        // Entries answer to `default`, none in force at the event's time.
        Err(Unpriced::NoPriceInForce { message }) => {
            format!("recorded as model `default`: {counts}{message}")
        }
        Err(_) if !counts.is_empty() => format!(
            "recorded as model `default`: the cost you reported counts, and no price entry of \
             {provider} answers to `default` to compute one; send the model the call used"
        ),
        Err(_) => format!(
            "recorded as model `default`, which no price entry of {provider} answers to: it \
             counts only a reported cost (add a custom price for {provider}/default to price it)"
        ),
    };
    Some(FieldError::new("model", message))
}
