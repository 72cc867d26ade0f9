//! Writes `data/tz.tsv`, the IANA time zones that `kernel::tz` compiles in (deflated), from the
//! tables of the pinned `chrono-tz` (a dev-dependency): every zone's spans and transitions,
//! exactly as `chrono-tz` holds them, in a compact text. Run after updating `chrono-tz`:
//!
//! `cargo run -p spend-core --example tz_data > data/tz.tsv`
//!
//! `chrono-tz` keeps its transitions private, so this reads its generated source (found
//! through `cargo metadata`); `kernel::tz`'s tests then check every zone against `chrono-tz`'s
//! public answers, so a misread table fails there.
//!
//! Format, one zone a line, sorted by name: `name<TAB>spans<TAB>transitions`. `spans` is
//! `utc_offset dst_offset abbreviation` (seconds; `-` for no abbreviation) joined by `|`, the
//! first in force before any transition; `transitions` is `delta:span` joined by spaces, each
//! delta in seconds from the transition before (the first from the Unix epoch). A zone whose
//! tables equal an earlier one's is `name<TAB>=earlier name`. `UTC` itself is not listed.
//!
//! Only transitions after 1970-01-01T00:00:00Z are written, and a zone's first span is the one
//! in force at that instant: the tz database records local time reliably since 1970 (older
//! history is best effort), no usage, budget or report of this product falls before it, and
//! the history before 1970 took a third of the compressed table.

use std::collections::BTreeMap;
use std::error::Error;
use std::fmt::Write as _;
use std::process::Command;

type Span = (i64, i64, String);

/// The first instant whose offsets are kept: 1970-01-01T00:00:00Z.
const SINCE: i64 = 0;

fn main() -> Result<(), Box<dyn Error>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let metadata = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .output()?;
    let metadata: serde_json::Value = serde_json::from_slice(&metadata.stdout)?;
    let manifest = metadata["packages"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == "chrono-tz"))
        .and_then(|p| p["manifest_path"].as_str())
        .ok_or("chrono-tz is not in cargo metadata")?;
    let source = std::path::Path::new(manifest).with_file_name("src/prebuilt/timezones.rs");
    let version = metadata["packages"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == "chrono-tz"))
        .and_then(|p| p["version"].as_str())
        .unwrap_or("?")
        .to_string();
    let text = std::fs::read_to_string(&source)?;

    // Variant -> IANA name, from `fn name`.
    let mut names = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some((variant, rest)) = line
            .strip_prefix("Tz::")
            .and_then(|l| l.split_once(" => \""))
        {
            names.insert(
                variant.to_string(),
                rest.trim_end_matches("\",").to_string(),
            );
        }
    }

    // Variant -> (first span, transitions), from `fn timespans`.
    let body = text.split("fn timespans").nth(1).ok_or("no fn timespans")?;
    let mut zones: BTreeMap<String, (Span, Vec<(i64, Span)>)> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut first: Vec<String> = Vec::new();
    let mut in_first = false;
    for line in body.lines() {
        let line = line.trim();
        if let Some(variant) = line
            .strip_prefix("Tz::")
            .and_then(|l| l.strip_suffix(" => {"))
        {
            current = Some(variant.to_string());
            zones.insert(variant.to_string(), ((0, 0, String::new()), Vec::new()));
        } else if let Some(rest) = line
            .strip_prefix("(")
            .filter(|r| r.contains("FixedTimespan {"))
        {
            let (at, span) = rest
                .split_once(", FixedTimespan {")
                .ok_or_else(|| format!("odd transition: {line}"))?;
            let zone = zones
                .get_mut(current.as_deref().ok_or("no zone")?)
                .ok_or("no zone")?;
            zone.1.push((at.parse()?, span_of(span)?));
        } else if line == "first: FixedTimespan {" {
            in_first = true;
            first.clear();
        } else if in_first && line == "}," {
            in_first = false;
            let zone = zones
                .get_mut(current.as_deref().ok_or("no zone")?)
                .ok_or("no zone")?;
            zone.0 = span_of(&first.join(" "))?;
        } else if in_first {
            first.push(line.to_string());
        }
    }

    println!("# IANA time zones of chrono-tz {version} from 1970 on, written by `cargo run -p spend-core --example tz_data`");
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut lines = BTreeMap::new();
    for (variant, (first, rest)) in &zones {
        let name = names
            .get(variant)
            .ok_or_else(|| format!("no name for {variant}"))?;
        if name == "UTC" {
            continue;
        }
        // From 1970 on only, the scope of the tz database itself ("since 1970" is what it
        // records reliably): the span in force at the epoch stands for everything before it.
        let first = rest
            .iter()
            .take_while(|(at, _)| *at <= SINCE)
            .last()
            .map_or(first, |(_, span)| span);
        let rest = rest.iter().filter(|(at, _)| *at > SINCE);
        let mut spans = vec![first.clone()];
        let mut transitions = String::new();
        let mut previous = 0;
        for (at, span) in rest {
            let index = match spans.iter().position(|s| s == span) {
                Some(i) => i,
                None => {
                    spans.push(span.clone());
                    spans.len() - 1
                }
            };
            if !transitions.is_empty() {
                transitions.push(' ');
            }
            write!(transitions, "{}:{index}", at - previous)?;
            previous = *at;
        }
        let spans: Vec<String> = spans
            .iter()
            .map(|(u, d, a)| format!("{u} {d} {a}"))
            .collect();
        lines.insert(name.clone(), format!("{}\t{transitions}", spans.join("|")));
    }
    for (name, data) in &lines {
        match seen.get(data) {
            Some(earlier) => println!("{name}\t={earlier}"),
            None => {
                println!("{name}\t{data}");
                seen.insert(data.clone(), name.clone());
            }
        }
    }
    Ok(())
}

/// `utc_offset: A, dst_offset: B, name: Some("X") }` (or `name: None`) as a span.
fn span_of(text: &str) -> Result<Span, Box<dyn Error>> {
    let field = |key: &str| -> Result<String, Box<dyn Error>> {
        let rest = text
            .split(key)
            .nth(1)
            .ok_or_else(|| format!("no {key} in {text}"))?;
        Ok(rest
            .trim()
            .split([',', ' '])
            .next()
            .unwrap_or("")
            .to_string())
    };
    let name = field("name:")?;
    let name = match name.strip_prefix("Some(\"") {
        Some(n) => n.trim_end_matches(['"', ')']).to_string(),
        None => "-".to_string(),
    };
    Ok((
        field("utc_offset:")?.parse()?,
        field("dst_offset:")?.parse()?,
        name,
    ))
}
