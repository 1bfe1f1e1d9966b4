//go:build wasip1

// async-calls: scenarios of async host functions, chosen by os.Args[1]. Imports (all async):
// app.wait (the host decides when each call finishes), app.fail (always fails), app.never
// (never finishes).
//
//	order   three goroutines await app.wait("a"/"b"/"c"); each prints what it got, in the
//	        order results arrive; then "order done"
//	fail    awaits app.fail and prints the error, then one app.wait("ok")
//	cancel  three goroutines await app.never; when all got sdk.ErrCancelled: "cancelled=3"
//	panic   starts three app.never calls, then panics with them pending
//	pending starts three app.never calls and waits for them forever
//
// Cannot run natively; expected output written by hand (default scenario: order).
package main

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"goreactor.dev/guests/sdk"
)

//go:wasmimport app wait
func wait(payload *byte, n uint32) int64

//go:wasmimport app fail
func fail(payload *byte, n uint32) int64

//go:wasmimport app never
func never(payload *byte, n uint32) int64

func all(n int, f func(i int)) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(i)
		}()
	}
	wg.Wait()
}

func main() {
	mode := "order"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	switch mode {
	case "order":
		all(3, func(i int) {
			out, err := sdk.Await(wait, []byte{"abc"[i]})
			fmt.Printf("got %s %v\n", out, err)
		})
		fmt.Println("order done")
	case "fail":
		_, err := sdk.Await(fail, []byte("x"))
		var he *sdk.HostError
		fmt.Printf("fail: %v (host error: %v)\n", err, errors.As(err, &he))
		out, err := sdk.Await(wait, []byte("ok"))
		fmt.Printf("then: %s %v\n", out, err)
	case "cancel":
		var mu sync.Mutex
		cancelled := 0
		all(3, func(i int) {
			_, err := sdk.Await(never, nil)
			mu.Lock()
			defer mu.Unlock()
			if errors.Is(err, sdk.ErrCancelled) {
				cancelled++
			}
		})
		fmt.Printf("cancelled=%d\n", cancelled)
	case "panic":
		for range 3 {
			sdk.Start(never, nil)
		}
		panic("boom with calls pending")
	case "pending":
		all(3, func(int) { sdk.Await(never, nil) })
	default:
		fmt.Println("unknown mode", mode)
		os.Exit(2)
	}
}
