//! `kernel::date_text` writes and reads as chrono's `format` and `parse_from_str` do.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, Utc};
use proptest::prelude::*;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    compact_stamp, date_text, email_date, hour_text, minute_text, month_name_text, month_text,
    parse_date, parse_date_time, read_date, read_instant,
};

/// Any day chrono can hold, mostly near the four-digit years the product stores.
fn any_date() -> impl Strategy<Value = NaiveDate> {
    prop_oneof![-1_000_000i32..4_000_000i32, -100_000_000i32..100_000_000i32,].prop_filter_map(
        "out of chrono's range",
        NaiveDate::from_num_days_from_ce_opt,
    )
}

/// Any instant chrono can hold, leap seconds (the nanoseconds past a second 59) included.
fn any_instant() -> impl Strategy<Value = DateTime<Utc>> {
    (
        any_date(),
        0u32..86_400,
        prop_oneof![0u32..1_000_000_000, 0u32..2_000_000_000],
    )
        .prop_filter_map("not a time", |(date, second, nano)| {
            let nano = if second % 60 == 59 {
                nano
            } else {
                nano % 1_000_000_000
            };
            let time = chrono::NaiveTime::from_num_seconds_from_midnight_opt(second, nano)?;
            Some(date.and_time(time).and_utc())
        })
}

/// A text near `text`: one character removed, replaced or inserted.
fn near_miss(text: String, at: prop::sample::Index, edit: u8, ch: char) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let at = at.index(chars.len() + 1);
    match edit {
        0 if at < chars.len() => {
            chars.remove(at);
        }
        1 if at < chars.len() => chars[at] = ch,
        _ => chars.insert(at, ch),
    }
    chars.into_iter().collect()
}

fn edit_char() -> impl Strategy<Value = char> {
    prop::sample::select(vec![
        '0', '1', '3', '9', '-', '+', ' ', '\t', '\u{a0}', '\u{3000}', 'T', 't', ':', 'x', 'é',
    ])
}

fn chrono_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

fn chrono_date_time(text: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S").ok()
}

/// The fields as the product reads them, beside the same fields as chrono reads them.
#[derive(Debug, PartialEq, Deserialize)]
struct Ours {
    #[serde(deserialize_with = "super::deserialize_date")]
    day: NaiveDate,
    #[serde(default, deserialize_with = "super::deserialize_option_date")]
    since: Option<NaiveDate>,
    #[serde(deserialize_with = "super::deserialize_instant")]
    at: DateTime<Utc>,
}

#[derive(Debug, PartialEq, Deserialize)]
struct Chronos {
    day: NaiveDate,
    #[serde(default)]
    since: Option<NaiveDate>,
    at: DateTime<Utc>,
}

/// Both readings of `value`, chrono's as the same type (`None` where refused).
fn both(value: Value) -> (Option<Ours>, Option<Ours>) {
    let ours = serde_json::from_value::<Ours>(value.clone()).ok();
    let theirs = serde_json::from_value::<Chronos>(value).ok().map(|c| Ours {
        day: c.day,
        since: c.since,
        at: c.at,
    });
    (ours, theirs)
}

/// The texts chrono writes for an instant: its serde form in UTC and RFC 3339 at an offset.
fn written_instants(t: DateTime<Utc>, offset: i32) -> Vec<String> {
    let mut texts = vec![serde_json::to_value(t)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap()];
    if let Some(offset) = FixedOffset::east_opt(offset) {
        texts.push(t.with_timezone(&offset).to_rfc3339());
    }
    texts
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn a_day_and_its_month_are_written_as_chrono_formats_them(date in any_date()) {
        prop_assert_eq!(date_text(date), date.format("%Y-%m-%d").to_string());
        prop_assert_eq!(month_text(date), date.format("%Y-%m").to_string());
        prop_assert_eq!(month_name_text(date), date.format("%B %Y").to_string());
    }

    #[test]
    fn an_instant_is_written_as_chrono_formats_it_in_every_form_the_product_uses(
        t in any_instant(),
    ) {
        prop_assert_eq!(hour_text(t), t.format("%Y-%m-%dT%H").to_string());
        prop_assert_eq!(minute_text(t), t.format("%Y-%m-%dT%H:%M").to_string());
        prop_assert_eq!(compact_stamp(t), t.format("%Y%m%dT%H%M%S%3fZ").to_string());
        prop_assert_eq!(email_date(t), t.format("%a, %d %b %Y %H:%M:%S +0000").to_string());
    }

    #[test]
    fn a_written_day_is_read_back_as_chrono_reads_it(date in any_date()) {
        let text = date_text(date);
        prop_assert_eq!(parse_date(&text), chrono_date(&text));
        prop_assert_eq!(parse_date(&text), Some(date));
    }

    #[test]
    fn a_day_in_any_spelling_chrono_might_take_is_read_as_chrono_reads_it(
        text in "\\s?[+-]?0{0,3}[0-9]{1,6}\\s?-\\s?[0-9]{1,3}-\\s?[0-9]{1,3}\\s?",
    ) {
        prop_assert_eq!(parse_date(&text), chrono_date(&text));
    }

    #[test]
    fn a_day_one_edit_from_a_valid_one_is_read_as_chrono_reads_it(
        date in any_date(),
        at in any::<prop::sample::Index>(),
        edit in 0u8..3,
        ch in edit_char(),
    ) {
        let text = near_miss(date_text(date), at, edit, ch);
        prop_assert_eq!(parse_date(&text), chrono_date(&text));
    }

    #[test]
    fn any_short_text_is_read_as_a_day_only_where_chrono_reads_one(
        text in "[-+0-9 T:x\\s]{0,16}",
    ) {
        prop_assert_eq!(parse_date(&text), chrono_date(&text));
        prop_assert_eq!(parse_date_time(&text), chrono_date_time(&text));
    }

    #[test]
    fn a_date_and_time_in_any_spelling_chrono_might_take_is_read_as_chrono_reads_it(
        text in "\\s?[+-]?[0-9]{1,5}-\\s?[0-9]{1,2}-\\s?[0-9]{1,2}T\\s?[0-9]{1,2}:\\s?[0-9]{1,2}:\\s?[0-9]{1,3}\\s?",
    ) {
        prop_assert_eq!(parse_date_time(&text), chrono_date_time(&text));
    }

    #[test]
    fn a_date_and_time_one_edit_from_a_bucket_is_read_as_chrono_reads_it(
        t in any_instant(),
        at in any::<prop::sample::Index>(),
        edit in 0u8..3,
        ch in edit_char(),
    ) {
        let text = format!("{}:00", minute_text(t));
        prop_assert_eq!(parse_date_time(&text), chrono_date_time(&text));
        let text = near_miss(text, at, edit, ch);
        prop_assert_eq!(parse_date_time(&text), chrono_date_time(&text));
    }

    #[test]
    fn a_day_in_chrono_s_own_serde_form_is_read_as_chrono_reads_it(
        text in "\\s?[+-]?0{0,3}[0-9]{1,6}\\s?-\\s?[0-9]{1,3}\\s?-\\s?[0-9]{1,3}\\s?",
        date in any_date(),
        at in any::<prop::sample::Index>(),
        edit in 0u8..3,
        ch in edit_char(),
    ) {
        prop_assert_eq!(read_date(&text), text.parse::<NaiveDate>().ok());
        let text = near_miss(date_text(date), at, edit, ch);
        prop_assert_eq!(read_date(&text), text.parse::<NaiveDate>().ok());
    }

    #[test]
    fn an_instant_chrono_wrote_is_read_back_as_chrono_reads_it(
        t in any_instant(),
        offset in (-1_500i32..1_500).prop_map(|minutes| minutes * 60),
    ) {
        for text in written_instants(t, offset) {
            prop_assert_eq!(read_instant(&text), text.parse::<DateTime<Utc>>().ok(), "{:?}", text);
            prop_assert_eq!(read_instant(&text), Some(t));
        }
    }

    #[test]
    fn an_instant_one_edit_from_one_chrono_wrote_is_read_as_chrono_reads_it(
        t in any_instant(),
        offset in (-1_500i32..1_500).prop_map(|minutes| minutes * 60),
        at in any::<prop::sample::Index>(),
        edit in 0u8..3,
        ch in prop_oneof![edit_char(), prop::sample::select(vec!['Z', 'z', '.', '\u{2212}', 'U'])],
    ) {
        for text in written_instants(t, offset) {
            let text = near_miss(text, at, edit, ch);
            prop_assert_eq!(read_instant(&text), text.parse::<DateTime<Utc>>().ok(), "{:?}", text);
        }
    }

    #[test]
    fn an_instant_in_any_spelling_chrono_might_take_is_read_as_chrono_reads_it(
        text in "\\s?[+-]?[0-9]{1,5}\\s?-\\s?[0-9]{1,2}\\s?-\\s?[0-9]{1,2}[tT ]\\s?[0-9]{1,2}\\s?:\\s?[0-9]{1,2}\\s?:\\s?[0-9]{1,2}(\\.[0-9]{0,11})?\\s?(Z|z|UTC|uTc|U|[-+\u{2212}][0-9]{1,2}[: \t]{0,2}[0-9]{0,3})?\\s?",
    ) {
        prop_assert_eq!(read_instant(&text), text.parse::<DateTime<Utc>>().ok());
    }

    #[test]
    fn plan_fields_are_deserialized_as_chrono_deserializes_them(
        day in "\\s?[+-]?[0-9]{1,5}\\s?-\\s?[0-9]{1,2}-[0-9]{1,2}\\s?",
        since in prop_oneof![Just(None), Just(Some(Value::Null)), "[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}".prop_map(|t| Some(Value::String(t)))],
        t in any_instant(),
    ) {
        let mut value = json!({"day": day, "at": t});
        if let Some(since) = since {
            value["since"] = since;
        }
        let (ours, theirs) = both(value);
        prop_assert_eq!(ours, theirs);
    }
}

#[test]
fn the_edges_chrono_reads_loosely_or_refuses_are_read_as_it_reads_them() {
    let days = [
        "2026-11-20",
        "2026-1-5",
        " 2026-01-05",
        "2026- 1- 5",
        "\u{3000}2026-01-05",
        "2026-01-05 ",
        "2026 -01-05",
        "+2026-01-05",
        "+10000-01-01",
        "-0001-12-31",
        "-0-01-01",
        "+-2026-01-01",
        "20260-01-01",
        "26-01-05",
        "2026-02-29",
        "2024-02-29",
        "2026-13-01",
        "2026-00-10",
        "2026-01-00",
        "2026-001-01",
        "+262143-12-31",
        "+99999999999999999999-01-01",
        "+2147483648-01-01",
        "",
        "-",
        "2026-01-",
        "2026-01-05T00",
    ];
    for text in days {
        assert_eq!(parse_date(text), chrono_date(text), "{text:?}");
    }
    let times = [
        "2026-11-20T12:05:00",
        "9999-12-31T24:00:00",
        "2026-11-20T23:60:00",
        "2026-11-20T23:59:60",
        "2026-11-20T12:05:60",
        "2026-11-20T12:05:61",
        "2026-11-20t12:05:00",
        "2026-11-20 12:05:00",
        "2026-11-20T 1: 5: 0",
        "2026-11-20T12:05",
        "2026-11-20T12:05:00Z",
    ];
    for text in times {
        assert_eq!(parse_date_time(text), chrono_date_time(text), "{text:?}");
    }
    let instants = [
        "2026-11-20T12:05:09Z",
        "2026-11-20T12:05:09.042Z",
        "2026-11-20T12:05:09.1234567891234Z",
        "2026-11-20t12:05:09z",
        "2026-11-20 12:05:09 UTC",
        "2026-11-20T12:05:09utc ",
        " 2026 - 11 - 20T 1 : 5 : 9 +02 : 30",
        "2026-11-20T12:05:09+0230",
        "2026-11-20T12:05:09+02",
        "2026-11-20T12:05:09+02:60",
        "2026-11-20T12:05:09\u{2212}05:00",
        "2026-11-20T12:05:09+23:59",
        "2026-11-20T12:05:09+24:00",
        "2026-11-20T23:59:60.5Z",
        "2026-11-20T12:05:09.Z",
        "2026-11-20  12:05:09Z",
        "2026-11-20T12:05:09",
        "+10000-01-01T00:00:00Z",
        "-0001-12-31T23:59:59-01:00",
        "+262142-12-31T23:59:59-01:00",
        "2026-11-20T12:05:09Z x",
    ];
    for text in instants {
        assert_eq!(
            read_instant(text),
            text.parse::<DateTime<Utc>>().ok(),
            "{text:?}"
        );
    }
    for text in [
        "2026-11-20",
        " 2026 - 1 - 5 ",
        "2026-11-20x",
        "+10000-01-01",
    ] {
        assert_eq!(read_date(text), text.parse::<NaiveDate>().ok(), "{text:?}");
    }
    let refused = both(json!({"day": "2026-02-30", "at": "2026-11-20T12:05:09Z"}));
    assert_eq!(refused, (None, None));
    let null_since =
        both(json!({"day": "2026-02-03", "since": null, "at": "2026-11-20T12:05:09Z"}));
    assert!(null_since.0.is_some());
    assert_eq!(null_since.0, null_since.1);
    let example = NaiveDate::from_ymd_opt(2026, 11, 20)
        .and_then(|d| d.and_hms_milli_opt(12, 5, 9, 42))
        .unwrap()
        .and_utc();
    assert_eq!(email_date(example), "Fri, 20 Nov 2026 12:05:09 +0000");
    assert_eq!(compact_stamp(example), "20261120T120509042Z");
    assert_eq!(month_name_text(example.date_naive()), "November 2026");
}
