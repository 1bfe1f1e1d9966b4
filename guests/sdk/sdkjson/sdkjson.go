//go:build wasip1

// Package sdkjson adds JSON encoding to the go-reactor guest SDK: typed handlers for the host's
// call_json, and typed calls of host functions on bytes.
package sdkjson

import (
	"encoding/json"

	"goreactor.dev/guests/sdk"
)

// Export registers a handler whose input and output are JSON (the host's call_json).
func Export[Req, Resp any](name string, h func(Req) (Resp, error)) {
	sdk.Export(name, func(in []byte) ([]byte, error) {
		var req Req
		if err := json.Unmarshal(in, &req); err != nil {
			return nil, err
		}
		resp, err := h(req)
		if err != nil {
			return nil, err
		}
		return json.Marshal(resp)
	})
}

// Call calls a sync host function with a JSON-encoded request and decodes its JSON reply.
func Call[Resp, Req any](f sdk.Import, req Req) (Resp, error) {
	return decode[Resp](encodeThen(req, func(b []byte) ([]byte, error) { return sdk.Call(f, b) }))
}

// Await awaits an async host function with a JSON-encoded request and decodes its JSON reply.
func Await[Resp, Req any](f sdk.Import, req Req) (Resp, error) {
	return decode[Resp](encodeThen(req, func(b []byte) ([]byte, error) { return sdk.Await(f, b) }))
}

func encodeThen(req any, call func([]byte) ([]byte, error)) ([]byte, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	return call(b)
}

func decode[Resp any](b []byte, err error) (Resp, error) {
	var resp Resp
	if err != nil {
		return resp, err
	}
	err = json.Unmarshal(b, &resp)
	return resp, err
}
