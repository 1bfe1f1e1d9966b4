//! `go-reactor bench`: time a reactor on several engines (and optionally Node.js) in one process.
//!
//! For every measured run, and within a run for every engine in turn (interleaved, so a change
//! in machine load hits all engines alike), it measures:
//!
//! - **compile**: a new engine compiles and validates the module (`Module::new`);
//! - **cached** (engines that can serialize: wasmtime, wasmer): a new engine loads the compiled
//!   code back from `serialize`d bytes, as a start from an on-disk module cache would;
//! - **init**: instantiate, link the imports, run `_initialize` (Go runtime and package `init`s);
//! - **run**: `reactor_api::run` from `go_start_main` until the program exits or goes idle,
//!   sleeping on timers like `go-reactor run` does;
//! - ticks, host calls and peak linear memory (`memory_size` after the run: memory only grows).
//!
//! Guest output goes to a null sink unless `--show-output`. With `--node`, each run also starts
//! `node scripts/node/run.mjs` on the same module (a fresh process each time) and the table adds
//! ratios to Node's figures.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use go_reactor::wasi_min::sink;
use go_reactor::{Completion, EngineKind, Error, Module, Reactor, ReactorConfig, WasmEngine};
use serde_json::{Value, json};

/// The Node.js driver, embedded so `--node` works from any directory.
const NODE_SCRIPT: &str = include_str!("../../scripts/node/run.mjs");

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Engines to compare, comma-separated (default: every compiled-in engine).
    #[arg(long, value_delimiter = ',', value_name = "ENGINE,..")]
    engines: Vec<EngineKind>,
    /// Measured runs per engine (interleaved across engines).
    #[arg(long, short = 'n', default_value_t = 5, value_name = "N")]
    runs: usize,
    /// Unmeasured runs per engine before the measured ones.
    #[arg(long, default_value_t = 0, value_name = "N")]
    warmup: usize,
    /// Print JSON (every sample, median, min, max) instead of the table.
    #[arg(long)]
    json: bool,
    /// Pass the guest's stdout/stderr through instead of discarding it.
    #[arg(long)]
    show_output: bool,
    /// Also run the program on Node.js (V8) with the bundled scripts/node/run.mjs driver and
    /// print our engines' figures as ratios to Node's.
    #[arg(long)]
    node: bool,
    /// The Node.js executable for `--node`.
    #[arg(long, default_value = "node", value_name = "PATH")]
    node_bin: PathBuf,
    /// A driver script to use instead of the bundled scripts/node/run.mjs.
    #[arg(long, value_name = "PATH")]
    node_script: Option<PathBuf>,
    /// Set an environment variable in the guest (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = crate::parse_env)]
    env: Vec<(String, String)>,
    /// The reactor module (.wasm).
    program: PathBuf,
    /// Arguments passed to the guest after its name.
    #[arg(last = true)]
    args: Vec<String>,
}

/// One measurement of one engine.
#[derive(Debug, Clone, Default)]
struct Sample {
    compile: Duration,
    /// Loading the compiled code back from `serialize`d bytes into a fresh engine (a start from
    /// an on-disk module cache), on engines that can.
    cached: Option<Duration>,
    init: Duration,
    run: Duration,
    ticks: u64,
    host_calls: u64,
    memory: u64,
    outcome: String,
    /// Whole process, Node only (includes Node's own start-up).
    process: Option<Duration>,
}

impl Sample {
    fn total(&self) -> Duration {
        self.compile + self.init + self.run
    }
}

/// One row of the report: an engine (or Node) and its samples.
struct Row {
    name: String,
    version: String,
    kind: &'static str,
    samples: Vec<Sample>,
    error: Option<String>,
}

/// Host functions of the bundled benchmark fixtures (`hostcall`, `hostloop`), provided so those
/// modules instantiate; a module that does not import them never sees them. Development only
/// (Cargo feature `bench-fixtures`): the shipped CLI gives guests WASI and nothing else.
#[cfg(feature = "bench-fixtures")]
fn fixture_imports() -> Vec<go_reactor::HostFunc> {
    use go_reactor::{FuncType, HostFunc, Val, ValType::I32};
    let i32_of = |v: &Val| v.i32().unwrap_or(0);
    vec![
        HostFunc::new("env", "host_nop", FuncType::new([I32], [I32]), move |_, args, results| {
            results[0] = Val::I32(i32_of(&args[0]).wrapping_add(1));
            Ok(())
        }),
        HostFunc::new("env", "host_add", FuncType::new([I32, I32], [I32]), move |_, args, results| {
            results[0] = Val::I32(i32_of(&args[0]).wrapping_add(i32_of(&args[1])));
            Ok(())
        }),
        HostFunc::new("env", "host_log", FuncType::new([I32, I32], []), |_, _, _| Ok(())),
    ]
}

impl BenchArgs {
    fn config(&self) -> ReactorConfig {
        let mut config = ReactorConfig::new()
            .arg(self.program.to_string_lossy())
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        if !self.show_output {
            config = config.stdout(sink::null()).stderr(sink::null());
        }
        #[cfg(feature = "bench-fixtures")]
        for f in fixture_imports() {
            config = config.import(f);
        }
        config
    }
}

/// Compiles, instantiates and runs once on `engine`. `Err` is a host-side failure (the module
/// does not compile or instantiate): the engine is then dropped from the remaining runs.
fn measure(engine: EngineKind, wasm: &[u8], args: &BenchArgs) -> Result<Sample, String> {
    match engine {
        #[cfg(feature = "wasmtime")]
        EngineKind::Wasmtime => measure_on::<go_reactor::engines::WasmtimeEngine>(wasm, args),
        #[cfg(feature = "wasmer")]
        EngineKind::Wasmer => measure_on::<go_reactor::engines::WasmerEngine>(wasm, args),
        #[cfg(feature = "wasmi")]
        EngineKind::Wasmi => measure_on::<go_reactor::engines::WasmiEngine>(wasm, args),
        #[cfg(feature = "wasm3")]
        EngineKind::Wasm3 => measure_on::<go_reactor::engines::Wasm3Engine>(wasm, args),
        #[allow(unreachable_patterns)]
        other => Err(format!("engine `{other}` is not compiled in")),
    }
}

fn measure_on<E: WasmEngine + Default>(wasm: &[u8], args: &BenchArgs) -> Result<Sample, String> {
    let host_error = |e: Error| crate::one_line(&e.to_string());
    let t = Instant::now();
    let engine = E::default();
    let module = Module::new(&engine, wasm).map_err(host_error)?;
    let compile = t.elapsed();
    let cached = if engine.info().capabilities.serialize {
        let bytes = engine.serialize(module.raw()).map_err(host_error)?;
        let t = Instant::now();
        let fresh = E::default();
        // SAFETY: the bytes were written by `serialize` of this engine, in this process.
        let raw = unsafe { fresh.deserialize(&bytes) }.map_err(host_error)?;
        Module::from_compiled(&fresh, raw).map_err(host_error)?;
        Some(t.elapsed())
    } else {
        None
    };
    let t = Instant::now();
    let instantiated = module.instantiate(args.config());
    let init = t.elapsed();
    let mut reactor = match instantiated {
        Ok(r) => r,
        // The guest ended (or failed) inside `_initialize`: still a measurement.
        Err(e @ (Error::Exited { .. } | Error::GuestPanic { .. } | Error::Trap { .. } | Error::HostFunc { .. })) => {
            return Ok(Sample {
                compile,
                cached,
                init,
                outcome: outcome(Err(e)),
                ..Sample::default()
            });
        }
        Err(e) => return Err(host_error(e)),
    };
    let t = Instant::now();
    let result = go_reactor::run(&mut reactor);
    let run = t.elapsed();
    let stats = reactor.stats();
    Ok(Sample {
        compile,
        cached,
        init,
        run,
        ticks: stats.ticks,
        host_calls: stats.host_calls,
        memory: reactor.memory_size(),
        outcome: outcome(result),
        process: None,
    })
}

fn outcome(r: Result<Completion, Error>) -> String {
    match r {
        Ok(Completion::Exited(code)) | Err(Error::Exited { code }) => format!("exit {code}"),
        Ok(Completion::Finished) => "exit 0".into(),
        Ok(Completion::Idle) => "idle".into(),
        Ok(Completion::Cancelled) => "cancelled".into(),
        Ok(other) => format!("{other:?}").to_lowercase(),
        Err(Error::GuestPanic { .. }) => "panic".into(),
        Err(Error::Trap { trap, .. }) => format!("trap: {}", trap.kind),
        Err(e) => format!("error: {}", crate::one_line(&e.to_string())),
    }
}

/// Runs the Node.js driver once and reads its JSON report.
fn measure_node(script: &Path, args: &BenchArgs) -> Result<Sample, String> {
    let mut cmd = Command::new(&args.node_bin);
    cmd.arg(script).arg("--json");
    if args.show_output {
        cmd.arg("--show-output");
    }
    for (k, v) in &args.env {
        cmd.arg(format!("--env={k}={v}"));
    }
    cmd.arg(&args.program).arg("--").args(&args.args);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped());
    cmd.stderr(if args.show_output { Stdio::inherit() } else { Stdio::piped() });
    let t = Instant::now();
    let out = cmd.output().map_err(|e| format!("cannot run {}: {e}", args.node_bin.display()))?;
    let process = t.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().rev().find(|l| l.starts_with('{')).ok_or_else(|| {
        format!(
            "node printed no report (status {}): {}",
            out.status,
            crate::one_line(&String::from_utf8_lossy(&out.stderr))
        )
    })?;
    let v: Value = serde_json::from_str(line).map_err(|e| format!("bad report from node: {e}"))?;
    let secs = |k: &str| Duration::from_secs_f64(v[k].as_f64().unwrap_or(0.0).max(0.0));
    if let Some(err) = v["error"].as_str() {
        return Err(format!("node: {err}"));
    }
    Ok(Sample {
        compile: secs("compile_s"),
        cached: None,
        init: secs("init_s"),
        run: secs("run_s"),
        ticks: v["ticks"].as_u64().unwrap_or(0),
        host_calls: v["host_calls"].as_u64().unwrap_or(0),
        memory: v["memory_bytes"].as_u64().unwrap_or(0),
        outcome: v["outcome"].as_str().unwrap_or("?").to_string(),
        process: Some(process),
    })
}

fn node_version(bin: &Path) -> String {
    Command::new(bin)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().trim_start_matches('v').to_string())
        .unwrap_or_else(|| "?".into())
}

/// The machine, for the report: cores, CPU model, load average.
fn machine() -> (usize, String) {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    (cpus, model)
}

fn loadavg() -> Option<[f64; 3]> {
    let s = std::fs::read_to_string("/proc/loadavg").ok()?;
    let mut it = s.split_whitespace().map(|x| x.parse::<f64>().ok());
    Some([it.next()??, it.next()??, it.next()??])
}

/// Progress on stderr: a line rewritten in place on a terminal; otherwise one line per
/// measurement, but only once the benchmark has run for a while (short runs stay quiet).
struct Progress {
    start: Instant,
    tty: bool,
    shown: bool,
}

impl Progress {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            tty: std::io::stderr().is_terminal(),
            shown: false,
        }
    }
    fn update(&mut self, what: &str) {
        let elapsed = self.start.elapsed();
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[2Kbench: {what} ({:.1} s)", elapsed.as_secs_f64());
            let _ = err.flush();
            self.shown = true;
        } else if elapsed > Duration::from_secs(2) {
            let _ = writeln!(err, "bench: {what} ({:.1} s)", elapsed.as_secs_f64());
        }
    }
    fn finish(&mut self) {
        if self.tty && self.shown {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        }
    }
}

pub fn bench(args: BenchArgs) -> ExitCode {
    let engines = if args.engines.is_empty() {
        EngineKind::available()
    } else {
        args.engines.clone()
    };
    if let Some(missing) = engines.iter().find(|k| !k.is_available()) {
        return crate::fail(
            crate::HOST_FAILURE,
            &format!("engine `{missing}` is not compiled into this go-reactor"),
        );
    }
    if engines.is_empty() && !args.node {
        return crate::fail(crate::HOST_FAILURE, "no engine compiled in");
    }
    if args.runs == 0 {
        return crate::fail(crate::HOST_FAILURE, "--runs must be at least 1");
    }
    let wasm = match std::fs::read(&args.program) {
        Ok(b) => b,
        Err(e) => return crate::fail(crate::HOST_FAILURE, &format!("cannot read {}: {e}", args.program.display())),
    };
    // The Node driver: a given script, or the bundled one written to a temporary file.
    let mut temp_script = None;
    let node_script = match (&args.node_script, args.node) {
        (Some(p), _) => Some(p.clone()),
        (None, true) => {
            let path = std::env::temp_dir().join(format!("go-reactor-bench-{}.mjs", std::process::id()));
            if let Err(e) = std::fs::write(&path, NODE_SCRIPT) {
                return crate::fail(crate::HOST_FAILURE, &format!("cannot write {}: {e}", path.display()));
            }
            temp_script = Some(path.clone());
            Some(path)
        }
        (None, false) => None,
    };

    let mut rows: Vec<Row> = engines
        .iter()
        .map(|k| {
            let info = k.info();
            Row {
                name: k.name().to_string(),
                version: info.map_or_else(String::new, |i| i.version.to_string()),
                kind: match info.map(|i| i.kind) {
                    Some(go_reactor::ExecutionKind::Compiler) => "compiler",
                    _ => "interpreter",
                },
                samples: Vec::new(),
                error: None,
            }
        })
        .collect();
    if node_script.is_some() {
        rows.push(Row {
            name: "node".into(),
            version: node_version(&args.node_bin),
            kind: "V8",
            samples: Vec::new(),
            error: None,
        });
    }

    let (cpus, model) = machine();
    let load_start = loadavg();
    let mut progress = Progress::new();
    let total_runs = args.warmup + args.runs;
    for run in 0..total_runs {
        let warm = run < args.warmup;
        for (i, row) in rows.iter_mut().enumerate() {
            if row.error.is_some() {
                continue;
            }
            let label = if warm {
                format!("warm-up {}/{}", run + 1, args.warmup)
            } else {
                format!("run {}/{}", run + 1 - args.warmup, args.runs)
            };
            progress.update(&format!("{label}: {}", row.name));
            let sample = match engines.get(i) {
                Some(&kind) => measure(kind, &wasm, &args),
                None => measure_node(node_script.as_deref().unwrap_or(Path::new("run.mjs")), &args),
            };
            match sample {
                Ok(s) if !warm => row.samples.push(s),
                Ok(_) => {}
                Err(e) => row.error = Some(e),
            }
        }
    }
    progress.finish();
    let load_end = loadavg();
    if let Some(p) = temp_script {
        let _ = std::fs::remove_file(p);
    }

    let report = Report {
        args: &args,
        wasm_len: wasm.len(),
        rows: &rows,
        cpus,
        model,
        load: [load_start, load_end],
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.json()).unwrap_or_default());
    } else {
        print!("{}", report.table());
    }
    if rows.iter().any(|r| r.error.is_some()) {
        ExitCode::from(crate::HOST_FAILURE)
    } else {
        ExitCode::SUCCESS
    }
}

struct Report<'a> {
    args: &'a BenchArgs,
    wasm_len: usize,
    rows: &'a [Row],
    cpus: usize,
    model: String,
    load: [Option<[f64; 3]>; 2],
}

/// Median (upper median for even counts), min and max.
fn summary<T: Copy + Ord>(mut v: Vec<T>) -> Option<(T, T, T)> {
    v.sort();
    Some((*v.get(v.len() / 2)?, *v.first()?, *v.last()?))
}

/// `median (min–max)`, the range in the median's unit.
fn fmt_range(m: Duration, lo: Duration, hi: Duration) -> String {
    let (scale, unit, prec) = match m.as_secs_f64() {
        s if s >= 1.0 => (1.0, "s", 2),
        s if s >= 1e-3 => (1e3, "ms", 1),
        _ => (1e6, "µs", 0),
    };
    let f = |d: Duration| format!("{:.*}", prec, d.as_secs_f64() * scale);
    format!("{} {unit} ({}–{})", f(m), f(lo), f(hi))
}

fn fmt_bytes(b: u64) -> String {
    format!("{:.1} MiB", b as f64 / f64::from(1 << 20))
}

fn fmt_load(l: Option<[f64; 3]>) -> String {
    l.map_or_else(|| "?".into(), |[a, b, c]| format!("{a:.2} {b:.2} {c:.2}"))
}

type Metric = fn(&Sample) -> Duration;
const METRICS: [(&str, Metric); 4] = [
    ("compile", |s| s.compile),
    ("init", |s| s.init),
    ("run", |s| s.run),
    ("total", Sample::total),
];

impl Report<'_> {
    fn median(row: &Row, metric: Metric) -> Option<Duration> {
        summary(row.samples.iter().map(metric).collect()).map(|(m, _, _)| m)
    }

    fn table(&self) -> String {
        let mut out = String::new();
        let a = self.args;
        let args = if a.args.is_empty() {
            String::new()
        } else {
            format!(" -- {}", a.args.join(" "))
        };
        out += &format!(
            "{}{args}: {:.1} MB; {} run{} per engine, interleaved{}; median (min–max)\n",
            a.program.display(),
            self.wasm_len as f64 / 1e6,
            a.runs,
            if a.runs == 1 { "" } else { "s" },
            if a.warmup > 0 {
                format!(" after {} warm-up", a.warmup)
            } else {
                String::new()
            },
        );
        out += &format!(
            "machine: {} cores, {}; load average {} at start, {} at end\n\n",
            self.cpus,
            self.model,
            fmt_load(self.load[0]),
            fmt_load(self.load[1])
        );
        let header = ["engine", "compile", "cached", "init", "run", "total", "ticks", "memory", "result"];
        let mut cells: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
        for row in self.rows {
            if let Some(e) = &row.error {
                let mut r = vec![row.name.clone(), format!("error: {e}")];
                r.resize(header.len(), String::new());
                cells.push(r);
                continue;
            }
            let mut r = vec![row.name.clone()];
            for (name, metric) in METRICS {
                r.push(match summary(row.samples.iter().map(metric).collect()) {
                    Some((m, lo, hi)) => fmt_range(m, lo, hi),
                    None => "-".into(),
                });
                if name == "compile" {
                    r.push(match summary(row.samples.iter().filter_map(|s| s.cached).collect()) {
                        Some((m, lo, hi)) => fmt_range(m, lo, hi),
                        None => "-".into(),
                    });
                }
            }
            let ticks = summary(row.samples.iter().map(|s| s.ticks).collect());
            r.push(ticks.map_or(
                "-".into(),
                |(m, lo, hi)| if lo == hi { m.to_string() } else { format!("{m} ({lo}–{hi})") },
            ));
            r.push(summary(row.samples.iter().map(|s| s.memory).collect()).map_or("-".into(), |(m, _, _)| fmt_bytes(m)));
            let mut outcomes: Vec<&str> = row.samples.iter().map(|s| s.outcome.as_str()).collect();
            outcomes.dedup();
            r.push(outcomes.join(", "));
            cells.push(r);
        }
        out += &render(&cells);

        if let Some(node) = self.rows.iter().find(|r| r.name == "node" && r.error.is_none()) {
            if let Some((m, lo, hi)) = summary(node.samples.iter().filter_map(|s| s.process).collect()) {
                out += &format!(
                    "\nnode {}: whole process (with Node's own start-up) {}; its phases are timed inside the script\n",
                    node.version,
                    fmt_range(m, lo, hi)
                );
            }
            out += "\nratio to node (median / node's median; below 1 is faster than node)\n";
            let mut cells: Vec<Vec<String>> = vec![
                ["engine", "compile", "init", "run", "total"]
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            ];
            for row in self.rows.iter().filter(|r| r.name != "node" && r.error.is_none()) {
                let mut r = vec![row.name.clone()];
                for (_, metric) in METRICS {
                    r.push(match (Self::median(row, metric), Self::median(node, metric)) {
                        (Some(x), Some(n)) if !n.is_zero() => format!("{:.2}x", x.as_secs_f64() / n.as_secs_f64()),
                        _ => "-".into(),
                    });
                }
                cells.push(r);
            }
            out += &render(&cells);
        }
        out += "\ncompile: new engine + compile and validate; cached: load the compiled code from serialized bytes into a new\n\
                engine (a start from an on-disk module cache; engines that can); init: instantiate + _initialize;\n\
                run: go_start_main to exit or idle (sleeping on timers); total = compile + init + run\n";
        out
    }

    fn json(&self) -> Value {
        let a = self.args;
        let secs = |d: Duration| d.as_secs_f64();
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|row| {
                let samples: Vec<Value> = row
                    .samples
                    .iter()
                    .map(|s| {
                        let mut v = json!({
                            "compile_s": secs(s.compile),
                            "cached_s": s.cached.map(secs),
                            "init_s": secs(s.init),
                            "run_s": secs(s.run),
                            "total_s": secs(s.total()),
                            "ticks": s.ticks,
                            "host_calls": s.host_calls,
                            "memory_bytes": s.memory,
                            "outcome": s.outcome,
                        });
                        if let Some(p) = s.process {
                            v["process_s"] = json!(secs(p));
                        }
                        v
                    })
                    .collect();
                let mut stats = serde_json::Map::new();
                for (name, metric) in METRICS {
                    if let Some((m, lo, hi)) = summary(row.samples.iter().map(metric).collect()) {
                        stats.insert(format!("{name}_s"), json!({"median": secs(m), "min": secs(lo), "max": secs(hi)}));
                    }
                }
                if let Some((m, lo, hi)) = summary(row.samples.iter().filter_map(|s| s.cached).collect()) {
                    stats.insert("cached_s".into(), json!({"median": secs(m), "min": secs(lo), "max": secs(hi)}));
                }
                if let Some((m, lo, hi)) = summary(row.samples.iter().filter_map(|s| s.process).collect()) {
                    stats.insert("process_s".into(), json!({"median": secs(m), "min": secs(lo), "max": secs(hi)}));
                }
                for (name, f) in [
                    ("ticks", (|s: &Sample| s.ticks) as fn(&Sample) -> u64),
                    ("memory_bytes", |s| s.memory),
                ] {
                    if let Some((m, lo, hi)) = summary(row.samples.iter().map(f).collect()) {
                        stats.insert(name.into(), json!({"median": m, "min": lo, "max": hi}));
                    }
                }
                json!({
                    "engine": row.name,
                    "version": row.version,
                    "kind": row.kind,
                    "error": row.error,
                    "stats": stats,
                    "samples": samples,
                })
            })
            .collect();
        let load = |l: Option<[f64; 3]>| l.map(|x| json!(x)).unwrap_or(Value::Null);
        json!({
            "program": a.program.display().to_string(),
            "args": a.args,
            "wasm_bytes": self.wasm_len,
            "runs": a.runs,
            "warmup": a.warmup,
            "machine": {
                "cpus": self.cpus,
                "cpu_model": self.model,
                "loadavg_start": load(self.load[0]),
                "loadavg_end": load(self.load[1]),
            },
            "engines": rows,
        })
    }
}

/// Left-aligned columns separated by two spaces.
fn render(cells: &[Vec<String>]) -> String {
    let cols = cells.iter().map(Vec::len).max().unwrap_or(0);
    let width: Vec<usize> = (0..cols)
        .map(|c| cells.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in cells {
        let line: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, s)| format!("{s}{}", " ".repeat(width[c] - s.chars().count())))
            .collect();
        out += line.join("  ").trim_end();
        out.push('\n');
    }
    out
}
