// cryptorand: two reads from crypto/rand. It prints only what does not vary between runs (how many
// bytes each read gave, and whether the two reads differ), so the expected output is fixed.
// A host whose random source fails must make this program fail visibly: random_get then returns
// an error, and Go's crypto/rand stops the program with a fatal error rather than go on with
// predictable bytes.
package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
)

func main() {
	a, b := make([]byte, 32), make([]byte, 32)
	na, _ := rand.Read(a) // never an error since Go 1.24: a failing source is fatal instead
	nb, _ := rand.Read(b)
	fmt.Printf("read %d and %d random bytes; the reads differ: %v\n", na, nb, !bytes.Equal(a, b))
}
