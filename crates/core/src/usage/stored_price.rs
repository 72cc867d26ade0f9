//! The facts of a stored event a duplicate is answered with ([`StoredPrice`]).

use crate::kernel::money::{Currency, Money};
use crate::usage::record::StoredEvent;

/// What a stored event was priced at, and when it happened: the facts a duplicate is answered
/// with, since the stored event is the one that counts (a retry may carry a later default
/// timestamp, or meet a price changed since).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoredPrice {
    pub request_timestamp: String,
    pub cost_nanos: Option<i64>,
    /// Empty when unpriced.
    pub currency: String,
    pub computed_cost_nanos: Option<i64>,
    pub computed_currency: Option<String>,
    pub reported_cost_nanos: Option<i64>,
    pub unpriced_reason: Option<String>,
    pub unpriced_message: Option<String>,
    /// The stored event's fingerprint. A resend answered as a duplicate of an event
    /// fingerprinted by an older rule differs from it, and its line in the request's replacement
    /// object carries this one: a rebuild then reads every line of the id as the stored event,
    /// not as different events under one id (which would refuse the object whole).
    pub fingerprint: Option<String>,
}

crate::object_reader!(
    StoredPrice,
    skip {
        request_timestamp: required,
        cost_nanos: default,
        currency: default,
        computed_cost_nanos: default,
        computed_currency: default,
        reported_cost_nanos: default,
        unpriced_reason: default,
        unpriced_message: default,
        fingerprint: default,
    }
);

impl StoredPrice {
    pub fn of(event: &StoredEvent) -> Self {
        StoredPrice {
            request_timestamp: event.request_timestamp.clone(),
            cost_nanos: event.cost_nanos,
            currency: event.currency.clone(),
            computed_cost_nanos: event.computed_cost_nanos,
            computed_currency: event.computed_currency.clone(),
            reported_cost_nanos: event.reported_cost_nanos,
            unpriced_reason: event.unpriced_reason.clone(),
            unpriced_message: event.unpriced_message.clone(),
            fingerprint: event.fingerprint.clone(),
        }
    }

    /// `event` with these facts in place of its own (its cost's text written from the stored
    /// nano-units, as pricing writes it).
    pub fn applied_to(&self, event: &StoredEvent) -> StoredEvent {
        let cost = match (self.cost_nanos, Currency::parse(&self.currency)) {
            (Some(nanos), Ok(currency)) => {
                Some(Money::new(i128::from(nanos), currency).amount_string())
            }
            _ => None,
        };
        StoredEvent {
            request_timestamp: self.request_timestamp.clone(),
            cost,
            cost_nanos: self.cost_nanos,
            currency: self.currency.clone(),
            computed_cost_nanos: self.computed_cost_nanos,
            computed_currency: self.computed_currency.clone(),
            reported_cost_nanos: self.reported_cost_nanos,
            unpriced_reason: self.unpriced_reason.clone(),
            unpriced_message: self.unpriced_message.clone(),
            fingerprint: self.fingerprint.clone(),
            ..event.clone()
        }
    }
}
