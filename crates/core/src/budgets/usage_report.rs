//! `GET /api/admin/usage`: the admin's report of usage, where rows grouped by project carry
//! the project's budget status this month.

use chrono::{DateTime, Utc};

use crate::budgets::alerts::month_range;
use crate::budgets::store::BudgetStore;
use crate::kernel::error::CoreError;
use crate::kernel::query::QueryPairs;
use crate::reports::report::{
    budget_status, group_rows, merge_by_client, read_report, report_csv, report_json, Dim,
    ProjectInfo, ReportOutput, UsageReportQuery,
};
use crate::reports::store::ReportStore;

/// `GET /api/admin/usage`: totals grouped by period and dimensions, as JSON or CSV. Rows that
/// group by project carry the project's name and budget status (this month in the budget's
/// time zone).
pub async fn admin_usage(
    store: &(impl ReportStore + BudgetStore),
    now: DateTime<Utc>,
    query: &QueryPairs,
) -> Result<ReportOutput, CoreError> {
    let q = UsageReportQuery::parse(query, now)?;
    let (rollup_query, rollups) = read_report(store, &q).await?;
    let rows = group_rows(&rollups, q.period, &q.dims, q.range.tz);
    let mut projects = Vec::new();
    if q.dims.contains(&Dim::Project) {
        // Each budget's month is the calendar month of its own time zone, as the check
        // counts it: one read per zone in use. Budgets in any currency; a project whose
        // settings cannot be read shows no status.
        let mut all = Vec::new();
        let mut zones = Vec::new();
        let mut queries = Vec::new();
        for settings in store.budgets().await?.into_iter().flatten() {
            let tz = settings.tz();
            if !zones.contains(&tz) {
                zones.push(tz);
                let mut query = month_range(tz, now).rollup_query(None);
                query.dims = vec![Dim::Project];
                queries.push(query);
            }
            all.push(settings);
        }
        let spend = store.rollups_many(&queries).await?;
        for settings in all {
            // The budget's currency (a project without a monthly budget has its daily
            // limit's: `BudgetSettings::currency`).
            let currency = settings.amount.map_or(settings.currency, |m| m.currency);
            let zone = zones.iter().position(|z| *z == settings.tz()).unwrap_or(0);
            let mut spent: i128 = 0;
            for r in spend.get(zone).map_or(&[][..], Vec::as_slice) {
                if r.project_id.as_deref() == Some(settings.project_id.as_str())
                    && r.currency == currency.as_str()
                {
                    spent += r.cost_nanos;
                }
            }
            // "alert" from the lowest level the budget alerts at.
            let alert_at = settings.effective_levels().first().copied().unwrap_or(100);
            projects.push((
                settings.project_id.as_str().to_string(),
                ProjectInfo {
                    name: settings.project_name.clone(),
                    client: settings.project_client.clone(),
                    budget: budget_status(settings.amount, currency, alert_at, spent),
                },
            ));
        }
    }
    let projects = crate::kernel::sort::collect_map(projects);
    let rows = if q.by_client {
        merge_by_client(rows, &projects, q.keep_project)
    } else {
        rows
    };
    Ok(if q.csv {
        ReportOutput::Csv(report_csv(&q, &rows, &projects))
    } else {
        ReportOutput::Json(report_json(
            &q,
            rollup_query.source(),
            &rows,
            &projects,
            false,
        ))
    })
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use pollster::block_on;
    use serde_json::json;

    use crate::reports::report::ReportOutput;
    use crate::usage::fixtures::World;

    #[test]
    fn a_projects_budget_status_counts_the_month_of_the_budgets_own_time_zone() {
        let world = World::new();
        world.set_budget(json!({
            "budget": {"amount": "100", "currency": "USD"},
            "timezone": "America/New_York",
            "alert_levels": [10, 50],
        }));
        // 01:00 UTC on November 1st is still October 31st in New York.
        world
            .send(json!({"events": [
                {"provider": "acme", "cost": "1", "currency": "USD", "timestamp": "2026-11-01T01:00:00Z"},
                {"provider": "acme", "cost": "14", "currency": "USD", "timestamp": "2026-11-03T12:00:00Z"},
            ]}))
            .unwrap();
        let now = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
        let query = [
            ("group".to_string(), "project".to_string()),
            ("preset".to_string(), "month".to_string()),
            ("tz".to_string(), "America/New_York".to_string()),
        ];
        let ReportOutput::Json(report) =
            block_on(super::admin_usage(&world.store, now, &query)).unwrap()
        else {
            panic!("a JSON report");
        };
        let row = &report["rows"][0];
        assert_eq!(row["cost"][0]["amount"], "14.00");
        let budget = &row["budget"];
        assert_eq!(budget["month_to_date"]["currency"], "USD");
        assert_eq!(
            (
                budget["month_to_date"]["amount"].as_str(),
                budget["percent_used"].as_str(),
                budget["status"].as_str()
            ),
            (Some("14.00"), Some("14.00"), Some("alert")),
            "{budget}"
        );
    }

    #[test]
    fn a_project_limited_only_by_day_in_pounds_counts_its_month_in_pounds() {
        let world = World::new();
        world.set_budget(json!({"daily_limit": {"amount": "100", "currency": "GBP"}}));
        world
            .send(json!({"provider": "acme", "cost": "12.29", "currency": "GBP", "timestamp": "2026-11-03T12:00:00Z"}))
            .unwrap();
        let now = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
        let query = [("group".to_string(), "project".to_string())];
        let ReportOutput::Json(report) =
            block_on(super::admin_usage(&world.store, now, &query)).unwrap()
        else {
            panic!("a JSON report");
        };
        let spent = &report["rows"][0]["budget"]["month_to_date"];
        assert_eq!(
            (spent["amount"].as_str(), spent["currency"].as_str()),
            (Some("12.29"), Some("GBP"))
        );
    }
}
