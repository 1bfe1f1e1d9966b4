#!/usr/bin/env bash
# A bounded fuzzing run of each target (wasi-min's calls, the snapshot decoder), by hand or in CI:
#   fuzz/run.sh [SECONDS]   fuzz each target for SECONDS (default 60), random seed, growing fuzz/corpus/
#   fuzz/run.sh --ci        a CI-sized run: fixed seed, 100,000 inputs (the harness now also builds and checks a
#                           file-system jail per input: a few minutes here)
# Installs cargo-fuzz (pinned) if it is missing; RUSTC_BOOTSTRAP lets a stable toolchain use the
# nightly flags cargo-fuzz passes.
set -euo pipefail
cd "$(dirname "$0")"
if [ "${1:-}" = --ci ]; then
  # Fixed seed and input count: bounded by work, not by the machine's speed, and close to the
  # same inputs every time (not exactly: coverage feedback differs slightly between runs). The
  # long random runs are done by hand.
  limit=(-seed=1 -runs=100000)
else
  limit=(-max_total_time="${1:-60}")
fi
export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --version 0.13.2 --locked
fi
for target in wasi_calls snapshot_decode; do
  mkdir -p "corpus/$target"
  cargo fuzz run "$target" "corpus/$target" -- "${limit[@]}" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1
done
