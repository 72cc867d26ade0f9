//! Deflates the OpenAPI document (`src/edge/openapi.json`, about 270 KB of indented text) so
//! that it adds about a twelfth of that to the wasm; `edge::openapi` inflates it once. It is
//! written without its indentation first (137 KB; deflated, 22 KB instead of 27 KB): the route
//! serves it parsed and written compactly anyway.

use std::error::Error;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn Error>> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let source = manifest.join("src/edge/openapi.json");
    println!("cargo:rerun-if-changed={}", source.display());
    let text = std::fs::read(&source).map_err(|e| format!("reading {}: {e}", source.display()))?;
    let document: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| format!("reading {}: {e}", source.display()))?;
    let deflated = miniz_oxide::deflate::compress_to_vec(&serde_json::to_vec(&document)?, 10);
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("openapi.json.deflate"), deflated)?;
    Ok(())
}
