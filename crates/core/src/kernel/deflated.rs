//! Data compiled into the wasm deflated (by the build scripts) and inflated once per isolate.

/// The text of a deflated file; empty if it does not inflate to UTF-8, so that a caller
/// degrades (an empty catalog prices nothing, never $0) instead of panicking.
pub fn inflate_text(deflated: &[u8]) -> String {
    miniz_oxide::inflate::decompress_to_vec(deflated)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deflated_text_inflates_to_itself_and_anything_else_to_nothing() {
        let text = "provider\tmodel\nopenai\tgpt-4o-mini\n".repeat(50);
        let deflated = miniz_oxide::deflate::compress_to_vec(text.as_bytes(), 10);
        assert_eq!(inflate_text(&deflated), text);
        assert_eq!(inflate_text(b"not deflate data at all"), "");
        let latin1 = miniz_oxide::deflate::compress_to_vec(&[0xe9, 0xff], 10);
        assert_eq!(inflate_text(&latin1), "");
    }
}
