// random: prints values from the runtime's random generators after a tick boundary.
//
// The sleep is a tick boundary where a host can snapshot the reactor. Instances restored from
// one snapshot must print different values: the host calls go_reactor_restored, which reseeds
// the runtime (math/rand and math/rand/v2's top-level functions and map iteration order all
// draw from it). The values go to stderr (they differ on every run); stdout is a fixed line.
package main

import (
	"fmt"
	"math/rand"
	randv2 "math/rand/v2"
	"os"
	"time"
)

func main() {
	time.Sleep(time.Millisecond)
	m := map[int]bool{}
	for i := range 32 {
		m[i] = true
	}
	first := -1
	for k := range m {
		first = k
		break
	}
	fmt.Fprintf(os.Stderr, "math/rand %d rand/v2 %d map-first %d\n", rand.Int63(), randv2.Uint64(), first)
	fmt.Println("random: values written to stderr")
}
