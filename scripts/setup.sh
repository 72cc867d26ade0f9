#!/usr/bin/env bash
# Idempotent set-up for a fresh clone: everything the build and the tests need goes into
# git-ignored folders of the project (.tools/, node_modules/). A per-user cache keyed by
# tool and version lets a second clone skip the slow `cargo install`s; with an empty cache
# the same steps simply take longer.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TOOLS="$ROOT/.tools"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/ai-spend-tracker/tools"
WORKER_BUILD_VERSION=0.8.7
# The wasm-bindgen CLI must equal the crate version exactly; read it from Cargo.lock.
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)

log() { printf '[setup] %s\n' "$*" >&2; }

mkdir -p "$TOOLS/bin" "$CACHE"

# install_tool <crate> <version> <binary...> -- <extra cargo install flags>
install_tool() {
  local crate=$1 version=$2; shift 2
  local bins=() flags=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do bins+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  flags=("$@")
  local stamp="$TOOLS/.stamp-$crate-$version"
  if [ -f "$stamp" ]; then return 0; fi
  local cached="$CACHE/$crate-$version"
  if [ ! -x "$cached/bin/${bins[0]}" ]; then
    # One install of a tool at a time in the shared cache: a second set-up (another clone, a
    # parallel CI job) waits for the first, then finds the tool cached. The lock goes with
    # the process, however it ends. (Without util-linux's flock, as on macOS, no lock.)
    local lock_fd=""
    if command -v flock >/dev/null 2>&1; then
      exec {lock_fd}>"$CACHE/.lock-$crate-$version"
      if ! flock -n "$lock_fd"; then
        log "waiting for another set-up that is installing $crate $version"
        flock "$lock_fd"
      fi
    fi
    if [ ! -x "$cached/bin/${bins[0]}" ]; then
      log "installing $crate $version (a few minutes, once per machine)"
      local tmp
      tmp=$(mktemp -d "$CACHE/.tmp-$crate-XXXX")
      cargo install --quiet "$crate" --version "=$version" --root "$tmp" "${flags[@]}"
      rm -rf "$cached"
      mv "$tmp" "$cached"
    fi
    if [ -n "$lock_fd" ]; then exec {lock_fd}>&-; fi
  fi
  for b in "${bins[@]}"; do cp -f "$cached/bin/$b" "$TOOLS/bin/$b"; done
  rm -f "$TOOLS"/.stamp-"$crate"-*
  touch "$stamp"
}

if ! rustup target list --installed | grep -q '^wasm32-unknown-unknown$'; then
  log "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi
# The standard library's source: scripts/worker-build.sh compiles std for the worker's wasm.
if ! rustup component list --installed | grep -q '^rust-src$'; then
  log "adding the rust-src component"
  rustup component add rust-src
fi

install_tool worker-build "$WORKER_BUILD_VERSION" worker-build -- --locked
# Not --locked: its lockfile pins a webpki-roots release the registry mirror lacks.
install_tool wasm-bindgen-cli "$WASM_BINDGEN_VERSION" wasm-bindgen wasm-bindgen-test-runner

# npm packages (wrangler, miniflare, test tools), reinstalled only when the lockfile changes.
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f node_modules/.setup-lock-hash ] || [ "$(cat node_modules/.setup-lock-hash)" != "$lock_hash" ]; then
  log "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > node_modules/.setup-lock-hash
fi

# Every crate downloaded now, so later builds work offline.
cargo_hash=$(sha256sum Cargo.lock | cut -d' ' -f1)
if [ ! -f "$TOOLS/.cargo-fetch-$cargo_hash" ]; then
  log "fetching crates"
  cargo fetch --locked --quiet
  rm -f "$TOOLS"/.cargo-fetch-*
  touch "$TOOLS/.cargo-fetch-$cargo_hash"
fi
# The crates the standard library itself is built from (scripts/worker-build.sh builds it for
# the worker's wasm), per toolchain.
std_stamp="$TOOLS/.std-fetch-$(rustc --version | tr -c 'a-zA-Z0-9.\n' '-')"
if [ ! -f "$std_stamp" ]; then
  log "fetching the standard library's crates"
  RUSTC_BOOTSTRAP=1 cargo fetch --locked --quiet --target wasm32-unknown-unknown -Zbuild-std=std,panic_abort
  rm -f "$TOOLS"/.std-fetch-*
  touch "$std_stamp"
fi

# Debian's Chromium, driven by playwright-core in the dashboard's browser test
# (tests/dashboard.test.mjs). Playwright's own browser download does not work offline.
if [ ! -x /usr/bin/chromium ]; then
  if command -v apt-get >/dev/null 2>&1; then
    log "installing Debian's chromium (browser tests)"
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; then
      $SUDO apt-get update
      $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium
    fi
  else
    log "no apt-get: install Chromium at /usr/bin/chromium yourself for tests/dashboard.test.mjs"
  fi
fi

# Schemathesis (tests/schemathesis.test.mjs fuzzes the API against its OpenAPI document) and the
# OpenTelemetry Python SDK with its OTLP exporter (tests/otlp.test.mjs) in a
# Python venv of its own, reinstalled only when tests/requirements.txt (every package at an
# exact version) changes.
VENV="$TOOLS/venv"
req_hash=$(sha256sum tests/requirements.txt | cut -d' ' -f1)
if [ ! -f "$VENV/.requirements-hash" ] || [ "$(cat "$VENV/.requirements-hash")" != "$req_hash" ]; then
  if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    log "installing Debian's python3-venv (schemathesis)"
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-venv; then
      $SUDO apt-get update
      $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-venv
    fi
  fi
  if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    log "schemathesis needs Python 3.11 or later; python3 is $(python3 --version 2>&1)"
    exit 1
  fi
  log "installing schemathesis and the OpenTelemetry SDK into .tools/venv"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps -r tests/requirements.txt
  "$VENV/bin/pip" check --disable-pip-version-check >&2
  echo "$req_hash" > "$VENV/.requirements-hash"
fi

log "ready"
