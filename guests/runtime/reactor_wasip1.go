// Part of go-reactor. Written for this project; not derived from any Go fork.

//go:build ignore

// This file is NOT compiled where it stands: the `ignore` constraint above keeps it out of the
// goreactor.dev/guests module. guests/runtime/gen_overlay.py copies it into package runtime of the
// pinned GOROOT through `go build -overlay`, replacing that constraint with `wasip1`.
//
// go-reactor runtime addition for GOOS=wasip1 reactors (-buildmode=c-shared).
//
// Stock Go already builds wasip1 reactors: `_initialize` runs the runtime and package inits, then
// runtime.main calls pause(), which unwinds the wasm stack back to the host while the initial
// goroutine (g1) stays current. Every //go:wasmexport call afterwards runs on g1's stack. What
// stock Go lacks is a way to (a) start main.main and (b) let the host drive the scheduler
// without the guest ever blocking inside poll_oneoff. This file adds both:
//
//	go_start_main()  queue main.main as a goroutine (second call: no-op)
//	go_tick() int32  run goroutines until none is runnable, then return
//	                   -1  idle: nothing runnable and no timers
//	                    0  call again now (time slice used up, or a timer is already due)
//	                   >0  milliseconds until the next timer
//
// The hook: go_tick parks g1 (the goroutine the export runs on) and lets the scheduler run the
// program. When nothing is runnable, findRunnable (proc.go) calls beforeIdle(now, pollUntil)
// just before it would block in netpoll (poll_oneoff on wasip1); pollUntil is the next timer's
// wake time, 0 if none. Stock wasip1 has a stub there returning (nil, false). Ours, while a tick
// is active, returns g1 instead: findRunnable makes it runnable and schedules it, g1 wakes up in
// go_tick and returns the computed value to the host. The js/wasm port uses the same hook in
// lock_js.go to return to the JavaScript event loop. Outside a tick (during _initialize, or in
// an ordinary wasmexport call) beforeIdle behaves like the stub, so e.g. a package init that
// sleeps blocks in poll_oneoff as it does in a stock build.
//
// The time slice: wasm has no preemption, so a set of CPU-bound goroutines that keep yielding to
// each other (runtime.Gosched, channel hand-offs) would never leave the scheduler and the host
// would never get control back. checkTimeouts (also a stub on stock wasip1) is called by the
// scheduler at every Gosched, goyield and non-sleep gopark. Ours readies g1 with result 0 once
// the tick has lasted reactorTimeSlice; ready(next=true) puts g1 in runnext, so it runs as soon
// as the yielding goroutine gives up the processor, and the host gets control back with "call
// again now". A goroutine that never yields still cannot be interrupted (nothing can on wasm).
//
// go_tick must not be re-entered (e.g. from a host import called by a goroutine during a tick):
// that throws.

package runtime

// reactorTimeSlice is the longest a single go_tick keeps the processor while goroutines are
// still runnable, in nanoseconds. 10 ms: the same budget the Go scheduler gives a goroutine
// before sysmon asks it to yield on other ports (forcePreemptNS in proc.go), short enough for
// a host to interleave other work or notice a cancellation within a frame, long enough that the
// cost of returning to the host and re-entering (a few microseconds) is noise. It is only checked
// where goroutines yield (Gosched, channel operations, locks...), so a tick can overrun it by the
// time one goroutine runs between two yields.
const reactorTimeSlice = 10 * 1000 * 1000

// reactorPollIntervalMs caps the delay go_tick reports while goroutines wait for I/O in the
// netpoller (e.g. a non-blocking stdin). The host cannot tell us when an fd becomes ready, so
// it calls go_tick again after at most this many milliseconds; the scheduler's non-blocking
// netpoll then picks up whatever became ready. Without it such a program would report -1 (idle).
const reactorPollIntervalMs = 10

// reactorTick is the state of the go_tick call in progress. It is only touched from the single
// wasm thread; guintptr avoids write barriers (beforeIdle runs on g0 inside findRunnable) and is
// safe because g structures are never freed.
var reactorTick struct {
	active  bool     // a go_tick call is in progress
	resumed bool     // gp has been made runnable (by beforeIdle or the time slice)
	gp      guintptr // the goroutine parked in go_tick
	start   int64    // nanotime() when the tick started
	result  int32    // what go_tick returns
}

// reactorMainStarted records that go_start_main already queued main.main.
var reactorMainStarted bool

// go_start_main queues main.main as a new goroutine; it runs during the next go_tick. Calling it
// again does nothing.
//
//go:wasmexport go_start_main
func go_start_main() {
	if reactorMainStarted {
		return
	}
	reactorMainStarted = true
	go reactorMain()
}

// reactorMain is the goroutine started by go_start_main. Package inits already ran in
// _initialize (runtime.main did everything up to the point where it would call main_main).
func reactorMain() {
	fn := main_main // indirect call, as in runtime.main: the linker lays the runtime out first
	fn()

	if reactorLegacyMode {
		// Mimic the seed's forked runtime: main returning ends only this goroutine. The other
		// goroutines keep running and the host sees -1 ("finished") once nothing is left.
		return
	}

	// ABI 1: mirror the tail of runtime.main (proc.go) so main returning ends the program like a
	// command does. asan/race parts are omitted: neither exists on wasm.
	//
	// Let a goroutine that is panicking finish printing its trace; it then crashes the module.
	if runningPanicDefers.Load() != 0 {
		for c := 0; c < 1000; c++ {
			if runningPanicDefers.Load() == 0 {
				break
			}
			Gosched()
		}
	}
	if panicking.Load() != 0 {
		gopark(nil, nil, waitReasonPanicWait, traceBlockForever, 1)
	}
	runExitHooks(0)
	exit(0) // proc_exit(0): does not return
	for {
		var x *int32
		*x = 0
	}
}

// go_tick runs goroutines until none is runnable (or the time slice is used up) and reports when
// it wants to be called again. See the top of this file.
//
//go:wasmexport go_tick
func go_tick() int32 {
	t := &reactorTick
	if t.active {
		throw("go_tick called while a go_tick is in progress (re-entered from a host import?)")
	}
	gp := getg()
	t.active = true
	t.resumed = false
	t.gp.set(gp)
	t.start = nanotime()
	t.result = -1

	// Park the goroutine this export runs on. The scheduler now runs the program; beforeIdle
	// or checkTimeouts below make us runnable again and leave the answer in t.result.
	gopark(nil, nil, waitReasonZero, traceBlockGeneric, 1)

	if !t.resumed || t.gp.ptr() != gp {
		throw("go_tick resumed by something other than the reactor hook")
	}
	r := t.result
	t.active = false
	t.resumed = false
	t.gp = 0
	return r
}

// beforeIdle is called by findRunnable (proc.go) when no goroutine is runnable, right before the
// scheduler would block in netpoll. pollUntil is the wake time of the earliest timer, 0 if none.
// During a tick it returns the parked tick goroutine, which findRunnable marks runnable and
// schedules; it then returns the value computed here to the host. Outside a tick it is the stock
// stub: (nil, false) lets the scheduler block in poll_oneoff until the next timer.
//
// It runs on g0 inside the scheduler: no allocation, no pointer writes.
func beforeIdle(now, pollUntil int64) (*g, bool) {
	t := &reactorTick
	if !t.active || t.resumed {
		return nil, false
	}
	var r int64
	switch {
	case pollUntil == 0:
		r = -1 // idle: nothing runnable, no timer
	case pollUntil <= now:
		r = 0 // a timer is already due: run it now
	default:
		r = (pollUntil - now + 999999) / 1000000 // round up so the host never wakes us early
		if r > 1<<31-1 {
			r = 1<<31 - 1
		}
	}
	if netpollinited() && netpollAnyWaiters() && (r < 0 || r > reactorPollIntervalMs) {
		r = reactorPollIntervalMs
	}
	t.result = int32(r)
	t.resumed = true
	return t.gp.ptr(), false
}

// checkTimeouts is called by the scheduler at Gosched, goyield and gopark (except sleeps). When
// the current tick has lasted longer than reactorTimeSlice it readies the tick goroutine, next in
// line, with result 0 ("call again now").
func checkTimeouts() {
	t := &reactorTick
	if !t.active || t.resumed {
		return
	}
	gp := t.gp.ptr()
	if getg() == gp || readgstatus(gp) != _Gwaiting {
		return // the tick goroutine itself is parking (go_tick's own gopark)
	}
	if nanotime()-t.start < reactorTimeSlice {
		return
	}
	t.result = 0
	t.resumed = true
	goready(gp, 0)
}

// go_reactor_restored is called by the host instead of _initialize when an instance starts from
// a snapshot or a pre-initialized module, whose memory already holds the runtime's random state:
// without it every such instance would draw the same "random" numbers (math/rand, rand/v2, map
// iteration order, select choices) as the one it was copied from. It reseeds the global
// generator from random_get and then every M's chacha8 state from it, as mrandinit does at
// start-up. The map hash seeds (hashkey, per-map seeds) are left alone: existing maps depend on
// them. If random_get fails the old state stays (the host's random_get fails closed).
//
//go:wasmexport go_reactor_restored
func go_reactor_restored() {
	var seed [32]byte
	if readRandom(seed[:]) != len(seed) || allZero(seed[:]) {
		return
	}
	lock(&globalRand.lock)
	globalRand.state.Init(seed)
	unlock(&globalRand.lock)
	clear(seed[:])
	for mp := allm; mp != nil; mp = mp.alllink {
		mrandinit(mp)
	}
}
