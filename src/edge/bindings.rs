//! Binding, variable and secret names, in one place, and the typed state read from them once
//! per request.

use worker::Env;

use crate::core::kernel::error::CoreError;
use crate::core::usage::ingest::IngestConfig;
use crate::core::usage::otlp::SpanRules;
use crate::core::usage::retention::RetentionConfig;

use super::d1::D1Store;
use super::http::CorsPolicy;
use super::r2::R2Log;

/// The D1 database (`[[d1_databases]] binding`).
pub const DB: &str = "DB";
/// The R2 bucket holding the raw usage log and summaries.
pub const USAGE_BUCKET: &str = "USAGE_BUCKET";
/// Static assets (the dashboard in `public/`).
pub const ASSETS: &str = "ASSETS";
/// Secret: the admin key.
pub const ADMIN_API_KEY: &str = "ADMIN_API_KEY";
/// Var: comma-separated origins allowed by CORS.
pub const ALLOWED_ORIGINS: &str = "ALLOWED_ORIGINS";
/// The `send_email` binding alerts go out through.
pub const ALERT_EMAIL: &str = "ALERT_EMAIL";
/// Var: the sender address of alert email.
pub const ALERT_FROM: &str = "ALERT_FROM";
pub const ALERT_TO: &str = "ALERT_TO";
/// Var: the dashboard's public URL, linked from alerts.
pub const DASHBOARD_URL: &str = "DASHBOARD_URL";
/// Var: how many days late a usage event may arrive (default 90).
pub const MAX_EVENT_AGE_DAYS: &str = "MAX_EVENT_AGE_DAYS";
/// The span attribute whose value is a span's job (`POST /v1/traces`); unset: the trace id.
pub const OTLP_JOB_ATTRIBUTE: &str = "OTLP_JOB_ATTRIBUTE";
/// Var: how many days raw usage rows stay in D1 (empty or 0: forever).
pub const USAGE_RETENTION_DAYS: &str = "USAGE_RETENTION_DAYS";

/// What a request handler needs from the environment.
pub struct AppState {
    pub store: D1Store,
    pub admin_key: Option<String>,
    pub cors: CorsPolicy,
}

impl AppState {
    pub fn load(env: &Env) -> Result<Self, CoreError> {
        let db = env
            .d1(DB)
            .map_err(|e| CoreError::Misconfigured(format!("D1 binding `{DB}`: {e}")))?;
        let admin_key = env
            .secret(ADMIN_API_KEY)
            .ok()
            .map(|s| s.to_string())
            .filter(|s| !s.is_empty());
        if admin_key.is_none() {
            worker::console_warn!("secret {ADMIN_API_KEY} is not set: admin routes answer 401");
        }
        Ok(Self {
            store: D1Store::new(db),
            admin_key,
            cors: Self::cors(env),
        })
    }

    /// CORS needs only a var, so it can be read even when other bindings are missing.
    pub fn cors(env: &Env) -> CorsPolicy {
        env.var(ALLOWED_ORIGINS)
            .map(|v| CorsPolicy::from_list(&v.to_string()))
            .unwrap_or_default()
    }
}

/// The raw usage log; only the routes that read or write it load the bucket.
pub fn raw_log(env: &Env) -> Result<R2Log, CoreError> {
    env.bucket(USAGE_BUCKET)
        .map(R2Log::new)
        .map_err(|e| CoreError::Misconfigured(format!("R2 binding `{USAGE_BUCKET}`: {e}")))
}

/// Ingestion settings from vars; a missing or unreadable value falls back to the default.
pub fn ingest_config(env: &Env) -> IngestConfig {
    let mut config = IngestConfig::default();
    if let Ok(value) = env.var(MAX_EVENT_AGE_DAYS) {
        match value.to_string().trim().parse::<i64>() {
            Ok(days) if (1..=3650).contains(&days) => config.max_event_age_days = days,
            _ => worker::console_warn!(
                "var {MAX_EVENT_AGE_DAYS} must be a whole number of days from 1 to 3650; using {}",
                config.max_event_age_days
            ),
        }
    }
    config
}

/// How spans become events: the job attribute from `OTLP_JOB_ATTRIBUTE` (empty: the trace id).
pub fn span_rules(env: &Env) -> SpanRules {
    SpanRules {
        job_attribute: env
            .var(OTLP_JOB_ATTRIBUTE)
            .ok()
            .map(|v| v.to_string().trim().to_string())
            .filter(|v| !v.is_empty()),
    }
}

/// The retention of raw usage rows; an unreadable value keeps every row (and says so).
pub fn retention_config(env: &Env) -> RetentionConfig {
    let Ok(value) = env.var(USAGE_RETENTION_DAYS) else {
        return RetentionConfig::default();
    };
    RetentionConfig::parse(&value.to_string()).unwrap_or_else(|problem| {
        worker::console_warn!("var {USAGE_RETENTION_DAYS}: {problem}; keeping every row");
        RetentionConfig::default()
    })
}

/// Alert settings from vars; empty values count as unset.
pub fn alert_config(env: &Env) -> crate::core::budgets::alerts::AlertConfig {
    let var = |name: &str| {
        env.var(name)
            .ok()
            .map(|v| v.to_string().trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let (default_emails, malformed) = crate::core::budgets::alerts::AlertConfig::parse_recipients(
        &var(ALERT_TO).unwrap_or_default(),
    );
    if !malformed.is_empty() {
        worker::console_warn!(
            "var {ALERT_TO}: left out (not an email address, or past the 20th): {}",
            malformed.join(", ")
        );
    }
    crate::core::budgets::alerts::AlertConfig {
        from_address: var(ALERT_FROM),
        dashboard_url: var(DASHBOARD_URL),
        default_emails,
    }
}
