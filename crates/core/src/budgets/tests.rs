//! Alerts: rendering, forecasts, MIME, webhook signatures, budget settings.

use chrono::{TimeZone, Utc};

use crate::access::projects::ProjectId;
use crate::budgets::alerts::{
    dashboard_link, discord_body, escape_html, forecast_nanos, mime_message, sign_webhook,
    slack_body, AlertConfig, ChatMessage, RenderedAlert, WebhookSigner,
};
use crate::budgets::settings::{BudgetPatch, BudgetSettings};
use crate::kernel::error::CoreError;
use crate::kernel::input::valid_email;
use crate::kernel::money::{Currency, Money};

/// A project `p` with no budget set (every other setting its default).
pub(super) fn settings() -> BudgetSettings {
    BudgetSettings {
        project_id: ProjectId::parse("p").unwrap(),
        project_name: "P".into(),
        project_client: None,
        amount: None,
        currency: Currency::USD,
        alert_threshold_percent: 80,
        levels: Vec::new(),
        daily_limit: None,
        timezone: None,
        emails: Vec::new(),
        webhook_url: None,
        webhook_secret: None,
        chat: Default::default(),
        last_alert_sent: None,
        report_schedule: None,
        spike: None,
        budget_mode: Default::default(),
        daily_limit_mode: Default::default(),
    }
}

#[test]
fn the_forecast_extrapolates_the_months_spend_and_is_rounded_to_the_cent() {
    let usd = |s: &str| Money::parse(s, Currency::USD).unwrap().nanos;
    let day = 86_400;
    // 76.125 after 22.6 days of 30 extrapolates to 101.0508849..., shown as 101.05.
    assert_eq!(
        forecast_nanos(usd("76.125"), 22 * day + 51_840, 30 * day),
        usd("101.05")
    );
    // Half a cent rounds to the even cent: 10.005 and 10.015 over a whole period.
    assert_eq!(
        forecast_nanos(usd("5.0025"), 15 * day, 30 * day),
        usd("10.00")
    );
    assert_eq!(
        forecast_nanos(usd("5.0075"), 15 * day, 30 * day),
        usd("10.02")
    );
    // The first hours count as a whole day, not as a tiny fraction of the month.
    assert_eq!(forecast_nanos(usd("2"), 3_600, 30 * day), usd("60"));
    // At the month's end the forecast is the exact spend, never rounded below it.
    assert_eq!(
        forecast_nanos(usd("76.125"), 30 * day, 30 * day),
        usd("76.125")
    );
    assert_eq!(forecast_nanos(0, 10 * day, 30 * day), 0);
}

#[test]
fn the_webhook_signature_is_hmac_sha256_of_timestamp_dot_body() {
    // Computed independently with Python's hmac module.
    assert_eq!(
        sign_webhook("whsec_test", "1700000000", r#"{"a":1}"#),
        "38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
    );
}

#[test]
fn a_webhook_post_carries_its_alert_id_first_in_the_body_it_signs_and_never_shows_the_secret() {
    let signer = WebhookSigner {
        secret: "whsec_test".into(),
        timestamp: "1700000000".into(),
    };
    let (body, headers) = signer.sign(r#"{"a":1}"#, "alt_0123");
    assert_eq!(body, r#"{"alert_id":"alt_0123","a":1}"#);
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        header("x-ast-signature"),
        Some(format!(
            "sha256={}",
            sign_webhook("whsec_test", "1700000000", &body)
        ))
    );
    assert_eq!(header("x-ast-alert-id").as_deref(), Some("alt_0123"));
    assert_eq!(header("x-ast-timestamp").as_deref(), Some("1700000000"));
    assert_eq!(signer.sign("{}", "alt_1").0, r#"{"alert_id":"alt_1"}"#);
    assert!(!format!("{signer:?}").contains("whsec_test"));
}

#[test]
fn html_escaping_covers_every_markup_character() {
    assert_eq!(
        escape_html(r#"<a href="x">'&'</a>"#),
        "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
    );
}

#[test]
fn the_mime_message_has_both_parts_in_base64_and_an_encoded_non_ascii_subject() {
    use base64::Engine;
    let alert = RenderedAlert {
        subject: "Café at 80%".into(),
        text: "plain body".into(),
        html: "<p>html body</p>".into(),
    };
    let date = Utc.with_ymd_and_hms(2026, 11, 23, 6, 0, 0).unwrap();
    let raw = mime_message(
        "a@example.com",
        "b@example.com",
        &alert,
        "<m@example.com>",
        date,
        "BOUNDARY",
    );
    assert!(raw.contains("Subject: =?UTF-8?B?"));
    assert!(raw.contains("Date: Mon, 23 Nov 2026 06:00:00 +0000\r\n"));
    assert!(raw.contains("Content-Type: multipart/alternative; boundary=\"BOUNDARY\""));
    assert!(raw.ends_with("--BOUNDARY--\r\n"));
    let parts: Vec<&str> = raw.split("--BOUNDARY\r\n").skip(1).collect();
    assert_eq!(parts.len(), 2);
    let decode = |part: &str| {
        let body = part
            .split("\r\n\r\n")
            .nth(1)
            .unwrap()
            .split("\r\n--")
            .next()
            .unwrap();
        let clean: String = body.split("\r\n").collect();
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(clean)
                .unwrap(),
        )
        .unwrap()
    };
    assert!(parts[0].starts_with("Content-Type: text/plain; charset=utf-8"));
    assert_eq!(decode(parts[0]), "plain body");
    assert_eq!(decode(parts[1]), "<p>html body</p>");
}

#[test]
fn the_dashboard_link_escapes_every_byte_of_the_project_but_letters_digits_dash_underscore_and_dot()
{
    let config = AlertConfig {
        dashboard_url: Some("https://spend.example.com/".into()),
        ..AlertConfig::default()
    };
    assert_eq!(
        dashboard_link(&config, "a-b_c.D9 /é?&~").as_deref(),
        Some("https://spend.example.com/?project=a-b_c.D9%20%2F%C3%A9%3F%26%7E")
    );
    assert_eq!(dashboard_link(&AlertConfig::default(), "p"), None);
}

#[test]
fn levels_default_to_the_alert_percent_plus_one_hundred_and_can_be_named() {
    let mut s = settings();
    assert_eq!(s.effective_levels(), vec![80, 100]);
    let patch: BudgetPatch = serde_json::from_value(serde_json::json!({
        "budget_threshold_usd": "100", "alert_levels": "default"
    }))
    .unwrap();
    patch.apply(&mut s, || Ok("secret".into())).unwrap();
    assert_eq!(s.effective_levels(), vec![50, 80, 100]);
    assert_eq!(s.amount, Some(Money::parse("100", Currency::USD).unwrap()));
}

#[test]
fn the_alert_percent_and_the_levels_are_one_setting_and_whichever_was_sent_last_decides() {
    let mut s = settings();
    let patch = |s: &mut BudgetSettings, body: serde_json::Value| {
        let patch: BudgetPatch = serde_json::from_value(body).unwrap();
        patch.apply(s, || Ok("secret".into())).unwrap();
    };
    patch(&mut s, serde_json::json!({"alert_levels": [50, 80, 100]}));
    assert_eq!(s.effective_levels(), vec![50, 80, 100]);
    // Seed 004's threshold sent later: 95% is now the alert, not 50 and 80.
    patch(
        &mut s,
        serde_json::json!({"budget_threshold_usd": 100.00, "budget_alert_threshold_percent": 95}),
    );
    assert_eq!(
        (s.alert_threshold_percent, s.effective_levels()),
        (95, vec![95, 100])
    );
    // Both in one request: the levels decide, and the percent is kept beside them.
    patch(
        &mut s,
        serde_json::json!({"budget_alert_threshold_percent": 70, "alert_levels": [60, 90]}),
    );
    assert_eq!(
        (s.alert_threshold_percent, s.effective_levels()),
        (70, vec![60, 90, 100])
    );
    // A patch of anything else keeps the levels.
    patch(&mut s, serde_json::json!({"daily_limit": "5"}));
    assert_eq!(s.effective_levels(), vec![60, 90, 100]);
}

#[test]
fn a_null_alert_percent_sets_the_default_back_and_drops_the_levels_unless_they_are_sent() {
    let mut s = settings();
    let patch = |s: &mut BudgetSettings, body: serde_json::Value| {
        let patch: BudgetPatch = serde_json::from_value(body).unwrap();
        patch.apply(s, || Ok("secret".into())).unwrap();
    };
    patch(
        &mut s,
        serde_json::json!({"budget_alert_threshold_percent": 95, "alert_levels": [30, 60]}),
    );
    assert_eq!(
        (s.alert_threshold_percent, s.levels.clone()),
        (95, vec![30, 60])
    );
    // null with levels: the percent is the default again, the levels sent decide.
    patch(
        &mut s,
        serde_json::json!({"budget_alert_threshold_percent": null, "alert_levels": [40]}),
    );
    assert_eq!(
        (s.alert_threshold_percent, s.effective_levels()),
        (80, vec![40, 100])
    );
    // null alone: as a project that never set either.
    patch(
        &mut s,
        serde_json::json!({"budget_alert_threshold_percent": null}),
    );
    assert_eq!(
        (s.alert_threshold_percent, s.effective_levels()),
        (80, vec![80, 100])
    );
}

#[test]
fn a_spike_rule_defaults_its_minimum_to_one_unit_of_the_budgets_currency_and_follows_it() {
    let mut s = settings();
    let patch: BudgetPatch = serde_json::from_value(serde_json::json!({
        "budget": {"amount": "500", "currency": "EUR"}, "spike_alert": {"percent": 400}
    }))
    .unwrap();
    patch.apply(&mut s, || Ok("secret".into())).unwrap();
    let rule = s.spike.unwrap();
    assert_eq!(
        (rule.percent, rule.min_spend),
        (
            400,
            Money::parse("1", Currency::parse("EUR").unwrap()).unwrap()
        )
    );
    let to_usd: BudgetPatch =
        serde_json::from_value(serde_json::json!({"budget_threshold_usd": "100"})).unwrap();
    to_usd.apply(&mut s, || Ok("secret".into())).unwrap();
    assert_eq!(
        s.spike.unwrap().min_spend,
        Money::parse("1", Currency::USD).unwrap()
    );
    // A minimum set by hand is not relabelled: a change of currency must give it again.
    let five: BudgetPatch = serde_json::from_value(
        serde_json::json!({"spike_alert": {"percent": 400, "min_spend": "5"}, "daily_limit": "20"}),
    )
    .unwrap();
    five.apply(&mut s, || Ok("secret".into())).unwrap();
    let before = s.clone();
    let to_eur: BudgetPatch =
        serde_json::from_value(serde_json::json!({"budget": {"amount": "100", "currency": "EUR"}}))
            .unwrap();
    let CoreError::Validation(problems) = to_eur.apply(&mut s, || Ok("secret".into())).unwrap_err()
    else {
        panic!("a validation error")
    };
    let fields: Vec<String> = problems.into_iter().map(|f| f.field).collect();
    assert_eq!(fields, vec!["daily_limit", "spike_alert.min_spend"]);
    assert_eq!(s, before, "a refused patch changes nothing");
    let off: BudgetPatch =
        serde_json::from_value(serde_json::json!({"spike_alert": null})).unwrap();
    off.apply(&mut s, || Ok("secret".into())).unwrap();
    assert_eq!(s.spike, None);
    // 70000 would wrap a u16 to 4464: refused, not stored wrong.
    let huge: BudgetPatch =
        serde_json::from_value(serde_json::json!({"spike_alert": {"percent": 70000}})).unwrap();
    assert!(huge.apply(&mut s, || Ok("secret".into())).is_err());
    assert_eq!(s.spike, None);
}

#[test]
fn an_invalid_patch_names_every_field_and_changes_nothing() {
    let mut s = settings();
    let before = s.clone();
    let patch: BudgetPatch = serde_json::from_value(serde_json::json!({
        "budget_threshold_usd": "-1", "alert_emails": ["x"], "webhook_url": "http://a.b",
        "budget_alert_threshold_percent": 0
    }))
    .unwrap();
    let error = patch.apply(&mut s, || Ok("secret".into())).unwrap_err();
    let CoreError::Validation(details) = error else {
        panic!("expected a validation error");
    };
    let fields: Vec<&str> = details.iter().map(|d| d.field.as_str()).collect();
    assert_eq!(
        fields,
        vec![
            "budget_threshold_usd",
            "budget_alert_threshold_percent",
            "alert_emails[0]",
            "webhook_url"
        ]
    );
    assert_eq!(s, before);
}

#[test]
fn email_addresses_are_checked_plainly() {
    for good in ["a@example.com", "first.last+tag@sub.example.org"] {
        assert!(valid_email(good), "{good}");
    }
    for bad in [
        "",
        "a",
        "a@b",
        "@example.com",
        "a@.com",
        "a b@example.com",
        "<a@example.com>",
        "a@example.com.",
    ] {
        assert!(!valid_email(bad), "{bad}");
    }
}

fn patch(value: serde_json::Value) -> BudgetPatch {
    serde_json::from_value(value).unwrap()
}

#[test]
fn chat_webhook_urls_are_validated_like_the_webhook_each_problem_naming_its_field() {
    let mut s = settings();
    let before = s.clone();
    let error = patch(serde_json::json!({
        "slack_webhook_url": "http://hooks.slack.com/services/T/B/x",
        "discord_webhook_url": "https:// spaced/api/webhooks/1/x"
    }))
    .apply(&mut s, || Ok("secret".into()))
    .unwrap_err();
    let CoreError::Validation(details) = error else {
        panic!("expected a validation error");
    };
    let fields: Vec<(&str, &str)> = details
        .iter()
        .map(|d| (d.field.as_str(), d.message.as_str()))
        .collect();
    assert_eq!(
        fields,
        vec![
            ("slack_webhook_url", "must be an https:// URL"),
            ("discord_webhook_url", "must be an https:// URL with a host"),
        ]
    );
    assert_eq!(s, before, "nothing changes");

    patch(serde_json::json!({
        "slack_webhook_url": " https://hooks.slack.com/services/T/B/x ",
        "discord_webhook_url": "https://discord.com/api/webhooks/1/x"
    }))
    .apply(&mut s, || Ok("secret".into()))
    .unwrap();
    assert_eq!(
        (s.chat.slack.as_deref(), s.chat.discord.as_deref()),
        (
            Some("https://hooks.slack.com/services/T/B/x"),
            Some("https://discord.com/api/webhooks/1/x")
        )
    );
    assert_eq!(
        s.webhook_secret, None,
        "a chat channel needs no signing secret"
    );
    let view = serde_json::to_value(crate::budgets::settings::BudgetView::new(&s)).unwrap();
    assert_eq!(
        (&view["slack_webhook_url"], &view["discord_webhook_url"]),
        (
            &serde_json::json!("https://hooks.slack.com/services/T/B/x"),
            &serde_json::json!("https://discord.com/api/webhooks/1/x")
        )
    );

    patch(serde_json::json!({"slack_webhook_url": null}))
        .apply(&mut s, || Ok("secret".into()))
        .unwrap();
    assert_eq!(
        (s.chat.slack.as_deref(), s.chat.discord.as_deref()),
        (None, Some("https://discord.com/api/webhooks/1/x")),
        "null clears one, the other stays"
    );
}

fn message(title: &str, description: &str, fields: usize) -> ChatMessage {
    ChatMessage {
        title: title.into(),
        description: description.into(),
        fields: (0..fields)
            .map(|i| (format!("Field {i}"), format!("value {i}")))
            .collect(),
        url: Some("https://spend.example.com/?project=ads".into()),
        urgent: true,
    }
}

#[test]
fn a_slack_message_is_text_and_mrkdwn_sections_with_the_users_text_escaped() {
    let m = ChatMessage {
        fields: vec![("Spent <today>".into(), "1.00 USD & more".into())],
        ..message(
            "[AI spend] <!channel> & Co at 80.00% of budget",
            "Project <@U123> (ads) passed 80% of its monthly budget.",
            0,
        )
    };
    let body: serde_json::Value = serde_json::from_str(&slack_body(&m)).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "text": "[AI spend] &lt;!channel&gt; &amp; Co at 80.00% of budget",
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": "*[AI spend] &lt;!channel&gt; &amp; Co at 80.00% of budget*"}},
                {"type": "section", "text": {"type": "mrkdwn", "text": "Project &lt;@U123&gt; (ads) passed 80% of its monthly budget."}},
                {"type": "section", "fields": [{"type": "mrkdwn", "text": "*Spent &lt;today&gt;*\n1.00 USD &amp; more"}]},
                {"type": "section", "text": {"type": "mrkdwn", "text": "<https://spend.example.com/?project=ads|Open the dashboard>"}},
            ],
        })
    );
}

#[test]
fn a_long_slack_message_is_cut_within_slacks_limits_never_inside_an_escape() {
    let long = "&".repeat(5000);
    let body: serde_json::Value =
        serde_json::from_str(&slack_body(&message(&long, &long, 23))).unwrap();
    let utf16 = |v: &serde_json::Value| v.as_str().unwrap().encode_utf16().count();
    let blocks = body["blocks"].as_array().unwrap();
    assert!(utf16(&body["text"]) <= 3000);
    assert!(utf16(&blocks[0]["text"]["text"]) <= 3000);
    assert!(utf16(&blocks[1]["text"]["text"]) <= 3000);
    let description = blocks[1]["text"]["text"].as_str().unwrap();
    assert!(description.ends_with("&amp;…"), "cut after a whole escape");
    // 23 fields: sections of 10, 10 and 3 (Slack takes at most 10 a section).
    let sizes: Vec<usize> = blocks[2..5]
        .iter()
        .map(|b| b["fields"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, vec![10, 10, 3]);
}

#[test]
fn a_discord_message_is_content_and_one_embed_that_pings_no_one() {
    let mut m = message(
        "[AI spend] @everyone at 100.00% of budget",
        "Project @here (ads) is over its monthly budget.",
        1,
    );
    m.urgent = false;
    let body: serde_json::Value = serde_json::from_str(&discord_body(&m)).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "content": "[AI spend] @\u{200B}everyone at 100.00% of budget",
            "embeds": [{
                "title": "[AI spend] @\u{200B}everyone at 100.00% of budget",
                "description": "Project @\u{200B}here (ads) is over its monthly budget.",
                "color": 0xF9AB00,
                "fields": [{"name": "Field 0", "value": "value 0", "inline": true}],
                "url": "https://spend.example.com/?project=ads",
            }],
            "allowed_mentions": {"parse": []},
        })
    );
}

#[test]
fn a_long_discord_message_keeps_within_every_discord_limit() {
    // Characters outside the basic plane count twice in UTF-16, as Discord may count them.
    let long = "💸".repeat(3000);
    let mut m = message(&long, &long, 40);
    m.fields[0] = (long.clone(), long.clone());
    let body: serde_json::Value = serde_json::from_str(&discord_body(&m)).unwrap();
    let utf16 = |v: &serde_json::Value| v.as_str().unwrap().encode_utf16().count();
    let embed = &body["embeds"][0];
    assert!(utf16(&body["content"]) <= 2000);
    assert!(utf16(&embed["title"]) <= 256);
    assert!(utf16(&embed["description"]) <= 4096);
    assert!(embed["title"].as_str().unwrap().ends_with('…'));
    assert_eq!(embed["color"], serde_json::json!(0xD93025), "urgent: red");
    let fields = embed["fields"].as_array().unwrap();
    assert!(fields.len() <= 25);
    assert!(fields
        .iter()
        .all(|f| utf16(&f["name"]) <= 256 && utf16(&f["value"]) <= 1024));
    let total = utf16(&embed["title"])
        + utf16(&embed["description"])
        + fields
            .iter()
            .map(|f| utf16(&f["name"]) + utf16(&f["value"]))
            .sum::<usize>();
    assert!(total <= 6000, "the embed's total is {total}");
    // Without the long field every field of the first 25 fits.
    let short = message("t", "d", 40);
    let body: serde_json::Value = serde_json::from_str(&discord_body(&short)).unwrap();
    assert_eq!(body["embeds"][0]["fields"].as_array().unwrap().len(), 25);
}

#[test]
fn a_daily_limit_that_cannot_be_read_names_what_is_wrong_and_no_position_in_the_body() {
    let problems_of = |body: serde_json::Value| {
        let patch: BudgetPatch = serde_json::from_value(body).unwrap();
        match patch.apply(&mut settings(), || Ok("secret".into())) {
            Err(CoreError::Validation(problems)) => problems
                .into_iter()
                .map(|f| (f.field, f.message))
                .collect::<Vec<_>>(),
            other => panic!("a validation error, got {other:?}"),
        }
    };
    assert_eq!(
        problems_of(serde_json::json!({"daily_limit": {"currency": "USD"}})),
        vec![(
            "daily_limit".to_string(),
            "must be an amount or {\"amount\", \"currency\"}: missing field `amount`".to_string()
        )]
    );
    assert_eq!(
        problems_of(serde_json::json!({"daily_limit": true})),
        vec![(
            "daily_limit".to_string(),
            "expected a decimal number or a string holding one".to_string()
        )]
    );
}
