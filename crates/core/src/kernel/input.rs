//! Turning request bodies into typed values once, at the boundary. Every parse failure names
//! the JSON path of the offending field, so a client can fix its request without guessing.

use serde::de::DeserializeOwned;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};

use crate::kernel::error::{CoreError, FieldError};
use crate::kernel::json_path::path_of_error;

/// Parses a JSON body into `T`. Unknown fields, wrong types and syntax errors become a
/// [`CoreError::MalformedBody`] whose details name the field (`events[2].model`).
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, CoreError> {
    let text = body_text(body, "a JSON object")?;
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = T::deserialize(&mut deserializer).map_err(|inner| {
        if inner.is_syntax() || inner.is_eof() {
            not_json(text, &inner, "request body is not valid JSON")
        } else {
            let (field, message) = field_at_fault(text, &inner);
            let field = if field == "." {
                "body".to_string()
            } else {
                field
            };
            CoreError::MalformedBody {
                message: format!("`{field}`: {message}"),
                details: vec![FieldError::new(field, message)],
            }
        }
    })?;
    deserializer.end().map_err(|_| CoreError::MalformedBody {
        message: "request body has trailing characters after the JSON value".into(),
        details: vec![],
    })?;
    Ok(value)
}

/// A body that does not read as JSON (or ends early), `what` said of it, with where it
/// stopped named: the field whose value did not read (`events[0].input_tokens` for a number
/// out of range), or `body`.
pub fn not_json(text: &str, error: &serde_json::Error, what: &str) -> CoreError {
    let problem = strip_position(&error.to_string());
    let path = crate::kernel::json_path::path_of_error(text.as_bytes(), error);
    let field = if path == "." {
        "body".to_string()
    } else {
        path
    };
    CoreError::MalformedBody {
        message: format!("{what}: {problem}"),
        details: vec![FieldError::new(field, problem)],
    }
}

/// A request body as text, refused as malformed when it is empty (`expected` says what was
/// wanted) or not UTF-8. Every JSON text is read as text, so that a type read by two paths (an
/// event: a quote and ingestion) has one copy of serde's reading of it in the wasm.
pub fn body_text<'a>(body: &'a [u8], expected: &str) -> Result<&'a str, CoreError> {
    let malformed = |message: String| CoreError::MalformedBody {
        details: vec![FieldError::new("body", message.clone())],
        message,
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(malformed(format!(
            "request body is empty; expected {expected}"
        )));
    }
    std::str::from_utf8(body)
        .map_err(|_| malformed("request body is not valid JSON: it is not UTF-8".into()))
}

/// The field at fault and what is wrong with it, for a data error (not a syntax error) of
/// serde_json reading `text`: the path read back from the error's offset
/// ([`crate::kernel::json_path`]), then [`locate`]d.
pub fn field_at_fault(text: &str, error: &serde_json::Error) -> (String, String) {
    locate(
        &path_of_error(text.as_bytes(), error),
        &strip_position(&error.to_string()),
    )
}

/// Where a serde error (its message without position) belongs and what to tell the client.
/// serde reports "duplicate field `x`" and "missing field `x`" at the object's path, so the
/// field is taken from the message; integer type errors say in words what is wanted. The path
/// stays `.` for the whole value.
pub fn locate(path: &str, message: &str) -> (String, String) {
    let named = message
        .strip_prefix("duplicate field `")
        .or_else(|| message.strip_prefix("missing field `"))
        .and_then(|rest| rest.split('`').next());
    let field = match (path, named) {
        (".", Some(name)) => name.to_string(),
        (_, Some(name)) => format!("{path}.{name}"),
        _ => path.to_string(),
    };
    let message = if message.starts_with("missing field `") {
        "is required".to_string()
    } else {
        ["u64", "u32", "u16", "u8", "usize"]
            .iter()
            .fold(message.to_string(), |m, t| {
                m.replace(
                    &format!("expected {t}"),
                    "expected a whole number, 0 or more",
                )
            })
            .replace("expected i64", "expected a whole number")
    };
    (field, message)
}

/// serde_json appends " at line 1 column 12"; the field path says more to a client.
pub fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message.to_string(),
    }
}

/// Whether a character would let a name read as something it is not: control characters
/// (C0, DEL, C1), line and paragraph separators, and the characters that show as nothing or
/// change the order of what is shown: the Unicode format characters (category Cf: direction
/// marks, embeddings, overrides and isolates, zero-width spaces and joiners, word joiner and
/// invisible operators, the byte-order mark, soft hyphen, interlinear annotation, tag
/// characters, ...), the combining grapheme joiner and the Hangul fillers, which render blank.
/// `\u{202E}cba` shows as `abc`; `ad\u{200B}min` looks like `admin`.
pub fn hidden_character(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{0600}'..='\u{0605}'
                | '\u{061C}'
                | '\u{06DD}'
                | '\u{070F}'
                | '\u{0890}'..='\u{0891}'
                | '\u{08E2}'
                | '\u{115F}'..='\u{1160}'
                | '\u{17B4}'..='\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{110BD}'
                | '\u{110CD}'
                | '\u{13430}'..='\u{1343F}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0001}'
                | '\u{E0020}'..='\u{E007F}'
        )
}

/// The one check of a name or label people read (a project or plan name, an event's id,
/// operation, job, session or endpoint, a metadata key): refused, naming `field`, when it
/// holds a [`hidden_character`], so that nothing shown in the dashboard, a CSV or an alert can
/// pass for another name.
pub fn visible_text(field: impl Into<String>, text: &str) -> Result<(), FieldError> {
    // Printable ASCII (every id and name in practice) holds no hidden character: the only
    // hidden ones below U+0080 are the controls. Read byte by byte, not char by char.
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Ok(());
    }
    match text.chars().find(|c| hidden_character(*c)) {
        None => Ok(()),
        Some(c) if c.is_control() => Err(FieldError::new(
            field,
            "must not contain control characters",
        )),
        Some(c) => Err(FieldError::new(
            field,
            format!(
                "must not contain invisible or direction-control characters (U+{:04X})",
                u32::from(c)
            ),
        )),
    }
}

/// For PATCH bodies: distinguishes an absent field (`None`) from an explicit `null`
/// (`Some(None)`), which clears the value.
pub fn nullable<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A number or a string holding a decimal; money and prices accept both so that a client can
/// send `"0.045"` and keep every digit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecimalText(pub String);

impl<'de> Deserialize<'de> for DecimalText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        const WANTED: &str = "expected a decimal number or a string holding one";
        // Every error is raised inside the visitor, while serde_json still stands at the
        // value, so that the error's offset names this field (`kernel::json_path`).
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = DecimalText;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a decimal number or a string holding one")
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<DecimalText, E> {
                Ok(DecimalText(n.to_string()))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<DecimalText, E> {
                Ok(DecimalText(n.to_string()))
            }
            // serde_json prints the shortest text that reads back as the same number, which
            // is what the client wrote for any amount with up to 15 significant digits.
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<DecimalText, E> {
                serde_json::Number::from_f64(n)
                    .map(|n| DecimalText(n.to_string()))
                    .ok_or_else(|| E::custom(WANTED))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<DecimalText, E> {
                Ok(DecimalText(text.to_owned()))
            }
            fn visit_string<E: de::Error>(self, text: String) -> Result<DecimalText, E> {
                Ok(DecimalText(text))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<DecimalText, E> {
                Err(E::custom(WANTED))
            }
            fn visit_unit<E: de::Error>(self) -> Result<DecimalText, E> {
                Err(E::custom(WANTED))
            }
            // An array or object is read to its end first, so that the reader stops after it.
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<DecimalText, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Err(de::Error::custom(WANTED))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<DecimalText, A::Error> {
                while map
                    .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
                    .is_some()
                {}
                Err(de::Error::custom(WANTED))
            }
        }
        deserializer.deserialize_any(Visit)
    }
}

/// The most email addresses one list (a budget's or a plan's alert recipients) may hold.
pub const MAX_EMAILS: usize = 20;

/// A deliberately plain address check: one `@`, a dotted domain, no spaces or angle brackets.
pub fn valid_email(address: &str) -> bool {
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && domain.len() <= 253
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && address.chars().all(|c| {
            c.is_ascii_graphic() && !matches!(c, '<' | '>' | '(' | ')' | ',' | ';' | '"' | '\\')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        name: String,
        count: Option<u32>,
        items: Option<Vec<Item>>,
        pairs: Option<std::collections::BTreeMap<String, Vec<u8>>>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        size: u32,
    }

    fn details(error: CoreError) -> Vec<FieldError> {
        match error {
            CoreError::MalformedBody { details, .. } => details,
            other => panic!("expected a malformed body, got {other:?}"),
        }
    }

    #[test]
    fn a_wrong_type_names_the_nested_field() {
        let error =
            parse_json::<Sample>(br#"{"name":"a","items":[{"size":1},{"size":"x"}]}"#).unwrap_err();
        assert_eq!(details(error)[0].field, "items[1].size");
    }

    /// The field a data error names.
    fn field_of(body: &str) -> String {
        details(parse_json::<Sample>(body.as_bytes()).unwrap_err())[0]
            .field
            .clone()
    }

    #[test]
    fn an_object_where_a_number_is_wanted_is_named_though_the_reader_stopped_at_its_brace() {
        let body =
            "{\n  \"name\": \"a\",\n  \"items\": [ {\"size\": 1},\n {\"size\": {\"x\": [1]}} ]\n}";
        assert_eq!(field_of(body), "items[1].size");
    }

    #[test]
    fn an_unknown_key_is_named_with_its_object_path() {
        assert_eq!(
            field_of(r#"{"name":"a","items":[{"sise":1}]}"#),
            "items[0].sise"
        );
    }

    #[test]
    fn a_missing_and_a_repeated_field_are_named_under_their_object() {
        assert_eq!(field_of(r#"{"name":"a","items":[{}]}"#), "items[0].size");
        assert_eq!(field_of(r#"{"name":"a","count":1,"count":2}"#), "count");
        assert_eq!(field_of(r#"{"count":1}"#), "name");
    }

    #[test]
    fn keys_with_escapes_commas_and_brackets_are_read_as_keys() {
        let body = r#"{"name":"a, [b] {c}","pairs":{"k\"1,]":[1,2],"é\u0041":[1,"x"]}}"#;
        assert_eq!(field_of(body), "pairs.éA[1]");
    }

    #[test]
    fn a_body_that_is_not_an_object_is_named_as_the_body() {
        assert_eq!(field_of("\"text\""), "body");
        assert_eq!(field_of("12"), "body");
        // serde reads a struct from an array too, field by field: the first is at fault here.
        assert_eq!(field_of("[1, 2]"), "[0]");
    }

    #[test]
    fn an_unknown_field_is_rejected_and_named() {
        let error = parse_json::<Sample>(br#"{"name":"a","colour":"red"}"#).unwrap_err();
        let d = details(error);
        assert!(d[0].message.contains("colour"), "{d:?}");
    }

    #[test]
    fn out_of_range_numbers_are_rejected() {
        let error = parse_json::<Sample>(br#"{"name":"a","count":-1}"#).unwrap_err();
        assert_eq!(details(error)[0].field, "count");
    }

    #[test]
    fn a_body_that_is_not_utf8_is_malformed_and_says_so() {
        match parse_json::<Sample>(b"{\"name\":\"caf\xe9\"}") {
            Err(CoreError::MalformedBody { message, details }) => {
                assert_eq!(message, "request body is not valid JSON: it is not UTF-8");
                assert_eq!(details[0].field, "body");
            }
            other => panic!("expected a malformed body, got {other:?}"),
        }
    }

    #[test]
    fn syntax_errors_and_empty_bodies_are_malformed() {
        assert!(matches!(
            parse_json::<Sample>(b"{\"name\":"),
            Err(CoreError::MalformedBody { .. })
        ));
        assert!(matches!(
            parse_json::<Sample>(b"  "),
            Err(CoreError::MalformedBody { .. })
        ));
        assert!(matches!(
            parse_json::<Sample>(br#"{"name":"a"} x"#),
            Err(CoreError::MalformedBody { .. })
        ));
    }

    #[test]
    fn a_body_that_stops_reading_as_json_names_the_field_it_stopped_in_or_the_body() {
        for (body, field) in [
            (r#"{"name":"a","count":1e309}"#, "count"),
            (
                r#"{"name":"a","items":[{"size":1},{"size":1E400}]}"#,
                "items[1].size",
            ),
            (r#"{"name":"\ud800"}"#, "name"),
            ("{\"name\":", "name"),
            (r#"{"name":"a","items":[{"si"#, "items[0]"),
            ("{", "body"),
            ("nope", "body"),
        ] {
            match parse_json::<Sample>(body.as_bytes()) {
                Err(CoreError::MalformedBody { message, details }) => {
                    assert!(
                        message.starts_with("request body is not valid JSON: "),
                        "{message}"
                    );
                    assert_eq!(
                        details.iter().map(|d| d.field.as_str()).collect::<Vec<_>>(),
                        vec![field],
                        "{body}"
                    );
                }
                other => panic!("expected a malformed body for {body}, got {other:?}"),
            }
        }
    }

    #[test]
    fn the_printable_ascii_shortcut_of_visible_text_answers_as_the_character_rule_does() {
        // The shortcut passes exactly the ASCII characters the rule does not hide.
        for c in (0u8..0x80).map(char::from) {
            assert_eq!((' '..='~').contains(&c), !hidden_character(c), "{c:?}");
            let text = format!("ab{c}cd");
            assert_eq!(
                visible_text("f", &text).is_ok(),
                !hidden_character(c),
                "{c:?}"
            );
        }
        // Text beyond ASCII still goes character by character.
        assert!(visible_text("f", "café-été").is_ok());
        let problem = visible_text("f", "ad\u{200B}min").unwrap_err();
        assert_eq!(problem.field, "f");
        assert!(problem.message.contains("U+200B"), "{}", problem.message);
        assert!(visible_text("f", "x\u{7F}").is_err());
    }

    #[test]
    fn every_direction_control_and_invisible_character_is_hidden_and_letters_are_not() {
        let hidden = [
            '\u{0000}',
            '\u{001B}',
            '\u{007F}',
            '\u{0085}',
            '\u{00AD}',
            '\u{061C}',
            '\u{180E}',
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{200E}',
            '\u{200F}',
            '\u{2028}',
            '\u{2029}',
            '\u{202A}',
            '\u{202B}',
            '\u{202C}',
            '\u{202D}',
            '\u{202E}',
            '\u{2060}',
            '\u{2061}',
            '\u{2062}',
            '\u{2063}',
            '\u{2064}',
            '\u{2066}',
            '\u{2067}',
            '\u{2068}',
            '\u{2069}',
            '\u{206A}',
            '\u{206F}',
            '\u{3164}',
            '\u{FEFF}',
            '\u{FFF9}',
            '\u{E0001}',
            '\u{E0041}',
        ];
        for c in hidden {
            assert!(hidden_character(c), "U+{:04X}", u32::from(c));
            let problem = visible_text("name", &format!("a{c}b")).unwrap_err();
            assert_eq!(problem.field, "name");
        }
        for text in [
            "Video ads",
            "Café",
            "广告",
            "العربية",
            "עברית",
            "a-b_c/d:e@f",
            "🎬 clips",
        ] {
            assert_eq!(visible_text("name", text), Ok(()), "{text}");
        }
        assert_eq!(
            visible_text("name", "a\u{202E}b").unwrap_err().message,
            "must not contain invisible or direction-control characters (U+202E)"
        );
        assert_eq!(
            visible_text("name", "a\u{0007}b").unwrap_err().message,
            "must not contain control characters"
        );
    }

    #[test]
    fn decimal_text_keeps_the_digits_the_client_wrote() {
        let n: DecimalText = serde_json::from_str("0.045").unwrap();
        assert_eq!(n.0, "0.045");
        let s: DecimalText = serde_json::from_str("\"12.50\"").unwrap();
        assert_eq!(s.0, "12.50");
        assert!(serde_json::from_str::<DecimalText>("true").is_err());
    }
}
