//! Provider and model names as apps send them: normalized, joined, canonical.

use std::borrow::Cow;

use super::*;

/// Lower-case slugs: `a-z`, `0-9`, `.`, `-`, `_`, `/`, `:` and `@`, up to 128 characters.
pub fn normalize_name(field: &str, text: &str) -> Result<String, FieldError> {
    let lower = text.trim().to_ascii_lowercase();
    let valid = !lower.is_empty()
        && lower.len() <= 128
        && lower.bytes().all(|b| {
            // A `match` per byte (every event's provider and model pass here), not a search of
            // a list of the six punctuation bytes.
            matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-' | b'/' | b':' | b'@')
        });
    if valid {
        Ok(lower)
    } else {
        Err(FieldError::new(
            field,
            format!(
                "`{text}` is not a valid name (1-128 of a-z, 0-9, '.', '-', '_', '/', ':', '@')"
            ),
        ))
    }
}

/// The providers of the curated catalog (a test keeps the list equal to `data/prices.json`;
/// it is a constant because [`canonical_provider`] runs while that catalog is being read).
pub const BUILTIN_PROVIDERS: [&str; 9] = [
    "anthropic",
    "elevenlabs",
    "google",
    "google-cloud",
    "heygen",
    "hume",
    "lahajati",
    "loudly",
    "openai",
];

/// Words typed apart joined with hyphens: "Eleven Labs" is `Eleven-Labs`.
pub fn joined_words(name: &str) -> Cow<'_, str> {
    // A name typed as one word (nearly all) is taken as it is: ASCII without the six bytes
    // `char::is_whitespace` finds in ASCII is read byte by byte, anything else by characters.
    let ascii_word = name
        .bytes()
        .all(|b| b.is_ascii() && !matches!(b, b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r' | b' '));
    if ascii_word || !name.contains(char::is_whitespace) {
        return Cow::Borrowed(name);
    }
    Cow::Owned(name.split_whitespace().collect::<Vec<_>>().join("-"))
}

/// [`canonical_provider`] of a name already normalized, keeping its text when it is a built-in
/// provider's slug (what nearly every event sends): ingestion canonicalizes every event's
/// provider, and this spares it a copy and the table of other spellings.
pub fn canonical_provider_of(name: String) -> String {
    if BUILTIN_PROVIDERS.contains(&name.as_str()) {
        name
    } else {
        canonical_provider(&name)
    }
}

/// The provider slug for the names clients use.
pub fn canonical_provider(name: &str) -> String {
    let joined = joined_words(name);
    match &*joined {
        "gemini" | "google-ai" | "google_ai" | "google-ai-studio" | "vertex_ai" | "vertex-ai"
        | "googleai" => "google".to_string(),
        "claude" => "anthropic".to_string(),
        "google_cloud" | "googlecloud" | "gcp" | "google-cloud-speech" => {
            "google-cloud".to_string()
        }
        "eleven_labs" | "11labs" => "elevenlabs".to_string(),
        "hume_ai" | "humeai" => "hume".to_string(),
        "openai-tts" | "azure-openai" | "text-completion-openai" => "openai".to_string(),
        // LiteLLM's labels and the names apps use for the providers its catalog prices.
        "bedrock_converse" | "aws-bedrock" | "amazon-bedrock" | "aws_bedrock" => {
            "bedrock".to_string()
        }
        "azure_text" => "azure".to_string(),
        "cohere_chat" => "cohere".to_string(),
        "text-completion-codestral" => "codestral".to_string(),
        "text-completion-inception" => "inception".to_string(),
        "fireworks" | "fireworks-ai" | "fireworks_ai-embedding-models" => {
            "fireworks_ai".to_string()
        }
        "together" | "together-ai" | "togetherai" => "together_ai".to_string(),
        "workers-ai" | "workers_ai" | "workersai" | "cloudflare-workers-ai" => {
            "cloudflare".to_string()
        }
        "x-ai" | "grok" => "xai".to_string(),
        "mistralai" | "mistral-ai" => "mistral".to_string(),
        "amazon-nova" | "amazon_nova" => "amazon_nova".to_string(),
        // Vertex AI is Google's: its Gemini models and the partner models it hosts
        // (`vertex_ai-anthropic_models`, `vertex_ai-language-models`, ...).
        other if other.starts_with("vertex_ai-") => "google".to_string(),
        other => {
            // A built-in provider's name in words ("Open AI", "Eleven Labs") or followed by
            // "AI" ("Hume AI", "Lahajati AI").
            let known = |n: &str| BUILTIN_PROVIDERS.contains(&n);
            let unsplit = || other.replace('-', "");
            if other.contains('-') && known(&unsplit()) {
                unsplit()
            } else if let Some(name) = other.strip_suffix("-ai").filter(|n| known(n)) {
                name.to_string()
            } else {
                other.to_string()
            }
        }
    }
}

/// The catalog model a stored model name is grouped under in reports and event lists: the
/// built-in catalog's model of which it is an alias or a dated snapshot (`gpt-4o-2024-08-06`
/// -> `gpt-4o`), or the name itself when the catalog does not list it.
pub fn catalog_model(provider: &str, model: &str) -> String {
    static NO_CUSTOM: std::sync::OnceLock<Catalog> = std::sync::OnceLock::new();
    let book = PriceBook {
        builtin: builtin(),
        custom: NO_CUSTOM.get_or_init(Catalog::default),
    };
    book.canonical_model(provider, model)
        .unwrap_or_else(|| model.to_string())
}

/// Whether a filter on model `wanted` takes in usage recorded as `model` of `provider`: the
/// name itself, or a dated alias or snapshot the reports group under it ([`catalog_model`]).
pub fn filed_under(provider: &str, model: &str, wanted: &str) -> bool {
    model == wanted || catalog_model(provider, model) == wanted
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_name_is_joined_and_normalized_as_the_character_rules_read_it(
            text in "[a-zA-Z0-9 ._/:@\t\n\u{0b}\u{0c}\r\u{1c}\u{85}\u{a0}\u{2003}é-]{0,12}",
        ) {
            let joined = super::joined_words(&text);
            let by_chars = if text.contains(char::is_whitespace) {
                text.split_whitespace().collect::<Vec<_>>().join("-")
            } else {
                text.clone()
            };
            prop_assert_eq!(joined.as_ref(), by_chars.as_str());
            let lower = text.trim().to_ascii_lowercase();
            let valid = !lower.is_empty()
                && lower.len() <= 128
                && lower.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-/:@".contains(&b)
                });
            prop_assert_eq!(super::normalize_name("model", &text).is_ok(), valid);
        }
    }
}
