//! `serde_json::json!` with one change: an interpolated value becomes a `Value` by being
//! written as JSON text and read back ([`to_value`]) instead of through serde_json's `Value`
//! serializer. Every type the worker answers with is already written as text (the answers,
//! stored rows); building a `Value` from it through the `Value` serializer compiled each such
//! type's `Serialize` a second time into the wasm (about 33 KB of it). A `Value`'s map keeps
//! its keys sorted either way, and the strings and integers read back are the ones written, so
//! the `Value` (and the JSON written from it) is the same. One exception: a float whose
//! shortest form has a significand past 2^53 (money's approximate `value` past about 9
//! million units) may come back one unit in its last place off, as serde_json reads long
//! decimals fast rather than exactly (its `float_roundtrip` feature would cost 17 KB). Money
//! and totals interpolated themselves are therefore built directly; money nested in another
//! struct keeps that approximation in its `value` (its `amount` is exact either way).
//!
//! The macro is serde_json 1.0.154's `json!` (MIT or Apache-2.0), its internal rules renamed.

use serde::Serialize;
use serde_json::Value;

use crate::kernel::money::{Money, Totals};

/// `value` as a `Value`: written as JSON text and read back. A value serde cannot write as
/// JSON (a map with keys that are not strings) becomes `null`, where `serde_json::to_value`
/// would have failed.
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Value {
    // Only the writing is compiled per type; the rest is `read_back`, once.
    let mut text = Vec::new();
    let written = value.serialize(&mut serde_json::Serializer::new(&mut text));
    read_back(written, text)
}

#[inline(never)]
fn read_back(written: Result<(), serde_json::Error>, text: Vec<u8>) -> Value {
    match written {
        Ok(()) => serde_json::from_slice(&text).unwrap_or(Value::Null),
        Err(_) => Value::Null,
    }
}

/// What [`json!`](crate::json) interpolates: a `Value` is cloned and text, booleans and
/// integers become `Value`s directly (as serde_json's `to_value` makes them), anything else
/// goes through [`to_value`]. The choice is made by method resolution ([`Direct`] is
/// implemented for `Interpolated` itself and found first, [`ThroughText`] for a reference
/// to it), so each interpolation compiles to one of them.
pub struct Interpolated<'a, T: ?Sized>(pub &'a T);

/// The interpolations that become a `Value` without being written.
pub trait Direct {
    fn json_value(&self) -> Value;
}

/// Every other interpolation: written as text and read back.
pub trait ThroughText {
    fn json_value(&self) -> Value;
}

impl<T: Serialize + ?Sized> ThroughText for &Interpolated<'_, T> {
    fn json_value(&self) -> Value {
        to_value(self.0)
    }
}

macro_rules! direct {
    ($($t:ty => |$v:ident| $make:expr;)*) => {$(
        impl Direct for Interpolated<'_, $t> {
            fn json_value(&self) -> Value {
                let $v = self.0;
                $make
            }
        }
    )*};
}

direct! {
    Value => |v| v.clone();
    &Value => |v| (*v).clone();
    str => |v| Value::from(v);
    &str => |v| Value::from(*v);
    String => |v| Value::from(v.as_str());
    &String => |v| Value::from(v.as_str());
    bool => |v| Value::from(*v);
    u64 => |v| Value::from(*v);
    usize => |v| Value::from(*v);
    u32 => |v| Value::from(*v);
    i64 => |v| Value::from(*v);
    i32 => |v| Value::from(*v);
    Vec<Value> => |v| Value::Array(v.clone());
    // Built directly: read back from text, money's float `value` could come back one unit in
    // its last place off past 2^53 nano-units (`Money::json_value`).
    Money => |v| v.json_value();
    &Money => |v| v.json_value();
    Option<Money> => |v| v.as_ref().map_or(Value::Null, Money::json_value);
    Totals => |v| Value::Array(v.iter().map(|m| m.json_value()).collect());
    &Totals => |v| Value::Array(v.iter().map(|m| m.json_value()).collect());
}

/// A `serde_json::Value` from a JSON literal, as `serde_json::json!` builds it; interpolated
/// values go through [`to_value`].
#[macro_export]
macro_rules! json {
    ($($json:tt)+) => {
        $crate::spend_json_internal!($($json)+)
    };
}

#[macro_export]
#[doc(hidden)]
macro_rules! spend_json_internal {

    (@array [$($elems:expr,)*]) => {
        ::std::vec![$($elems,)*]
    };

    (@array [$($elems:expr),*]) => {
        ::std::vec![$($elems),*]
    };

    (@array [$($elems:expr,)*] null $($rest:tt)*) => {
        $crate::spend_json_internal!(@array [$($elems,)* $crate::spend_json_internal!(null)] $($rest)*)
    };

    (@array [$($elems:expr,)*] true $($rest:tt)*) => {
        $crate::spend_json_internal!(@array [$($elems,)* $crate::spend_json_internal!(true)] $($rest)*)
    };

    (@array [$($elems:expr,)*] false $($rest:tt)*) => {
        $crate::spend_json_internal!(@array [$($elems,)* $crate::spend_json_internal!(false)] $($rest)*)
    };

    (@array [$($elems:expr,)*] [$($array:tt)*] $($rest:tt)*) => {
        $crate::spend_json_internal!(@array [$($elems,)* $crate::spend_json_internal!([$($array)*])] $($rest)*)
    };

    (@array [$($elems:expr,)*] {$($map:tt)*} $($rest:tt)*) => {
        $crate::spend_json_internal!(@array [$($elems,)* $crate::spend_json_internal!({$($map)*})] $($rest)*)
    };

    (@array [$($elems:expr,)*] $next:expr, $($rest:tt)*) => {
        $crate::spend_json_internal!(@array [$($elems,)* $crate::spend_json_internal!($next),] $($rest)*)
    };

    (@array [$($elems:expr,)*] $last:expr) => {
        $crate::spend_json_internal!(@array [$($elems,)* $crate::spend_json_internal!($last)])
    };

    (@array [$($elems:expr),*] , $($rest:tt)*) => {
        $crate::spend_json_internal!(@array [$($elems,)*] $($rest)*)
    };

    (@array [$($elems:expr),*] $unexpected:tt $($rest:tt)*) => {
        ::serde_json::json_unexpected!($unexpected)
    };


    (@object $object:ident () () ()) => {};

    (@object $object:ident [$($key:tt)+] ($value:expr) , $($rest:tt)*) => {
        let _ = $object.insert(($($key)+).into(), $value);
        $crate::spend_json_internal!(@object $object () ($($rest)*) ($($rest)*));
    };

    (@object $object:ident [$($key:tt)+] ($value:expr) $unexpected:tt $($rest:tt)*) => {
        ::serde_json::json_unexpected!($unexpected);
    };

    (@object $object:ident [$($key:tt)+] ($value:expr)) => {
        let _ = $object.insert(($($key)+).into(), $value);
    };

    (@object $object:ident ($($key:tt)+) (: null $($rest:tt)*) $copy:tt) => {
        $crate::spend_json_internal!(@object $object [$($key)+] ($crate::spend_json_internal!(null)) $($rest)*);
    };

    (@object $object:ident ($($key:tt)+) (: true $($rest:tt)*) $copy:tt) => {
        $crate::spend_json_internal!(@object $object [$($key)+] ($crate::spend_json_internal!(true)) $($rest)*);
    };

    (@object $object:ident ($($key:tt)+) (: false $($rest:tt)*) $copy:tt) => {
        $crate::spend_json_internal!(@object $object [$($key)+] ($crate::spend_json_internal!(false)) $($rest)*);
    };

    (@object $object:ident ($($key:tt)+) (: [$($array:tt)*] $($rest:tt)*) $copy:tt) => {
        $crate::spend_json_internal!(@object $object [$($key)+] ($crate::spend_json_internal!([$($array)*])) $($rest)*);
    };

    (@object $object:ident ($($key:tt)+) (: {$($map:tt)*} $($rest:tt)*) $copy:tt) => {
        $crate::spend_json_internal!(@object $object [$($key)+] ($crate::spend_json_internal!({$($map)*})) $($rest)*);
    };

    (@object $object:ident ($($key:tt)+) (: $value:expr , $($rest:tt)*) $copy:tt) => {
        $crate::spend_json_internal!(@object $object [$($key)+] ($crate::spend_json_internal!($value)) , $($rest)*);
    };

    (@object $object:ident ($($key:tt)+) (: $value:expr) $copy:tt) => {
        $crate::spend_json_internal!(@object $object [$($key)+] ($crate::spend_json_internal!($value)));
    };

    (@object $object:ident ($($key:tt)+) (:) $copy:tt) => {
        $crate::spend_json_internal!();
    };

    (@object $object:ident ($($key:tt)+) () $copy:tt) => {
        $crate::spend_json_internal!();
    };

    (@object $object:ident () (: $($rest:tt)*) ($colon:tt $($copy:tt)*)) => {
        ::serde_json::json_unexpected!($colon);
    };

    (@object $object:ident ($($key:tt)*) (, $($rest:tt)*) ($comma:tt $($copy:tt)*)) => {
        ::serde_json::json_unexpected!($comma);
    };

    (@object $object:ident () (($key:expr) : $($rest:tt)*) $copy:tt) => {
        $crate::spend_json_internal!(@object $object ($key) (: $($rest)*) (: $($rest)*));
    };

    (@object $object:ident ($($key:tt)*) (: $($unexpected:tt)+) $copy:tt) => {
        ::serde_json::json_expect_expr_comma!($($unexpected)+);
    };

    (@object $object:ident ($($key:tt)*) ($tt:tt $($rest:tt)*) $copy:tt) => {
        $crate::spend_json_internal!(@object $object ($($key)* $tt) ($($rest)*) ($($rest)*));
    };


    (null) => {
        ::serde_json::Value::Null
    };

    (true) => {
        ::serde_json::Value::Bool(true)
    };

    (false) => {
        ::serde_json::Value::Bool(false)
    };

    ([]) => {
        ::serde_json::Value::Array(::std::vec![])
    };

    ([ $($tt:tt)+ ]) => {
        ::serde_json::Value::Array($crate::spend_json_internal!(@array [] $($tt)+))
    };

    ({}) => {
        ::serde_json::Value::Object(::serde_json::Map::new())
    };

    ({ $($tt:tt)+ }) => {
        ::serde_json::Value::Object({
            let mut object = ::serde_json::Map::new();
            $crate::spend_json_internal!(@object object () ($($tt)+) ($($tt)+));
            object
        })
    };

    ($other:expr) => {
        {
            #[allow(unused_imports)]
            use $crate::kernel::json_value::{Direct as _, ThroughText as _};
            (&$crate::kernel::json_value::Interpolated(&$other)).json_value()
        }
    };
}

/// `value` as compact JSON text, as its `Display` writes it, by the JSON writer the answers
/// use (`Display` would compile `Value`'s writing once more, with its pretty variant).
pub fn text(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Value {
        serde_json::json!({
            "name": "a \"quoted\", {braced} [listed]: text\\",
            "empty_list": [],
            "empty_map": {},
            "nested": {"list": [1, -2, 3.5, true, null, {"k": []}], "map": {"z": {}, "a": "é\n"}},
            "money": {"amount": "1.25", "currency": "USD"},
        })
    }

    #[test]
    fn json_builds_the_value_serde_json_builds_for_values_text_and_numbers() {
        let value = sample();
        let name = String::from("n\"1");
        let rows = vec![sample(), Value::Null];
        let ours = crate::json!({
            "value": value, "by_ref": &value, "str": "s", "string": name, "string_ref": &name,
            "yes": true, "big": u64::MAX, "count": 3usize, "small": 7u32, "negative": -4i64,
            "rows": rows, "float": 0.5, "none": Option::<u8>::None, "list": [1, "two", value],
        });
        let theirs = serde_json::json!({
            "value": value, "by_ref": &value, "str": "s", "string": name, "string_ref": &name,
            "yes": true, "big": u64::MAX, "count": 3usize, "small": 7u32, "negative": -4i64,
            "rows": rows, "float": 0.5, "none": Option::<u8>::None, "list": [1, "two", value],
        });
        assert_eq!(ours, theirs);
        assert_eq!(text(&ours), text(&theirs));
    }

    #[test]
    fn money_past_two_to_the_53_nano_units_keeps_its_float_value_to_the_last_digit() {
        use crate::kernel::money::Currency;
        let idr = Currency::parse("IDR").unwrap();
        let usd = Currency::parse("USD").unwrap();
        // 925442866.8999335 read back by serde_json's fast reader is 925442866.8999336.
        let big = Money::new(925_442_866_899_933_438, idr);
        let mut totals = Totals::new();
        totals.add(big);
        totals.add(Money::new(1_250_000_000, usd));
        for (ours, theirs) in [
            (crate::json!(big), serde_json::to_value(big).unwrap()),
            (crate::json!(&big), serde_json::to_value(big).unwrap()),
            (
                crate::json!(Some(big)),
                serde_json::to_value(Some(big)).unwrap(),
            ),
            (crate::json!(totals), serde_json::to_value(&totals).unwrap()),
            (
                crate::json!(&totals),
                serde_json::to_value(&totals).unwrap(),
            ),
        ] {
            assert_eq!(ours, theirs);
            assert_eq!(text(&ours), text(&theirs));
        }
        assert_eq!(
            crate::json!(big)["value"].as_f64(),
            Some(925_442_866.899_933_5)
        );
    }

    #[test]
    fn text_is_what_display_writes() {
        assert_eq!(text(&sample()), sample().to_string());
    }

    #[test]
    fn to_value_reads_back_the_value_serde_json_builds() {
        #[derive(Serialize)]
        struct Row<'a> {
            zeta: u64,
            alpha: &'a str,
            negative: i64,
            ratio: f64,
            whole: f64,
            missing: Option<u8>,
            list: Vec<Option<bool>>,
        }
        let row = Row {
            zeta: u64::MAX,
            alpha: "b\u{1}",
            negative: -7,
            ratio: 0.1,
            whole: 2.0,
            missing: None,
            list: vec![Some(true), None],
        };
        let built = serde_json::to_value(&row).unwrap();
        assert_eq!(to_value(&row), built);
        assert_eq!(
            serde_json::to_string(&to_value(&row)).unwrap(),
            serde_json::to_string(&built).unwrap()
        );
        assert_eq!(
            crate::json!({"row": row, "n": 3}),
            serde_json::json!({"row": built, "n": 3})
        );
    }
}
