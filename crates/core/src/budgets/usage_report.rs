//! `GET /api/admin/usage`: the admin's report of usage, where rows grouped by project carry
//! the project's budget status this month.

use chrono::{DateTime, Utc};

use crate::budgets::store::BudgetStore;
use crate::kernel::date_text::date_text;
use crate::kernel::error::CoreError;
use crate::kernel::query::QueryPairs;
use crate::reports::report::{
    budget_status, group_rows, merge_by_client, month_start, next_month, read_report, report_csv,
    report_json, Dim, ProjectInfo, ReportOutput, RollupQuery, UsageReportQuery,
};
use crate::reports::store::ReportStore;

/// `GET /api/admin/usage`: totals grouped by period and dimensions, as JSON or CSV. Rows that
/// group by project carry the project's name and budget status (this UTC month).
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
        let month_start_day = month_start(now.date_naive());
        let spend = store
            .rollups(&RollupQuery {
                from: Some(date_text(month_start_day)),
                to: Some(date_text(next_month(month_start_day))),
                dims: vec![Dim::Project],
                ..RollupQuery::default()
            })
            .await?;
        // Budgets in any currency; a project whose settings cannot be read shows no status.
        for settings in store.budgets().await?.into_iter().flatten() {
            let currency = settings.amount.map_or(settings.currency, |m| m.currency);
            let spent: i128 = spend
                .iter()
                .filter(|r| {
                    r.project_id.as_deref() == Some(settings.project_id.as_str())
                        && r.currency == currency.as_str()
                })
                .map(|r| r.cost_nanos)
                .sum();
            projects.push((
                settings.project_id.as_str().to_string(),
                ProjectInfo {
                    name: settings.project_name.clone(),
                    client: settings.project_client.clone(),
                    budget: budget_status(settings.amount, settings.alert_threshold_percent, spent),
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
