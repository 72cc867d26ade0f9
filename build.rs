//! Deflates the OpenAPI document (`src/edge/openapi.json`, about 260 KB of indented text) so
//! that it adds about a tenth of that to the wasm; `edge::openapi` inflates it once.

use std::error::Error;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn Error>> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let source = manifest.join("src/edge/openapi.json");
    println!("cargo:rerun-if-changed={}", source.display());
    let text = std::fs::read(&source).map_err(|e| format!("reading {}: {e}", source.display()))?;
    let deflated = miniz_oxide::deflate::compress_to_vec(&text, 10);
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("openapi.json.deflate"), deflated)?;
    Ok(())
}
