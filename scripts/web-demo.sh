#!/usr/bin/env bash
# The web demo (examples/web): Go reactors running in a web page through go-reactor's web backend.
#
#   scripts/web-demo.sh build          build examples/web/pkg (Rust -> wasm32, then wasm-bindgen)
#   scripts/web-demo.sh serve [PORT]   serve the repository on http://127.0.0.1:PORT (default 8000);
#                                      open http://127.0.0.1:PORT/examples/web/
#   scripts/web-demo.sh check          build, then load the page in headless Chromium and check it
#                                      (scripts/web-demo-check.mjs; scripts/web-test.sh runs this)
set -euo pipefail
cd "$(dirname "$0")/.."

build() {
  WEB_SETUP_NO_BROWSER=1 source scripts/web-setup.sh
  # The dev profile: the workspace optimises dependencies there already, and the web tests share
  # its build.
  cargo build -p go-reactor-web-demo --target wasm32-unknown-unknown
  wasm-bindgen --target web --no-typescript --out-dir examples/web/pkg \
    "${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/debug/go_reactor_web_demo.wasm"
  echo "web-demo: built examples/web/pkg"
}

case "${1:-}" in
  build) build ;;
  serve)
    port=${2:-8000}
    [ -e examples/web/pkg/go_reactor_web_demo.js ] || build
    echo "web-demo: open http://127.0.0.1:$port/examples/web/ (Ctrl-C to stop)"
    exec python3 -m http.server "$port" --bind 127.0.0.1
    ;;
  check)
    build
    source scripts/web-setup.sh
    node scripts/web-demo-check.mjs
    ;;
  *)
    sed -n '2,9p' "$0" >&2
    exit 2
    ;;
esac
