//! `go-reactor run --snapshot-at-tick N --snapshot FILE`, `resume` and `preinit` end to end, on
//! every engine compiled in.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use go_reactor::EngineKind;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../guests/wasm")
        .join(format!("{name}.wasm"))
}

fn expected_stdout(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../guests/programs/{name}/expected/stdout"));
    std::fs::read_to_string(path).expect("expected/stdout")
}

/// A fresh scratch directory for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-snapshot").join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `go-reactor ARGS...`, checking the host never panics.
fn go_reactor(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_go-reactor"))
        .env_remove("GO_REACTOR_LOG")
        .env(
            "GO_REACTOR_CACHE_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-module-cache"),
        )
        .args(args)
        .output()
        .expect("cannot start go-reactor");
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!all.contains("panicked at"), "a Rust panic in the host:\n{all}");
    out
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// One `error:` line on stderr and exit 1.
fn assert_host_error(out: &Output, contains: &str) {
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("error: ") && err.contains(contains), "{err}");
}

#[test]
fn snapshot_then_resume_on_every_engine() {
    let dir = scratch("resume");
    let timers = fixture("timers");
    for from in EngineKind::available() {
        let file = dir.join(format!("timers-{from}.snap"));
        let out = go_reactor(&[
            "run",
            "--engine",
            from.name(),
            "--snapshot-at-tick",
            "3",
            "--snapshot",
            path(&file),
            path(&timers),
        ]);
        assert_eq!(out.status.code(), Some(0), "{from}: {}", text(&out.stderr));
        assert!(file.exists(), "{from}: no snapshot written");
        let first = text(&out.stdout);
        for to in EngineKind::available() {
            let out = go_reactor(&["resume", "--engine", to.name(), path(&file), path(&timers)]);
            assert_eq!(out.status.code(), Some(0), "{from} -> {to}: {}", text(&out.stderr));
            assert_eq!(first.clone() + &text(&out.stdout), expected_stdout("timers"), "{from} -> {to}");
        }
    }
}

#[test]
fn a_program_that_ends_first_is_a_plain_run() {
    let dir = scratch("ends-first");
    let file = dir.join("never.snap");
    let out = go_reactor(&[
        "run",
        "--snapshot-at-tick",
        "1000",
        "--snapshot",
        path(&file),
        path(&fixture("exit")),
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(text(&out.stdout), expected_stdout("exit"));
    assert!(!file.exists());
}

#[test]
fn resume_refuses_another_module_and_damaged_files() {
    let dir = scratch("refusals");
    let file = dir.join("timers.snap");
    let out = go_reactor(&[
        "run",
        "--snapshot-at-tick",
        "2",
        "--snapshot",
        path(&file),
        path(&fixture("timers")),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_host_error(&go_reactor(&["resume", path(&file), path(&fixture("busy"))]), "another module");

    let mut bytes = std::fs::read(&file).unwrap();
    let damaged = dir.join("damaged.snap");
    let at = bytes.len() / 2;
    bytes[at] ^= 1;
    std::fs::write(&damaged, &bytes).unwrap();
    assert_host_error(&go_reactor(&["resume", path(&damaged), path(&fixture("timers"))]), "checksum");
    std::fs::write(&damaged, &bytes[..100]).unwrap();
    assert_host_error(&go_reactor(&["resume", path(&damaged), path(&fixture("timers"))]), "truncated");
    assert_host_error(
        &go_reactor(&["resume", path(&fixture("hello")), path(&fixture("timers"))]),
        "not a go-reactor snapshot",
    );
    assert_host_error(
        &go_reactor(&["resume", path(&dir.join("missing")), path(&fixture("timers"))]),
        "cannot read",
    );
}

#[test]
fn preinit_writes_a_module_every_engine_runs() {
    let dir = scratch("preinit");
    for (name, engine) in [("hello", None), ("initsleep", EngineKind::available().last().copied())] {
        let out_path = dir.join(format!("{name}.wasm"));
        let mut args = vec!["preinit"];
        if let Some(e) = engine {
            args.extend(["--engine", e.name()]);
        }
        let input = fixture(name);
        args.extend([path(&input), path(&out_path)]);
        let out = go_reactor(&args);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", text(&out.stderr));
        // What `init` printed went to preinit's stdout; the rest comes from each run.
        let from_init = text(&out.stdout);
        for run_on in EngineKind::available() {
            let out = go_reactor(&["run", "--no-cache", "--engine", run_on.name(), path(&out_path)]);
            assert_eq!(out.status.code(), Some(0), "{name} on {run_on}: {}", text(&out.stderr));
            assert_eq!(from_init.clone() + &text(&out.stdout), expected_stdout(name), "{name} on {run_on}");
        }
    }
    assert_host_error(
        &go_reactor(&["preinit", path(&fixture("nope")), path(&dir.join("x.wasm"))]),
        "cannot read",
    );
}
