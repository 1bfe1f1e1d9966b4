//go:build wasip1

// exports: //go:wasmexport functions that the host calls between ticks, once main is idle.
// Scalars of every wasm type, plus a buffer the host fills: alloc hands out a pointer into a Go
// buffer kept alive in a global, count_vowels reads bytes at a pointer, greet prints to stdout.
// main prints "exports ready" then blocks forever with select {}, so go_tick returns -1 (idle)
// and the host stays alive to call the exports. Cannot run natively; expected output is written
// by hand (only what main prints: calls made by a test add their own output).
package main

import (
	"fmt"
	"unsafe"
)

//go:wasmexport add
func add(a, b int32) int32 { return a + b }

//go:wasmexport add_i64
func addI64(a, b int64) int64 { return a + b }

//go:wasmexport mul_f64
func mulF64(a, b float64) float64 { return a * b }

//go:wasmexport scale_f32
func scaleF32(a, b float32) float32 { return a * b }

// buffers keeps every buffer handed out by alloc reachable, so the GC neither frees nor reuses
// memory the host may still write to. (The Go GC does not move heap objects.)
var buffers [][]byte

// alloc returns the address of a fresh Go buffer of n bytes (0 for n <= 0).
//
//go:wasmexport alloc
func alloc(n int32) int32 {
	if n <= 0 {
		return 0
	}
	b := make([]byte, n)
	buffers = append(buffers, b)
	return int32(uintptr(unsafe.Pointer(&b[0])))
}

// bytesAt views n bytes of linear memory at address ptr. (On wasm, a Go pointer is the linear
// memory address; unsafe.Add from nil turns the host's integer back into one.)
func bytesAt(ptr, n int32) []byte {
	if n <= 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Add(nil, uintptr(uint32(ptr)))), n)
}

// count_vowels counts ASCII vowels (either case) in the n bytes at ptr.
//
//go:wasmexport count_vowels
func countVowels(ptr, n int32) int32 {
	var c int32
	for _, b := range bytesAt(ptr, n) {
		switch b | 0x20 {
		case 'a', 'e', 'i', 'o', 'u':
			c++
		}
	}
	return c
}

// greet prints "Hello, <name>!" where name is the n bytes at ptr.
//
//go:wasmexport greet
func greet(ptr, n int32) {
	fmt.Printf("Hello, %s!\n", bytesAt(ptr, n))
}

func main() {
	fmt.Println("exports ready")
	select {}
}
