//go:build wasip1

// hostloop: measures the cost of calls across the host boundary in both directions.
// call_host(n) calls the host's env.host_nop n times (guest to host) and returns the sum of its
// results; nop() does nothing (host to guest: the cost of an export call). main prints
// "hostloop ready" and blocks with select {}, so the reactor idles and the host calls the
// exports. The host must provide host_nop(x int32) int32; benchmarks return x+1, so
// call_host(n) = n*(n+1)/2 (mod 2^32). Cannot run natively; expected output written by hand.
package main

import "fmt"

//go:wasmimport env host_nop
func hostNop(x int32) int32

//go:wasmexport call_host
func callHost(n int32) int32 {
	var sum int32
	for i := int32(0); i < n; i++ {
		sum += hostNop(i)
	}
	return sum
}

//go:wasmexport nop
func nop() {}

func main() {
	fmt.Println("hostloop ready")
	select {}
}
