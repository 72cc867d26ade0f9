//! Deflates the bundled LiteLLM price layer (`data/litellm-prices.tsv`, about 680 KB of text)
//! so that it adds about a tenth of that to the wasm; `pricing::bundled` inflates it once.

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let source = manifest.join("../../data/litellm-prices.tsv");
    println!("cargo:rerun-if-changed={}", source.display());
    let text = std::fs::read(&source).expect("data/litellm-prices.tsv is readable");
    let deflated = miniz_oxide::deflate::compress_to_vec(&text, 10);
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it"));
    std::fs::write(out.join("litellm-prices.tsv.deflate"), deflated).expect("OUT_DIR is writable");
}
