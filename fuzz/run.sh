#!/usr/bin/env bash
# A bounded fuzzing run of wasi-min (default 60 s), for CI or by hand: fuzz/run.sh [SECONDS].
# Installs cargo-fuzz (pinned) if it is missing; RUSTC_BOOTSTRAP lets a stable toolchain use the
# nightly flags cargo-fuzz passes.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --version 0.13.2 --locked
fi
mkdir -p corpus/wasi_calls
cargo fuzz run wasi_calls corpus/wasi_calls -- -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1
