// legacy-hello: the hello program built in `legacy` mode, which mimics the seed's forked runtime:
// no go_reactor_abi export, and main returning only ends its goroutine, so the host sees go_tick
// return -1 and must treat that as normal completion (exit 0). Tests the host's compatibility
// path. Expected output: the same as hello.
package main

import "fmt"

func main() {
	fmt.Print("Hello from Go WASI reactor!\n")
}
