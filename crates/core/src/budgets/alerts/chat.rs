//! Chat channels: an alert as a Slack or Discord incoming-webhook message, each in that
//! service's own format and within its limits. Every user-controlled string is escaped as the
//! service requires (Slack: `&`, `<`, `>`; Discord: no mention of anyone ever pings).

use serde_json::Value;

use super::*;
use crate::budgets::settings::ChatUrls;

/// A chat service with incoming webhooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatService {
    Slack,
    Discord,
}

impl ChatService {
    /// The channel's name in the alert log and the check's answer.
    pub fn name(self) -> &'static str {
        match self {
            ChatService::Slack => "slack",
            ChatService::Discord => "discord",
        }
    }
}

/// An alert as a chat message: parts that each service lays out its own way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    /// The alert's subject.
    pub title: String,
    /// What to know or do, one paragraph per line.
    pub description: String,
    /// Figures, each a name and its value.
    pub fields: Vec<(String, String)>,
    /// The dashboard, when `DASHBOARD_URL` is set.
    pub url: Option<String>,
    /// Red when a limit is reached, amber before.
    pub urgent: bool,
}

/// Slack: at most 3000 characters in a section's text, 2000 in a field, 10 fields a section.
const SLACK_TEXT: usize = 3000;
const SLACK_FIELD: usize = 2000;
const SLACK_FIELDS_PER_SECTION: usize = 10;
/// Discord: the limits of a message and its embed.
pub const DISCORD_CONTENT: usize = 2000;
pub const DISCORD_TITLE: usize = 256;
pub const DISCORD_DESCRIPTION: usize = 4096;
pub const DISCORD_FIELDS: usize = 25;
const DISCORD_FIELD_NAME: usize = 256;
const DISCORD_FIELD_VALUE: usize = 1024;
/// The sum of an embed's title, description, field names and values.
pub const DISCORD_EMBED_TOTAL: usize = 6000;
const RED: u32 = 0xD9_30_25;
const AMBER: u32 = 0xF9_AB_00;

/// Cuts `text` to at most `max` UTF-16 code units (the strictest way the services count),
/// never inside a character, ending with `…` when it was cut.
pub fn clip(text: &str, max: usize) -> String {
    if text.encode_utf16().count() <= max {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 1; // the ellipsis
    for ch in text.chars() {
        used += ch.len_utf16();
        if used > max {
            break;
        }
        out.push(ch);
    }
    out.push('…');
    out
}

/// Slack's escaping of message text: `&`, `<` and `>` only (Slack reads `<...>` as a link
/// or a mention such as `<!channel>`).
pub fn escape_slack(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Discord text that mentions nobody: `@everyone` and `@here` are broken by a zero-width space
/// (the message also allows no mentions at all).
pub fn defuse_discord(text: &str) -> String {
    text.replace("@everyone", "@\u{200B}everyone")
        .replace("@here", "@\u{200B}here")
}

/// `text` escaped for Slack, cut to at most `max` UTF-16 code units of the escaped text (never
/// inside an escape), ending with `…` when it was cut.
fn slack_text(text: &str, max: usize) -> String {
    let escaped = escape_slack(text);
    if escaped.encode_utf16().count() <= max {
        return escaped;
    }
    let mut out = String::new();
    let mut used = 1; // the ellipsis
    for ch in text.chars() {
        let piece = escape_slack(ch.encode_utf8(&mut [0; 4]));
        used += piece.encode_utf16().count();
        if used > max {
            break;
        }
        out.push_str(&piece);
    }
    out.push('…');
    out
}

/// The Slack message: `text` (the notification's fallback) and section blocks in mrkdwn.
pub fn slack_body(message: &ChatMessage) -> String {
    let mut blocks = vec![json!({
        "type": "section",
        "text": {"type": "mrkdwn", "text": format!("*{}*", slack_text(&message.title, SLACK_TEXT - 2))},
    })];
    if !message.description.is_empty() {
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": slack_text(&message.description, SLACK_TEXT)},
        }));
    }
    for chunk in message.fields.chunks(SLACK_FIELDS_PER_SECTION) {
        let fields: Vec<Value> = chunk
            .iter()
            .map(|(name, value)| {
                let name = slack_text(name, 200);
                let value = slack_text(value, SLACK_FIELD - 3 - name.encode_utf16().count());
                json!({"type": "mrkdwn", "text": format!("*{name}*\n{value}")})
            })
            .collect();
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    if let Some(url) = &message.url {
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": format!("<{}|Open the dashboard>", escape_slack(url))},
        }));
    }
    crate::kernel::json_value::text(
        &json!({"text": slack_text(&message.title, SLACK_TEXT), "blocks": blocks}),
    )
}

/// The Discord message: `content` and one embed, within Discord's limits, pinging no one.
pub fn discord_body(message: &ChatMessage) -> String {
    let title = clip(&defuse_discord(&message.title), DISCORD_TITLE);
    let description = clip(&defuse_discord(&message.description), DISCORD_DESCRIPTION);
    let mut total = title.encode_utf16().count() + description.encode_utf16().count();
    let mut fields = Vec::new();
    for (name, value) in message.fields.iter().take(DISCORD_FIELDS) {
        let name = clip(&defuse_discord(name), DISCORD_FIELD_NAME);
        let value = clip(&defuse_discord(value), DISCORD_FIELD_VALUE);
        let size = name.encode_utf16().count() + value.encode_utf16().count();
        if total + size > DISCORD_EMBED_TOTAL {
            break;
        }
        total += size;
        fields.push(json!({"name": name, "value": value, "inline": true}));
    }
    let mut embed = json!({
        "title": title,
        "description": description,
        "color": if message.urgent { RED } else { AMBER },
        "fields": fields,
    });
    if let Some(url) = &message.url {
        embed["url"] = json!(url);
    }
    crate::kernel::json_value::text(&json!({
        "content": clip(&defuse_discord(&message.title), DISCORD_CONTENT),
        "embeds": [embed],
        "allowed_mentions": {"parse": []},
    }))
}

/// The chat channels of one alert: the project's Slack and Discord webhooks, if set.
pub fn chat_channels(urls: &ChatUrls, message: &ChatMessage) -> Vec<Channel> {
    let mut out = Vec::new();
    for (service, url) in [
        (ChatService::Slack, &urls.slack),
        (ChatService::Discord, &urls.discord),
    ] {
        if let Some(url) = url {
            let body = match service {
                ChatService::Slack => slack_body(message),
                ChatService::Discord => discord_body(message),
            };
            out.push(Channel::Chat {
                service,
                url: url.clone(),
                body,
            });
        }
    }
    out
}

/// A budget alert (a budget level, the daily limit, a spike) as a chat message.
pub fn budget_chat_message(
    check: &ProjectCheck,
    level: &str,
    alert: &RenderedAlert,
    config: &AlertConfig,
) -> ChatMessage {
    let budget = check
        .budget
        .map(|b| b.rounded())
        .unwrap_or_else(|| "no budget".into());
    let mut fields = vec![
        (
            "Spent this month".to_string(),
            format!(
                "{} of {budget} ({}%)",
                check.spend.rounded(),
                check.percent_used.clone().unwrap_or_else(|| "-".into())
            ),
        ),
        (
            "Forecast for the month".to_string(),
            format!(
                "{} ({}% of the budget)",
                check.forecast.rounded(),
                check.forecast_percent.clone().unwrap_or_else(|| "-".into())
            ),
        ),
        (
            "Spent today".to_string(),
            match check.daily_limit {
                Some(limit) => format!(
                    "{} (daily limit {})",
                    check.today_spend.rounded(),
                    limit.rounded()
                ),
                None => check.today_spend.rounded(),
            },
        ),
    ];
    if let Some(b) = check.baseline_daily {
        fields.push((
            "Average day of the 7 before".to_string(),
            format!("{} (today is {}x that)", b.rounded(), spike_ratio(check)),
        ));
    }
    if let Some(top) = check.top_providers.first() {
        fields.push((
            "Top provider".to_string(),
            format!("{}: {} ({}%)", top.provider, top.cost.rounded(), top.share),
        ));
    }
    if let Some(list) = super::email::other_currencies(check) {
        fields.push(("Other currencies".to_string(), list));
    }
    if let Some(top) = check.top_models.first() {
        fields.push((
            "Top model".to_string(),
            format!(
                "{} / {}: {} ({}%)",
                top.provider,
                top.model.clone().unwrap_or_default(),
                top.cost.rounded(),
                top.share
            ),
        ));
    }
    let mut description = format!(
        "Project {} ({}) {}.",
        check.project_name,
        check.project_id,
        level_words(level)
    );
    for r in &check.recommendations {
        description.push('\n');
        description.push_str(r);
    }
    ChatMessage {
        title: alert.subject.clone(),
        description,
        fields,
        url: dashboard_link(config, &check.project_id),
        urgent: level == "budget-100" || level == "daily",
    }
}

/// A plan, credit-expiry or capacity alert as a chat message: its message and the dashboard.
pub fn plan_chat_message(
    alert: &RenderedAlert,
    message: &str,
    link: Option<String>,
) -> ChatMessage {
    ChatMessage {
        title: alert.subject.clone(),
        description: message.to_string(),
        fields: Vec::new(),
        url: link,
        urgent: false,
    }
}
