//! `go-reactor`: run Go WASI reactors from the command line, on any compiled-in engine.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;
mod cache;
mod snapshot;
use go_reactor::{Completion, EngineKind, Error, ReactorConfig, ReactorExt};

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
    /// Set an environment variable in the guest (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    env: Vec<(String, String)>,
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
        Command::Run(args) => run(args),
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

fn run(args: RunArgs) -> ExitCode {
    let Some(engine) = args.engine.or_else(|| EngineKind::available().first().copied()) else {
        return fail(HOST_FAILURE, "no engine compiled in");
    };
    let bytes = match std::fs::read(&args.program) {
        Ok(b) => b,
        Err(e) => return fail(HOST_FAILURE, &format!("cannot read {}: {e}", args.program.display())),
    };
    let cache_dir = if args.no_cache { None } else { cache::dir(args.cache_dir) };
    let compiled = match &cache_dir {
        _ if args.snapshot.is_some() => engine.compile_snapshottable(&bytes),
        // SAFETY: `cache::dir` only returns a directory that is ours and not writable by others.
        Some(dir) => unsafe { engine.compile_cached(&bytes, dir) },
        None => engine.compile(&bytes),
    };
    let module = match compiled {
        Ok(m) => m,
        // Engines' parse errors can span lines (e.g. a Debug-printed byte array): keep one line.
        Err(e) => return fail(HOST_FAILURE, &format!("{}: {}", args.program.display(), one_line(&e.to_string()))),
    };
    let mut config = ReactorConfig::new()
        .arg(args.program.to_string_lossy())
        .args(&args.args)
        .envs(args.env)
        .stdin(std::io::stdin());
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
