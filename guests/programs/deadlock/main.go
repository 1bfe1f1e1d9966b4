// deadlock: main blocks forever on a channel nobody sends to, with no timers pending. Under
// go_tick this returns -1 (idle) while main has not returned; a CLI host must report it as a
// deadlock, as native Go does ("all goroutines are asleep").
package main

import "fmt"

func main() {
	ready := make(chan struct{})
	go func() {
		fmt.Println("helper goroutine ran")
		close(ready)
	}()
	<-ready
	fmt.Println("main blocks forever now")
	<-make(chan int)
}
