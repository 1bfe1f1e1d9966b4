#!/usr/bin/env bash
# Installs what the web backend's tests and demo need, if missing (idempotent): the
# wasm32-unknown-unknown Rust target, wasm-bindgen's CLI at exactly the version of the
# `wasm-bindgen` library in Cargo.lock (the two must match), and Chromium with its WebDriver.
# Node.js (>= 18) must already be there (the tests run in it). Sourced by scripts/web-test.sh and scripts/web-demo.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! rustup target list --installed | grep -x wasm32-unknown-unknown >/dev/null; then
  echo "web-setup: adding the wasm32-unknown-unknown target" >&2
  rustup target add wasm32-unknown-unknown
fi

# The version of the `wasm-bindgen` package in Cargo.lock.
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ -z "$WASM_BINDGEN_VERSION" ]; then
  echo "web-setup: no wasm-bindgen in Cargo.lock" >&2
  exit 1
fi
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
  echo "web-setup: installing wasm-bindgen-cli $WASM_BINDGEN_VERSION" >&2
  # --locked first (the CLI's own lock file); if one of its locked dependencies has since been
  # yanked from the registry, resolve afresh within the CLI's version requirements.
  cargo install wasm-bindgen-cli --version "=$WASM_BINDGEN_VERSION" --locked ||
    cargo install wasm-bindgen-cli --version "=$WASM_BINDGEN_VERSION"
fi

# Chromium is for the tests only (WEB_SETUP_NO_BROWSER=1 when just building the demo).
need=()
[ -n "${WEB_SETUP_NO_BROWSER:-}" ] || command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ -n "${WEB_SETUP_NO_BROWSER:-}" ] || command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
if ((${#need[@]})); then
  echo "web-setup: installing ${need[*]}" >&2
  sudo_cmd=()
  if [ "$(id -u)" != 0 ]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${need[@]}" >/dev/null
fi
