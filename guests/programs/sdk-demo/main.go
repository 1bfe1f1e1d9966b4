//go:build wasip1

// sdk-demo: the guest SDK's byte calls in both directions, without unsafe. Handlers the host
// calls (call_bytes/call_string/call_json): echo, upper, fail, sum (JSON), host_roundtrip,
// which sends n bytes through the sync host function env.echo and checks what comes back, and
// host_echo (the same without the check, for benchmarks). main
// prints "sdk-demo ready" and idles. Cannot run natively; expected output written by hand.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"goreactor.dev/guests/sdk"
	"goreactor.dev/guests/sdk/sdkjson"
)

//go:wasmimport env echo
func hostEcho(payload *byte, n uint32) int64

//go:wasmimport env fail
func hostFail(payload *byte, n uint32) int64

type sumReq struct {
	Values []int64 `json:"values"`
}

type sumResp struct {
	Sum   int64 `json:"sum"`
	Count int   `json:"count"`
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

func main() {
	sdk.Export("echo", func(in []byte) ([]byte, error) { return in, nil })
	sdk.ExportString("upper", func(s string) (string, error) { return strings.ToUpper(s), nil })
	sdk.Export("fail", func(in []byte) ([]byte, error) { return nil, errors.New("fail: " + string(in)) })
	sdkjson.Export("sum", func(r sumReq) (sumResp, error) {
		var s int64
		for _, v := range r.Values {
			s += v
		}
		return sumResp{Sum: s, Count: len(r.Values)}, nil
	})
	// host_roundtrip: input is a decimal size n; sends n pattern bytes through env.echo and
	// through the failing env.fail, and reports what happened.
	sdk.ExportString("host_roundtrip", func(arg string) (string, error) {
		n, err := strconv.Atoi(arg)
		if err != nil {
			return "", err
		}
		want := pattern(n)
		got, err := sdk.Call(hostEcho, want)
		if err != nil {
			return "", err
		}
		if !bytes.Equal(got, want) {
			return "", fmt.Errorf("echo of %d bytes came back as %d different bytes", n, len(got))
		}
		_, ferr := sdk.Call(hostFail, want[:min(n, 3)])
		var he *sdk.HostError
		if !errors.As(ferr, &he) {
			return "", fmt.Errorf("env.fail: want a HostError, got %v", ferr)
		}
		return fmt.Sprintf("ok %d; %s", len(got), he.Message), nil
	})
	// host_echo: input is a decimal size n; sends n bytes (made once per size) through env.echo
	// and returns the reply's length, without looking at the bytes (the SDK benchmark).
	cache := map[int][]byte{}
	sdk.ExportString("host_echo", func(arg string) (string, error) {
		n, err := strconv.Atoi(arg)
		if err != nil {
			return "", err
		}
		if cache[n] == nil {
			cache[n] = pattern(n)
		}
		got, err := sdk.Call(hostEcho, cache[n])
		return strconv.Itoa(len(got)), err
	})
	fmt.Println("sdk-demo ready")
	select {}
}
