//! The signed webhook: its JSON body and HMAC-SHA256 signature.

use super::*;

/// `hex(HMAC-SHA256(secret, "<timestamp>.<body>"))`, sent as `x-ast-signature: sha256=<hex>`.
pub fn sign_webhook(secret: &str, timestamp: &str, body: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The webhook body: the message as Slack's `text` and Discord's `content` (each ignores the
/// other's field), plus the figures.
pub fn webhook_body(
    check: &ProjectCheck,
    level: &str,
    alert: &RenderedAlert,
    config: &AlertConfig,
) -> String {
    let text = format!(
        "{}\n{}",
        alert.subject,
        check.recommendations.first().cloned().unwrap_or_default()
    )
    .trim()
    .to_string();
    crate::kernel::json_value::text(&json!({
        "content": text,
        "text": text,
        "project_id": check.project_id,
        "project_name": check.project_name,
        "level": level,
        "spend": check.spend,
        "budget": check.budget,
        "percent_used": check.percent_used,
        "forecast": check.forecast,
        "today_spend": check.today_spend,
        "daily_limit": check.daily_limit,
        "period": check.period,
        "top_providers": check.top_providers,
        "top_models": check.top_models,
        "recommendations": check.recommendations,
        "dashboard_url": dashboard_link(config, &check.project_id),
    }))
}
