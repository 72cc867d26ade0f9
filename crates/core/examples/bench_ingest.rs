//! Host benchmark of the ingestion core for one request of 1,000 events: parse, validate, price,
//! encode the raw-log object, and store into the in-memory store, one core. It shows how much
//! of a request is the core's CPU rather than storage. Run by `npm run bench`.

use std::time::Instant;

use chrono::{TimeZone, Utc};
use spend_core::access::auth::Principal;
use spend_core::access::projects::{create_project, NewProjectRequest, ProjectId};
use spend_core::kernel::clock::{FixedClock, SystemEntropy};
use spend_core::kernel::testing::{MemoryLog, MemoryStore};
use spend_core::usage::ingest::{ingest, IngestConfig};

fn body(round: usize) -> Vec<u8> {
    let models = [
        ("openai", "gpt-4o-mini"),
        ("anthropic", "claude-3-5-haiku"),
        ("google", "gemini-2.0-flash"),
        ("elevenlabs", "eleven_multilingual_v2"),
    ];
    let events: Vec<serde_json::Value> = (0..1000)
        .map(|i| {
            let (provider, model) = models[i % models.len()];
            serde_json::json!({
                "id": format!("r{round}-e{i}"), "provider": provider, "model": model,
                "operation": "script-generation", "input_tokens": 800 + i % 400,
                "output_tokens": 200 + i % 100, "job_id": format!("job-{}", i / 5),
                "timestamp": format!("2026-11-{:02}T10:{:02}:00Z", 1 + i % 19, i % 60),
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "events": events })).unwrap_or_default()
}

fn main() {
    let clock = FixedClock(Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap());
    let store = MemoryStore::new();
    let request: NewProjectRequest =
        serde_json::from_value(serde_json::json!({"id": "bench", "name": "Bench"})).unwrap();
    pollster::block_on(create_project(&store, &clock, &SystemEntropy, request)).unwrap();
    let principal = Principal::Project {
        project_id: ProjectId::parse("bench").unwrap(),
        key_id: "k".into(),
    };
    let rounds = 50;
    let bodies: Vec<Vec<u8>> = (0..rounds).map(body).collect();
    let log = MemoryLog::default();
    let started = Instant::now();
    let mut answer_bytes = 0;
    for b in &bodies {
        let report = pollster::block_on(ingest(
            &store,
            &store,
            &log,
            &clock,
            &SystemEntropy,
            &principal,
            b,
            IngestConfig::default(),
        ))
        .unwrap();
        answer_bytes += report.to_json().unwrap().len();
    }
    let seconds = started.elapsed().as_secs_f64();
    let events = rounds * 1000;
    println!("| path | events/s | µs per 1,000-event request |");
    println!("|---|---|---|");
    println!(
        "| parse, validate, price, raw-log object, store in memory, encode the answer | {:.0} | {:.0} |",
        events as f64 / seconds,
        seconds * 1e6 / rounds as f64
    );
    eprintln!("(answers averaged {} bytes)", answer_bytes / rounds);
}
