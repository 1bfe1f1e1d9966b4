// exit: os.Exit(3) after some output. The host must see proc_exit(3) from inside go_tick, keep
// the output written before it, and not run deferred functions.
package main

import (
	"fmt"
	"os"
)

func main() {
	defer fmt.Println("deferred: must not be printed")
	fmt.Println("exiting with code 3")
	os.Exit(3)
}
