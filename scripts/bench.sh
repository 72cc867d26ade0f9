#!/usr/bin/env bash
# `npm run bench`: host micro-benchmarks of the core, then HTTP benchmarks against the real
# `wrangler dev`. Results go into BENCHMARKS.md by hand, with this command.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
bash scripts/setup.sh
bash scripts/build.sh
echo "== pricing engine (host, one core)"
cargo run --release --locked --quiet -p spend-core --example bench_pricing
echo "== bundled LiteLLM layer start-up (host)"
cargo run --release --locked --quiet -p spend-core --example bench_bundled
echo "== ingestion core (host, one core)"
cargo run --release --locked --quiet -p spend-core --example bench_ingest
echo "== HTTP under wrangler dev"
node bench/http.mjs
echo "== first request of a fresh isolate (Miniflare)"
BENCH_ENTRY_FLOOR=1 BENCH_RUST_FLOOR=1 node bench/first-request.mjs
BENCH_PROVIDER=mistral BENCH_MODEL=mistral-large-latest node bench/first-request.mjs
echo "== ingestion under wrangler dev"
node bench/ingest.mjs
echo "== D1 rows written and R2 puts per event (Miniflare)"
node bench/writes.mjs
echo "== batches of 1,000 against the floor's batch, interleaved, under wrangler dev"
node bench/batch-floor.mjs
echo "== the spend guard, and ingestion with the ingest-time alert check on and off, under wrangler dev"
node bench/guard.mjs
echo "== the queue path beside the synchronous one, single events, under wrangler dev"
node bench/queue.mjs
# Issue 28's goal compares 10M stored events with 1M (states kept in .bench-state/, about 4 GB;
# BENCH_REPORT_SIZES=100000,1000000,3000000 for a smaller machine).
echo "== reports at 1M and 10M stored events, interleaved, under wrangler dev"
BENCH_EVENTS="${BENCH_REPORT_SIZES:-1000000,10000000}" node bench/reports.mjs
