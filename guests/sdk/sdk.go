//go:build wasip1

// Package sdk lets a Go program hosted by go-reactor exchange bytes with its Rust host without
// unsafe code: call sync host functions, await async ones (parking only the calling
// goroutine), and export handlers the host calls with bytes or strings.
//
// Host functions are declared by the user as ordinary //go:wasmimport functions with the
// signature of [Import], then passed to [Call], [Await] or [Start]:
//
//	//go:wasmimport app fetch
//	func fetch(payload *byte, n uint32) int64
//
//	body, err := sdk.Await(fetch, []byte("https://example.com"))
//
// A host that lacks the import refuses the module at link time, naming it. Who allocates and
// frees buffers, and keeping them alive for the garbage collector, is this package's job: the
// host copies inputs before an import returns, and results are copied into fresh Go slices.
// The buffer protocol is described in guests/README.md.
package sdk

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"
)

// Import is the Go declaration of a host function on bytes (sync or async): a
// //go:wasmimport function taking the payload's first byte and length and returning an int64
// handle. Never call it directly; pass it to [Call], [Await] or [Start].
type Import func(payload *byte, n uint32) int64

// Status codes of the protocol (see guests/README.md).
const (
	statusOK        = 0
	statusFailed    = 1
	statusCancelled = 2
	statusNoHandler = 3
)

// ErrCancelled is returned for an async call the host dropped before it finished (its run was
// cancelled).
var ErrCancelled = errors.New("sdk: host call cancelled")

// HostError is the error a host function returned.
type HostError struct{ Message string }

func (e *HostError) Error() string { return "host: " + e.Message }

// ProtocolError reports an errno from the host: a bad buffer, too many outstanding calls, or an
// unknown call id. It indicates a bug or exhausted resources, not a failed host function.
type ProtocolError struct {
	Op    string
	Errno int32
}

func (e *ProtocolError) Error() string { return fmt.Sprintf("sdk: %s: host errno %d", e.Op, e.Errno) }

//go:wasmimport go_reactor take
func take(id uint32, ptr unsafe.Pointer, n uint32) int32

func first(b []byte) *byte {
	if len(b) == 0 {
		return nil
	}
	return &b[0]
}

func invoke(f Import, payload []byte) int64 {
	r := f(first(payload), uint32(len(payload)))
	// The host copied the payload before returning; it only had to stay alive until here.
	runtime.KeepAlive(payload)
	return r
}

// fetch copies the outcome of call id (n bytes) into a fresh slice.
func fetch(id, n uint32) ([]byte, error) {
	var buf []byte
	var p unsafe.Pointer
	if n > 0 {
		buf = make([]byte, n)
		p = unsafe.Pointer(&buf[0])
	}
	st := take(id, p, n)
	runtime.KeepAlive(buf)
	switch st {
	case statusOK:
		return buf, nil
	case statusFailed:
		return nil, &HostError{Message: string(buf)}
	case statusCancelled:
		return nil, ErrCancelled
	}
	return nil, &ProtocolError{Op: "take", Errno: -st}
}

// Call calls a sync host function (the host's HostFunc::bytes) and returns its result.
func Call(f Import, payload []byte) ([]byte, error) {
	r := invoke(f, payload)
	if r < 0 {
		return nil, &ProtocolError{Op: "call", Errno: int32(-r)}
	}
	return fetch(uint32(r>>32), uint32(r))
}

// CallString is [Call] with strings.
func CallString(f Import, s string) (string, error) {
	b, err := Call(f, []byte(s))
	return string(b), err
}

type outcome struct {
	status int32
	n      uint32
}

// Pending is an async host call in flight.
type Pending struct {
	id  uint32
	ch  chan outcome
	err error
}

// pending maps call ids to the channels their callers wait on. The host only resolves calls
// between ticks, never while a goroutine runs, so no lock is needed beyond Go's own scheduling
// (wasm runs one goroutine at a time).
var pending = map[uint32]chan outcome{}

// early holds outcomes resolved before their caller registered its channel. The host resolves
// only between ticks, so this needs the caller to have been descheduled between the import and
// the registration (possible only if an allocation parks it): rare, but never lost.
var early = map[uint32]outcome{}

// Start begins an async host call and returns at once; [Pending.Wait] gets the result.
func Start(f Import, payload []byte) *Pending {
	r := invoke(f, payload)
	if r < 0 {
		return &Pending{err: &ProtocolError{Op: "start", Errno: int32(-r)}}
	}
	id := uint32(r)
	ch := make(chan outcome, 1)
	if o, ok := early[id]; ok {
		delete(early, id)
		ch <- o
	} else {
		pending[id] = ch
	}
	return &Pending{id: id, ch: ch}
}

// Wait parks the calling goroutine until the host delivers the result. Other goroutines keep
// running meanwhile. Call it once.
func (p *Pending) Wait() ([]byte, error) {
	if p.err != nil {
		return nil, p.err
	}
	o := <-p.ch
	switch o.status {
	case statusOK, statusFailed, statusCancelled:
		return fetch(p.id, o.n)
	}
	return nil, &ProtocolError{Op: "resolve", Errno: o.status}
}

// Await calls an async host function and parks only the calling goroutine until its future
// completes: Start(f, payload).Wait().
func Await(f Import, payload []byte) ([]byte, error) {
	return Start(f, payload).Wait()
}

// resolve is called by the host between ticks when async call id finished with status and a
// result of n bytes; the waiting goroutine runs at the next tick.
//
//go:wasmexport go_reactor_resolve
func resolve(id uint32, status int32, n uint32) {
	ch, ok := pending[id]
	if !ok {
		early[id] = outcome{status, n}
		return
	}
	delete(pending, id)
	ch <- outcome{status, n} // buffered: never blocks
}

// Handler handles a call from the host: bytes in, bytes out. An error reaches the host as
// Error::GuestCall. The input slice is the handler's to keep.
type Handler func(input []byte) ([]byte, error)

var handlers = map[string]Handler{}

// Export registers h under name for the host's call_bytes/call_string/call_json. Register
// handlers before the host calls them (in init or at the start of main).
func Export(name string, h Handler) { handlers[name] = h }

// ExportString registers a handler on strings.
func ExportString(name string, h func(string) (string, error)) {
	Export(name, func(in []byte) ([]byte, error) {
		out, err := h(string(in))
		return []byte(out), err
	})
}

// The buffer handed out by the last alloc and the last reply: kept reachable until the next
// invoke so the garbage collector neither frees nor reuses memory the host is using. (Go's
// collector does not move heap objects.)
var inBuf, outBuf []byte

//go:wasmexport go_reactor_alloc
func alloc(n uint32) uint32 {
	if n == 0 || n > 1<<31 {
		inBuf = nil
		return 0
	}
	inBuf = make([]byte, n)
	return uint32(uintptr(unsafe.Pointer(&inBuf[0])))
}

func putU32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

//go:wasmexport go_reactor_invoke
func invokeExport(ptr, nameLen, inLen uint32) int32 {
	buf := inBuf
	inBuf = nil
	if len(buf) < 8 || uint32(uintptr(unsafe.Pointer(&buf[0]))) != ptr || uint64(nameLen)+uint64(inLen) > uint64(len(buf)-8) {
		return -1
	}
	name := string(buf[8 : 8+nameLen])
	in := buf[8+nameLen : 8+nameLen+inLen : 8+nameLen+inLen]
	var out []byte
	status := int32(statusOK)
	h, ok := handlers[name]
	if !ok {
		status = statusNoHandler
	} else if res, err := h(in); err != nil {
		status, out = statusFailed, []byte(err.Error())
	} else {
		out = res
	}
	outBuf = out
	var p uint32
	if len(out) > 0 {
		p = uint32(uintptr(unsafe.Pointer(&out[0])))
	}
	putU32(buf[0:4], p)
	putU32(buf[4:8], uint32(len(out)))
	return status
}
