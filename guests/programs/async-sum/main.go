//go:build wasip1

// async-sum: N goroutines (os.Args[1], default 1000) each await the async host function
// app.double with their index i as decimal text; Go checks every reply is 2*i and prints the
// count and sum. With os.Args[1] == "forever", one goroutine awaits app.double in an endless
// loop (the async round-trip benchmark). Cannot run natively; expected output written by hand.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"

	"goreactor.dev/guests/sdk"
)

//go:wasmimport app double
func double(payload *byte, n uint32) int64

func await(i int) (int, error) {
	out, err := sdk.Await(double, []byte(strconv.Itoa(i)))
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(string(out))
}

func main() {
	arg := "1000"
	if len(os.Args) > 1 {
		arg = os.Args[1]
	}
	if arg == "forever" {
		for i := 0; ; i++ {
			if v, err := await(i); err != nil || v != 2*i {
				panic(fmt.Sprintf("double(%d) = %d, %v", i, v, err))
			}
		}
	}
	n, err := strconv.Atoi(arg)
	if err != nil {
		panic(err)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		sum  int
		errs int
	)
	for i := range n {
		if i%64 == 63 {
			// Spawning a goroutine costs tens of microseconds on wasm and wasm cannot preempt:
			// yield now and then so a tick ends after its time slice (the host stays responsive).
			runtime.Gosched()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := await(i)
			mu.Lock()
			defer mu.Unlock()
			if err != nil || v != 2*i {
				errs++
				fmt.Printf("call %d: got %d, %v\n", i, v, err)
				return
			}
			sum += v
		}()
	}
	wg.Wait()
	fmt.Printf("async-sum: calls=%d sum=%d errors=%d\n", n, sum, errs)
	if errs > 0 {
		os.Exit(1)
	}
}
