//! Binding, variable and secret names, in one place, and the typed state read from them once
//! per request.

use worker::Env;

use crate::core::error::CoreError;

use super::d1::D1Store;
use super::http::CorsPolicy;

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
