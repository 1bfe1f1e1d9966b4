// pingpong: two goroutines hand a counter back and forth over two unbuffered channels, so every
// step is a goroutine switch through the scheduler (park one goroutine, ready the other): the
// cost of channel handoffs and of the reactor's scheduler hook. The number of round trips is
// os.Args[1] (default 100000); each round trip is two handoffs. The output depends only on the
// count. Long runs end ticks at the reactor's 10 ms time slice (go_tick returns 0), because
// every handoff parks a goroutine, which is where the time slice is checked.
package main

import (
	"fmt"
	"os"
	"strconv"
)

func main() {
	rounds := 100000
	if len(os.Args) > 1 {
		n, err := strconv.Atoi(os.Args[1])
		if err != nil || n < 0 {
			fmt.Fprintln(os.Stderr, "usage: pingpong [ROUNDS]")
			os.Exit(1)
		}
		rounds = n
	}
	ping, pong := make(chan uint64), make(chan uint64)
	done := make(chan uint64)
	go func() {
		for v := range ping {
			pong <- v*3 + 1
		}
		close(pong)
	}()
	go func() {
		var v, sum uint64 = 1, 0
		for i := 0; i < rounds; i++ {
			ping <- v
			v = <-pong % 1000003
			sum += v
		}
		close(ping)
		done <- sum
	}()
	sum := <-done
	fmt.Printf("pingpong: %d round trips (%d handoffs), checksum %d\n", rounds, 2*rounds, sum)
}
