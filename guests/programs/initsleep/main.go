// initsleep: a package init that sleeps. Inits run inside _initialize, before any go_tick, so
// the runtime blocks in poll_oneoff with a clock subscription as a stock build does (the tick
// hook is inactive then); the host must implement that sleep for real.
package main

import (
	"fmt"
	"time"
)

func init() {
	start := time.Now()
	time.Sleep(50 * time.Millisecond)
	if time.Since(start) >= 50*time.Millisecond {
		fmt.Println("init slept")
	} else {
		fmt.Println("init woke early")
	}
}

func main() {
	fmt.Println("main ran")
}
