//! `go-reactor`: run Go WASI reactors from the command line, on any compiled-in engine.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;
mod cache;
mod dirs;
mod snapshot;
use go_reactor::{Completion, EngineKind, EngineOptions, Error, GO_TEST_WASM_STACK, ReactorConfig, ReactorExt};

use dirs::DirSpec;

#[derive(Parser)]
#[command(name = "go-reactor", version, about = "Run Go programs compiled as WebAssembly WASI reactors")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a reactor to completion, streaming its stdout/stderr; exits with the guest's exit code.
    Run(RunArgs),
    /// List the compiled-in engines.
    Engines,
    /// Time compile, instantiate + `_initialize` and run on each engine (and optionally Node.js).
    Bench(bench::BenchArgs),
    /// Continue a reactor from a snapshot written by `run --snapshot`, on any engine.
    Resume(snapshot::ResumeArgs),
    /// Write a pre-initialized module: runtime and package `init`s done once, at build time.
    Preinit(snapshot::PreinitArgs),
}

#[derive(clap::Args)]
struct RunArgs {
    /// Engine to use (default: the first compiled in of wasmtime, wasmer, wasmi, wasm3).
    #[arg(long, short)]
    engine: Option<EngineKind>,
    /// Set an environment variable in the guest (repeatable; overrides an inherited one).
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    env: Vec<(String, String)>,
    /// Pass the host's whole environment to the guest (before any `--env`).
    #[arg(long)]
    inherit_env: bool,
    /// Grant the guest a host directory, read-write, at GUEST (default: the same path as HOST).
    /// Repeatable; wasmtime's syntax.
    #[arg(long = "dir", value_name = "HOST[::GUEST]", value_parser = DirSpec::parse)]
    dirs: Vec<DirSpec>,
    /// Like `--dir`, read-only: the guest can list and read, but not create, change or remove.
    /// Preopened after every `--dir`.
    #[arg(long = "dir-ro", value_name = "HOST[::GUEST]", value_parser = DirSpec::parse)]
    dirs_ro: Vec<DirSpec>,
    /// How deep the guest may call, in bytes (suffixes K, KiB, M, MiB, G, GiB); deeper traps
    /// with a stack overflow. The default is the 8 MiB Go's own test runner uses.
    #[arg(long, value_name = "BYTES", value_parser = parse_size, default_value = "8MiB")]
    max_wasm_stack: usize,
    /// Cap the guest's linear memory, in MiB.
    #[arg(long, value_name = "MIB")]
    max_memory: Option<u64>,
    /// Always compile; do not load or write the compiled-code cache.
    #[arg(long)]
    no_cache: bool,
    /// Where compiled code is cached on engines that can serialize it (wasmtime, wasmer).
    /// Default: $GO_REACTOR_CACHE_DIR, else $XDG_CACHE_HOME/go-reactor, else ~/.cache/go-reactor.
    #[arg(long, value_name = "DIR", env = "GO_REACTOR_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// Stop after this many ticks and write a snapshot (with --snapshot); a program that ends
    /// first runs as usual.
    #[arg(long, value_name = "N", requires = "snapshot")]
    snapshot_at_tick: Option<u64>,
    /// Where --snapshot-at-tick writes the snapshot.
    #[arg(long, value_name = "FILE", requires = "snapshot_at_tick")]
    snapshot: Option<PathBuf>,
    /// The reactor module (.wasm).
    program: PathBuf,
    /// Arguments passed to the guest after its name.
    #[arg(last = true)]
    args: Vec<String>,
}

/// Parses a byte count with an optional binary (`KiB`) or shorthand (`K`) suffix.
fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        "g" | "gib" => 30,
        _ => return Err(format!("`{s}`: unknown unit (use bytes, K/KiB, M/MiB or G/GiB)")),
    };
    digits
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("`{s}` is not a positive size in bytes"))
}

pub(crate) fn parse_env(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("`{s}` is not KEY=VALUE"))
}

/// Exit status for failures of the host (bad file, bad module): 1. The guest's own failures
/// (panic, trap, deadlock) exit 2, like a Go program that crashes natively.
pub(crate) const HOST_FAILURE: u8 = 1;
const GUEST_FAILURE: u8 = 2;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("GO_REACTOR_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Engines => {
            list_engines();
            ExitCode::SUCCESS
        }
        Command::Run(args) => run_on_own_stack(args),
        Command::Bench(args) => bench::bench(args),
        Command::Resume(args) => snapshot::resume(args),
        Command::Preinit(args) => snapshot::preinit(args),
    }
}

fn list_engines() {
    for kind in EngineKind::available() {
        if let Some(info) = kind.info() {
            let c = info.capabilities;
            let yes = |b: bool, what: &'static str| if b { Some(what) } else { None };
            let caps: Vec<&str> = [
                yes(c.memory_limit, "memory-limit"),
                yes(c.fuel, "fuel"),
                yes(c.deadline, "deadline"),
                yes(c.serialize, "module-cache"),
                yes(c.send, "send"),
            ]
            .into_iter()
            .flatten()
            .collect();
            println!(
                "{:<9} {:<6} {:<12} {}",
                info.name,
                info.version,
                format!("{:?}", info.kind).to_lowercase(),
                caps.join(" ")
            );
        }
    }
}

/// Native stack the run thread gets beyond the wasm stack: room for the host (WASI calls made
/// at the guest's deepest point, engine entry and exit) on engines that run wasm on the
/// calling thread's stack (wasmtime).
const HOST_STACK_MARGIN: usize = 8 << 20;

/// Runs the reactor on a thread whose stack fits `--max-wasm-stack`: wasmtime runs wasm on the
/// calling thread's native stack, and the main thread's (typically 8 MiB) is not enough for an
/// 8 MiB wasm stack plus the host. Stack pages are only committed as they are used.
fn run_on_own_stack(args: RunArgs) -> ExitCode {
    let stack = args.max_wasm_stack.saturating_add(HOST_STACK_MARGIN);
    let spawned = std::thread::Builder::new()
        .name("go-reactor-run".into())
        .stack_size(stack)
        .spawn(move || run(args));
    match spawned.map(std::thread::JoinHandle::join) {
        Ok(Ok(code)) => code,
        Ok(Err(_)) => fail(HOST_FAILURE, "the run thread panicked"),
        Err(e) => fail(HOST_FAILURE, &format!("cannot start a thread with a {stack}-byte stack: {e}")),
    }
}

fn run(args: RunArgs) -> ExitCode {
    let Some(engine) = args.engine.or_else(|| EngineKind::available().first().copied()) else {
        return fail(HOST_FAILURE, "no engine compiled in");
    };
    let bytes = match std::fs::read(&args.program) {
        Ok(b) => b,
        Err(e) => return fail(HOST_FAILURE, &format!("cannot read {}: {e}", args.program.display())),
    };
    let mut options = EngineOptions::new();
    // Every native engine can set it; only ask an engine that cannot when the user did.
    if engine.info().is_some_and(|i| i.capabilities.wasm_stack) || args.max_wasm_stack != GO_TEST_WASM_STACK {
        options = options.max_wasm_stack(args.max_wasm_stack);
    }
    let cache_dir = if args.no_cache { None } else { cache::dir(args.cache_dir) };
    let compiled = match &cache_dir {
        _ if args.snapshot.is_some() => engine.compile_snapshottable(&bytes),
        // SAFETY: `cache::dir` only returns a directory that is ours and not writable by others.
        Some(dir) => unsafe { engine.compile_cached_with(&bytes, dir, &options) },
        None => engine.compile_with(&bytes, &options),
    };
    let module = match compiled {
        Ok(m) => m,
        // Engines' parse errors can span lines (e.g. a Debug-printed byte array): keep one line.
        Err(e) => return fail(HOST_FAILURE, &format!("{}: {}", args.program.display(), one_line(&e.to_string()))),
    };
    let env = dirs::guest_env(args.inherit_env, args.env, args.dirs.iter().chain(&args.dirs_ro));
    let mut config = ReactorConfig::new()
        .arg(args.program.to_string_lossy())
        .args(&args.args)
        .envs(env)
        .stdin(std::io::stdin());
    let read_only = args.dirs_ro.iter().map(|d| (d, true));
    for (dir, read_only) in args.dirs.iter().map(|d| (d, false)).chain(read_only) {
        config = match if read_only {
            config.preopened_dir_ro(&dir.host, &dir.guest)
        } else {
            config.preopened_dir(&dir.host, &dir.guest)
        } {
            Ok(c) => c,
            Err(e) => return fail(HOST_FAILURE, &e.to_string()),
        };
    }
    if let Some(mib) = args.max_memory {
        config = config.max_memory_bytes(mib.saturating_mul(1 << 20));
    }
    let mut reactor = match module.instantiate_dyn(config) {
        Ok(r) => r,
        Err(e) => return guest_error(e),
    };
    let outcome = match (args.snapshot_at_tick, &args.snapshot) {
        (Some(n), Some(path)) => match snapshot::run_then_snapshot(&mut *reactor, n, path) {
            Ok(None) => return ExitCode::SUCCESS,
            Ok(Some(completion)) => Ok(completion),
            Err(e) => Err(e),
        },
        _ => reactor.run(),
    };
    finish(outcome)
}

/// The exit status of a finished run (shared by `run` and `resume`).
fn finish(outcome: go_reactor::Result<Completion>) -> ExitCode {
    match outcome {
        Ok(Completion::Exited(code)) => ExitCode::from(code as u8),
        Ok(Completion::Finished) => ExitCode::SUCCESS,
        Ok(Completion::Idle) => fail(GUEST_FAILURE, "deadlock: all goroutines are asleep and main has not returned"),
        Ok(Completion::Cancelled) => fail(GUEST_FAILURE, "cancelled"),
        Ok(other) => fail(GUEST_FAILURE, &format!("run ended: {other:?}")),
        Err(e) => guest_error(e),
    }
}

/// Reports an error raised while the guest was instantiated or running.
fn guest_error(e: Error) -> ExitCode {
    match e {
        Error::Exited { code } => ExitCode::from(code as u8),
        // The traceback is already on stderr, as it would be natively.
        Error::GuestPanic { .. } => ExitCode::from(GUEST_FAILURE),
        e @ (Error::Trap { .. } | Error::HostFunc { .. } | Error::InvalidTick { .. }) => fail(GUEST_FAILURE, &e.to_string()),
        e => fail(HOST_FAILURE, &e.to_string()),
    }
}

pub(crate) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub(crate) fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(code)
}
