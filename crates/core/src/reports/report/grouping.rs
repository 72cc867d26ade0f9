//! Grouping rollup rows by period and dimension; a project's budget status; JSON and CSV.

use super::*;
use crate::pricing::catalog::catalog_model;

/// One row of a grouped report.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportRow {
    pub period: Option<String>,
    pub dims: Vec<(Dim, String)>,
    pub sums: Sums,
    /// With `group=client`: the client of the row's projects (`None`: projects without one).
    pub client: Option<String>,
    /// Grouped by model: the names the events were recorded under, other than the row's
    /// catalog model (dated aliases and snapshots, such as `gpt-4o-2024-08-06` under
    /// `gpt-4o`), sorted.
    pub aliases: Vec<String>,
}

/// Rows by project merged per client (`group=client`): the project dimension is dropped
/// unless it was asked for too. Rows come out sorted by period, dimensions and client.
pub fn merge_by_client(
    rows: Vec<ReportRow>,
    projects: &LiteMap<String, ProjectInfo>,
    keep_project: bool,
) -> Vec<ReportRow> {
    type Key = (Option<String>, Vec<(Dim, String)>, Option<String>);
    let mut keyed: Vec<(Key, ReportRow)> = Vec::with_capacity(rows.len());
    for mut row in rows {
        let project = row
            .dims
            .iter()
            .find(|(d, _)| *d == Dim::Project)
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let client = projects.get(&project).and_then(|p| p.client.clone());
        let dims: Vec<(Dim, String)> = std::mem::take(&mut row.dims)
            .into_iter()
            .filter(|(d, _)| keep_project || *d != Dim::Project)
            .collect();
        keyed.push(((row.period.take(), dims, client), row));
    }
    let groups = crate::kernel::sort::fold_by_key(
        keyed,
        |group: &mut (Sums, Vec<String>), row: ReportRow| {
            group.0.merge(&row.sums);
            group.1.extend(row.aliases);
        },
    );
    groups
        .into_iter()
        .map(|((period, dims, client), (sums, aliases))| ReportRow {
            period,
            dims,
            sums,
            client,
            aliases: crate::kernel::sort::distinct(aliases),
        })
        .collect()
}

/// Groups rollup rows by period and dimensions; rows come out sorted by period then
/// dimensions. Grouped by provider and model, a model's dated aliases and snapshots are one
/// row under the catalog model ([`catalog_model`]), the names seen kept in its `aliases`.
pub fn group_rows(
    rows: &[RollupRow],
    period: Option<Period>,
    dims: &[Dim],
    tz: Tz,
) -> Vec<ReportRow> {
    let by_catalog_model = dims.contains(&Dim::Model) && dims.contains(&Dim::Provider);
    type Key = (Option<String>, Vec<String>);
    let mut keyed: Vec<(Key, (&RollupRow, Option<String>))> = Vec::with_capacity(rows.len());
    for row in rows {
        let label = match (period, &row.period, &row.bucket) {
            (Some(_), Some(label), _) => Some(label.clone()),
            (Some(p), None, Some(bucket)) => period_of(bucket, p, tz),
            _ => None,
        };
        let mut alias = None;
        let key: Vec<String> = dims
            .iter()
            .map(|d| {
                let value = row.dim(*d).unwrap_or_default();
                if *d == Dim::Model && by_catalog_model {
                    let model = catalog_model(row.provider.as_deref().unwrap_or_default(), value);
                    if model != value {
                        alias = Some(value.to_string());
                    }
                    model
                } else {
                    value.to_string()
                }
            })
            .collect();
        keyed.push(((label, key), (row, alias)));
    }
    let groups = crate::kernel::sort::fold_by_key(
        keyed,
        |group: &mut (Sums, Vec<String>), (row, alias): (&RollupRow, Option<String>)| {
            group.0.add(row);
            group.1.extend(alias);
        },
    );
    groups
        .into_iter()
        .map(|((period, key), (sums, aliases))| ReportRow {
            period,
            dims: dims.iter().copied().zip(key).collect(),
            sums,
            client: None,
            aliases: crate::kernel::sort::distinct(aliases),
        })
        .collect()
}

/// A project's spend this month against its budget.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetStatus {
    pub budget: Option<Money>,
    pub alert_threshold_percent: u16,
    pub month_to_date: Money,
    /// Spend as a percentage of the budget, two decimals, as text.
    pub percent_used: Option<String>,
    /// `no_budget`, `ok`, `alert` (at or above the alert threshold) or `over` (at or above 100%).
    pub status: &'static str,
}

/// `month_to_date` is in the budget's currency, or in `currency` (the project's: its daily
/// limit's) when it has no budget.
pub fn budget_status(
    budget: Option<Money>,
    currency: Currency,
    alert_threshold_percent: u16,
    month_to_date: i128,
) -> BudgetStatus {
    let currency = budget.map_or(currency, |b| b.currency);
    let spent = Money::new(month_to_date, currency);
    let Some(budget) = budget.filter(|b| b.nanos > 0) else {
        return BudgetStatus {
            budget,
            alert_threshold_percent,
            month_to_date: spent,
            percent_used: None,
            status: "no_budget",
        };
    };
    // Basis points of the budget, rounded half to even.
    let basis = crate::kernel::money::div_round_half_even(spent.nanos * 10_000, budget.nanos);
    let status = if basis >= 10_000 {
        "over"
    } else if basis >= i128::from(alert_threshold_percent) * 100 {
        "alert"
    } else {
        "ok"
    };
    BudgetStatus {
        budget: Some(budget),
        alert_threshold_percent,
        month_to_date: spent,
        percent_used: Some(format_scaled(basis, 2, 2)),
        status,
    }
}

/// What a report shows beside a project's id.
#[derive(Debug, Clone)]
pub struct ProjectInfo {
    pub name: String,
    pub client: Option<String>,
    pub budget: BudgetStatus,
}

/// The JSON answer of `GET /api/admin/usage`.
pub fn report_json(
    query: &UsageReportQuery,
    source: &str,
    rows: &[ReportRow],
    projects: &LiteMap<String, ProjectInfo>,
    truncated: bool,
) -> Value {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows.iter().take(query.limit) {
        let mut map = Map::new();
        if let Some(period) = &row.period {
            map.insert("period".into(), json!(period));
        }
        if query.client_column() {
            map.insert("client".into(), json!(row.client));
        }
        for (dim, value) in &row.dims {
            let shown = if *dim == Dim::Operation && value.is_empty() {
                Value::Null
            } else {
                json!(value)
            };
            map.insert(dim.name().into(), shown);
            if *dim == Dim::Model {
                map.insert("aliases".into(), json!(row.aliases));
            }
            if *dim == Dim::Project {
                let known = projects.get(value);
                map.insert("project_name".into(), json!(known.map(|p| &p.name)));
                map.insert(
                    "client".into(),
                    json!(known.and_then(|p| p.client.as_ref())),
                );
                map.insert("budget".into(), json!(known.map(|p| &p.budget)));
            }
        }
        row.sums.fields(&mut map);
        out.push(Value::Object(map));
    }
    let totals = total_of(rows);
    json!({
        "range": query.range.describe(),
        "group": {
            "period": query.period.map(|p| match p { Period::Day => "day", Period::Week => "week", Period::Month => "month" }),
            "by": query
                .shown_dims()
                .iter()
                .map(|d| d.name())
                .chain(query.by_client.then_some("client"))
                .collect::<Vec<_>>(),
        },
        "source": source,
        "totals": totals,
        "count": out.len(),
        "truncated": truncated || rows.len() > query.limit,
        "rows": out,
    })
}

/// The same rows as CSV with a header row; one cost column per currency present.
pub fn report_csv(
    query: &UsageReportQuery,
    rows: &[ReportRow],
    projects: &LiteMap<String, ProjectInfo>,
) -> String {
    let rows = &rows[..rows.len().min(query.limit)];
    let currencies = crate::kernel::sort::distinct(
        rows.iter()
            .flat_map(|r| r.sums.cost.iter().map(|m| m.currency)),
    );
    let mut header: Vec<String> = Vec::new();
    if query.period.is_some() {
        header.push("period".into());
    }
    if query.client_column() {
        header.push("client".into());
    }
    for dim in &query.shown_dims() {
        header.push(dim.name().into());
        if *dim == Dim::Model {
            header.push("aliases".into());
        }
        if *dim == Dim::Project {
            header.push("project_name".into());
            header.push("client".into());
        }
    }
    for c in &currencies {
        header.push(format!("cost_{}", c.as_str().to_ascii_lowercase()));
    }
    for m in &MEASURES[..SHOWN_MEASURES] {
        header.push(shown_name(m).0.to_string());
    }
    let mut out = header.join(",");
    out.push('\n');
    for row in rows {
        let mut cells: Vec<String> = Vec::new();
        if query.period.is_some() {
            cells.push(cell(row.period.as_deref().unwrap_or_default()));
        }
        if query.client_column() {
            cells.push(cell(row.client.as_deref().unwrap_or_default()));
        }
        for (dim, value) in &row.dims {
            cells.push(cell(value));
            if *dim == Dim::Model {
                cells.push(cell(&row.aliases.join(" ")));
            }
            if *dim == Dim::Project {
                cells.push(cell(
                    projects
                        .get(value)
                        .map(|p| p.name.as_str())
                        .unwrap_or_default(),
                ));
                cells.push(cell(
                    projects
                        .get(value)
                        .and_then(|p| p.client.as_deref())
                        .unwrap_or_default(),
                ));
            }
        }
        for c in &currencies {
            cells.push(row.sums.cost.get(*c).amount_string());
        }
        for (name, value) in MEASURES[..SHOWN_MEASURES].iter().zip(row.sums.measures) {
            cells.push(if shown_name(name).1 {
                format_scaled(i128::from(value), 6, 0)
            } else {
                value.to_string()
            });
        }
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}
