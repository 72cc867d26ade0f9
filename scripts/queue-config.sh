#!/usr/bin/env bash
# Writes wrangler.queue.toml (git-ignored): wrangler.toml with the usage queue of queue.toml,
# for `INGEST_MODE=queue` in `npm run dev` and `npm run deploy`, and the queue tests. Prints
# its name.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
{
  echo "# Written by scripts/queue-config.sh from wrangler.toml and queue.toml; do not edit."
  cat wrangler.toml
  echo
  cat queue.toml
} > wrangler.queue.toml
echo wrangler.queue.toml
