use serde::Deserialize;

use crate::kernel::input::nullable;

/// Read by the macro.
#[derive(Debug, PartialEq)]
struct Ours {
    name: String,
    count: Option<i64>,
    tokens: i64,
    clear: Option<Option<String>>,
    v: u32,
}

fn seven() -> u32 {
    7
}

crate::object_reader!(Ours, deny {
    name: required,
    count: default,
    tokens ["prompt_tokens", "tokens"]: default,
    clear: default with nullable => Option<Option<String>>,
    v: default(seven),
});

/// The same fields as serde's derive reads them.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Derived {
    name: String,
    count: Option<i64>,
    #[serde(default, alias = "prompt_tokens")]
    tokens: i64,
    #[serde(default, deserialize_with = "nullable")]
    clear: Option<Option<String>>,
    #[serde(default = "seven")]
    v: u32,
}

/// Skips what it does not know.
#[derive(Debug, PartialEq)]
struct Lenient {
    id: String,
}

crate::object_reader!(Lenient, skip { id: required });

fn ours(text: &str) -> Result<Ours, String> {
    serde_json::from_str::<Ours>(text).map_err(|e| e.to_string())
}

fn derived(text: &str) -> Result<Derived, String> {
    serde_json::from_str::<Derived>(text)
        .map_err(|e| e.to_string().replace("struct Derived", "struct Ours"))
}

#[test]
fn an_object_reads_as_the_derive_reads_it_with_defaults_aliases_and_null() {
    let read = ours(r#"{"name": "a", "prompt_tokens": 3, "clear": null}"#);
    assert_eq!(
        read,
        Ok(Ours {
            name: "a".into(),
            count: None,
            tokens: 3,
            clear: Some(None),
            v: 7,
        })
    );
    let full = ours(r#"{"v": 2, "clear": "x", "count": null, "tokens": 4, "name": "b"}"#);
    assert_eq!(
        full,
        Ok(Ours {
            name: "b".into(),
            count: None,
            tokens: 4,
            clear: Some(Some("x".into())),
            v: 2,
        })
    );
}

#[test]
fn every_refusal_has_the_derives_message_and_position() {
    for text in [
        r#"{"name": "a", "colour": 1}"#,
        r#"{"name": "a", "name": "b"}"#,
        r#"{"name": "a", "tokens": 1, "prompt_tokens": 2}"#,
        r#"{"count": 1}"#,
        r#"{"name": null}"#,
        r#"{"name": "a", "count": "1"}"#,
        r#"{"name": "a", "v": -1}"#,
        r#""text""#,
        "null",
        "3",
        r#"{"name": "a", "n\u0061me": "b"}"#,
    ] {
        assert_eq!(
            ours(text).map(|_| ()),
            derived(text).map(|_| ()),
            "for {text}"
        );
    }
}

#[test]
fn an_unknown_field_is_refused_with_every_name_listed() {
    assert_eq!(
        ours(r#"{"name": "a", "colour": 1}"#),
        Err("unknown field `colour`, expected one of `name`, `count`, `prompt_tokens`, `tokens`, `clear`, `v` at line 1 column 22".into())
    );
}

#[test]
fn a_repeated_field_is_refused_by_its_own_name_even_under_an_alias() {
    assert_eq!(
        ours(r#"{"tokens": 1, "prompt_tokens": 2}"#),
        Err("duplicate field `tokens` at line 1 column 29".into())
    );
}

#[test]
fn a_missing_required_field_is_named_after_the_object_ends() {
    assert_eq!(
        ours(r#"{"count": 1}"#),
        Err("missing field `name` at line 1 column 12".into())
    );
}

#[test]
fn null_for_a_required_string_is_a_wrong_type() {
    assert_eq!(
        ours(r#"{"name": null}"#),
        Err("invalid type: null, expected a string at line 1 column 13".into())
    );
}

#[test]
fn a_value_that_is_not_an_object_expects_the_struct_by_name() {
    assert_eq!(
        ours("3"),
        Err("invalid type: integer `3`, expected struct Ours at line 1 column 1".into())
    );
}

#[test]
fn an_array_in_place_of_the_object_is_refused_though_the_derive_took_it() {
    assert!(derived(r#"["a", 1, 2, null, 3]"#).is_ok());
    assert_eq!(
        ours(r#"["a", 1, 2, null, 3]"#),
        Err("invalid type: sequence, expected struct Ours at line 1 column 0".into())
    );
}

#[test]
fn a_lenient_reader_skips_unknown_fields_of_any_shape() {
    let read = serde_json::from_str::<Lenient>(r#"{"x": [1, {"y": null}], "id": "e1", "z": 2}"#)
        .map_err(|e| e.to_string());
    assert_eq!(read, Ok(Lenient { id: "e1".into() }));
}

#[test]
fn a_key_of_no_field_lists_two_or_one_or_no_names_as_serde_does() {
    let keys: &[&[&str]] = &[&["a"], &["b"]];
    assert_eq!(
        super::unknown_field("c", keys),
        "unknown field `c`, expected `a` or `b`"
    );
    assert_eq!(
        super::unknown_field("c", &[&["a"]]),
        "unknown field `c`, expected `a`"
    );
    assert_eq!(
        super::unknown_field("c", &[]),
        "unknown field `c`, there are no fields"
    );
}

/// Read by [`super::Variant`].
#[derive(Debug, Clone, Copy, PartialEq)]
enum Shade {
    Light,
    DarkBlue,
}

impl<'de> Deserialize<'de> for Shade {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::DeserializeSeed;
        super::Variant {
            variants: &[("light", Shade::Light), ("dark_blue", Shade::DarkBlue)],
            expecting: "enum Shade",
        }
        .deserialize(deserializer)
    }
}

/// The same enum as serde's derive reads it.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum DerivedShade {
    Light,
    DarkBlue,
}

#[test]
fn a_variant_reads_by_its_name_and_an_unknown_name_has_the_derives_message() {
    let ours = |text: &str| serde_json::from_str::<Shade>(text).map_err(|e| e.to_string());
    let derived = |text: &str| {
        serde_json::from_str::<DerivedShade>(text)
            .map(|_| ())
            .map_err(|e| e.to_string().replace("DerivedShade", "Shade"))
    };
    assert_eq!(ours(r#""dark_blue""#), Ok(Shade::DarkBlue));
    assert_eq!(ours(r#""light""#), Ok(Shade::Light));
    assert_eq!(
        ours(r#""dark""#),
        Err("unknown variant `dark`, expected `light` or `dark_blue` at line 1 column 6".into())
    );
    assert_eq!(ours(r#""dark""#).map(|_| ()), derived(r#""dark""#));
}

#[test]
fn a_variant_that_is_not_a_string_is_the_wrong_type() {
    assert_eq!(
        serde_json::from_str::<Shade>("3").map_err(|e| e.to_string()),
        Err("invalid type: integer `3`, expected enum Shade at line 1 column 1".into())
    );
}

/// Borrows from the text it is read from.
#[derive(Debug, PartialEq)]
struct Borrowed<'a> {
    text: &'a str,
}

crate::object_reader!(Borrowed<'a>, deny { text: required });

#[test]
fn a_struct_with_a_lifetime_borrows_its_values_from_the_text() {
    let body = String::from(r#"{"text": "plain"}"#);
    let read = serde_json::from_str::<Borrowed>(&body).map_err(|e| e.to_string());
    assert_eq!(read, Ok(Borrowed { text: "plain" }));
}
