// stdout-big: 4 MiB of deterministic output through a buffered writer (many large fd_write
// calls), then a final line "sha256 <hex> bytes <n>" over everything printed before that line,
// so a host can check that it captured every byte in order without a 4 MiB expected file.
package main

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
)

const (
	lineLen = 64      // bytes per line, newline included
	lines   = 1 << 16 // 65536 lines * 64 bytes = 4 MiB
)

func main() {
	out := bufio.NewWriterSize(os.Stdout, 64<<10)
	h := sha256.New()
	w := io.MultiWriter(out, h)

	const hexdigits = "0123456789abcdef"
	var x uint64 = 0x9e3779b97f4a7c15 // xorshift64 state: the payload is deterministic
	line := make([]byte, lineLen)
	var n int
	for i := 0; i < lines; i++ {
		prefix := fmt.Sprintf("%08d ", i)
		copy(line, prefix)
		for j := len(prefix); j < lineLen-1; j++ {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			line[j] = hexdigits[x&15]
		}
		line[lineLen-1] = '\n'
		m, err := w.Write(line)
		if err != nil {
			fmt.Fprintln(os.Stderr, "write:", err)
			os.Exit(1)
		}
		n += m
	}
	fmt.Fprintf(out, "sha256 %x bytes %d\n", h.Sum(nil), n)
	if err := out.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "flush:", err)
		os.Exit(1)
	}
}
