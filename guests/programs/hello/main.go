// hello: the smallest fixture. Exercises go_start_main, one go_tick, fd_write to stdout, and
// main returning (proc_exit(0) under ABI 1).
package main

import "fmt"

func main() {
	fmt.Print("Hello from Go WASI reactor!\n")
}
