//! The paths `parse_json` names (read back from serde_json's error offset by
//! `kernel::json_path`) held to those of `serde_path_to_error`, the path tracker they replaced
//! (a dev-dependency only for this test), over random bodies and over valid bodies of every
//! request type read with `parse_json` broken in one place. An integration test, so that the
//! kernel's own tests import no capability.

use proptest::prelude::*;
use serde::de::DeserializeOwned;

use spend_core::access::keys::NewKeyRequest;
use spend_core::access::projects::{NewProjectRequest, ProjectPatchRequest};
use spend_core::budgets::settings::BudgetPatch;
use spend_core::guard::GuardRequest;
use spend_core::kernel::input::{field_at_fault, locate, strip_position};
use spend_core::plans::{PlanInput, ProfileInput};
use spend_core::pricing::prices::CustomPricesRequest;
use spend_core::usage::event::EventInput;
use spend_core::usage::ingest::RebuildRequest;
use spend_core::usage::reprice::RepriceRequest;

/// A JSON value as text is written: keys may repeat, numbers keep their spelling.
#[derive(Debug, Clone)]
enum Json {
    Literal(&'static str),
    Number(String),
    Text(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

/// Keys of the request types (aliases included), and a few that no type has.
const KEYS: &[&str] = &[
    "id",
    "project_id",
    "provider",
    "model",
    "service",
    "operation",
    "input_tokens",
    "prompt_tokens",
    "output_tokens",
    "tokens",
    "total_tokens",
    "cost",
    "cost_usd",
    "currency",
    "cached",
    "timestamp",
    "metadata",
    "audio_seconds",
    "images",
    "events",
    "name",
    "count",
    "items",
    "size",
    "pairs",
    "description",
    "budget_threshold_usd",
    "budget",
    "amount",
    "budget_alert_threshold_percent",
    "alert_levels",
    "daily_limit",
    "alert_emails",
    "spike_alert",
    "percent",
    "min_spend",
    "timezone",
    "monthly_fee",
    "allotment",
    "unit",
    "reset_day",
    "term",
    "starts",
    "expires",
    "reading",
    "used",
    "at",
    "overage",
    "price",
    "per",
    "counts",
    "estimate",
    "profile",
    "units",
    "reserve",
    "ttl_seconds",
    "mode",
    "prices",
    "label",
    "since",
    "until",
    "dry_run",
    "colour",
    "k\"ey",
    "a.b",
    "x[0]",
    "é",
];

fn json() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        prop::sample::select(vec!["null", "true", "false"]).prop_map(Json::Literal),
        prop::sample::select(vec![
            "0",
            "1",
            "-1",
            "42",
            "100000",
            "1.5",
            "-0.25",
            "1e3",
            "18446744073709551616",
            "9223372036854775808",
            "0.045",
        ])
        .prop_map(|n| Json::Number(n.to_string())),
        prop::sample::select(vec![
            "",
            "a",
            "openai",
            "gpt-4o",
            "1.25",
            "usd",
            "USD",
            "2026-12-01",
            "2026-12-01T10:00:00Z",
            "x\\\"y",
            "caf\\u00e9",
            "a@b.co",
            "block",
            "tokens",
        ])
        .prop_map(|s| Json::Text(s.to_string())),
    ];
    leaf.prop_recursive(4, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|fields| {
                Json::Object(
                    fields
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect(),
                )
            }),
        ]
    })
}

/// A request body: an object of known keys (mostly), written with the spacing `space` picks.
fn body() -> impl Strategy<Value = String> {
    (
        prop::collection::vec((prop::sample::select(KEYS), json()), 0..8),
        prop::collection::vec(
            prop::sample::select(vec!["", " ", "\n", "\t ", " \n  "]),
            1..5,
        ),
        json(),
        0..10u8,
    )
        .prop_map(|(fields, spaces, other, shape)| {
            let value = if shape == 0 {
                other
            } else {
                Json::Object(
                    fields
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect(),
                )
            };
            let mut text = String::new();
            let mut turn = 0;
            write_json(&value, &spaces, &mut turn, &mut text);
            text
        })
}

fn write_json(value: &Json, spaces: &[&str], turn: &mut usize, out: &mut String) {
    let space = |out: &mut String, turn: &mut usize| {
        out.push_str(spaces[*turn % spaces.len()]);
        *turn += 1;
    };
    match value {
        Json::Literal(text) => out.push_str(text),
        Json::Number(text) => out.push_str(text),
        Json::Text(text) => {
            out.push('"');
            out.push_str(text);
            out.push('"');
        }
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                space(out, turn);
                write_json(item, spaces, turn, out);
            }
            space(out, turn);
            out.push(']');
        }
        Json::Object(fields) => {
            out.push('{');
            for (i, (key, item)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                space(out, turn);
                out.push('"');
                out.push_str(key);
                out.push('"');
                space(out, turn);
                out.push(':');
                space(out, turn);
                write_json(item, spaces, turn, out);
            }
            space(out, turn);
            out.push('}');
        }
    }
}

/// The field and message of a data error reading `body` as `T`, through the path tracker.
fn tracked<T: DeserializeOwned>(body: &str) -> Option<(String, String)> {
    let mut reader = serde_json::Deserializer::from_str(body);
    let error = serde_path_to_error::deserialize::<_, T>(&mut reader).err()?;
    let path = error.path().to_string();
    let inner = error.into_inner();
    (!inner.is_syntax() && !inner.is_eof())
        .then(|| locate(&path, &strip_position(&inner.to_string())))
}

/// The same, with the path read back from the error's offset.
fn read_back<T: DeserializeOwned>(body: &str) -> Option<(String, String)> {
    let mut reader = serde_json::Deserializer::from_str(body);
    let error = T::deserialize(&mut reader).err()?;
    (!error.is_syntax() && !error.is_eof()).then(|| field_at_fault(body, &error))
}

fn same_for<T: DeserializeOwned>(body: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(tracked::<T>(body), read_back::<T>(body), "body: {}", body);
    Ok(())
}

/// A valid body of each request type, to be broken in one place by [`broken`].
const EXAMPLES: &[&str] = &[
    r#"{"id":"e1","project_id":"p","provider":"openai","model":"gpt-4o","operation":"chat","input_tokens":10,"output_tokens":5,"cached_input_tokens":1,"tokens":15,"cost":"0.01","currency":"USD","cached":false,"timestamp":"2026-12-01T10:00:00Z","session_id":"s","job_id":"j","duration_ms":5,"success":true,"endpoint":"/x","metadata":{"a":1,"b":[true]},"audio_seconds":1.5,"credits":2}"#,
    r#"{"budget_threshold_usd":"100","budget":{"amount":"50","currency":"EUR"},"budget_alert_threshold_percent":80,"alert_levels":[50,80],"daily_limit":{"amount":"5"},"timezone":"Europe/Paris","alert_emails":["a@b.co"],"webhook_url":"https://x.example","spike_alert":{"percent":200,"min_spend":"5"},"budget_mode":"block"}"#,
    r#"{"provider":"heygen","project_id":"p","name":"n","monthly_fee":"29","currency":"USD","allotment":{"amount":"10","unit":"credits"},"reset_day":1,"term":{"starts":"2026-01-01","expires":"2027-01-01"},"reading":{"used":"2","at":"2026-12-01"},"overage":{"price":"1.5","per":"1"},"since":"2026-01-01","reserve":"1","counts":{"usage":"credits","per":"1"},"alert_percent":80,"alert_emails":["a@b.co"],"mode":"block"}"#,
    r#"{"name":"p","project_id":"p","items":[{"provider":"openai","amount":"2","unit":"tokens"}],"learn":{"operations":["chat"],"days":7},"alert_below":3}"#,
    r#"{"project_id":"p","estimate":{"provider":"openai","tokens":5},"profile":"x","units":2,"amount":{"amount":"1.5","currency":"USD"},"reserve":true,"ttl_seconds":60,"id":"r1"}"#,
    r#"{"id":"ads","name":"Ads","description":"d","client":"c","budget_threshold_usd":100.5,"budget_alert_threshold_percent":90}"#,
    r#"{"project_id":"p","entries":[{"provider":"openai","model":"m","aliases":["a"],"currency":"USD","effective_from":"2026-01-01","rates":{"input_tokens":{"price":"1.25","per":1000000}},"tiers":[{"above_prompt_tokens":200000,"rates":{"input_tokens":{"price":"2.5","per":1000000}}}],"counting":{"cached_in_input":true}}]}"#,
    r#"{"from":"2026-12-01","to":"2026-12-02","cursor":"c","max_objects":5,"project_id":"p","provider":"openai","model":"m","only_unpriced":true}"#,
];

/// `example` with one value replaced by `with`, one key added or one key repeated, at the
/// node that `at` picks (counting nodes depth first), written with `spaces`.
fn broken(example: &str, at: usize, with: Json, how: u8, spaces: &[&str]) -> String {
    fn from_value(value: &serde_json::Value) -> Json {
        match value {
            serde_json::Value::Null => Json::Literal("null"),
            serde_json::Value::Bool(true) => Json::Literal("true"),
            serde_json::Value::Bool(false) => Json::Literal("false"),
            serde_json::Value::Number(n) => Json::Number(n.to_string()),
            serde_json::Value::String(s) => Json::Text(s.clone()),
            serde_json::Value::Array(items) => Json::Array(items.iter().map(from_value).collect()),
            serde_json::Value::Object(fields) => Json::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), from_value(v)))
                    .collect(),
            ),
        }
    }
    fn visit(node: &mut Json, at: &mut usize, with: &Json, how: u8) -> bool {
        if *at == 0 {
            match (how, &mut *node) {
                (1, Json::Object(fields)) => fields.push(("colour".into(), with.clone())),
                (2, Json::Object(fields)) if !fields.is_empty() => {
                    let first = fields[0].clone();
                    fields.push(first);
                }
                _ => *node = with.clone(),
            }
            return true;
        }
        *at -= 1;
        match node {
            Json::Array(items) => items.iter_mut().any(|item| visit(item, at, with, how)),
            Json::Object(fields) => fields
                .iter_mut()
                .any(|(_, item)| visit(item, at, with, how)),
            _ => false,
        }
    }
    let mut tree = from_value(&serde_json::from_str(example).unwrap());
    let nodes = {
        fn count(node: &Json) -> usize {
            1 + match node {
                Json::Array(items) => items.iter().map(count).sum(),
                Json::Object(fields) => fields.iter().map(|(_, v)| count(v)).sum(),
                _ => 0,
            }
        }
        count(&tree)
    };
    let mut at = at % nodes;
    visit(&mut tree, &mut at, &with, how);
    let mut text = String::new();
    write_json(&tree, spaces, &mut 0, &mut text);
    text
}

#[test]
fn every_example_reads_as_its_type_before_it_is_broken() {
    fn reads<T: DeserializeOwned>(body: &str) {
        let mut reader = serde_json::Deserializer::from_str(body);
        if let Err(e) = T::deserialize(&mut reader) {
            panic!("{e}: {body}");
        }
    }
    reads::<EventInput>(EXAMPLES[0]);
    reads::<BudgetPatch>(EXAMPLES[1]);
    reads::<PlanInput>(EXAMPLES[2]);
    reads::<ProfileInput>(EXAMPLES[3]);
    reads::<GuardRequest>(EXAMPLES[4]);
    reads::<NewProjectRequest>(EXAMPLES[5]);
    // The project's own fields; the body's budget fields are the budget patch's.
    reads::<ProjectPatchRequest>(r#"{"name":"Ads","description":"d","client":"c"}"#);
    reads::<CustomPricesRequest>(EXAMPLES[6]);
    reads::<RepriceRequest>(&EXAMPLES[7].replace(r#""cursor":"c","max_objects":5,"#, ""));
}

fn same_for_all(body: &str) -> Result<(), TestCaseError> {
    same_for::<EventInput>(body)?;
    same_for::<BudgetPatch>(body)?;
    same_for::<PlanInput>(body)?;
    same_for::<ProfileInput>(body)?;
    same_for::<GuardRequest>(body)?;
    same_for::<NewProjectRequest>(body)?;
    same_for::<ProjectPatchRequest>(body)?;
    same_for::<NewKeyRequest>(body)?;
    same_for::<CustomPricesRequest>(body)?;
    same_for::<RebuildRequest>(body)?;
    same_for::<RepriceRequest>(body)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn a_valid_body_broken_in_one_place_is_named_as_the_path_tracker_named_it(
        example in prop::sample::select(EXAMPLES),
        at in 0..200usize,
        with in json(),
        how in 0..4u8,
        spaces in prop::collection::vec(prop::sample::select(vec!["", " ", "\n", "\t "]), 1..4),
    ) {
        same_for_all(&broken(example, at, with, how, &spaces))?;
    }

    #[test]
    fn a_random_body_is_named_as_the_path_tracker_named_it(body in body()) {
        same_for_all(&body)?;
    }
}
