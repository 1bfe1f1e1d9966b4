package main

// A small test of our own for `go test` through go-reactor (scripts/go_wasip1_wasm_exec, see
// guests/README.md): testdata found relative to the package directory (PWD on wasip1) and a
// round trip through t.TempDir().

import (
	"os"
	"path/filepath"
	"testing"
)

func TestTestdataRelativeToPackage(t *testing.T) {
	data, err := os.ReadFile("testdata/hello.txt")
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != "testdata through PWD\n" {
		t.Fatalf("testdata/hello.txt = %q", data)
	}
}

func TestTempDirRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.txt")
	if err := os.WriteFile(path, []byte("round trip"), 0o600); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil || string(data) != "round trip" {
		t.Fatalf("ReadFile = %q, %v", data, err)
	}
}
