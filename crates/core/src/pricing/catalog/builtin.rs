//! The built-in catalog: the curated `data/prices.json` compiled in, with the bundled LiteLLM layer under it.

use super::*;

/// The shape of `data/prices.json`.
#[derive(Debug)]
pub struct CatalogFile {
    pub schema: u32,
    pub read_on: String,
    pub entries: Vec<EntryInput>,
}

crate::object_reader!(
    CatalogFile,
    deny {
        schema: required,
        read_on: required,
        entries: required,
    }
);

/// `data/prices.json`, deflated at build time (see `crates/core/build.rs`): about a tenth of
/// its 94 KB in the wasm.
const CURATED_DEFLATED: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/prices.json.deflate"));

/// The curated file's text, inflated once per isolate (empty if it cannot be: then the
/// catalog is empty and every event is unpriced, never $0).
pub(crate) fn builtin_source() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| crate::kernel::deflated::inflate_text(CURATED_DEFLATED))
}

/// Parses and validates a catalog file; every problem is named by its entry and field.
pub fn parse_catalog_file(text: &str) -> Result<Vec<PriceEntry>, Vec<FieldError>> {
    let file: CatalogFile =
        serde_json::from_str(text).map_err(|e| vec![FieldError::new("catalog", e.to_string())])?;
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    for (i, input) in file.entries.iter().enumerate() {
        match input.parse(&format!("entries[{i}]"), Origin::Builtin) {
            Ok(e) => entries.push(e),
            Err(mut es) => errors.append(&mut es),
        }
    }
    if errors.is_empty() {
        Ok(entries)
    } else {
        Err(errors)
    }
}

/// The built-in catalog, parsed once. The file is checked by tests; should it ever fail to
/// parse at run time, the catalog is empty and every event is unpriced (never $0).
///
/// Under the curated entries lies the bundled LiteLLM layer ([`crate::pricing::bundled`]): every model
/// LiteLLM prices that the curated file does not name.
pub fn builtin() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let mut catalog = curated().clone();
        catalog.lower = Some(crate::pricing::bundled::layer);
        catalog
    })
}

/// The curated catalog alone (`data/prices.json`), parsed once.
pub fn curated() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| Catalog::new(parse_catalog_file(builtin_source()).unwrap_or_default()))
}

/// The date the built-in catalog was read from its sources.
pub fn builtin_read_on() -> String {
    serde_json::from_str::<CatalogFile>(builtin_source())
        .map(|f| f.read_on)
        .unwrap_or_default()
}
