//! Usage stats, summary and realtime views; reading a report's rollups.

use super::*;
use crate::kernel::date_text::{date_text, minute_text, month_text};

/// What the usage statistics say about their source: stored usage only, never a provider.
pub const DATA_SOURCE: &str = "stored_usage";
pub const DATA_SOURCE_NOTE: &str =
    "Figures are sums of the usage events your apps reported and this service stored; no provider API is called.";

pub(super) fn by_dim(rows: &[ReportRow], dim: Dim) -> Vec<Value> {
    rows.iter()
        .map(|r| {
            let mut map = Map::new();
            for (d, v) in &r.dims {
                map.insert(d.name().into(), json!(v));
            }
            if dim == Dim::Operation {
                if let Some(Value::String(op)) = map.get("operation") {
                    if op.is_empty() {
                        map.insert("operation".into(), Value::Null);
                    }
                }
            }
            r.sums.fields(&mut map);
            Value::Object(map)
        })
        .collect()
}

/// Each provider's newest event in a bounded range (none for a range without a quarter hour).
pub(super) async fn newest_by_provider(
    store: &impl ReportStore,
    range: &Range,
    project: Option<&ProjectId>,
) -> Result<Vec<(String, String)>, StoreError> {
    match range
        .from
        .zip(range.to)
        .and_then(|(f, t)| QuarterSpan::new(f, t))
    {
        Some(span) => store.newest_by_provider(&span, project).await,
        None => Ok(Vec::new()),
    }
}

/// Each provider's entry with the timestamp of its newest event (`last_updated`, null when
/// its rows were pruned).
pub(super) fn with_newest(entries: Vec<Value>, newest: Vec<(String, String)>) -> Vec<Value> {
    let newest: LiteMap<String, String> = crate::kernel::sort::collect_map(newest);
    entries
        .into_iter()
        .map(|mut entry| {
            let last = entry
                .get("provider")
                .and_then(Value::as_str)
                .and_then(|p| newest.get(p))
                .cloned();
            if let Value::Object(map) = &mut entry {
                map.insert("last_updated".into(), json!(last));
            }
            entry
        })
        .collect()
}

/// The sums of every row.
pub fn total_of(rows: &[ReportRow]) -> Sums {
    let mut total = Sums::default();
    for row in rows {
        total.merge(&row.sums);
    }
    total
}

/// `GET /api/usage/stats`: today's and this month's totals, overall and per provider.
pub async fn usage_stats(
    store: &impl ReportStore,
    now: DateTime<Utc>,
    project: Option<&ProjectId>,
    query: &QueryPairs,
) -> Result<Value, CoreError> {
    only_known(query, &["tz", "project_id"])?;
    let tz = parse_tz(param(query, "tz"))?;
    let today = now.with_timezone(&tz).date_naive();
    let month = Range {
        from: Some(local_midnight(month_start(today), tz)),
        to: Some(local_midnight(next_month(today), tz)),
        tz,
    };
    let day = Range {
        from: Some(local_midnight(today, tz)),
        to: Some(local_midnight(today + Duration::days(1), tz)),
        tz,
    };
    // Two reads without buckets: in a zone other than UTC the month's whole UTC days come
    // from the daily rollups, and only today and the month's ends from the quarter-hour ones.
    let by_provider = |range: &Range| {
        let mut rollups = range.rollup_query(None);
        rollups.project_id = project.cloned();
        rollups.dims = vec![Dim::Provider];
        rollups
    };
    let today_rows = store.rollups(&by_provider(&day)).await?;
    let month_rows = store.rollups(&by_provider(&month)).await?;
    // Each provider's newest event, so that a provider whose calls stopped being reported
    // stands out.
    let today_newest = newest_by_provider(store, &day, project).await?;
    let month_newest = newest_by_provider(store, &month, project).await?;
    let today_label = date_text(today);
    let today_grouped = group_rows(&today_rows, None, &[Dim::Provider], tz);
    let month_grouped = group_rows(&month_rows, None, &[Dim::Provider], tz);
    let last = store.last_event_at(project).await?;
    Ok(json!({
        "data_source": DATA_SOURCE,
        "note": DATA_SOURCE_NOTE,
        "last_updated": last,
        "generated_at": format_timestamp(now),
        "project_id": project.map(ProjectId::as_str),
        "tz": tz.name(),
        "today": {
            "date": today_label,
            "totals": total_of(&today_grouped),
            "by_provider": with_newest(by_dim(&today_grouped, Dim::Provider), today_newest),
        },
        "month": {
            "month": month_text(today),
            "totals": total_of(&month_grouped),
            "by_provider": with_newest(by_dim(&month_grouped, Dim::Provider), month_newest),
        },
    }))
}

/// `GET /api/analytics/usage-summary`: total cost, and the cost by provider and by operation.
pub async fn usage_summary(
    store: &impl ReportStore,
    now: DateTime<Utc>,
    query: &QueryPairs,
) -> Result<Value, CoreError> {
    only_known(query, &["from", "to", "preset", "tz", "project_id"])?;
    let range = parse_range(query, now, "month")?;
    let mut rollups = range.rollup_query(None);
    rollups.project_id = crate::access::projects::project_param(query)?;
    rollups.dims = vec![Dim::Provider, Dim::Operation];
    let rows = store.rollups(&rollups).await?;
    let providers = group_rows(&rows, None, &[Dim::Provider], range.tz);
    let operations = group_rows(&rows, None, &[Dim::Operation], range.tz);
    Ok(json!({
        "data_source": DATA_SOURCE,
        "range": range.describe(),
        "totals": total_of(&providers),
        "by_provider": by_dim(&providers, Dim::Provider),
        "by_operation": by_dim(&operations, Dim::Operation),
    }))
}

/// `GET /api/analytics/realtime-usage`: the last 60 minutes by minute and the last 24 hours
/// by hour, every slot present (zeros included), oldest first.
pub async fn realtime_usage(
    store: &impl ReportStore,
    now: DateTime<Utc>,
    project: Option<&ProjectId>,
) -> Result<Value, CoreError> {
    let this_minute = now
        .with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(now);
    let first_minute = this_minute - Duration::minutes(59);
    let minutes = store
        .recent_minutes(&format_timestamp(first_minute), project)
        .await?;
    let mut by_minute: LiteMap<String, Sums> = LiteMap::new();
    for i in 0..60 {
        let label = minute_text(first_minute + Duration::minutes(i));
        by_minute.insert(label, Sums::default());
    }
    for row in &minutes {
        if let Some(sums) = by_minute.get_mut(&row.minute) {
            sums.measures[0] += row.events;
            sums.measures[1] += row.unpriced_events;
            if let Ok(c) = Currency::parse(&row.currency) {
                sums.cost.add(Money::new(row.cost_nanos, c));
            }
        }
    }
    let this_hour = this_minute.with_minute(0).unwrap_or(this_minute);
    let first_hour = this_hour - Duration::hours(23);
    let rollups = RollupQuery {
        quarters: true,
        from: Some(quarter_bucket(first_hour)),
        to: Some(quarter_bucket(this_hour + Duration::hours(1))),
        project_id: project.cloned(),
        by_bucket: true,
        ..RollupQuery::default()
    };
    let hours = store.rollups(&rollups).await?;
    let mut by_hour: LiteMap<String, Sums> = LiteMap::new();
    for i in 0..24 {
        by_hour.insert(
            hour_bucket(first_hour + Duration::hours(i)),
            Sums::default(),
        );
    }
    for row in &hours {
        // A quarter hour's bucket starts with its hour's.
        let hour = row.bucket.as_deref().and_then(|b| b.get(..13));
        if let Some(sums) = hour.and_then(|h| by_hour.get_mut(h)) {
            sums.add(row);
        }
    }
    let slot = |label: &String, sums: &Sums, suffix: &str| {
        json!({
            "start": format!("{label}{suffix}"),
            "events": sums.measure("events"),
            "unpriced_events": sums.measure("unpriced_events"),
            "cost": sums.cost,
        })
    };
    Ok(json!({
        "data_source": DATA_SOURCE,
        "generated_at": format_timestamp(now),
        "last_60_minutes": by_minute.iter().map(|(l, s)| slot(l, s, ":00Z")).collect::<Vec<_>>(),
        "last_24_hours": by_hour.iter().map(|(l, s)| slot(l, s, ":00:00Z")).collect::<Vec<_>>(),
    }))
}

/// What `GET /api/admin/usage` answers.
pub enum ReportOutput {
    Json(Value),
    Csv(String),
}

/// A range split by local period and longer than this many days (or open) is first narrowed
/// to the days that hold data: its [`PeriodPlan`] then follows the data, not the range asked
/// for (`from=1000-01-01` plans the days with usage, not a million).
pub const NARROW_AFTER_DAYS: i64 = 366;

/// The rollup rows of a report, and the query that read them.
pub async fn read_report(
    store: &impl ReportStore,
    q: &UsageReportQuery,
) -> Result<(RollupQuery, Vec<RollupRow>), CoreError> {
    let range = q.range;
    // A range split by local period in a zone other than UTC is read through a plan of its
    // days, which needs bounds: an open or long range is narrowed first to the days that hold
    // data (one indexed read of the daily rollups' ends).
    let long = match (range.from, range.to) {
        (Some(from), Some(to)) => (to - from).num_days() > NARROW_AFTER_DAYS,
        _ => true,
    };
    let mut rollup_query = if q.period.is_some() && range.split_by_quarters() && long {
        match store.rollup_days().await? {
            Some((first, last)) => q.rollup_query_over(range.within_days(first, last)),
            // No usage at all: a bounded range has nothing to plan and nothing to read (an
            // open one plans nothing, its bounds unknown).
            None => match range.from.zip(range.to) {
                Some((from, _)) => q.rollup_query_over(Range {
                    to: Some(from),
                    ..range
                }),
                None => q.rollup_query(),
            },
        }
    } else {
        q.rollup_query()
    };
    // A model filter matches the model as the reports group it (`catalog_model`): its dated
    // aliases and snapshots too, so `model=gpt-4o` totals what the `gpt-4o` row of
    // `group=model` shows. The rows are read by provider and model and kept here.
    let wanted = rollup_query.model.take();
    if wanted.is_some() {
        for dim in [Dim::Provider, Dim::Model] {
            if !rollup_query.dims.contains(&dim) {
                rollup_query.dims.push(dim);
            }
        }
    }
    let mut rows = store.rollups(&rollup_query).await?;
    if let Some(wanted) = &wanted {
        rows.retain(|r| {
            crate::pricing::catalog::filed_under(
                r.provider.as_deref().unwrap_or_default(),
                r.model.as_deref().unwrap_or_default(),
                wanted,
            )
        });
    }
    Ok((rollup_query, rows))
}
