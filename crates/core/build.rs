//! Deflates the bundled LiteLLM price layer (`data/litellm-prices.tsv`, about 680 KB of text)
//! so that it adds about a fourteenth of that to the wasm (written column by column first,
//! `kernel::columns`); `pricing::bundled` inflates it once.
//! The same for the curated catalog (`data/prices.json`, 94 KB; `pricing::catalog::builtin`) and
//! the time zones (`data/tz.tsv`, about 370 KB, to about 20 KB; `kernel::tz`).

use std::error::Error;

// Only `to_columns` is used here; `from_columns` is the worker's.
#[allow(dead_code)]
#[path = "src/kernel/columns.rs"]
mod columns;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn Error>> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    for file in ["litellm-prices.tsv", "prices.json", "tz.tsv"] {
        let source = manifest.join("../../data").join(file);
        println!("cargo:rerun-if-changed={}", source.display());
        let text =
            std::fs::read(&source).map_err(|e| format!("reading {}: {e}", source.display()))?;
        // The LiteLLM layer column by column (`kernel::columns`; read back by `pricing::bundled`).
        let text = match (file, std::str::from_utf8(&text)) {
            ("litellm-prices.tsv", Ok(rows)) => columns::to_columns(rows)
                .ok_or("data/litellm-prices.tsv is not a table of equal rows")?
                .into_bytes(),
            _ => text,
        };
        let deflated = miniz_oxide::deflate::compress_to_vec(&text, 10);
        std::fs::write(out.join(format!("{file}.deflate")), deflated)?;
    }
    Ok(())
}
