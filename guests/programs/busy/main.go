// busy: CPU-bound goroutines that never sleep. wasm has no preemption, so they call
// runtime.Gosched() periodically; the reactor's time slice (reactorTimeSlice, 10 ms) then makes
// go_tick return 0 ("call again now") several times instead of running all the work in one
// tick and starving the host. The output (one checksum per worker, printed in worker order
// after all finish) does not depend on how the work was sliced.
package main

import (
	"fmt"
	"runtime"
	"sync"
)

const (
	workers    = 4
	iterations = 20_000_000 // per worker: roughly 0.2-0.5 s in total on a JIT engine
	yieldEvery = 1 << 12    // iterations between runtime.Gosched calls
)

// work mixes a 64-bit LCG into an accumulator, yielding every yieldEvery iterations.
func work(id int) (sum uint64, yields int) {
	x := uint64(id+1) * 0x9e3779b97f4a7c15
	for i := 1; i <= iterations; i++ {
		x = x*6364136223846793005 + 1442695040888963407
		sum += x>>29 ^ sum<<7
		if i%yieldEvery == 0 {
			runtime.Gosched()
			yields++
		}
	}
	return sum, yields
}

func main() {
	sums := make([]uint64, workers)
	yields := make([]int, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sums[i], yields[i] = work(i)
		}()
	}
	wg.Wait()
	for i := range workers {
		fmt.Printf("worker %d: checksum %016x after %d yields\n", i, sums[i], yields[i])
	}
	fmt.Println("busy: done")
}
