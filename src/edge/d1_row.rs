//! D1 rows read by column name, one small function per row type.
//!
//! `D1Result::results::<T>()` reads each row through `serde_wasm_bindgen` with a deserializer
//! compiled for every row type `T` (a 40-column usage row alone took about 8.6 KB of wasm). Here
//! the rows come out of `serde_wasm_bindgen` once, as the JavaScript objects D1 gave
//! ([`JsRow`], through its `preserve`), and [`d1_row!`](crate::d1_row) writes each row type's
//! reader: one property read per column, converted by [`Cell`] (text, an integer, a number, or
//! either of those or null). The column names are made into JavaScript strings once per result,
//! not once per row.
//!
//! What a row type accepts is what its derived `Deserialize` accepted from D1: text only from a
//! string, an integer only from a safe integer (a whole number within 2^53), `Option` for null
//! or an absent column, extra columns ignored. (`serde_wasm_bindgen` also took a `BigInt` for an
//! integer; D1 gives none.) A value of another type is a corrupt row (`StoreError::Corrupt`,
//! where the derived reader's failure was reported as the store being unavailable), named by
//! its column.

use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::D1Result;

use super::d1::{corrupt, store_error};
use crate::core::kernel::error::StoreError;

/// One row of a D1 result as the JavaScript object D1 gave.
#[derive(Deserialize)]
#[serde(transparent)]
pub struct JsRow(#[serde(with = "serde_wasm_bindgen::preserve")] pub JsValue);

impl JsRow {
    /// The value of column `name`, whatever its type (null when absent): for readers that
    /// take text and numbers alike, or whose columns are known only when the query is built.
    pub fn get(&self, name: &str) -> Loose {
        let read = |key: &JsValue| js_sys::Reflect::get(&self.0, key).unwrap_or(JsValue::UNDEFINED);
        // The name as a JavaScript string made once per isolate (a few dozen column names),
        // not once per row and column.
        let value = COLUMN_KEYS.with(|keys| {
            let mut keys = keys.try_borrow_mut().ok()?;
            if keys.get(name).is_none() {
                keys.insert(name.to_string(), JsValue::from_str(name));
            }
            keys.get(name).map(read)
        });
        Loose::of(&value.unwrap_or_else(|| read(&JsValue::from_str(name))))
    }
}

thread_local! {
    /// Column names read by [`JsRow::get`], as JavaScript strings.
    static COLUMN_KEYS: std::cell::RefCell<litemap::LiteMap<String, JsValue>> =
        const { std::cell::RefCell::new(litemap::LiteMap::new()) };
}

/// A value of any type, read as `serde_json::Value` read it from `serde_wasm_bindgen` (which
/// these readers used before): null for null, an absent column, or a number that is not finite.
#[derive(Debug, Default, PartialEq)]
pub enum Loose {
    #[default]
    Null,
    Bool(bool),
    Text(String),
    Number(f64),
    /// An array, an object or another kind of JavaScript value.
    Other,
}

impl Loose {
    fn of(value: &JsValue) -> Self {
        if value.is_null() || value.is_undefined() {
            Loose::Null
        } else if let Some(b) = value.as_bool() {
            Loose::Bool(b)
        } else if let Some(n) = value.as_f64() {
            Self::number(n)
        } else if let Some(s) = value.as_string() {
            Loose::Text(s)
        } else {
            Loose::Other
        }
    }

    /// A number as `serde_json` keeps it: one that is not finite is null.
    pub fn number(n: f64) -> Self {
        if n.is_finite() {
            Loose::Number(n)
        } else {
            Loose::Null
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Loose::Text(s) => Some(s),
            _ => None,
        }
    }

    pub fn text(self) -> Option<String> {
        match self {
            Loose::Text(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Loose::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// A safe integer (a whole number within 2^53), as `serde_wasm_bindgen` gave an integer.
    pub fn as_safe_int(&self) -> Option<i64> {
        self.as_f64().and_then(safe_int)
    }
}

/// Every row of `result` as the objects D1 gave.
pub fn js_rows(result: &D1Result) -> Result<Vec<JsRow>, StoreError> {
    result.results::<JsRow>().map_err(store_error)
}

/// A row type read by [`d1_row!`](crate::d1_row).
pub trait FromRows: Sized {
    /// Reads every row, or names the first column that cannot be read.
    fn from_rows(rows: Vec<JsRow>) -> Result<Vec<Self>, StoreError>;
}

/// A value of one column.
pub trait Cell: Sized {
    fn read(value: JsValue, column: &str) -> Result<Self, StoreError>;
}

/// The largest integer a JavaScript number holds exactly (`Number.MAX_SAFE_INTEGER`).
const MAX_SAFE: f64 = 9_007_199_254_740_991.0;

/// A whole number within 2^53 as an integer.
fn safe_int(n: f64) -> Option<i64> {
    (n.fract() == 0.0 && n.abs() <= MAX_SAFE).then_some(n as i64)
}

impl Cell for String {
    fn read(value: JsValue, column: &str) -> Result<Self, StoreError> {
        value
            .as_string()
            .ok_or_else(|| corrupt(column, format!("expected text, found {}", kind(&value))))
    }
}

impl Cell for i64 {
    fn read(value: JsValue, column: &str) -> Result<Self, StoreError> {
        value.as_f64().and_then(safe_int).ok_or_else(|| {
            corrupt(
                column,
                format!("expected an integer, found {}", kind(&value)),
            )
        })
    }
}

impl Cell for f64 {
    fn read(value: JsValue, column: &str) -> Result<Self, StoreError> {
        value
            .as_f64()
            .ok_or_else(|| corrupt(column, format!("expected a number, found {}", kind(&value))))
    }
}

impl<T: Cell> Cell for Option<T> {
    fn read(value: JsValue, column: &str) -> Result<Self, StoreError> {
        if value.is_null() || value.is_undefined() {
            Ok(None)
        } else {
            T::read(value, column).map(Some)
        }
    }
}

/// What a value is, for an error (never the value: a row may hold what a log should not).
fn kind(value: &JsValue) -> &'static str {
    if value.is_null() || value.is_undefined() {
        "null"
    } else if value.as_string().is_some() {
        "text"
    } else if value.as_f64().is_some() {
        "a number"
    } else {
        "another kind of value"
    }
}

/// The value of column `name` (its key `key`) in `row` as `T`; on failure the default, with the
/// first failure of the row kept in `problem`. Not failing early keeps each row type's reader
/// one call per column: a `?` per field would compile a path dropping the fields read so far
/// for every field.
#[inline(never)]
pub fn read<T: Cell + Default>(
    row: &JsValue,
    key: Option<&JsValue>,
    name: &str,
    problem: &mut Option<StoreError>,
) -> T {
    let value = key
        .and_then(|key| js_sys::Reflect::get(row, key).ok())
        .unwrap_or(JsValue::UNDEFINED);
    match T::read(value, name) {
        Ok(value) => value,
        Err(e) => {
            problem.get_or_insert(e);
            T::default()
        }
    }
}

/// Every row of `result` as `T`.
pub fn rows<T: FromRows>(result: &D1Result) -> Result<Vec<T>, StoreError> {
    T::from_rows(js_rows(result)?)
}

/// Declares a row struct and its [`FromRows`] reader: each field read from the column of its
/// name with [`Cell`].
#[macro_export]
macro_rules! d1_row {
    ($(#[$meta:meta])* $vis:vis struct $name:ident {
        $($(#[$field_meta:meta])* $field_vis:vis $field:ident : $ty:ty),* $(,)?
    }) => {
        $(#[$meta])*
        $vis struct $name {
            $($(#[$field_meta])* $field_vis $field: $ty),*
        }

        impl $crate::edge::d1_row::FromRows for $name {
            fn from_rows(
                rows: Vec<$crate::edge::d1_row::JsRow>,
            ) -> Result<Vec<Self>, $crate::core::kernel::error::StoreError> {
                // The column names as JavaScript strings once, read in the fields' order.
                let keys = [$(stringify!($field)),*].map(::wasm_bindgen::JsValue::from_str);
                let mut out = Vec::with_capacity(rows.len());
                let mut problem = None;
                for row in &rows {
                    let mut key = keys.iter();
                    out.push(Self {
                        $($field: $crate::edge::d1_row::read::<$ty>(
                            &row.0,
                            key.next(),
                            stringify!($field),
                            &mut problem,
                        )),*
                    });
                    if let Some(problem) = problem {
                        return Err(problem);
                    }
                }
                Ok(out)
            }
        }
    };
}
