// stdin-lines: echoes stdin line by line (bufio.Scanner) while a ticker goroutine runs. On
// wasip1 Go reads stdin non-blocking: a read that finds nothing parks main in the netpoller, so
// the ticker keeps running and the host's run loop sleeps until input arrives. stdout depends
// only on the input (each line numbered, then a summary at end of input); the ticker writes
// "tick N" to stderr, so a host can see goroutines ran while main waited.
package main

import (
	"bufio"
	"fmt"
	"os"
	"time"
)

func main() {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for i := 1; ; i++ {
			select {
			case <-t.C:
				fmt.Fprintf(os.Stderr, "tick %d\n", i)
			case <-done:
				return
			}
		}
	}()
	sc := bufio.NewScanner(os.Stdin)
	lines, bytes := 0, 0
	for sc.Scan() {
		lines++
		bytes += len(sc.Bytes())
		fmt.Printf("%d: %s\n", lines, sc.Text())
	}
	close(done)
	if err := sc.Err(); err != nil {
		fmt.Println("read error:", err)
		os.Exit(1)
	}
	fmt.Printf("end of input: %d lines, %d bytes\n", lines, bytes)
}
