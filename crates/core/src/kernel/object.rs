//! A smaller reader of JSON objects than serde's derived `Deserialize`: [`object_reader!`]
//! writes a struct's `Deserialize` that asks for a map (`deserialize_map`, so no `visit_seq`:
//! a struct sent as an array is refused) and reads every key through one shared [`Key`],
//! which looks the key up in the struct's table of names by a plain function. The derive
//! writes a field visitor and a sequence visitor for every struct; this writes only the
//! `visit_map`, and its messages are serde's: unknown, repeated and missing fields, and
//! "invalid type: ..., expected struct X" for a value that is not an object.
//!
//! ```text
//! spend_core::object_reader!(BudgetPatch, deny {
//!     monthly: default with crate::kernel::input::nullable => Option<Option<String>>,
//!     project_id: required,
//!     operation ["operation", "service"]: default,
//!     v: default(version),
//! });
//! ```
//!
//! `deny` refuses a field the struct does not have (`deny_unknown_fields`); `skip` ignores it.
//! Each field, in the struct's order, is `required` (missing: "missing field `x`"), `default`
//! (missing: `Default::default()`, which is `None` for an `Option`, as serde reads a missing
//! `Option`) or `default(path)` (missing: `path()`); `with path => Type` reads it through a
//! `deserialize_with` function. A field read under other names lists every name, the field's
//! own among them, in text order (serde's order in the unknown field message). A struct with
//! one lifetime (`Envelope<'a>`) may borrow from the text it is read from.

use std::fmt::{self, Write as _};

use serde::de::{self, DeserializeSeed, Deserializer, Visitor};

/// Reads one key of an object: the index of the field it names in `keys` (each field's
/// names), or `usize::MAX` for a key of no field when unknown fields are skipped.
pub struct Key {
    pub keys: &'static [&'static [&'static str]],
    /// Whether a key of no field is refused (serde's `deny_unknown_fields`).
    pub deny: bool,
}

impl<'de> DeserializeSeed<'de> for Key {
    type Value = usize;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<usize, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = usize;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("field identifier")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<usize, E> {
        match field_of(self.keys, key) {
            Some(index) => Ok(index),
            None if self.deny => Err(E::custom(unknown_field(key, self.keys))),
            None => Ok(usize::MAX),
        }
    }
}

/// The index of the field one of whose names is `key`. Names of another length or first
/// letter are passed over before any comparison of text (every key of every event of a batch
/// is looked up here, in a table of some 40 names).
fn field_of(keys: &[&[&str]], key: &str) -> Option<usize> {
    let (len, first) = (key.len(), key.as_bytes().first());
    keys.iter().position(|names| {
        names
            .iter()
            .any(|name| name.len() == len && name.as_bytes().first() == first && *name == key)
    })
}

/// serde's message for an unknown field (`de::Error::unknown_field`), every name of every
/// field listed.
fn unknown_field(key: &str, keys: &[&[&str]]) -> String {
    let names: Vec<&str> = keys
        .iter()
        .flat_map(|names| names.iter().copied())
        .collect();
    unknown("field", key, &names)
}

/// serde's message for an unknown field `key` of a body whose fields are `names` (a body read
/// in parts, whose unknown field one part finds but whose names all parts hold).
pub(crate) fn unknown_field_message(key: &str, names: &[&str]) -> String {
    unknown("field", key, names)
}

/// serde's message for an unknown field or variant (`what`) named `key`.
fn unknown(what: &str, key: &str, names: &[&str]) -> String {
    let mut message = format!("unknown {what} `{key}`, ");
    // Writing to a String cannot fail.
    let _ = match names {
        [] => write!(message, "there are no {what}s"),
        [one] => write!(message, "expected `{one}`"),
        [one, two] => write!(message, "expected `{one}` or `{two}`"),
        _ => {
            message.push_str("expected one of ");
            let listed: Vec<String> = names.iter().map(|name| format!("`{name}`")).collect();
            write!(message, "{}", listed.join(", "))
        }
    };
    message
}

/// Reads an enum of unit variants written as their names (`"tokens"`), as serde's derive reads
/// one from a string, with its message for an unknown name; anything but a string is refused
/// as "invalid type: ..., expected `expecting`" (the derive also read `{"tokens": null}`).
pub struct Variant<T: 'static> {
    pub variants: &'static [(&'static str, T)],
    /// serde's `expecting` text: `enum Unit`.
    pub expecting: &'static str,
}

impl<'de, T: Copy> DeserializeSeed<'de> for Variant<T> {
    type Value = T;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<T, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de, T: Copy> Visitor<'de> for Variant<T> {
    type Value = T;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str(self.expecting)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<T, E> {
        match self.variants.iter().find(|(name, _)| *name == text) {
            Some((_, value)) => Ok(*value),
            None => {
                let names: Vec<&str> = self.variants.iter().map(|(name, _)| *name).collect();
                Err(E::custom(unknown("variant", text, &names)))
            }
        }
    }
}

/// Writes `Deserialize` for a struct as an object reader; see the module's documentation.
#[macro_export]
macro_rules! object_reader {
    ($ty:ident $(<$lt:lifetime>)?, $unknown:ident {
        $( $field:ident $([$($name:literal),+])? : $missing:ident $(($default:path))?
            $(with $with:path => $wty:ty)? ),* $(,)?
    }) => {
        impl<'de $(: $lt, $lt)?> ::serde::Deserialize<'de> for $ty $(<$lt>)? {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::core::result::Result<Self, D::Error> {
                #[allow(non_camel_case_types, clippy::enum_variant_names)]
                enum Field { $($field),* }
                const KEYS: &[&[&str]] = &[ $( $crate::__object_names!($field $([$($name),+])?) ),* ];
                struct Reader $(<$lt>)? (::core::marker::PhantomData<$ty $(<$lt>)?>);
                impl<'de $(: $lt, $lt)?> ::serde::de::Visitor<'de> for Reader $(<$lt>)? {
                    type Value = $ty $(<$lt>)?;

                    fn expecting(&self, formatter: &mut ::core::fmt::Formatter) -> ::core::fmt::Result {
                        formatter.write_str(concat!("struct ", stringify!($ty)))
                    }

                    fn visit_map<A: ::serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> ::core::result::Result<Self::Value, A::Error> {
                        $( let mut $field = None; )*
                        let deny = $crate::__object_deny!($unknown);
                        // In a closure, so that an error part way drops what was read in one
                        // place rather than at each `?` (about a fifth of the reader).
                        let mut read = || -> ::core::result::Result<(), A::Error> {
                            while let Some(index) =
                                map.next_key_seed($crate::kernel::object::Key { keys: KEYS, deny })?
                            {
                                $(
                                    if index == Field::$field as usize {
                                        if $field.is_some() {
                                            return Err(<A::Error as ::serde::de::Error>::duplicate_field(
                                                stringify!($field),
                                            ));
                                        }
                                        $field = Some($crate::__object_value!(map $(with $with => $wty)?));
                                        continue;
                                    }
                                )*
                                map.next_value::<::serde::de::IgnoredAny>()?;
                            }
                            Ok(())
                        };
                        read()?;
                        Ok($ty {
                            $( $field: $crate::__object_missing!($field, A, $missing $(($default))?), )*
                        })
                    }
                }
                deserializer.deserialize_map(Reader(::core::marker::PhantomData))
            }
        }

        impl $(<$lt>)? $ty $(<$lt>)? {
            /// Each field and the keys that spell it in a request (its name, or its aliases).
            #[allow(dead_code)]
            pub const SPELLINGS: &'static [(&'static str, &'static [&'static str])] = &[
                $( (stringify!($field), $crate::__object_names!($field $([$($name),+])?)) ),*
            ];
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __object_names {
    ($field:ident) => {
        &[stringify!($field)]
    };
    ($field:ident [$($name:literal),+]) => {
        &[$($name),+]
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __object_deny {
    (deny) => {
        true
    };
    (skip) => {
        false
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __object_value {
    ($map:ident) => {
        $map.next_value()?
    };
    ($map:ident with $with:path => $wty:ty) => {{
        struct With($wty);
        impl<'de> ::serde::Deserialize<'de> for With {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::core::result::Result<Self, D::Error> {
                $with(deserializer).map(With)
            }
        }
        $map.next_value::<With>()?.0
    }};
}

#[doc(hidden)]
#[macro_export]
macro_rules! __object_missing {
    ($field:ident, $a:ident, required) => {
        match $field {
            Some(value) => value,
            None => {
                return Err(<$a::Error as ::serde::de::Error>::missing_field(
                    stringify!($field),
                ))
            }
        }
    };
    ($field:ident, $a:ident, default) => {
        $field.unwrap_or_default()
    };
    ($field:ident, $a:ident, default($default:path)) => {
        $field.unwrap_or_else($default)
    };
}

#[cfg(test)]
#[path = "object_tests.rs"]
mod tests;
