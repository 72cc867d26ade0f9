//! Exact money. Amounts are integers of nano-units (10^-9 of a currency unit) tagged with an
//! ISO 4217 currency; there is no float anywhere in storage or arithmetic.
//!
//! Rounding rule (the only one): a cost is computed exactly to 10^-18 of a unit per usage
//! component, the components of one event are summed, and the sum is rounded once, half to
//! even, to a nano-unit. So no event's cost is off by more than half a billionth of a unit,
//! and sums of stored amounts are exact. Amounts in different currencies are never added:
//! [`Totals`] keeps one sum per currency.

use litemap::LiteMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Nano-units per currency unit.
pub const NANOS_PER_UNIT: i128 = 1_000_000_000;

/// The largest cost one event may carry: nine million units of its currency, the most below
/// 2^53 nano-units (so one event's cost is exact as a JavaScript number); rollup sums past 2^63
/// stay exact through their carry (migration 0019). One cap for every currency: a million, the
/// cap before, was about 60 US dollars in rupiah or 40 in dong, a long video generation's
/// price; nine million is about 550 and 350. More than that is a unit mistake.
pub const MAX_EVENT_COST_NANOS: i128 = 9_000_000 * NANOS_PER_UNIT;

// The cap stays exact as a JavaScript number (2^53).
const _: () = assert!(MAX_EVENT_COST_NANOS < 1 << 53);

/// Active ISO 4217 alphabetic codes (2024 list, funds and precious-metal codes left out).
const ISO_4217: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD",
    "CDF", "CHF", "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD",
    "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ",
    "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD",
    "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR",
    "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR",
    "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN",
    "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR",
    "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB",
    "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS",
    "VES", "VND", "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
];

/// An ISO 4217 currency code such as `USD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    pub const USD: Currency = Currency(*b"USD");

    /// Parses a code, accepting lower case; rejects anything not in ISO 4217.
    pub fn parse(code: &str) -> Result<Self, String> {
        // Nearly every cost is in dollars, and a stored record's currency is read back for
        // each answer: the common code first, without the table.
        if code == "USD" {
            return Ok(Currency::USD);
        }
        if let [a, b, c] = *code.trim().as_bytes() {
            let upper = [
                a.to_ascii_uppercase(),
                b.to_ascii_uppercase(),
                c.to_ascii_uppercase(),
            ];
            // Compared as 3-byte integers: this runs for every cost of every event.
            let key = |code: &[u8]| code.iter().fold(0u32, |k, b| (k << 8) | u32::from(*b));
            if ISO_4217
                .binary_search_by_key(&key(&upper), |code| key(code.as_bytes()))
                .is_ok()
            {
                return Ok(Currency(upper));
            }
        }
        Err(format!("`{code}` is not an ISO 4217 currency code"))
    }

    pub fn as_str(&self) -> &str {
        // The bytes always come from the ASCII table above.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // The code is checked inside the visitor, while serde_json still stands at the value,
        // so that the error's offset names this field (`kernel::json_path`).
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = Currency;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, code: &str) -> Result<Currency, E> {
                Currency::parse(code).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visit)
    }
}

/// An exact decimal read from text: `mantissa * 10^-scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decimal {
    pub mantissa: i128,
    pub scale: u32,
}

impl Decimal {
    /// The most fractional digits a decimal may have.
    pub const MAX_SCALE: u32 = 18;

    /// Parses plain decimal text (`12`, `-0.045`, `1e-6`, `2.5E+3`). Exponents are accepted
    /// because JSON numbers written by programs use them; the result is still exact.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let err = || format!("`{text}` is not a decimal number");
        if text.is_empty() || text.len() > 64 {
            return Err(err());
        }
        let (body, exponent) = match text.find(['e', 'E']) {
            Some(at) => {
                let exp: i32 = text[at + 1..].parse().map_err(|_| err())?;
                (&text[..at], exp)
            }
            None => (text, 0),
        };
        let (negative, digits) = match body.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, body.strip_prefix('+').unwrap_or(body)),
        };
        let (int_part, frac_part) = match digits.split_once('.') {
            Some((i, f)) => (i, f),
            None => (digits, ""),
        };
        if (int_part.is_empty() && frac_part.is_empty())
            || !int_part.bytes().all(|b| b.is_ascii_digit())
            || !frac_part.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(err());
        }
        let mut mantissa: i128 = 0;
        for b in int_part.bytes().chain(frac_part.bytes()) {
            mantissa = mantissa
                .checked_mul(10)
                .and_then(|m| m.checked_add(i128::from(b - b'0')))
                .ok_or_else(|| format!("`{text}` is too large"))?;
        }
        // Zero is zero at any exponent: the loops below would otherwise step through an exponent
        // of a billion one power of ten at a time ("0e-999999999" took seconds).
        if mantissa == 0 {
            return Ok(Decimal {
                mantissa: 0,
                scale: 0,
            });
        }
        let mut scale = frac_part.len() as i64 - i64::from(exponent);
        while scale < 0 {
            mantissa = mantissa
                .checked_mul(10)
                .ok_or_else(|| format!("`{text}` is too large"))?;
            scale += 1;
        }
        // Drop trailing zeros so that equal values compare equal.
        while scale > 0 && mantissa % 10 == 0 {
            mantissa /= 10;
            scale -= 1;
        }
        if scale > i64::from(Self::MAX_SCALE) {
            return Err(format!(
                "`{text}` has more than {} decimal places",
                Self::MAX_SCALE
            ));
        }
        Ok(Decimal {
            mantissa: if negative { -mantissa } else { mantissa },
            scale: scale as u32,
        })
    }

    /// The value in units of 10^-`digits`, if it is representable exactly at that precision.
    pub fn scaled_exact(&self, digits: u32) -> Option<i128> {
        if self.scale > digits {
            return None;
        }
        self.mantissa
            .checked_mul(10i128.checked_pow(digits - self.scale)?)
    }

    pub fn is_negative(&self) -> bool {
        self.mantissa < 0
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_scaled(self.mantissa, self.scale, 0))
    }
}

/// Formats `value * 10^-scale` as plain decimal text with at least `min_fraction` fractional
/// digits and no trailing zeros beyond them.
pub fn format_scaled(value: i128, scale: u32, min_fraction: u32) -> String {
    let mut out = Vec::with_capacity(48);
    push_scaled(&mut out, value, scale, min_fraction);
    // Only ASCII digits, a sign and a point were written.
    String::from_utf8(out).unwrap_or_default()
}

/// Appends [`format_scaled`]'s text to `out`, without a `String` of its own (money written once
/// per event into the ingest answer).
pub fn push_scaled(out: &mut Vec<u8>, value: i128, scale: u32, min_fraction: u32) {
    // The digits by `itoa` (serde_json's integer writer, on the stack): no `to_string` and its
    // formatting machinery, which took most of this function's time in the wasm. Amounts that
    // fit 64 bits (all but sums past 9.2 billion units) take the 64-bit writer; a u128 is cut
    // into 64-bit parts by multiplication, not by a division in software on wasm32.
    let mut buffer = itoa::Buffer::new();
    let magnitude = value.unsigned_abs();
    let digits = match u64::try_from(magnitude) {
        Ok(small) => buffer.format(small),
        Err(_) => buffer.format(magnitude),
    }
    .as_bytes();
    let scale = scale as usize;
    let (int_part, frac_digits) = digits.split_at(digits.len().saturating_sub(scale));
    let zeros = scale - frac_digits.len();
    let kept = frac_digits
        .iter()
        .rposition(|&d| d != b'0')
        .map_or(0, |i| i + 1);
    let frac_digits = &frac_digits[..kept];
    // The fraction as written: leading zeros, then the digits without trailing zeros (all of
    // it zeros when the digits are), then zeros up to `min_fraction`.
    let written = if frac_digits.is_empty() {
        0
    } else {
        zeros + frac_digits.len()
    };
    let fraction = written.max(min_fraction as usize);
    out.reserve(digits.len() + fraction + 3);
    if value < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(if int_part.is_empty() { b"0" } else { int_part });
    if fraction > 0 {
        out.push(b'.');
        if written > 0 {
            out.resize(out.len() + zeros, b'0');
            out.extend_from_slice(frac_digits);
        }
        out.resize(out.len() + (fraction - written), b'0');
    }
}

/// An amount of nano-units as people read money, the dashboard's rule (`amount` in
/// `dashboard/src/format.js`) in Rust, for alert and report email: from 1 up, to the cent with
/// thousands grouped (`1234.565` -> `1,234.57`); below 1, to three significant digits and at
/// least two decimals, so that a fraction of a cent stays visible (`0.000123456` ->
/// `0.000123`, `0.683653704` -> `0.684`, `0.5` -> `0.50`). Rounded half away from zero on the
/// decimal digits, in integers (never through a float). The exact amount stays in the JSON
/// (`Money::amount_string`).
pub fn rounded_amount(nanos: i128) -> String {
    const NANO_DIGITS: u32 = 9;
    let negative = nanos < 0;
    let abs = nanos.unsigned_abs();
    let unit = 10u128.pow(NANO_DIGITS);
    let (whole, fraction) = (abs / unit, abs % unit);
    let mut decimals = 2;
    if whole == 0 && fraction != 0 {
        // Zeros after the point before the first significant digit.
        let leading_zeros = NANO_DIGITS - (fraction.ilog10() + 1);
        decimals = (leading_zeros + 3).max(2);
    }
    let rounded = if decimals >= NANO_DIGITS {
        abs * 10u128.pow(decimals - NANO_DIGITS)
    } else {
        let step = 10u128.pow(NANO_DIGITS - decimals);
        let next_digit = (abs % step) / (step / 10);
        abs / step + u128::from(next_digit >= 5)
    };
    let digits = format!("{rounded:0>width$}", width = decimals as usize + 1);
    let (whole_out, fraction_out) = digits.split_at(digits.len() - decimals as usize);
    let mut fraction_out = fraction_out.trim_end_matches('0').to_string();
    while fraction_out.len() < 2 {
        fraction_out.push('0');
    }
    let sign = if negative && rounded != 0 { "-" } else { "" };
    format!("{sign}{}.{fraction_out}", group_thousands(whole_out))
}

/// `1234567` -> `1,234,567`.
fn group_thousands(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Divides and rounds half to even. `denominator` must be positive.
pub fn div_round_half_even(numerator: i128, denominator: i128) -> i128 {
    let quotient = numerator.div_euclid(denominator);
    let remainder = numerator.rem_euclid(denominator);
    let twice = remainder * 2;
    if twice > denominator || (twice == denominator && quotient % 2 != 0) {
        quotient + 1
    } else {
        quotient
    }
}

/// An exact amount of one currency, in nano-units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money {
    pub nanos: i128,
    pub currency: Currency,
}

impl Money {
    pub fn new(nanos: i128, currency: Currency) -> Self {
        Self { nanos, currency }
    }

    pub fn zero(currency: Currency) -> Self {
        Self::new(0, currency)
    }

    /// Reads an amount such as `"12.50"`; more than nine decimal places are refused rather
    /// than silently rounded.
    pub fn parse(amount: &str, currency: Currency) -> Result<Self, String> {
        let decimal = Decimal::parse(amount)?;
        let nanos = decimal.scaled_exact(9).ok_or_else(|| {
            if decimal.scale > 9 {
                format!("`{amount}` has more than 9 decimal places")
            } else {
                format!("`{amount}` is too large")
            }
        })?;
        Ok(Self::new(nanos, currency))
    }

    /// The amount as decimal text with at least two fractional digits, for example `"0.045"`.
    pub fn amount_string(&self) -> String {
        format_scaled(self.nanos, 9, 2)
    }

    /// The amount and its currency as people read money (`0.684 USD`, `1,234.57 USD`), for
    /// email: see [`rounded_amount`].
    pub fn rounded(&self) -> String {
        format!("{} {}", rounded_amount(self.nanos), self.currency)
    }

    /// The amount as a float, for display and charts only; never used in arithmetic.
    pub fn approx_f64(&self) -> f64 {
        // The same float either way (both conversions round the integer to the nearest); the
        // 64-bit one is an instruction in the wasm, the 128-bit one a call.
        let nanos = match i64::try_from(self.nanos) {
            Ok(small) => small as f64,
            Err(_) => self.nanos as f64,
        };
        nanos / NANOS_PER_UNIT as f64
    }

    /// Adds two amounts of the same currency; `None` when the currencies differ.
    pub fn checked_add(&self, other: &Money) -> Option<Money> {
        (self.currency == other.currency)
            .then(|| self.nanos.checked_add(other.nanos))
            .flatten()
            .map(|nanos| Money::new(nanos, self.currency))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount_string(), self.currency)
    }
}

/// JSON shape of money: `{"amount": "0.045", "currency": "USD", "value": 0.045}`; `value` is
/// a convenience for charts and may be inexact, `amount` is the truth.
impl Serialize for Money {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut state = serializer.serialize_struct("Money", 3)?;
        state.serialize_field("amount", &self.amount_string())?;
        state.serialize_field("currency", &self.currency)?;
        state.serialize_field("value", &self.approx_f64())?;
        state.end()
    }
}

impl Money {
    /// The money as a `serde_json::Value`, as its `Serialize` writes it, built directly (the
    /// crate's `json!` uses it: its float `value` read back from text could come back one unit
    /// in the last place off past 2^53 nano-units, serde_json reading long decimals fast rather
    /// than exactly).
    pub fn json_value(&self) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        map.insert("amount".into(), self.amount_string().into());
        map.insert("currency".into(), self.currency.as_str().into());
        map.insert("value".into(), self.approx_f64().into());
        serde_json::Value::Object(map)
    }

    /// Appends the money's JSON as its `Serialize` writes it (`amount`, `currency`, `value`).
    pub fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        let mut object = crate::kernel::json_out::Object::open(out);
        let amount = object.key("amount");
        amount.push(b'"');
        push_scaled(amount, self.nanos, 9, 2);
        amount.push(b'"');
        object.str("currency", self.currency.as_str());
        object.serde("value", &self.approx_f64())?;
        object.close();
        Ok(())
    }
}

/// Sums per currency. Adding money of a new currency opens a new sum; sums never mix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals(LiteMap<Currency, i128>);

impl Totals {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, money: Money) {
        *self.0.entry(money.currency).or_insert(0) += money.nanos;
    }

    pub fn get(&self, currency: Currency) -> Money {
        Money::new(self.0.get(&currency).copied().unwrap_or(0), currency)
    }

    pub fn iter(&self) -> impl Iterator<Item = Money> + '_ {
        self.0.iter().map(|(c, n)| Money::new(*n, *c))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Totals {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `format_scaled` as plain decimal arithmetic on text: the digits, a point `scale` from
    /// the right, trailing zeros dropped, then padded to `min_fraction`.
    fn scaled_by_text(value: i128, scale: u32, min_fraction: u32) -> String {
        let digits = format!(
            "{:0>width$}",
            value.unsigned_abs(),
            width = scale as usize + 1
        );
        let (int_part, frac) = digits.split_at(digits.len() - scale as usize);
        let frac = format!(
            "{:0<width$}",
            frac.trim_end_matches('0'),
            width = min_fraction as usize
        );
        let sign = if value < 0 { "-" } else { "" };
        match frac.is_empty() {
            true => format!("{sign}{int_part}"),
            false => format!("{sign}{int_part}.{frac}"),
        }
    }

    proptest::proptest! {
        #[test]
        fn scaled_amounts_read_as_their_digits_with_the_point_moved(
            value in proptest::prop_oneof![any_small(), proptest::num::i128::ANY],
            scale in 0u32..12,
            min_fraction in 0u32..4,
        ) {
            proptest::prop_assert_eq!(
                format_scaled(value, scale, min_fraction),
                scaled_by_text(value, scale, min_fraction)
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn money_is_written_as_serde_writes_it_on_either_side_of_64_bits(
            value in proptest::prop_oneof![any_small(), proptest::num::i128::ANY, near_64_bits()],
            code in proptest::sample::select(vec!["USD", "EUR", "JPY"]),
        ) {
            let money = Money::new(value, Currency::parse(code).unwrap());
            let mut written = Vec::new();
            money.write_json(&mut written).unwrap();
            proptest::prop_assert_eq!(written, serde_json::to_vec(&money).unwrap());
            proptest::prop_assert_eq!(money.approx_f64(), value as f64 / NANOS_PER_UNIT as f64);
        }
    }

    #[test]
    fn amounts_at_the_edges_of_64_bits_keep_every_digit() {
        for value in [
            i128::from(u64::MAX),
            i128::from(u64::MAX) + 1,
            -i128::from(u64::MAX) - 1,
            i128::from(i64::MIN),
            i128::MIN,
            i128::MAX,
        ] {
            assert_eq!(format_scaled(value, 9, 2), scaled_by_text(value, 9, 2));
        }
        assert_eq!(
            format_scaled(i128::from(u64::MAX) + 1, 9, 2),
            "18446744073.709551616"
        );
    }

    /// Values within a thousand of plus or minus 2^64, where the 64-bit writer hands over to
    /// the 128-bit one.
    fn near_64_bits() -> impl proptest::strategy::Strategy<Value = i128> {
        proptest::strategy::Strategy::prop_map(
            (-1000i128..1000, proptest::bool::ANY),
            |(offset, negative)| {
                let v = i128::from(u64::MAX) + 1 + offset;
                if negative {
                    -v
                } else {
                    v
                }
            },
        )
    }

    fn any_small() -> impl proptest::strategy::Strategy<Value = i128> {
        proptest::strategy::Strategy::prop_map(-10_000_000_000i64..10_000_000_000, i128::from)
    }

    #[test]
    fn iso_table_is_sorted_so_binary_search_finds_every_code() {
        let mut sorted = ISO_4217.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, ISO_4217);
    }

    #[test]
    fn currency_codes_are_checked_against_iso_4217() {
        assert_eq!(Currency::parse("usd").unwrap(), Currency::USD);
        assert_eq!(Currency::parse("GBP").unwrap().as_str(), "GBP");
        assert!(Currency::parse("XYZ").is_err());
        assert!(Currency::parse("US").is_err());
        assert!(Currency::parse("").is_err());
    }

    #[test]
    fn decimals_parse_exactly_including_exponents() {
        assert_eq!(
            Decimal::parse("2.50").unwrap(),
            Decimal {
                mantissa: 25,
                scale: 1
            }
        );
        assert_eq!(
            Decimal::parse("1.25e-07").unwrap(),
            Decimal {
                mantissa: 125,
                scale: 9
            }
        );
        assert_eq!(
            Decimal::parse("3E+2").unwrap(),
            Decimal {
                mantissa: 300,
                scale: 0
            }
        );
        assert_eq!(Decimal::parse("-0.5").unwrap().mantissa, -5);
        for bad in ["", "abc", "1.2.3", "--1", "1e", ".", "0x10", "1,5"] {
            assert!(Decimal::parse(bad).is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn zero_is_zero_at_any_exponent_and_other_digits_meet_the_limits_at_once() {
        for zero in [
            "0e-999999999",
            "0e999999999",
            "-0.000e-2147483648",
            "0.0E+2147483647",
        ] {
            assert_eq!(
                Decimal::parse(zero),
                Ok(Decimal {
                    mantissa: 0,
                    scale: 0
                }),
                "{zero}"
            );
        }
        assert_eq!(
            Decimal::parse("1e-999999999").unwrap_err(),
            "`1e-999999999` has more than 18 decimal places"
        );
        assert_eq!(
            Decimal::parse("1e999999999").unwrap_err(),
            "`1e999999999` is too large"
        );
        assert_eq!(
            Money::parse("0e-999999999", Currency::USD).unwrap().nanos,
            0
        );
    }

    #[test]
    fn money_refuses_more_than_nine_decimal_places_instead_of_rounding() {
        assert_eq!(
            Money::parse("0.045", Currency::USD).unwrap().nanos,
            45_000_000
        );
        assert_eq!(
            Money::parse("0.0000000001", Currency::USD).unwrap_err(),
            "`0.0000000001` has more than 9 decimal places"
        );
    }

    #[test]
    fn an_amount_too_large_to_hold_in_nano_units_is_refused_as_too_large_not_for_its_places() {
        let huge = format!("1{}", "0".repeat(30));
        assert_eq!(
            Money::parse(&huge, Currency::USD).unwrap_err(),
            format!("`{huge}` is too large")
        );
        let huge_with_places = format!("{huge}.5");
        assert_eq!(
            Money::parse(&huge_with_places, Currency::USD).unwrap_err(),
            format!("`{huge_with_places}` is too large")
        );
    }

    #[test]
    fn amounts_format_as_decimal_strings_with_two_places_at_least() {
        assert_eq!(
            Money::new(45_000_000, Currency::USD).amount_string(),
            "0.045"
        );
        assert_eq!(
            Money::new(12_300_000_000, Currency::USD).amount_string(),
            "12.30"
        );
        assert_eq!(Money::new(75, Currency::USD).amount_string(), "0.000000075");
        assert_eq!(
            Money::new(-1_500_000_000, Currency::USD).amount_string(),
            "-1.50"
        );
        assert_eq!(Money::new(0, Currency::USD).amount_string(), "0.00");
    }

    #[test]
    fn amounts_for_reading_round_as_the_dashboard_does() {
        let shown = |text: &str| rounded_amount(Money::parse(text, Currency::USD).unwrap().nanos);
        for (exact, expected) in [
            ("0.683653704", "0.684"),
            ("1234.565", "1,234.57"),
            ("1234.564999999", "1,234.56"),
            ("0.000123456", "0.000123"),
            ("0.04555", "0.0456"),
            ("0.5", "0.50"),
            ("0.995", "0.995"),
            ("0.9996", "1.00"),
            ("0.999999999", "1.00"),
            ("0.000000001", "0.000000001"),
            ("0.000000015", "0.000000015"),
            ("0", "0.00"),
            ("12", "12.00"),
            ("1000000", "1,000,000.00"),
            ("9223372036.854775807", "9,223,372,036.85"),
            ("-1234.565", "-1,234.57"),
            ("-0.0012345", "-0.00123"),
            ("0.105", "0.105"),
            ("0.1055", "0.106"),
            ("2.005", "2.01"),
        ] {
            assert_eq!(shown(exact), expected, "{exact}");
        }
        assert_eq!(rounded_amount(-4), "-0.000000004");
        assert_eq!(
            rounded_amount(20_000_000_000_000_000_000_000),
            "20,000,000,000,000.00",
            "past 2^63 nano-units as well"
        );
        assert_eq!(
            Money::parse("0.683653704", Currency::USD)
                .unwrap()
                .rounded(),
            "0.684 USD"
        );
    }

    #[test]
    fn rounding_is_half_to_even() {
        assert_eq!(div_round_half_even(5, 10), 0);
        assert_eq!(div_round_half_even(15, 10), 2);
        assert_eq!(div_round_half_even(25, 10), 2);
        assert_eq!(div_round_half_even(26, 10), 3);
        assert_eq!(div_round_half_even(-15, 10), -2);
        assert_eq!(div_round_half_even(-16, 10), -2);
    }

    #[test]
    fn totals_never_add_different_currencies() {
        let mut totals = Totals::new();
        totals.add(Money::new(5, Currency::USD));
        totals.add(Money::new(7, Currency::parse("GBP").unwrap()));
        totals.add(Money::new(6, Currency::USD));
        assert_eq!(totals.get(Currency::USD).nanos, 11);
        assert_eq!(totals.get(Currency::parse("GBP").unwrap()).nanos, 7);
        assert!(Money::new(1, Currency::USD)
            .checked_add(&Money::new(1, Currency::parse("EUR").unwrap()))
            .is_none());
    }
}
