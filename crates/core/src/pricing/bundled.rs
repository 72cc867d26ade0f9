//! The bundled LiteLLM layer of the built-in catalog: `data/litellm-prices.tsv` (written by
//! `npm run prices:update` from the `litellm` package), compiled in deflated by `build.rs`
//! and read once per isolate, under the curated `data/prices.json`.
//!
//! Each line is one dated price of one LiteLLM key: `effective_from`, key, LiteLLM's
//! provider label, mode, and the key's price fields as LiteLLM wrote them. A line converts
//! through [`super::litellm::convert_one`], the same conversion as the import route, so a
//! bundled price and an imported one are equal. A curated entry wins: a LiteLLM entry whose
//! provider and model (or one of its aliases) the curated file names is left out.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use serde_json::{Map, Value};

use super::catalog::{EntryInput, Origin, PriceEntry};
use super::litellm::{convert_one, Skipped};

/// `data/litellm-prices.tsv`, deflated at build time (see `crates/core/build.rs`).
const DEFLATED: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/litellm-prices.tsv.deflate"));

/// The version of LiteLLM and the day it was read, from the file's header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    pub version: String,
    pub read_on: String,
}

/// The bundled file's text (inflated once per isolate; empty if it cannot be, and then only
/// the curated catalog prices: never $0).
pub fn text() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        miniz_oxide::inflate::decompress_to_vec(DEFLATED)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .unwrap_or_default()
    })
}

/// The header line `# litellm <version> read_on <date>`.
pub fn header() -> Header {
    parse_header(text())
}

fn parse_header(text: &str) -> Header {
    text.lines()
        .filter_map(|l| l.strip_prefix("# litellm "))
        .find_map(|rest| {
            let mut words = rest.split_whitespace();
            let version = words.next()?.to_string();
            (words.next()? == "read_on").then_some(())?;
            Some(Header {
                version,
                read_on: words.next()?.to_string(),
            })
        })
        .unwrap_or_default()
}

/// Every line of the file as an entry input, in file order, and the lines skipped with why.
pub fn parse(text: &str) -> (Vec<(String, EntryInput)>, Vec<Skipped>) {
    let header = parse_header(text);
    let source = format!(
        "LiteLLM {} (litellm on PyPI, MIT License, BerriAI) model_prices_and_context_window.json",
        header.version
    );
    let mut entries = Vec::new();
    let mut skipped = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let columns: Vec<&str> = line.split('\t').collect();
        let [effective_from, key, label, mode, prices] = columns[..] else {
            skipped.push(Skipped {
                key: line.chars().take(80).collect(),
                reason: "expected five tab-separated columns".into(),
            });
            continue;
        };
        let mut spec = Map::new();
        if !label.is_empty() {
            spec.insert("litellm_provider".into(), Value::String(label.into()));
        }
        if !mode.is_empty() {
            spec.insert("mode".into(), Value::String(mode.into()));
        }
        for pair in prices.split(' ') {
            if let Some((field, value)) = pair.split_once('=') {
                spec.insert(field.into(), Value::String(value.into()));
            }
        }
        match convert_one(key, &spec, effective_from, Some(&source)) {
            Ok(Some(mut entry)) => {
                entry.source_read_on = Some(header.read_on.clone());
                entries.push((key.to_string(), entry));
            }
            Ok(None) => {}
            Err(reason) => skipped.push(Skipped {
                key: key.into(),
                reason,
            }),
        }
    }
    (entries, skipped)
}

/// The curated entries with the bundled LiteLLM entries under them: a LiteLLM entry is left
/// out where a curated entry answers to its name. Two LiteLLM keys that reduce to one name
/// (`deepseek-chat` and `deepseek/deepseek-chat` of DeepSeek) keep the first key (in file
/// order) under the short name and the other under its full key.
pub fn under(curated: Vec<PriceEntry>) -> Vec<PriceEntry> {
    layer(curated, text())
}

pub(crate) fn layer(mut curated: Vec<PriceEntry>, text: &str) -> Vec<PriceEntry> {
    let taken: HashSet<String> = curated.iter().flat_map(PriceEntry::lookup_names).collect();
    // provider|model -> the LiteLLM key that owns the name.
    let mut owner: HashMap<String, String> = HashMap::new();
    let (inputs, _) = parse(text);
    for (key, mut input) in inputs {
        let mut name = format!("{}|{}", input.provider, input.model);
        if owner.get(&name).is_some_and(|k| *k != key) {
            input.model = key.to_ascii_lowercase();
            name = format!("{}|{}", input.provider, input.model);
            if owner.get(&name).is_some_and(|k| *k != key) {
                continue;
            }
        }
        if taken.contains(&name) {
            continue;
        }
        if let Ok(entry) = input.parse("", Origin::Builtin) {
            owner.insert(name, key);
            curated.push(entry);
        }
    }
    curated
}
