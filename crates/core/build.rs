//! Deflates the bundled LiteLLM price layer (`data/litellm-prices.tsv`, about 680 KB of text)
//! so that it adds about a tenth of that to the wasm; `pricing::bundled` inflates it once.
//! The same for the curated catalog (`data/prices.json`, 94 KB; `pricing::catalog::builtin`) and
//! the time zones (`data/tz.tsv`, about 370 KB, to about 20 KB; `kernel::tz`).

use std::error::Error;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn Error>> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    for file in ["litellm-prices.tsv", "prices.json", "tz.tsv"] {
        let source = manifest.join("../../data").join(file);
        println!("cargo:rerun-if-changed={}", source.display());
        let text =
            std::fs::read(&source).map_err(|e| format!("reading {}: {e}", source.display()))?;
        let deflated = miniz_oxide::deflate::compress_to_vec(&text, 10);
        std::fs::write(out.join(format!("{file}.deflate")), deflated)?;
    }
    Ok(())
}
