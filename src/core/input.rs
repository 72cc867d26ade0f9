//! Turning request bodies into typed values once, at the boundary. Every parse failure names
//! the JSON path of the offending field, so a client can fix its request without guessing.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use super::error::{CoreError, FieldError};

/// Parses a JSON body into `T`. Unknown fields, wrong types and syntax errors become a
/// [`CoreError::MalformedBody`] whose details name the field (`events[2].model`).
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, CoreError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(CoreError::MalformedBody {
            message: "request body is empty; expected a JSON object".into(),
            details: vec![],
        });
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        let message = strip_position(&inner.to_string());
        if inner.is_syntax() || inner.is_eof() {
            CoreError::MalformedBody {
                message: format!("request body is not valid JSON: {message}"),
                details: vec![],
            }
        } else {
            let (field, message) = locate(&path, &message);
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

/// Where a serde error (its message without position) belongs and what to tell the client.
/// serde reports "duplicate field `x`" and "missing field `x`" at the object's path, so the
/// field is taken from the message; integer type errors say in words what is wanted. The path
/// stays `.` for the whole value.
pub(crate) fn locate(path: &str, message: &str) -> (String, String) {
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
pub(crate) fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message.to_string(),
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
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(serde_json::Number),
            Text(String),
        }
        match Raw::deserialize(deserializer).map_err(|_| {
            serde::de::Error::custom("expected a decimal number or a string holding one")
        })? {
            // serde_json prints the shortest text that reads back as the same number, which
            // is what the client wrote for any amount with up to 15 significant digits.
            Raw::Number(n) => Ok(DecimalText(n.to_string())),
            Raw::Text(s) => Ok(DecimalText(s)),
        }
    }
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
    fn decimal_text_keeps_the_digits_the_client_wrote() {
        let n: DecimalText = serde_json::from_str("0.045").unwrap();
        assert_eq!(n.0, "0.045");
        let s: DecimalText = serde_json::from_str("\"12.50\"").unwrap();
        assert_eq!(s.0, "12.50");
        assert!(serde_json::from_str::<DecimalText>("true").is_err());
    }
}
