//! Writing JSON by hand for the texts written once per event: the raw-log line, the event's
//! part of the ingest answer, and the text cells of its D1 row. serde's derived writing of
//! them, with the wasm built for size, took about a fifth of a 1,000-event request's time in
//! the worker (every key escaped again for every event, each small write a call of its own);
//! these write keys as the literal bytes they are and copy text that needs no escape in one
//! piece. The output is byte for byte serde_json's (`usage/tests/written.rs` and the tests
//! below hold each writer to it), so that readers and stored lines are unchanged.

/// Appends `text` as a JSON string, escaped exactly as serde_json escapes it: `"` and `\`,
/// the five short escapes of control characters, `\u00XX` (lower-case) for the others; every
/// other character, non-ASCII included, as it is.
pub fn push_str(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = text.as_bytes();
    // Text with nothing to escape (every id, name and time stamp in practice) in one copy.
    if !needs_escape(bytes) {
        out.reserve(bytes.len() + 2);
        out.push(b'"');
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    out.push(b'"');
    let mut start = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => &[],
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Whether any byte of `bytes` is a quote, a backslash or a control character. Eight bytes at
/// a time (the wasm is built for size, so a byte loop stays a byte loop): a word has a byte
/// below 0x20 when subtracting 0x20 from every byte borrows into a byte whose top bit was
/// clear, and a byte equal to `c` when the word XOR `c` repeated has a zero byte.
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const TOPS: u64 = 0x8080_8080_8080_8080;
    let has_below = |word: u64, n: u8| word.wrapping_sub(ONES * u64::from(n)) & !word & TOPS != 0;
    let has_byte = |word: u64, c: u8| has_below(word ^ (ONES * u64::from(c)), 1);
    let mut words = bytes.chunks_exact(8);
    for chunk in &mut words {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_le_bytes(word);
        if has_below(word, 0x20) || has_byte(word, b'"') || has_byte(word, b'\\') {
            return true;
        }
    }
    words
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// Appends an integer in decimal, as serde_json writes it (with the same `itoa`).
pub fn push_int(out: &mut Vec<u8>, value: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// Appends an unsigned integer in decimal.
pub fn push_uint(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// Appends `true` or `false`.
pub fn push_bool(out: &mut Vec<u8>, value: bool) {
    out.extend_from_slice(if value { b"true" } else { b"false" });
}

/// Appends a JSON array of `items`, each written by `write`.
pub fn push_array<T>(
    out: &mut Vec<u8>,
    items: impl IntoIterator<Item = T>,
    mut write: impl FnMut(&mut Vec<u8>, T) -> Result<(), serde_json::Error>,
) -> Result<(), serde_json::Error> {
    out.push(b'[');
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write(out, item)?;
    }
    out.push(b']');
    Ok(())
}

/// An object being written: its members' commas and keys. Keys are written as given, so they
/// must need no escape (every caller passes a literal field name).
pub struct Object<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Object<'a> {
    /// Opens an object (`{`).
    pub fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Object { out, first: true }
    }

    /// Writes the key of the next member and returns where its value goes.
    pub fn key(&mut self, name: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    pub fn str(&mut self, name: &str, value: &str) {
        push_str(self.key(name), value);
    }

    pub fn int(&mut self, name: &str, value: i64) {
        push_int(self.key(name), value);
    }

    pub fn uint(&mut self, name: &str, value: u64) {
        push_uint(self.key(name), value);
    }

    pub fn bool(&mut self, name: &str, value: bool) {
        push_bool(self.key(name), value);
    }

    /// Writes `value` with serde (for the rare or nested parts: metadata, warnings).
    pub fn serde<T: serde::Serialize + ?Sized>(
        &mut self,
        name: &str,
        value: &T,
    ) -> Result<(), serde_json::Error> {
        serde_json::to_writer(self.key(name), value)
    }

    /// Closes the object (`}`).
    pub fn close(self) {
        self.out.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn strings_are_escaped_as_serde_json_escapes_them(text in any::<String>()) {
            let mut out = Vec::new();
            push_str(&mut out, &text);
            prop_assert_eq!(out, serde_json::to_vec(&text).unwrap());
        }

        #[test]
        fn control_characters_quotes_and_backslashes_are_escaped_as_serde_json_escapes_them(
            text in "[\\x00-\\x20\"\\\\a\\x7f\u{e9}\u{2028}]{0,12}",
        ) {
            let mut out = Vec::new();
            push_str(&mut out, &text);
            prop_assert_eq!(out, serde_json::to_vec(&text).unwrap());
        }

        #[test]
        fn integers_are_written_as_serde_json_writes_them(value in any::<i64>(), unsigned in any::<u64>()) {
            let mut out = Vec::new();
            push_int(&mut out, value);
            prop_assert_eq!(&out, &serde_json::to_vec(&value).unwrap());
            out.clear();
            push_uint(&mut out, unsigned);
            prop_assert_eq!(&out, &serde_json::to_vec(&unsigned).unwrap());
        }
    }

    proptest! {
        #[test]
        fn a_byte_to_escape_is_found_at_any_place_among_any_others(
            text in "[ -~\u{80}-\u{10FFFF}]{0,40}",
            special in prop::sample::select(vec!['"', '\\', '\u{0}', '\u{1f}', '\n', '\t']),
            at in 0..41usize,
        ) {
            prop_assert!(!needs_escape(text.replace(['"', '\\'], "").as_bytes()));
            let mut chars: Vec<char> = text.replace(['"', '\\'], "").chars().collect();
            chars.insert(at.min(chars.len()), special);
            let with: String = chars.into_iter().collect();
            prop_assert!(needs_escape(with.as_bytes()), "{:?}", with);
        }
    }

    #[test]
    fn the_extremes_of_an_integer_are_written_whole() {
        let mut out = Vec::new();
        push_int(&mut out, i64::MIN);
        out.push(b' ');
        push_int(&mut out, 0);
        out.push(b' ');
        push_uint(&mut out, u64::MAX);
        assert_eq!(out, b"-9223372036854775808 0 18446744073709551615");
    }

    #[test]
    fn an_object_separates_its_members_with_commas() {
        let mut out = Vec::new();
        let mut object = Object::open(&mut out);
        object.str("a", "x\"y");
        object.int("b", -2);
        object.bool("c", false);
        object.serde("d", &[1, 2]).unwrap();
        object.close();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"a":"x\"y","b":-2,"c":false,"d":[1,2]}"#
        );
    }
}
