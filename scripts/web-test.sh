#!/usr/bin/env bash
# The web backend's tests (.ci/run calls this): its conformance cases under Node.js and in
# headless Chromium with wasm-bindgen-test, then the demo page checked in headless Chromium.
# Installs what it needs first (scripts/web-setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/web-setup.sh

export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
# The runner's limit covers the whole browser run, not one test.
export WASM_BINDGEN_TEST_TIMEOUT=${WASM_BINDGEN_TEST_TIMEOUT:-300}
tests=(cargo test -p reactor-web --target wasm32-unknown-unknown --test conformance)

echo "web-test: clippy for wasm32-unknown-unknown"
cargo clippy -p reactor-web -p go-reactor-web-demo --target wasm32-unknown-unknown --all-targets -- -D warnings

echo "web-test: conformance under Node.js $(node --version)"
"${tests[@]}"

echo "web-test: conformance in headless $(chromium --version 2>/dev/null)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/profile"
# The runner adds --headless, --no-sandbox and --disable-dev-shm-usage. The rest keeps Chromium
# from reaching for the network (there is none) and from reusing a profile.
cat >"$tmp/webdriver.json" <<JSON
{
  "goog:chromeOptions": {
    "binary": "$(command -v chromium)",
    "args": ["--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--user-data-dir=$tmp/profile"]
  }
}
JSON
WASM_BINDGEN_USE_BROWSER=1 CHROMEDRIVER=$(command -v chromedriver) WASM_BINDGEN_TEST_WEBDRIVER_JSON="$tmp/webdriver.json" \
  "${tests[@]}"

echo "web-test: the demo page in headless Chromium"
scripts/web-demo.sh check
