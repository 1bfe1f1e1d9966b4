//go:build wasip1

// hostcall: calls functions the host provides, through //go:wasmimport (module "env"):
// host_add(a, b int32) int32 returns a+b, and host_log(ptr, n) receives a UTF-8 string that the
// host records. Cannot run natively; its expected output is written by hand.
package main

import (
	"fmt"
	"unsafe"
)

//go:wasmimport env host_add
func hostAdd(a, b int32) int32

//go:wasmimport env host_log
func hostLog(ptr unsafe.Pointer, n int32)

func log(s string) {
	b := []byte(s)
	if len(b) == 0 {
		hostLog(nil, 0)
		return
	}
	hostLog(unsafe.Pointer(&b[0]), int32(len(b)))
}

func main() {
	fmt.Printf("host_add(2, 3) = %d\n", hostAdd(2, 3))
	log("hello from go")
	fmt.Println("done")
}
