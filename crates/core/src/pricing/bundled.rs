//! The bundled LiteLLM layer of the built-in catalog: `data/litellm-prices.tsv` (written by
//! `npm run prices:update` from the `litellm` package), compiled in deflated by `build.rs`
//! and read once per isolate, under the curated `data/prices.json`.
//!
//! Each line is one dated price of one LiteLLM key: `effective_from`, key, LiteLLM's
//! provider label, mode, and the key's price fields as LiteLLM wrote them. A line converts
//! through [`super::litellm::convert_one`], the same conversion as the import route, so a
//! bundled price and an imported one are equal. A curated entry wins: a LiteLLM entry whose
//! provider and model (or one of its aliases) the curated file names is left out.

use rustc_hash::FxHashMap;
use std::sync::OnceLock;

use serde_json::{Map, Value};

use super::catalog::{EntryInput, Origin, PriceEntry};
use super::litellm::{convert_one, Skipped};
use crate::kernel::date_text::parse_date;

/// `data/litellm-prices.tsv`, column by column and deflated at build time (see
/// `crates/core/build.rs`).
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
        crate::kernel::columns::from_columns(crate::kernel::deflated::inflate_text(DEFLATED))
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
    parse_with(text, &source, &header.read_on)
}

/// The LiteLLM layer, indexed by name at first use and parsed entry by entry when an entry is
/// first asked for, so that a fresh isolate pays for the few models its events name, not
/// for thousands. A LiteLLM entry is left out where a curated entry answers to its name.
/// Two LiteLLM keys that reduce to one name (`deepseek-chat` and `deepseek/deepseek-chat` of
/// DeepSeek) keep the first key (in file order) under the short name and the other under its
/// full key; a short name that is another key as written (`perplexity/perplexity/sonar`
/// reduces to the key `perplexity/sonar`) is never taken from that key.
#[derive(Debug)]
pub struct Layer {
    source: String,
    read_on: String,
    /// Per line: the line, its provider and its model name in this layer.
    lines: Vec<(&'static str, String, String)>,
    parsed: Vec<OnceLock<Option<PriceEntry>>>,
    /// provider -> model -> line indexes, oldest first.
    by_model: FxHashMap<String, FxHashMap<String, Vec<usize>>>,
}

impl Layer {
    /// Indexes `text` under the curated `taken` names (`provider|name`, the values unused).
    ///
    /// The sets of names here are maps of one type, `FxHashMap<String, &str>` (each hash map
    /// type is its own copy of the table's code in the wasm).
    pub fn new(text: &'static str, taken: &FxHashMap<String, &str>) -> Layer {
        let header = parse_header(text);
        let mut layer = Layer {
            source: format!(
                "LiteLLM {} (litellm on PyPI, MIT License, BerriAI) model_prices_and_context_window.json",
                header.version
            ),
            read_on: header.read_on,
            lines: Vec::new(),
            parsed: Vec::new(),
            by_model: FxHashMap::default(),
        };
        // provider|model -> the LiteLLM key that owns the name.
        let mut owner: FxHashMap<String, &str> = FxHashMap::default();
        // label -> provider, the map type of the catalog's aliases.
        let mut providers: FxHashMap<String, String> = FxHashMap::default();
        let mut rows = Vec::new();
        for line in text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let mut columns = line.split('\t');
            let (Some(_), Some(key), Some(label)) =
                (columns.next(), columns.next(), columns.next())
            else {
                continue;
            };
            // About 170 labels for thousands of lines: each is resolved once.
            let provider = if label.is_empty() {
                super::litellm::provider_for(None, key)
            } else {
                match providers.get(label) {
                    Some(provider) => provider.clone(),
                    None => {
                        let provider = super::litellm::provider_for(Some(label), key);
                        providers.insert(label.to_string(), provider.clone());
                        provider
                    }
                }
            };
            rows.push((line, key, provider));
        }
        // Every key as a client sends it (`perplexity/sonar`): a name no other key's short
        // name may take (`perplexity/perplexity/sonar` is not `perplexity/sonar`).
        let keys: FxHashMap<String, &str> = rows
            .iter()
            .map(|(_, key, provider)| (format!("{provider}|{}", key.to_ascii_lowercase()), *key))
            .collect();
        for (line, key, provider) in rows {
            let full = key.to_ascii_lowercase();
            let mut model = super::litellm::model_for(key, &provider);
            let mut name = format!("{provider}|{model}");
            if model != full && keys.contains_key(&name) {
                model = full.clone();
                name = format!("{provider}|{model}");
            }
            // LiteLLM's wildcard keys (`bedrock/*/1-month-commitment/...`) name no model an
            // event can carry: they would be listed and never resolve.
            if super::catalog::normalize_name("model", &model).is_err() {
                continue;
            }
            if owner.get(&name).is_some_and(|k| *k != key) {
                model = full.clone();
                name = format!("{provider}|{model}");
                if owner.get(&name).is_some_and(|k| *k != key) {
                    continue;
                }
            }
            if taken.contains_key(&name) {
                // Vertex AI prices some of Google's models apart from the Gemini API the
                // curated entries price: its key stays reachable as sent (`vertex_ai/...`).
                if !full.starts_with("vertex_ai/") || model == full {
                    continue;
                }
                model = full.clone();
                name = format!("{provider}|{model}");
                if taken.contains_key(&name) || owner.get(&name).is_some_and(|k| *k != key) {
                    continue;
                }
            }
            owner.insert(name, key);
            let index = layer.lines.len();
            layer
                .by_model
                .entry(provider.clone())
                .or_default()
                .entry(model.clone())
                .or_default()
                .push(index);
            layer.lines.push((line, provider, model));
            layer.parsed.push(OnceLock::new());
        }
        layer
    }

    /// The entry of one line, parsed at its first use.
    fn entry(&self, index: usize) -> Option<&PriceEntry> {
        self.parsed[index]
            .get_or_init(|| {
                let (line, _, model) = &self.lines[index];
                let (mut inputs, _) = parse_with(line, &self.source, &self.read_on);
                let (_, mut input) = inputs.pop()?;
                input.model = model.clone();
                input.parse("", Origin::Builtin).ok()
            })
            .as_ref()
    }

    pub fn providers(&self) -> impl Iterator<Item = &String> {
        self.by_model.keys()
    }

    pub fn has_provider(&self, provider: &str) -> bool {
        self.by_model.contains_key(provider)
    }

    /// The model name this layer stores `model` under, if any.
    pub fn knows<'s>(&'s self, provider: &str, model: &str) -> Option<&'s str> {
        self.by_model
            .get(provider)?
            .get_key_value(model)
            .map(|(k, _)| k.as_str())
    }

    /// Every `(provider, model)` of the layer, unsorted, without parsing any entry.
    pub fn names(&self) -> impl Iterator<Item = (&str, &str)> {
        self.by_model
            .iter()
            .flat_map(|(p, models)| models.keys().map(move |m| (p.as_str(), m.as_str())))
    }

    /// Entries of a model, oldest first (parsed as needed).
    pub fn history(&self, provider: &str, model: &str) -> Vec<&PriceEntry> {
        self.indexes(provider, model)
            .iter()
            .filter_map(|&i| self.entry(i))
            .collect()
    }

    fn indexes(&self, provider: &str, model: &str) -> &[usize] {
        self.by_model
            .get(provider)
            .and_then(|models| models.get(model))
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// The mode column of a model's line in force on `day` (of every line with `None`),
    /// read without parsing the line's prices: enough to count a page's `total`.
    pub fn line_modes(
        &self,
        provider: &str,
        model: &str,
        day: Option<chrono::NaiveDate>,
    ) -> Vec<&'static str> {
        let column = |i: usize, n: usize| self.lines[i].0.split('\t').nth(n).unwrap_or("");
        let dated =
            |i: &&usize| day.is_none_or(|day| parse_date(column(**i, 0)).is_some_and(|d| d <= day));
        let lines = self.indexes(provider, model).iter().rev().filter(dated);
        let modes = lines.map(|&i| column(i, 3));
        match day {
            Some(_) => modes.take(1).collect(),
            None => modes.collect(),
        }
    }

    /// The entry in force on `day`: the latest line not after it (lines are dated by their
    /// first column, so later lines are not parsed).
    pub fn in_force(
        &self,
        provider: &str,
        model: &str,
        day: chrono::NaiveDate,
    ) -> Option<&PriceEntry> {
        self.indexes(provider, model)
            .iter()
            .rev()
            .filter(|&&i| {
                let date = self.lines[i].0.split('\t').next().unwrap_or("");
                parse_date(date).is_some_and(|d| d <= day)
            })
            .find_map(|&i| self.entry(i))
    }
}

/// One or more lines as entry inputs (see [`parse`]).
fn parse_with(
    text: &str,
    source: &str,
    read_on: &str,
) -> (Vec<(String, EntryInput)>, Vec<Skipped>) {
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
        match convert_one(key, &spec, effective_from, Some(source)) {
            Ok(Some(mut entry)) => {
                entry.source_read_on = Some(read_on.to_string());
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

/// The bundled layer under the curated catalog, indexed once per isolate.
pub fn layer() -> &'static Layer {
    static LAYER: OnceLock<Layer> = OnceLock::new();
    LAYER.get_or_init(|| {
        let taken: FxHashMap<String, &str> = super::catalog::curated()
            .entries()
            .iter()
            .flat_map(PriceEntry::lookup_names)
            .map(|name| (name, ""))
            .collect();
        Layer::new(text(), &taken)
    })
}
