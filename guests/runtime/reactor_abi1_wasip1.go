// Part of go-reactor. Written for this project; not derived from any Go fork.

//go:build ignore

// Mode file for the default `abi1` build (see reactor_wasip1.go and gen_overlay.py, which
// replaces the `ignore` constraint above with `wasip1` in the overlay copy).

package runtime

// reactorLegacyMode is false: main returning ends the program with proc_exit(0).
const reactorLegacyMode = false

// go_reactor_abi marks a module built with this runtime addition and tells the host which
// semantics to expect. ABI 1: main returning calls proc_exit(0), so -1 from go_tick on a live
// module means main is blocked (a deadlock for a CLI run, normal for an export-driven embedder).
//
//go:wasmexport go_reactor_abi
func go_reactor_abi() int32 {
	return 1
}
