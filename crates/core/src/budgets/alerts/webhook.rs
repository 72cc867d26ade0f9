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

/// What signs a webhook post when it is sent: the project's secret and the run's time. The
/// body is signed then, not when the alert is prepared, since it carries the alert's id, which
/// only the delivery knows (a retry keeps the first attempt's). `Debug` never shows the secret.
#[derive(Clone)]
pub struct WebhookSigner {
    pub secret: String,
    /// Unix seconds, sent as `x-ast-timestamp` and signed with the body.
    pub timestamp: String,
}

impl std::fmt::Debug for WebhookSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSigner")
            .field("secret", &"<redacted>")
            .field("timestamp", &self.timestamp)
            .finish()
    }
}

impl WebhookSigner {
    /// The body as posted (`body`, an object, with `alert_id` as its first member) and its
    /// headers: content type, time stamp, signature over exactly that text, and the id again as
    /// `x-ast-alert-id`.
    pub fn sign(&self, body: &str, alert_id: &str) -> (String, Vec<(String, String)>) {
        let body = with_alert_id(body, alert_id);
        let signature = sign_webhook(&self.secret, &self.timestamp, &body);
        let headers = vec![
            ("content-type".to_string(), "application/json".to_string()),
            ("x-ast-timestamp".to_string(), self.timestamp.clone()),
            ("x-ast-signature".to_string(), format!("sha256={signature}")),
            ("x-ast-alert-id".to_string(), alert_id.to_string()),
        ];
        (body, headers)
    }
}

/// `body`, a JSON object's text, with `"alert_id": <id>` as its first member.
fn with_alert_id(body: &str, alert_id: &str) -> String {
    // Every body is an object (`webhook_body`); anything else is sent as it is.
    let Some(rest) = body.trim_start().strip_prefix('{') else {
        return body.to_string();
    };
    let mut out = Vec::with_capacity(body.len() + alert_id.len() + 16);
    out.extend_from_slice(b"{\"alert_id\":");
    crate::kernel::json_out::push_str(&mut out, alert_id);
    if !rest.trim_start().starts_with('}') {
        out.push(b',');
    }
    out.extend_from_slice(rest.as_bytes());
    // Whole UTF-8 texts joined at ASCII bytes.
    String::from_utf8(out).unwrap_or_default()
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
        "spend_other_currencies": check.spend_other_currencies,
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
