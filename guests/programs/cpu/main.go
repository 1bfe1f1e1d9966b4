// cpu: a CPU-bound benchmark run in a single goroutine: encoding/json encode/decode round trips
// (reflection, allocation, GC) and SHA-256 over a few MiB (tight integer loops). It never
// yields, so it runs inside one go_tick. Deterministic output, ending with a digest line over
// everything computed. Integer and exactly representable float values only, so the output is
// the same on every platform (no fused multiply-add surprises).
package main

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
)

const (
	records    = 200     // records per JSON document
	jsonRounds = 120     // encode/decode round trips
	shaBytes   = 4 << 20 // 4 MiB buffer
	shaRounds  = 8       // hashed this many times, chained
)

type Point struct {
	X, Y int
}

type Record struct {
	ID     int               `json:"id"`
	Name   string            `json:"name"`
	Active bool              `json:"active"`
	Score  float64           `json:"score"`
	Tags   []string          `json:"tags"`
	Path   []Point           `json:"path"`
	Attrs  map[string]string `json:"attrs"`
}

func initial() []Record {
	rs := make([]Record, records)
	for i := range rs {
		rs[i] = Record{
			ID:     i,
			Name:   fmt.Sprintf("record-%03d \"quoted\" ünïcode", i),
			Active: i%3 == 0,
			Score:  float64(i) / 4,
			Tags:   []string{"alpha", "beta", fmt.Sprint("t", i%7)},
			Path:   []Point{{i, -i}, {i * 2, i * 3}, {-7, 11}},
			Attrs:  map[string]string{"k": fmt.Sprint(i), "z": "last", "a": "first"},
		}
	}
	return rs
}

func main() {
	total := sha256.New()

	rs := initial()
	var docBytes int
	for round := 0; round < jsonRounds; round++ {
		doc, err := json.Marshal(rs)
		if err != nil {
			fmt.Fprintln(os.Stderr, "marshal:", err)
			os.Exit(1)
		}
		docBytes += len(doc)
		total.Write(doc)
		var back []Record
		if err := json.Unmarshal(doc, &back); err != nil {
			fmt.Fprintln(os.Stderr, "unmarshal:", err)
			os.Exit(1)
		}
		for i := range back {
			back[i].ID += len(back)
			back[i].Score += 0.5
			back[i].Active = !back[i].Active
			back[i].Path = append(back[i].Path[1:], back[i].Path[0])
			back[i].Attrs["r"] = fmt.Sprint(round)
		}
		rs = back
	}
	first, _ := json.Marshal(rs[0])
	fmt.Printf("json: %d round trips of %d records, %d bytes encoded\n", jsonRounds, records, docBytes)
	fmt.Printf("json: first record after: %s\n", first)

	buf := make([]byte, shaBytes)
	var x uint32 = 2463534242
	for i := range buf {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		buf[i] = byte(x >> 24)
	}
	var sum [32]byte
	for round := 0; round < shaRounds; round++ {
		copy(buf, sum[:])
		sum = sha256.Sum256(buf)
	}
	total.Write(sum[:])
	fmt.Printf("sha256: %d rounds over %d bytes: %x\n", shaRounds, shaBytes, sum)
	fmt.Printf("digest %x\n", total.Sum(nil))
}
