// Part of go-reactor. Written for this project; not derived from any Go fork.

//go:build ignore

// Mode file for the `legacy` build (see reactor_wasip1.go and gen_overlay.py, which replaces the
// `ignore` constraint above with `wasip1` in the overlay copy).
//
// Legacy mode mimics the seed's forked runtime so hosts can test their compatibility path: there
// is no go_reactor_abi export, and main returning only ends the main goroutine; the remaining
// goroutines keep running and go_tick returning -1 then means "finished".

package runtime

// reactorLegacyMode is true: main returning ends only its goroutine.
const reactorLegacyMode = true
