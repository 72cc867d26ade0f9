//! Listing stored events (`GET /api/usage`): the filters, the page and its CSV. The listing
//! is the one reader of `api_usage` rows by filter, always by page.

use crate::access::auth::Principal;
use crate::access::projects::ProjectId;
use crate::kernel::clock::format_timestamp;
use crate::kernel::error::{CoreError, Problems};
use crate::kernel::query::{
    only_known, param, parse_bound, parse_flag, Cursor, QueryPairs, DEFAULT_PAGE, MAX_PAGE,
};
use crate::pricing::catalog::canonical_provider;
use crate::pricing::UsageKind;

/// Filters of `GET /api/usage`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UsageQuery {
    pub project_id: Option<ProjectId>,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub operation: Option<String>,
    pub job_id: Option<String>,
    pub session_id: Option<String>,
    /// Inclusive start, as stored text.
    pub from: Option<String>,
    /// Exclusive end, as stored text.
    pub to: Option<String>,
    /// `Some(true)`: only unpriced events; `Some(false)`: only priced ones.
    pub unpriced: Option<bool>,
    pub limit: u32,
    pub after: Option<Cursor>,
    /// `format=csv`: the page as CSV, the next cursor in a header.
    pub csv: bool,
    /// `metadata.<key>=<value>` filters (all must match): a string value equal to it, or a
    /// number or boolean written the same way.
    pub metadata: Vec<(String, String)>,
}

/// The most `metadata.<key>` filters in one query.
pub const MAX_METADATA_FILTERS: usize = 5;

/// A metadata value as the filter compares it: strings as they are, numbers and booleans as
/// JSON writes them; objects, arrays and null never match.
pub fn metadata_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl UsageQuery {
    pub const PARAMS: &'static [&'static str] = &[
        "project_id",
        "provider",
        "model",
        "operation",
        "job_id",
        "session_id",
        "from",
        "to",
        "unpriced",
        "limit",
        "cursor",
        "format",
        "metadata.<key>",
    ];

    /// Parses the query string; a project key is confined to its own project.
    pub fn parse(query: &QueryPairs, principal: &Principal) -> Result<Self, CoreError> {
        let mut metadata = Vec::new();
        let mut rest: Vec<(String, String)> = Vec::new();
        for (k, v) in query {
            match k.strip_prefix("metadata.") {
                Some(key) => metadata.push((key.to_string(), v.clone())),
                None => rest.push((k.clone(), v.clone())),
            }
        }
        let query = &rest[..];
        only_known(query, Self::PARAMS)?;
        let mut p = Problems::new();
        let mut out = UsageQuery {
            limit: DEFAULT_PAGE,
            ..UsageQuery::default()
        };
        let requested = match param(query, "project_id") {
            Some(id) => ProjectId::parse(id)
                .map_err(|m| p.push("project_id", m))
                .ok(),
            None => None,
        };
        let text = |name: &str| {
            param(query, name)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        out.provider = text("provider").map(|v| canonical_provider(&v.to_ascii_lowercase()));
        out.model = text("model").map(|v| v.to_ascii_lowercase());
        out.operation = text("operation");
        out.job_id = text("job_id");
        out.session_id = text("session_id");
        let from = param(query, "from")
            .and_then(|v| parse_bound(v, false).map_err(|m| p.push("from", m)).ok());
        let to =
            param(query, "to").and_then(|v| parse_bound(v, true).map_err(|m| p.push("to", m)).ok());
        if let (Some(from), Some(to)) = (from, to) {
            if from >= to {
                p.push("to", "must be after `from`");
            }
        }
        out.from = from.map(format_timestamp);
        out.to = to.map(format_timestamp);
        if let Some(v) = param(query, "unpriced") {
            out.unpriced = parse_flag(v).map_err(|m| p.push("unpriced", m)).ok();
        }
        if let Some(v) = param(query, "limit") {
            match v.parse::<u32>() {
                Ok(n) if (1..=MAX_PAGE).contains(&n) => out.limit = n,
                _ => p.push(
                    "limit",
                    format!("must be a whole number from 1 to {MAX_PAGE}"),
                ),
            }
        }
        if let Some(v) = param(query, "cursor") {
            out.after = Cursor::decode(v).map_err(|m| p.push("cursor", m)).ok();
        }
        match param(query, "format") {
            None | Some("json") => {}
            Some("csv") => out.csv = true,
            Some(other) => p.push("format", format!("`{other}` is not json or csv")),
        }
        if metadata.len() > MAX_METADATA_FILTERS {
            p.push(
                "metadata",
                format!("at most {MAX_METADATA_FILTERS} metadata.<key> filters"),
            );
        }
        for (key, _) in &metadata {
            let ok = !key.is_empty()
                && key.len() <= 64
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !ok {
                p.push(
                    format!("metadata.{key}"),
                    "a metadata key is 1 to 64 letters, digits, `_` or `-`",
                );
            }
        }
        out.metadata = metadata;
        p.finish()?;
        out.project_id = principal.scope_to(requested.as_ref())?;
        Ok(out)
    }
}

/// One page of `GET /api/usage`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UsagePage {
    pub count: usize,
    pub events: Vec<crate::usage::record::EventView>,
    /// Pass as `cursor` for the next (older) page; `None` on the last page.
    pub next_cursor: Option<String>,
    /// When the range reaches back before the retention watermark: the events of earlier
    /// days were pruned from the raw rows and are not listed (every report still counts
    /// them). `None` when nothing of the range was pruned.
    pub pruned_before: Option<chrono::NaiveDate>,
}

/// The columns of `GET /api/usage?format=csv` before the usage kinds.
const EVENT_HEAD: [&str; 9] = [
    "id",
    "project_id",
    "timestamp",
    "provider",
    "model",
    "operation",
    "input_tokens",
    "output_tokens",
    "total_tokens",
];

/// The columns after the usage kinds.
const EVENT_TAIL: [&str; 12] = [
    "cost",
    "currency",
    "reported_cost",
    "unpriced_reason",
    "cached",
    "success",
    "session_id",
    "job_id",
    "duration_ms",
    "endpoint",
    "metadata",
    "price_id",
];

/// Every usage kind but the two token counts the head already has, in catalog order.
fn event_kind_columns() -> impl Iterator<Item = UsageKind> {
    UsageKind::ALL
        .into_iter()
        .filter(|k| !matches!(k, UsageKind::InputTokens | UsageKind::OutputTokens))
}

/// A page of events as CSV (a header row, then one row per event, newest first): the same
/// fields as the JSON, every usage kind as a column (empty when the event has none of it),
/// `metadata` as JSON text.
pub fn events_csv(page: &UsagePage) -> String {
    use crate::kernel::csv::cell;
    let header: Vec<&str> = EVENT_HEAD
        .into_iter()
        .chain(event_kind_columns().map(UsageKind::name))
        .chain(EVENT_TAIL)
        .collect();
    let mut out = header.join(",");
    out.push('\n');
    for e in &page.events {
        let usage = |k: UsageKind| match e.usage.get(k.name()) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(v) => crate::kernel::json_value::text(v),
            None => String::new(),
        };
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        let head = [
            e.id.clone(),
            e.project_id.clone(),
            e.timestamp.clone(),
            e.provider.clone(),
            e.model.clone(),
            opt(&e.operation),
            e.input_tokens.to_string(),
            e.output_tokens.to_string(),
            e.total_tokens.to_string(),
        ];
        let tail = [
            e.cost.map(|m| m.amount_string()).unwrap_or_default(),
            e.cost.map(|m| m.currency.to_string()).unwrap_or_default(),
            e.reported_cost
                .map(|m| m.amount_string())
                .unwrap_or_default(),
            e.unpriced
                .as_ref()
                .map(|u| u.code.clone())
                .unwrap_or_default(),
            e.cached.to_string(),
            e.success.to_string(),
            opt(&e.session_id),
            opt(&e.job_id),
            e.duration_ms.map(|d| d.to_string()).unwrap_or_default(),
            opt(&e.endpoint),
            e.metadata
                .as_ref()
                .map(|m| crate::kernel::json_value::text(&serde_json::Value::Object(m.clone())))
                .unwrap_or_default(),
            opt(&e.price_id),
        ];
        let row: Vec<String> = head
            .into_iter()
            .chain(event_kind_columns().map(usage))
            .chain(tail)
            .map(|c| cell(&c))
            .collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

/// Stored events matching the query, newest first, one page at a time.
pub async fn list_usage(
    store: &(impl crate::usage::store::UsageStore + crate::usage::store::RetentionStore),
    query: &UsageQuery,
) -> Result<UsagePage, CoreError> {
    let pruned_before = store
        .retention_state()
        .await?
        .pruned_before
        .filter(|watermark| {
            query
                .from
                .as_ref()
                .is_none_or(|from| crate::usage::retention::before_watermark(from, *watermark))
        });
    let mut rows = store.list_events(query).await?;
    let more = rows.len() > query.limit as usize;
    rows.truncate(query.limit as usize);
    let next_cursor = if more {
        rows.last().map(|last| {
            Cursor {
                timestamp: last.event.request_timestamp.clone(),
                seq: last.seq,
            }
            .encode()
        })
    } else {
        None
    };
    let events: Vec<_> = rows.iter().map(|r| r.event.view()).collect();
    Ok(UsagePage {
        count: events.len(),
        events,
        next_cursor,
        pruned_before,
    })
}

#[cfg(test)]
mod tests {
    use super::parse_bound;
    use crate::kernel::clock::format_timestamp;

    #[test]
    fn a_date_bound_ends_at_the_next_midnight_and_the_last_day_of_9999_at_its_last_instant() {
        let end = |day| format_timestamp(parse_bound(day, true).unwrap());
        assert_eq!(end("2026-11-23"), "2026-11-24T00:00:00.000Z");
        assert_eq!(end("9999-12-31"), "9999-12-31T23:59:59.999Z");
        assert_eq!(
            format_timestamp(parse_bound("9999-12-31", false).unwrap()),
            "9999-12-31T00:00:00.000Z"
        );
    }
}
