// timers: goroutines, channels, time.Sleep, time.After, time.AfterFunc and a time.Ticker.
// Every wait is a timer, so under go_tick the ticks return >0 (milliseconds to the next timer)
// and the host has to sleep and tick again. The output does not depend on how timers interleave:
// results are collected in a fixed order, and the only timing facts printed are lower bounds
// that hold on any host (a sleep never ends early).
package main

import (
	"fmt"
	"sync"
	"time"
)

func main() {
	start := time.Now()
	fmt.Println("timers: start")

	// Workers sleeping different durations, each answering on its own channel.
	delays := []int{30, 10, 20}
	results := make([]chan string, len(delays))
	for i, d := range delays {
		ch := make(chan string, 1)
		results[i] = ch
		go func() {
			time.Sleep(time.Duration(d) * time.Millisecond)
			ch <- fmt.Sprintf("worker %d slept %dms", i, d)
		}()
	}
	for _, ch := range results {
		fmt.Println(<-ch)
	}

	// A ticker: count five ticks, then stop it.
	ticker := time.NewTicker(5 * time.Millisecond)
	for i := 1; i <= 5; i++ {
		<-ticker.C
		fmt.Println("tick", i)
	}
	ticker.Stop()

	// select: a value sent after 5ms wins against a 10s timeout.
	ch := make(chan string)
	go func() {
		time.Sleep(5 * time.Millisecond)
		ch <- "value"
	}()
	select {
	case v := <-ch:
		fmt.Println("select got", v)
	case <-time.After(10 * time.Second):
		fmt.Println("select timed out")
	}

	// AfterFunc plus a WaitGroup of sleepers sharing a mutex-protected sum.
	fired := make(chan struct{})
	time.AfterFunc(15*time.Millisecond, func() { close(fired) })
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		sum int
	)
	for i := 1; i <= 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i) * 3 * time.Millisecond)
			mu.Lock()
			sum += i * i
			mu.Unlock()
		}()
	}
	wg.Wait()
	<-fired
	fmt.Println("afterfunc fired, sum of squares", sum)

	// 30 (longest worker) + 5*5 (ticker) + 5 (select) + 15 (AfterFunc) = 75ms at least.
	fmt.Println("elapsed at least 75ms:", time.Since(start) >= 75*time.Millisecond)
	fmt.Println("timers: done")
}
