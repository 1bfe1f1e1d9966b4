//! Snapshot commands: `run --snapshot-at-tick N --snapshot FILE`, `resume` and `preinit`.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use go_reactor::{Completion, EngineKind, Error, Reactor, ReactorConfig, ReactorExt, RunOptions, Snapshot, run_with};

use crate::{HOST_FAILURE, fail, finish, one_line, parse_env};

/// `go-reactor resume`: continue a snapshot written by `run --snapshot`.
#[derive(clap::Args)]
pub struct ResumeArgs {
    /// Engine to resume on (any engine resumes a snapshot taken on any other).
    #[arg(long, short)]
    engine: Option<EngineKind>,
    /// Set an environment variable in the guest (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    env: Vec<(String, String)>,
    /// The snapshot file.
    snapshot: PathBuf,
    /// The reactor module the snapshot was taken from (.wasm; checked by its SHA-256).
    program: PathBuf,
    /// Arguments passed to the guest after its name.
    #[arg(last = true)]
    args: Vec<String>,
}

/// `go-reactor preinit`: write a pre-initialized module.
#[derive(clap::Args)]
pub struct PreinitArgs {
    /// Engine that runs `_initialize` (the output runs on every engine).
    #[arg(long, short)]
    engine: Option<EngineKind>,
    /// The reactor module.
    input: PathBuf,
    /// Where to write the pre-initialized module.
    output: PathBuf,
}

fn default_engine(engine: Option<EngineKind>) -> Option<EngineKind> {
    engine.or_else(|| EngineKind::available().first().copied())
}

fn read(path: &Path) -> Result<Vec<u8>, ExitCode> {
    std::fs::read(path).map_err(|e| fail(HOST_FAILURE, &format!("cannot read {}: {e}", path.display())))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    std::fs::write(path, bytes).map_err(|source| Error::Io {
        context: format!("cannot write {}", path.display()),
        source,
    })
}

/// Runs `reactor` until tick `n` and writes its snapshot to `path`: `Ok(None)` when written,
/// `Ok(Some(completion))` when the program ended first (then it behaved as a plain run).
pub fn run_then_snapshot(reactor: &mut dyn Reactor, n: u64, path: &Path) -> Result<Option<Completion>, Error> {
    let mut ticks = 0;
    let completion = run_with(
        reactor,
        RunOptions::new().on_tick(|_| {
            ticks += 1;
            if ticks >= n {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        }),
    )?;
    if completion != Completion::Cancelled {
        return Ok(Some(completion));
    }
    let snapshot = reactor.snapshot()?;
    write(path, &snapshot.to_bytes())?;
    tracing::info!(path = %path.display(), ticks = n, pages = snapshot.stored_pages(), "snapshot written");
    Ok(None)
}

pub fn resume(args: ResumeArgs) -> ExitCode {
    let Some(engine) = default_engine(args.engine) else {
        return fail(HOST_FAILURE, "no engine compiled in");
    };
    let (snapshot, program) = match (read(&args.snapshot), read(&args.program)) {
        (Ok(s), Ok(p)) => (s, p),
        (Err(code), _) | (_, Err(code)) => return code,
    };
    let snapshot = match Snapshot::from_bytes(&snapshot) {
        Ok(s) => s,
        Err(e) => return fail(HOST_FAILURE, &format!("{}: {e}", args.snapshot.display())),
    };
    let module = match engine.compile_snapshottable(&program) {
        Ok(m) => m,
        Err(e) => return fail(HOST_FAILURE, &format!("{}: {}", args.program.display(), one_line(&e.to_string()))),
    };
    let config = ReactorConfig::new()
        .arg(args.program.to_string_lossy())
        .args(&args.args)
        .envs(args.env)
        .stdin(std::io::stdin());
    let mut reactor = match module.restore_dyn(&snapshot, config) {
        Ok(r) => r,
        Err(e) => return fail(HOST_FAILURE, &one_line(&e.to_string())),
    };
    finish(reactor.run())
}

pub fn preinit(args: PreinitArgs) -> ExitCode {
    let Some(engine) = default_engine(args.engine) else {
        return fail(HOST_FAILURE, "no engine compiled in");
    };
    let wasm = match read(&args.input) {
        Ok(b) => b,
        Err(code) => return code,
    };
    let written = engine
        .compile_snapshottable(&wasm)
        .and_then(|module| module.instantiate_dyn(ReactorConfig::new().arg(args.input.to_string_lossy())))
        .and_then(|mut reactor| reactor.snapshot())
        .and_then(|snapshot| Ok(go_reactor::preinitialize(&snapshot, &wasm)?))
        .and_then(|out| write(&args.output, &out));
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(HOST_FAILURE, &format!("{}: {}", args.input.display(), one_line(&e.to_string()))),
    }
}
