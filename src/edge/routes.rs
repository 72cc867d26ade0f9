//! The one route table. Every route the worker answers is a row here with its method, path
//! pattern and who may call it; `GET /api/openapi.json` must document every row (a test
//! checks), and the router dispatches on [`RouteName`].

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without a key.
    Public,
    /// The admin key only; a project key gets 403.
    Admin,
    /// The admin key or a project key (scoped to its own project).
    AnyKey,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteName {
    Healthz,
    OpenApi,
    ListProjects,
    CreateProject,
    GetProject,
    UpdateProject,
    DeleteProject,
    ListKeys,
    CreateKey,
    RevokeKey,
    ListPrices,
    QuotePrice,
    ListCustomPrices,
    AddCustomPrices,
    DeleteCustomPrice,
    ImportPrices,
    RecordUsage,
    OtlpTraces,
    Guard,
    GuardStatus,
    ReleaseReservation,
    ListUsage,
    Rebuild,
    Retention,
    Prune,
    UnpricedModels,
    Reprice,
    AdminUsage,
    UsageStats,
    AdminStats,
    UsageSummary,
    RealtimeUsage,
    Jobs,
    JobSummary,
    RunScheduled,
    GetBudget,
    PatchBudget,
    ReportPreview,
    SendReport,
    CheckBudgetsDryRun,
    CheckBudgets,
    Alerts,
    ListPlans,
    PutPlan,
    DeletePlan,
    Capacity,
    PutProfile,
    DeleteProfile,
}

#[derive(Debug, Clone, Copy)]
pub struct RouteDef {
    pub method: &'static str,
    pub pattern: &'static str,
    pub name: RouteName,
    pub access: Access,
}

const fn route(
    method: &'static str,
    pattern: &'static str,
    name: RouteName,
    access: Access,
) -> RouteDef {
    RouteDef {
        method,
        pattern,
        name,
        access,
    }
}

pub const ROUTES: &[RouteDef] = &[
    route("GET", "/healthz", RouteName::Healthz, Access::Public),
    route(
        "GET",
        "/api/openapi.json",
        RouteName::OpenApi,
        Access::Public,
    ),
    route(
        "GET",
        "/api/admin/projects",
        RouteName::ListProjects,
        Access::Admin,
    ),
    route(
        "POST",
        "/api/admin/projects",
        RouteName::CreateProject,
        Access::Admin,
    ),
    route(
        "GET",
        "/api/admin/projects/{id}",
        RouteName::GetProject,
        Access::Admin,
    ),
    route(
        "PATCH",
        "/api/admin/projects/{id}",
        RouteName::UpdateProject,
        Access::Admin,
    ),
    route(
        "DELETE",
        "/api/admin/projects/{id}",
        RouteName::DeleteProject,
        Access::Admin,
    ),
    route(
        "GET",
        "/api/admin/projects/{id}/keys",
        RouteName::ListKeys,
        Access::Admin,
    ),
    route(
        "POST",
        "/api/admin/projects/{id}/keys",
        RouteName::CreateKey,
        Access::Admin,
    ),
    route(
        "DELETE",
        "/api/admin/projects/{id}/keys/{key_id}",
        RouteName::RevokeKey,
        Access::Admin,
    ),
    route("GET", "/api/prices", RouteName::ListPrices, Access::AnyKey),
    route(
        "POST",
        "/api/prices/quote",
        RouteName::QuotePrice,
        Access::AnyKey,
    ),
    route(
        "GET",
        "/api/admin/prices",
        RouteName::ListCustomPrices,
        Access::Admin,
    ),
    route(
        "POST",
        "/api/admin/prices",
        RouteName::AddCustomPrices,
        Access::Admin,
    ),
    route(
        "POST",
        "/api/admin/prices/import",
        RouteName::ImportPrices,
        Access::Admin,
    ),
    route(
        "DELETE",
        "/api/admin/prices/{id}",
        RouteName::DeleteCustomPrice,
        Access::Admin,
    ),
    route("POST", "/api/usage", RouteName::RecordUsage, Access::AnyKey),
    route(
        "POST",
        "/api/usage/log",
        RouteName::RecordUsage,
        Access::AnyKey,
    ),
    route(
        "POST",
        super::otlp::TRACES_PATH,
        RouteName::OtlpTraces,
        Access::AnyKey,
    ),
    route("POST", "/api/usage/guard", RouteName::Guard, Access::AnyKey),
    route(
        "GET",
        "/api/usage/guard",
        RouteName::GuardStatus,
        Access::AnyKey,
    ),
    route(
        "DELETE",
        "/api/usage/guard/{id}",
        RouteName::ReleaseReservation,
        Access::AnyKey,
    ),
    route("GET", "/api/usage", RouteName::ListUsage, Access::AnyKey),
    route(
        "POST",
        "/api/admin/rebuild",
        RouteName::Rebuild,
        Access::Admin,
    ),
    route(
        "GET",
        "/api/admin/retention",
        RouteName::Retention,
        Access::Admin,
    ),
    route(
        "POST",
        "/api/admin/retention/prune",
        RouteName::Prune,
        Access::Admin,
    ),
    route(
        "GET",
        "/api/admin/prices/unpriced",
        RouteName::UnpricedModels,
        Access::Admin,
    ),
    route(
        "POST",
        "/api/admin/usage/reprice",
        RouteName::Reprice,
        Access::Admin,
    ),
    route(
        "GET",
        "/api/admin/usage",
        RouteName::AdminUsage,
        Access::Admin,
    ),
    route(
        "GET",
        "/api/usage/stats",
        RouteName::UsageStats,
        Access::AnyKey,
    ),
    route(
        "GET",
        "/api/admin/stats",
        RouteName::AdminStats,
        Access::Admin,
    ),
    route(
        "GET",
        "/api/analytics/usage-summary",
        RouteName::UsageSummary,
        Access::Admin,
    ),
    route(
        "GET",
        "/api/analytics/realtime-usage",
        RouteName::RealtimeUsage,
        Access::Admin,
    ),
    route(
        "GET",
        "/api/admin/usage/jobs",
        RouteName::Jobs,
        Access::Admin,
    ),
    route(
        "GET",
        "/api/admin/usage/jobs/summary",
        RouteName::JobSummary,
        Access::Admin,
    ),
    route(
        "POST",
        "/api/admin/cron/run",
        RouteName::RunScheduled,
        Access::Admin,
    ),
    route(
        "GET",
        "/api/admin/projects/{id}/budget",
        RouteName::GetBudget,
        Access::Admin,
    ),
    route(
        "PATCH",
        "/api/admin/projects/{id}/budget",
        RouteName::PatchBudget,
        Access::Admin,
    ),
    route(
        "GET",
        "/api/admin/projects/{id}/report",
        RouteName::ReportPreview,
        Access::Admin,
    ),
    route(
        "POST",
        "/api/admin/projects/{id}/report",
        RouteName::SendReport,
        Access::Admin,
    ),
    route(
        "GET",
        "/api/admin/usage/check-budgets",
        RouteName::CheckBudgetsDryRun,
        Access::Admin,
    ),
    route(
        "POST",
        "/api/admin/usage/check-budgets",
        RouteName::CheckBudgets,
        Access::Admin,
    ),
    route("GET", "/api/admin/alerts", RouteName::Alerts, Access::Admin),
    route(
        "GET",
        "/api/admin/subscriptions",
        RouteName::ListPlans,
        Access::Admin,
    ),
    route(
        "PUT",
        "/api/admin/subscriptions",
        RouteName::PutPlan,
        Access::Admin,
    ),
    route(
        "DELETE",
        "/api/admin/subscriptions",
        RouteName::DeletePlan,
        Access::Admin,
    ),
    route(
        "GET",
        "/api/admin/capacity",
        RouteName::Capacity,
        Access::Admin,
    ),
    route(
        "PUT",
        "/api/admin/capacity/profiles",
        RouteName::PutProfile,
        Access::Admin,
    ),
    route(
        "DELETE",
        "/api/admin/capacity/profiles",
        RouteName::DeleteProfile,
        Access::Admin,
    ),
];

/// A matched route and its path parameters, in pattern order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    pub def_index: usize,
    pub params: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteMiss {
    NotFound,
    /// The path exists, with these methods.
    MethodNotAllowed(Vec<&'static str>),
}

fn match_pattern(pattern: &str, path: &str) -> Option<Vec<String>> {
    let path = path
        .strip_suffix('/')
        .filter(|p| !p.is_empty())
        .unwrap_or(path);
    let mut pattern_parts = pattern.split('/');
    let mut path_parts = path.split('/');
    let mut params = Vec::new();
    loop {
        match (pattern_parts.next(), path_parts.next()) {
            (None, None) => return Some(params),
            (Some(p), Some(s)) if p.starts_with('{') && p.ends_with('}') => {
                if s.is_empty() {
                    return None;
                }
                params.push(percent_decode(s)?);
            }
            (Some(p), Some(s)) if p == s => {}
            _ => return None,
        }
    }
}

/// Decodes `%XX` escapes of a path segment; `None` for invalid escapes or UTF-8.
fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Finds the route for a method and path.
/// `HEAD` matches the `GET` route of the path (RFC 9110: its answer is the GET's without the
/// body, which the router drops).
pub fn match_route(method: &str, path: &str) -> Result<Matched, RouteMiss> {
    let mut allowed = Vec::new();
    for (index, def) in ROUTES.iter().enumerate() {
        if let Some(params) = match_pattern(def.pattern, path) {
            if def.method == method || (method == "HEAD" && def.method == "GET") {
                return Ok(Matched {
                    def_index: index,
                    params,
                });
            }
            allowed.push(def.method);
        }
    }
    if allowed.is_empty() {
        return Err(RouteMiss::NotFound);
    }
    // A path with a GET answers HEAD too, so `Allow` says so.
    if let Some(get) = allowed.iter().position(|m| *m == "GET") {
        allowed.insert(get + 1, "HEAD");
    }
    Err(RouteMiss::MethodNotAllowed(allowed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_their_route_and_capture_parameters() {
        let m = match_route("DELETE", "/api/admin/projects/ads/keys/key_1").unwrap();
        assert_eq!(ROUTES[m.def_index].name, RouteName::RevokeKey);
        assert_eq!(m.params, vec!["ads", "key_1"]);
        let m = match_route("GET", "/api/admin/projects/").unwrap();
        assert_eq!(ROUTES[m.def_index].name, RouteName::ListProjects);
    }

    #[test]
    fn head_matches_the_get_route_of_a_path_and_no_other() {
        let m = match_route("HEAD", "/api/usage").unwrap();
        assert_eq!(ROUTES[m.def_index].method, "GET");
        assert_eq!(
            ROUTES[m.def_index].name,
            match_route("GET", "/api/usage")
                .map(|m| ROUTES[m.def_index].name)
                .unwrap()
        );
        assert_eq!(
            match_route("HEAD", "/api/prices/quote"),
            Err(RouteMiss::MethodNotAllowed(vec!["POST"]))
        );
    }

    #[test]
    fn a_known_path_with_another_method_lists_the_allowed_ones() {
        assert_eq!(
            match_route("PUT", "/api/admin/projects"),
            Err(RouteMiss::MethodNotAllowed(vec!["GET", "HEAD", "POST"]))
        );
        assert_eq!(match_route("GET", "/nope"), Err(RouteMiss::NotFound));
        assert_eq!(
            match_route("GET", "/api/admin/projects//keys"),
            Err(RouteMiss::NotFound)
        );
    }

    #[test]
    fn every_route_is_unique() {
        for (i, a) in ROUTES.iter().enumerate() {
            for b in &ROUTES[i + 1..] {
                assert!(
                    !(a.method == b.method && a.pattern == b.pattern),
                    "{} {} twice",
                    a.method,
                    a.pattern
                );
            }
        }
    }

    #[test]
    fn percent_escapes_in_parameters_are_decoded() {
        let m = match_route("GET", "/api/admin/projects/a%2Db").unwrap();
        assert_eq!(m.params, vec!["a-b"]);
    }
}
