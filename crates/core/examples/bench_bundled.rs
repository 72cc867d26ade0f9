//! Host benchmark of the bundled LiteLLM layer's start-up: inflating the compiled-in file
//! and indexing it (what a fresh isolate pays once, at the first name the curated catalog
//! does not know). Run by `npm run bench`.

use rustc_hash::FxHashMap;
use std::time::Instant;

use spend_core::pricing::bundled::{text, Layer};

fn main() {
    let started = Instant::now();
    let text = text();
    let inflated = started.elapsed();
    let started = Instant::now();
    let layer = Layer::new(text, &FxHashMap::default());
    let indexed = started.elapsed();
    println!(
        "inflate {} KB: {:.1} ms; index {} names: {:.1} ms",
        text.len() / 1024,
        inflated.as_secs_f64() * 1e3,
        layer.names().count(),
        indexed.as_secs_f64() * 1e3
    );
}
