#!/usr/bin/env node
// Runs a Go WASI reactor on Node.js (V8) and times it: the reference point for go-reactor's
// engines. No dependencies beyond Node (>= 18). A minimal WASI preview1 in plain JS (the same
// answers as go-reactor's wasi-min: stdio only, no files, bounds-checked pointers), and the same
// host loop as `reactor_api::run`: _initialize, go_start_main, then go_tick until the program
// exits or goes idle, sleeping (Atomics.wait) when go_tick reports a timer.
//
//   node scripts/node/run.mjs [--json] [--show-output] [--runs N] [--env=K=V]... PROGRAM.wasm [-- ARGS...]
//
// Times are taken inside the script with performance.now(): compile (WebAssembly.compile),
// init (new WebAssembly.Instance + _initialize), run (go_start_main to exit/idle). Guest output
// is discarded unless --show-output. --json prints one JSON line per run on stdout; otherwise a
// short summary goes to stdout. `go-reactor bench --node` runs this script once per measured run
// (a fresh process each time: V8 caches compiled modules within a process, so runs after the
// first of `--runs N` here measure that cache, not a cold compile).
//
// The env imports of the bundled benchmark fixtures (host_nop, host_add, host_log) are provided;
// any other import of a module other than wasi_snapshot_preview1 fails instantiation.

import { readFileSync, writeSync } from 'node:fs';
import { webcrypto } from 'node:crypto';
import { performance } from 'node:perf_hooks';

const E = { SUCCESS: 0, BADF: 8, FAULT: 21, INVAL: 28, IO: 29, NOSYS: 52, NOTDIR: 54, NOTSUP: 58, SPIPE: 70 };

class Exit {
  constructor(code) {
    this.code = code;
  }
}
class Fault {}
const FAULT = new Fault();

function usage(msg) {
  process.stderr.write(`run.mjs: ${msg}\nusage: node run.mjs [--json] [--show-output] [--runs N] [--env=K=V]... PROGRAM.wasm [-- ARGS...]\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const o = { json: false, showOutput: false, runs: 1, env: [], program: null, args: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      o.args = argv.slice(i + 1);
      break;
    } else if (a === '--json') o.json = true;
    else if (a === '--show-output') o.showOutput = true;
    else if (a === '--runs') o.runs = Number(argv[++i]);
    else if (a.startsWith('--runs=')) o.runs = Number(a.slice(7));
    else if (a.startsWith('--env=')) {
      const kv = a.slice(6);
      if (!kv.includes('=')) usage(`--env needs KEY=VALUE, got ${kv}`);
      o.env.push(kv);
    } else if (a.startsWith('-')) usage(`unknown option ${a}`);
    else if (o.program === null) o.program = a;
    else usage(`unexpected argument ${a} (guest arguments go after --)`);
  }
  if (o.program === null) usage('no PROGRAM.wasm');
  if (!(o.runs >= 1)) usage('--runs must be at least 1');
  return o;
}

// A minimal WASI preview1 for one instance.
function makeWasi({ args, env, showOutput }) {
  const enc = new TextEncoder();
  const argv = args.map((s) => enc.encode(s + '\0'));
  const envv = env.map((s) => enc.encode(s + '\0'));
  let memory = null;
  let view = null;
  let u8 = null;
  const closed = [false, false, false];
  const state = { hostCalls: 0, stderrTail: '' };
  const dec = new TextDecoder();

  // Memory can grow (which replaces its ArrayBuffer): refresh the views only when it did.
  function mem() {
    if (view === null || view.buffer !== memory.buffer) {
      view = new DataView(memory.buffer);
      u8 = new Uint8Array(memory.buffer);
    }
  }
  function check(ptr, len) {
    if (ptr + len > u8.length) throw FAULT;
  }
  // Every function: count the call, refresh the views, turn a bad pointer into EFAULT.
  function wasi(f) {
    return (...a) => {
      state.hostCalls++;
      mem();
      try {
        return f(...a);
      } catch (e) {
        if (e === FAULT || e instanceof RangeError) return E.FAULT;
        throw e;
      }
    };
  }
  function stdio(fd) {
    return fd >= 0 && fd <= 2 && !closed[fd];
  }
  function sizes(list, countPtr, sizePtr) {
    check(countPtr, 4);
    check(sizePtr, 4);
    view.setUint32(countPtr, list.length, true);
    view.setUint32(sizePtr, list.reduce((n, s) => n + s.length, 0), true);
    return E.SUCCESS;
  }
  function strings(list, ptrs, buf) {
    check(ptrs, 4 * list.length);
    check(buf, list.reduce((n, s) => n + s.length, 0));
    for (let i = 0; i < list.length; i++) {
      view.setUint32(ptrs + 4 * i, buf, true);
      u8.set(list[i], buf);
      buf += list[i].length;
    }
    return E.SUCCESS;
  }
  function now(id) {
    if (id === 0) return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
    if (id === 1) return process.hrtime.bigint();
    return id === 2 || id === 3 ? -E.NOTSUP : -E.INVAL;
  }
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  function sleepNs(ns) {
    if (ns > 0n) Atomics.wait(sleeper, 0, 0, Number(ns) / 1e6);
  }
  function iovecs(iovs, n) {
    check(iovs, 8 * n);
    const out = [];
    for (let i = 0; i < n; i++) {
      const ptr = view.getUint32(iovs + 8 * i, true);
      const len = view.getUint32(iovs + 8 * i + 4, true);
      check(ptr, len);
      out.push([ptr, len]);
    }
    return out;
  }

  const fns = {
    args_get: (p, b) => strings(argv, p, b),
    args_sizes_get: (c, s) => sizes(argv, c, s),
    environ_get: (p, b) => strings(envv, p, b),
    environ_sizes_get: (c, s) => sizes(envv, c, s),
    clock_res_get(id, out) {
      const t = now(id);
      if (typeof t === 'number') return -t;
      view.setBigUint64(out, 1n, true);
      return E.SUCCESS;
    },
    clock_time_get(id, _precision, out) {
      const t = now(id);
      if (typeof t === 'number') return -t;
      view.setBigUint64(out, t, true);
      return E.SUCCESS;
    },
    fd_write(fd, iovs, n, out) {
      if (!stdio(fd) || fd === 0) return E.BADF;
      check(out, 4);
      const list = iovecs(iovs, n);
      let total = 0;
      for (const [ptr, len] of list) {
        const bytes = u8.subarray(ptr, ptr + len);
        if (fd === 2) state.stderrTail = (state.stderrTail + dec.decode(bytes)).slice(-4096);
        if (showOutput && len > 0) writeSync(fd, bytes);
        total += len;
      }
      view.setUint32(out, total, true);
      return E.SUCCESS;
    },
    fd_read(fd, iovs, n, out) {
      if (fd !== 0 || !stdio(fd)) return E.BADF;
      check(out, 4);
      iovecs(iovs, n);
      view.setUint32(out, 0, true); // stdin is empty: end of file
      return E.SUCCESS;
    },
    fd_close(fd) {
      if (!stdio(fd)) return E.BADF;
      closed[fd] = true;
      return E.SUCCESS;
    },
    fd_fdstat_get(fd, out) {
      if (!stdio(fd)) return E.BADF;
      check(out, 24);
      u8.fill(0, out, out + 24);
      view.setUint8(out, 2); // character device
      const rights = (fd === 0 ? 1n << 1n : 1n << 6n) | (1n << 3n) | (1n << 21n) | (1n << 27n);
      view.setBigUint64(out + 8, rights, true);
      return E.SUCCESS;
    },
    fd_fdstat_set_flags: (fd) => (stdio(fd) ? E.SUCCESS : E.BADF),
    fd_filestat_get(fd, out) {
      if (!stdio(fd)) return E.BADF;
      check(out, 64);
      u8.fill(0, out, out + 64);
      view.setUint8(out + 16, 2);
      return E.SUCCESS;
    },
    fd_prestat_get: () => E.BADF,
    fd_prestat_dir_name: () => E.BADF,
    fd_seek: (fd) => (stdio(fd) ? E.SPIPE : E.BADF),
    fd_tell: (fd) => (stdio(fd) ? E.SPIPE : E.BADF),
    path_open: (fd) => (stdio(fd) ? E.NOTDIR : E.BADF),
    path_filestat_get: (fd) => (stdio(fd) ? E.NOTDIR : E.BADF),
    fd_readdir: (fd) => (stdio(fd) ? E.NOTDIR : E.BADF),
    poll_oneoff(subs, events, n, out) {
      if (n === 0) return E.INVAL;
      check(subs, 48 * n);
      check(events, 32 * n);
      check(out, 4);
      const ready = [];
      let wait = null;
      let waitSub = null;
      for (let i = 0; i < n; i++) {
        const s = subs + 48 * i;
        const tag = view.getUint8(s + 8);
        if (tag === 0) {
          const id = view.getUint32(s + 16, true);
          const timeout = view.getBigUint64(s + 24, true);
          const abs = (view.getUint16(s + 40, true) & 1) === 1;
          const t = now(id);
          if (typeof t === 'number') {
            ready.push([s, -t, 0]);
            continue;
          }
          const delay = abs ? (timeout > t ? timeout - t : 0n) : timeout;
          if (wait === null || delay < wait) {
            wait = delay;
            waitSub = s;
          }
        } else if (tag === 1 || tag === 2) {
          const fd = view.getUint32(s + 16, true);
          ready.push([s, stdio(fd) ? E.SUCCESS : E.BADF, tag]);
        } else {
          ready.push([s, E.INVAL, tag]);
        }
      }
      if (ready.length === 0 && waitSub !== null) {
        sleepNs(wait);
        ready.push([waitSub, E.SUCCESS, 0]);
      }
      ready.forEach(([s, err, tag], i) => {
        const e = events + 32 * i;
        u8.fill(0, e, e + 32);
        view.setBigUint64(e, view.getBigUint64(s, true), true);
        view.setUint16(e + 8, err, true);
        view.setUint8(e + 10, tag);
      });
      view.setUint32(out, ready.length, true);
      return E.SUCCESS;
    },
    proc_exit(code) {
      throw new Exit(code);
    },
    sched_yield: () => E.SUCCESS,
    random_get(buf, len) {
      check(buf, len);
      for (let at = 0; at < len; at += 65536) {
        webcrypto.getRandomValues(u8.subarray(buf + at, buf + Math.min(len, at + 65536)));
      }
      return E.SUCCESS;
    },
  };
  const imports = {};
  for (const [name, f] of Object.entries(fns)) imports[name] = wasi(f);
  // Everything else in preview1 (files, sockets, ...): not available here.
  const preview1 = new Proxy(imports, {
    get: (t, k) => t[k] ?? wasi(() => E.NOSYS),
  });
  return {
    preview1,
    state,
    setMemory(m) {
      memory = m;
    },
  };
}

const envImports = (state) => ({
  host_nop: (x) => (state.hostCalls++, (x + 1) | 0),
  host_add: (a, b) => (state.hostCalls++, (a + b) | 0),
  host_log: () => {
    state.hostCalls++;
  },
});

function classify(e, state) {
  if (e instanceof Exit) return `exit ${e.code}`;
  if (/^(panic: |fatal error: )/m.test(state.stderrTail)) return 'panic';
  if (e instanceof WebAssembly.RuntimeError) return `trap: ${e.message}`;
  throw e;
}

async function runOnce(bytes, o) {
  const wasi = makeWasi({ args: [o.program, ...o.args], env: o.env, showOutput: o.showOutput });
  const t0 = performance.now();
  const module = await WebAssembly.compile(bytes);
  const t1 = performance.now();
  let outcome = null;
  let ticks = 0;
  let exports = null;
  try {
    const instance = new WebAssembly.Instance(module, {
      wasi_snapshot_preview1: wasi.preview1,
      env: envImports(wasi.state),
    });
    exports = instance.exports;
    wasi.setMemory(exports.memory);
    exports._initialize();
  } catch (e) {
    outcome = classify(e, wasi.state);
  }
  const t2 = performance.now();
  if (outcome === null) {
    const abi = exports.go_reactor_abi ? exports.go_reactor_abi() : 0;
    try {
      exports.go_start_main();
      for (;;) {
        ticks++;
        const r = exports.go_tick();
        if (r === -1) {
          outcome = abi === 1 ? 'idle' : 'exit 0';
          break;
        }
        if (r > 0) sleepMs(r);
        else if (r < 0) throw new Error(`go_tick returned ${r}`);
      }
    } catch (e) {
      outcome = classify(e, wasi.state);
    }
  }
  const t3 = performance.now();
  return {
    engine: 'node',
    version: process.versions.node,
    v8: process.versions.v8,
    compile_s: (t1 - t0) / 1e3,
    init_s: (t2 - t1) / 1e3,
    run_s: (t3 - t2) / 1e3,
    total_s: (t3 - t0) / 1e3,
    ticks,
    host_calls: wasi.state.hostCalls,
    memory_bytes: exports ? exports.memory.buffer.byteLength : 0,
    outcome,
  };
}

const sleepArray = new Int32Array(new SharedArrayBuffer(4));
function sleepMs(ms) {
  Atomics.wait(sleepArray, 0, 0, ms);
}

const o = parseArgs(process.argv.slice(2));
let bytes;
try {
  bytes = readFileSync(o.program);
} catch (e) {
  const error = `cannot read ${o.program}: ${e.message}`;
  if (o.json) console.log(JSON.stringify({ engine: 'node', error }));
  else process.stderr.write(`run.mjs: ${error}\n`);
  process.exit(1);
}
for (let i = 0; i < o.runs; i++) {
  const r = await runOnce(bytes, o);
  if (o.json) console.log(JSON.stringify(r));
  else {
    const ms = (s) => `${(s * 1e3).toFixed(1)} ms`;
    console.log(
      `node ${r.version}: compile ${ms(r.compile_s)}, init ${ms(r.init_s)}, run ${ms(r.run_s)}, total ${ms(r.total_s)}, ` +
        `${r.ticks} ticks, ${r.host_calls} host calls, ${(r.memory_bytes / 2 ** 20).toFixed(1)} MiB, ${r.outcome}`,
    );
  }
}
