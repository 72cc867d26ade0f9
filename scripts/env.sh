# Sourced by the other scripts: the project's own tools first on PATH, and wrangler kept quiet
# and offline.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$ROOT/.tools/bin:$ROOT/node_modules/.bin:$PATH"
export WASM_BINDGEN_BIN="$ROOT/.tools/bin/wasm-bindgen"
export ESBUILD_BIN="$ROOT/node_modules/.bin/esbuild"
export WRANGLER_SEND_METRICS=false
export CLOUDFLARE_CF_FETCH_ENABLED=false
export WRANGLER_HIDE_BANNER=true
export WRANGLER_LOG_PATH="$ROOT/.wrangler/logs"
