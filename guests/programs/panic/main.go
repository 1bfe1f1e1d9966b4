// panic: an unrecovered panic in a goroutine (not main) after some output. The runtime prints
// "panic: ..." and the panicking goroutine's traceback to stderr, then the module traps in
// runtime.abort (c-shared builds crash instead of exiting with status 2 as a native Go program
// does; expected/exit says 2, Go's own status for a panic).
package main

import "fmt"

func main() {
	fmt.Println("before panic")
	never := make(chan struct{})
	go func() {
		panic("boom from a goroutine")
	}()
	<-never // main waits; the panic ends the program first
	fmt.Println("unreachable: main must not continue")
}
