//! The alert email: subject, plain text, HTML, and its MIME message.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::*;
use crate::kernel::date_text::email_date;

/// HTML text escaping: every user-supplied string goes through this.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The rendered alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedAlert {
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub(super) fn level_words(level: &str) -> String {
    match level.strip_prefix("budget-") {
        Some("100") => "is over its monthly budget".into(),
        Some(p) => format!("passed {p}% of its monthly budget"),
        None if level == "spike" => "is spending far above its usual daily rate today".into(),
        None => "passed its daily limit".into(),
    }
}

/// What stays as it is in the dashboard link's `project` value: letters, digits, `-`, `_`, `.`.
const PROJECT_VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');

pub(crate) fn dashboard_link(config: &AlertConfig, project: &str) -> Option<String> {
    config.dashboard_url.as_ref().map(|base| {
        let base = base.trim_end_matches('/');
        if project.is_empty() {
            // A global plan's alert: the dashboard of every project.
            format!("{base}/")
        } else {
            format!(
                "{base}/?project={}",
                utf8_percent_encode(project, PROJECT_VALUE)
            )
        }
    })
}

/// The month's spend in currencies other than the budget's, which no budget counts
/// ("12.30 EUR, 4.00 GBP"); `None` when there is none.
pub(crate) fn other_currencies(check: &ProjectCheck) -> Option<String> {
    let list: Vec<String> = check
        .spend_other_currencies
        .iter()
        .map(|m| m.rounded())
        .collect();
    (!list.is_empty()).then(|| list.join(", "))
}

/// The email and webhook text of one alert.
pub fn render_alert(check: &ProjectCheck, level: &str, config: &AlertConfig) -> RenderedAlert {
    let name = &check.project_name;
    let percent = check.percent_used.clone().unwrap_or_else(|| "0.00".into());
    let budget = check
        .budget
        .map(|b| b.rounded())
        .unwrap_or_else(|| "no budget".into());
    let subject = if level == "spike" {
        format!(
            "[AI spend] {name}: {} today, {}x its average day of {}",
            check.today_spend.rounded(),
            spike_ratio(check),
            check
                .baseline_daily
                .map(|m| m.rounded())
                .unwrap_or_default()
        )
    } else if level == "daily" {
        format!(
            "[AI spend] {name}: {} today, over the daily limit of {}",
            check.today_spend.rounded(),
            check.daily_limit.map(|m| m.rounded()).unwrap_or_default()
        )
    } else {
        format!(
            "[AI spend] {name} at {percent}% of budget: {} of {budget}",
            check.spend.rounded()
        )
    };
    let link = dashboard_link(config, &check.project_id);
    let mut text = format!(
        "Project {name} ({}) {}.\n\nSpent this month: {} of {budget} ({percent}%).\nForecast for the month: {} ({}% of the budget).\nSpent today: {}{}.\n",
        check.project_id,
        level_words(level),
        check.spend.rounded(),
        check.forecast.rounded(),
        check.forecast_percent.clone().unwrap_or_else(|| "-".into()),
        check.today_spend.rounded(),
        check
            .daily_limit
            .map(|l| format!(" (daily limit {})", l.rounded()))
            .unwrap_or_default(),
    );
    let others = other_currencies(check).map(|list| {
        format!(
            "Also spent this month in other currencies, not counted against the budget: {list}."
        )
    });
    if let Some(line) = &others {
        text.push_str(line);
        text.push('\n');
    }
    if let Some(b) = check.baseline_daily {
        text.push_str(&format!(
            "Average day of the {BASELINE_DAYS} before today: {} (today is {}x that).\n",
            b.rounded(),
            spike_ratio(check)
        ));
    }
    if !check.top_providers.is_empty() {
        text.push_str("\nTop providers:\n");
        for b in &check.top_providers {
            text.push_str(&format!(
                "  - {}: {} ({}%)\n",
                b.provider,
                b.cost.rounded(),
                b.share
            ));
        }
    }
    if !check.top_models.is_empty() {
        text.push_str("\nTop models:\n");
        for b in &check.top_models {
            text.push_str(&format!(
                "  - {} / {}: {} ({}%)\n",
                b.provider,
                b.model.clone().unwrap_or_default(),
                b.cost.rounded(),
                b.share
            ));
        }
    }
    if !check.recommendations.is_empty() {
        text.push_str("\nRecommendations:\n");
        for r in &check.recommendations {
            text.push_str(&format!("  - {r}\n"));
        }
    }
    if let Some(link) = &link {
        text.push_str(&format!("\nDashboard: {link}\n"));
    }
    text.push_str(
        "\nFigures come from the usage your apps reported to the tracker; no provider was called.\n",
    );

    let bar_width = percent
        .parse::<f64>()
        .map(|p| p.clamp(0.0, 100.0))
        .unwrap_or(0.0);
    let bar_colour = if bar_width >= 100.0 {
        "#c62828"
    } else if bar_width >= 80.0 {
        "#ef6c00"
    } else {
        "#2e7d32"
    };
    let e = escape_html;
    let rows = |list: &[Breakdown], with_model: bool| {
        list.iter()
            .map(|b| {
                let label = if with_model {
                    format!("{} / {}", e(&b.provider), e(b.model.as_deref().unwrap_or_default()))
                } else {
                    e(&b.provider)
                };
                format!(
                    "<tr><td style=\"padding:4px 8px\">{label}</td><td style=\"padding:4px 8px;text-align:right\">{}</td><td style=\"padding:4px 8px;text-align:right\">{}%</td></tr>",
                    e(&b.cost.rounded()),
                    e(&b.share)
                )
            })
            .collect::<String>()
    };
    let mut html = String::new();
    html.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\" /><title>");
    html.push_str(&e(&subject));
    html.push_str("</title></head><body style=\"font-family:Arial,Helvetica,sans-serif;color:#222;max-width:640px;margin:0 auto;padding:16px\">");
    html.push_str(&format!(
        "<h1 style=\"font-size:20px\">{} {}</h1>",
        e(name),
        e(&level_words(level))
    ));
    html.push_str(&format!(
        "<p>Spent this month: <strong>{}</strong> of {} (<strong>{}%</strong>).</p>",
        e(&check.spend.rounded()),
        e(&budget),
        e(&percent)
    ));
    html.push_str(&format!(
        "<div style=\"background:#eee;border-radius:4px;height:16px;width:100%\"><div style=\"background:{bar_colour};border-radius:4px;height:16px;width:{}%\"></div></div>",
        two_places(bar_width)
    ));
    html.push_str(&format!(
        "<p>Forecast for the month: <strong>{}</strong> ({}% of the budget). Spent today: {}{}.</p>",
        e(&check.forecast.rounded()),
        e(&check.forecast_percent.clone().unwrap_or_else(|| "-".into())),
        e(&check.today_spend.rounded()),
        e(&check
            .daily_limit
            .map(|l| format!(" (daily limit {})", l.rounded()))
            .unwrap_or_default())
    ));
    if let Some(line) = &others {
        html.push_str(&format!("<p>{}</p>", e(line)));
    }
    if let Some(b) = check.baseline_daily {
        html.push_str(&format!(
            "<p>Average day of the {BASELINE_DAYS} before today: {} (today is {}x that).</p>",
            e(&b.rounded()),
            e(&spike_ratio(check))
        ));
    }
    if !check.top_providers.is_empty() {
        html.push_str("<h2 style=\"font-size:16px\">Top providers</h2><table style=\"border-collapse:collapse\"><tbody>");
        html.push_str(&rows(&check.top_providers, false));
        html.push_str("</tbody></table>");
    }
    if !check.top_models.is_empty() {
        html.push_str("<h2 style=\"font-size:16px\">Top models</h2><table style=\"border-collapse:collapse\"><tbody>");
        html.push_str(&rows(&check.top_models, true));
        html.push_str("</tbody></table>");
    }
    if !check.recommendations.is_empty() {
        html.push_str("<h2 style=\"font-size:16px\">Recommendations</h2><ul>");
        for r in &check.recommendations {
            html.push_str(&format!("<li>{}</li>", e(r)));
        }
        html.push_str("</ul>");
    }
    if let Some(link) = &link {
        html.push_str(&format!(
            "<p><a href=\"{}\">Open the dashboard</a></p>",
            e(link)
        ));
    }
    html.push_str("<p style=\"color:#666;font-size:12px\">Figures come from the usage your apps reported to the tracker; no provider was called.</p></body></html>\n");
    RenderedAlert {
        subject,
        text,
        html,
    }
}

pub(super) fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub(super) fn wrapped_base64(text: &str) -> String {
    base64(text.as_bytes())
        .as_bytes()
        .chunks(76)
        .map(|line| String::from_utf8_lossy(line).into_owned())
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// A header value: plain when printable ASCII, else RFC 2047 encoded words.
pub(super) fn header_text(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if clean.is_ascii() {
        clean
    } else {
        format!("=?UTF-8?B?{}?=", base64(clean.as_bytes()))
    }
}

/// A multipart/alternative message (plain text, then HTML), both parts UTF-8 in base64.
///
/// Hand-written on purpose; `mail-builder` 2 was weighed and left out: it chooses each text
/// part's transfer encoding itself (7bit for ASCII, so not always base64), writes
/// `charset="utf-8"` quoted and `=?utf-8?Q?`/`=?utf-8?B?` subjects, and on wasm32 it brings
/// `web-time`, hence `js-sys` and `wasm-bindgen`, into the core, for about 3% more wasm.
pub fn mime_message(
    from: &str,
    to: &str,
    alert: &RenderedAlert,
    message_id: &str,
    date: DateTime<Utc>,
    boundary: &str,
) -> String {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {}\r\nDate: {}\r\nMessage-ID: {message_id}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"{boundary}\"\r\n\r\n--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--{boundary}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--{boundary}--\r\n",
        header_text(&alert.subject),
        email_date(date),
        wrapped_base64(&alert.text),
        wrapped_base64(&alert.html),
    )
}

/// Sends one rendered alert to one address as a MIME message from `ALERT_FROM`; the inner
/// result is the send's own outcome, logged with the alert.
pub(crate) async fn send_email(
    notifier: &impl Notifier,
    entropy: &impl Entropy,
    config: &AlertConfig,
    to: &str,
    alert: &RenderedAlert,
    now: DateTime<Utc>,
) -> Result<Result<(), String>, CoreError> {
    let Some(from) = &config.from_address else {
        return Ok(Err("no sender address: set the ALERT_FROM var".to_string()));
    };
    let host = from.rsplit('@').next().unwrap_or("localhost");
    let id = format!("<{}@{host}>", random_token(entropy, "", 12)?);
    let boundary = random_token(entropy, "=_ast_", 12)?;
    let raw = mime_message(from, to, alert, &id, now, &boundary);
    Ok(notifier.send_email(from, to, &raw).await)
}

/// `x` with two decimal places, written with integers (the float formatter's exact mode costs
/// the wasm about 2.5 KB). It equals `{:.2}` for the bar's widths: a percent of at most two
/// decimals, clamped to 0-100; on an exact binary tie (0.125) it rounds up where `{:.2}`
/// rounds to even, and a NaN is never passed (the width falls back to 0).
fn two_places(x: f64) -> String {
    let hundredths = (x * 100.0).round() as u32;
    format!("{}.{:02}", hundredths / 100, hundredths % 100)
}

#[cfg(test)]
mod tests {
    use super::two_places;

    #[test]
    fn a_bar_width_has_two_decimal_places_as_the_float_formatter_writes_them() {
        for x in [
            0.0, 0.004, 0.005, 1.5, 12.345, 33.333_333, 85.0, 99.995, 99.999, 100.0,
        ] {
            assert_eq!(two_places(x), format!("{x:.2}"), "{x}");
        }
        assert_eq!(two_places(85.0), "85.00");
        assert_eq!(two_places(7.25), "7.25");
    }
}
