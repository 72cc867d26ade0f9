#!/usr/bin/env bash
# Runs worker-build (arguments passed on) with the standard library rebuilt for the worker's
# wasm, as scripts/build.sh and the first-request bench's Rust floors do. Two settings, measured in
# BENCHMARKS.md ("std built for the worker"):
# - `build-std`: std, core and alloc compiled with the crate's `wasm` profile (opt-level "z",
#   LTO with the crate) instead of the prebuilt opt-level 3 copies rustup ships;
# - `-C panic=immediate-abort`: a panic is the wasm `unreachable` trap at once. With plain
#   `panic=abort` (a wasm target's default) a panic already ends the request with a trap; it no
#   longer formats a message first, so no panic message, location string or formatting path is
#   in the file. No request or cron path panics by design (no unwrap/expect there); if one ever
#   did, the log shows the trap and its wasm stack instead of the message. `-Z location-detail=none`
#   leaves out the source locations `#[track_caller]` functions would still carry (3 KB).
# These are unstable Cargo and rustc options. `RUSTC_BOOTSTRAP=1` lets the pinned stable
# toolchain (1.95) accept them, for this build only: host builds, clippy and tests never see
# them. `rust-src` (rustup's component, added by scripts/setup.sh) is the source it compiles.
set -euo pipefail
source "$(dirname "$0")/env.sh"
export RUSTC_BOOTSTRAP=1
export CARGO_UNSTABLE_BUILD_STD=std,panic_abort
flags="-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none"
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="$flags"
# Cargo takes RUSTFLAGS instead of the target's flags when it is set: add ours to it.
if [ -n "${RUSTFLAGS:-}" ]; then
  export RUSTFLAGS="$RUSTFLAGS $flags"
fi
# The options above are unstable: checked with rustc 1.95 (TOOLCHAIN.md); say so on another.
case "$(rustc --version)" in
  "rustc 1.95."*) ;;
  *) echo "worker-build.sh: built and measured with rustc 1.95; this is $(rustc --version)" >&2 ;;
esac
exec worker-build "$@"
