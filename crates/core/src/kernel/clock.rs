//! Time and randomness are inputs to the core, never read deep inside it, so that tests can
//! fix them.

use chrono::{DateTime, Timelike, Utc};

use crate::kernel::error::CoreError;

pub trait Clock {
    fn now(&self) -> DateTime<Utc>;
}

/// A clock that always answers the same instant; for tests and for replaying a request.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

pub trait Entropy {
    fn fill(&self, buffer: &mut [u8]) -> Result<(), CoreError>;
}

/// The platform's cryptographic random source (Web Crypto on Workers, the OS on the host).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemEntropy;

impl Entropy for SystemEntropy {
    fn fill(&self, buffer: &mut [u8]) -> Result<(), CoreError> {
        getrandom::getrandom(buffer)
            .map_err(|e| CoreError::Misconfigured(format!("no random source: {e}")))
    }
}

/// `prefix` followed by `bytes` random bytes in lower-case hex.
pub fn random_token(
    entropy: &impl Entropy,
    prefix: &str,
    bytes: usize,
) -> Result<String, CoreError> {
    let mut buffer = vec![0u8; bytes];
    entropy.fill(&mut buffer)?;
    Ok(format!("{prefix}{}", hex::encode(buffer)))
}

/// The one text form of an instant in storage: RFC 3339 in UTC with milliseconds, so that
/// text order is time order.
pub fn format_timestamp(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Reads an RFC 3339 / ISO 8601 instant with an offset (`Z` or `+02:00`).
pub fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, String> {
    let t = DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("`{text}` is not an ISO 8601 timestamp with an offset"))?;
    // chrono reads any `:60` as a leap second; stored times (and JavaScript) have none.
    if t.nanosecond() >= 1_000_000_000 {
        return Err(format!(
            "`{text}` has a leap second (:60); send :59.999 or the next second"
        ));
    }
    Ok(t)
}
