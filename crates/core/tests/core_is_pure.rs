//! The core must never touch the platform: no `worker`, `wasm_bindgen`, `js_sys` or
//! `web_sys` anywhere under `crates/core/src/`. This reads every source file to prove it.

use std::fs;
use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in fs::read_dir(dir).expect("the core's src is readable") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Lines of `text` that use a platform crate (comments ignored).
fn platform_uses(text: &str) -> Vec<(usize, String)> {
    let banned = ["worker", "wasm_bindgen", "js_sys", "web_sys"];
    let mut found = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let hit = banned.iter().any(|name| {
            code.contains(&format!("use {name}"))
                || code.contains(&format!("extern crate {name}"))
                || code.match_indices(&format!("{name}::")).any(|(at, _)| {
                    at == 0
                        || !code.as_bytes()[at - 1].is_ascii_alphanumeric()
                            && code.as_bytes()[at - 1] != b'_'
                })
        });
        if hit {
            found.push((number + 1, line.trim().to_string()));
        }
    }
    found
}

#[test]
fn the_core_imports_no_platform_crate() {
    let core = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&core, &mut files);
    assert!(
        files.len() >= 5,
        "expected the core's sources, found {files:?}"
    );
    let mut offences = Vec::new();
    for file in &files {
        let text = fs::read_to_string(file).expect("source is UTF-8");
        for (line, code) in platform_uses(&text) {
            offences.push(format!("{}:{line}: {code}", file.display()));
        }
    }
    assert!(
        offences.is_empty(),
        "the core touches the platform:\n{}",
        offences.join("\n")
    );
}

#[test]
fn the_purity_check_catches_imports_and_paths_but_not_comments() {
    let sample = "use worker::Env;\nlet x = js_sys::Date::now();\n// worker::Env in a comment\nlet y = my_worker::thing();\nuse wasm_bindgen::prelude::*;";
    let lines: Vec<usize> = platform_uses(sample).into_iter().map(|(n, _)| n).collect();
    assert_eq!(lines, vec![1, 2, 5]);
}

#[test]
fn the_core_crate_depends_on_no_platform_crate() {
    let manifest = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .expect("the core's Cargo.toml is readable");
    let platform = ["worker", "wasm-bindgen", "js-sys", "web-sys"];
    let declared: Vec<&str> = manifest
        .lines()
        .map(|line| line.split('#').next().unwrap_or("").trim())
        .filter_map(|line| line.split(['=', ' ']).next())
        .filter(|name| platform.contains(name))
        .collect();
    assert_eq!(
        declared,
        Vec::<&str>::new(),
        "the core names a platform crate"
    );
}
