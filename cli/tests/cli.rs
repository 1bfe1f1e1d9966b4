//! The `go-reactor` binary end to end, on every engine compiled in: exit codes, streamed output,
//! Go panics reported with their traceback intact, host failures as exactly one `error:` line,
//! and never a Rust panic.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use go_reactor::EngineKind;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../guests/wasm")
        .join(format!("{name}.wasm"))
}

/// Runs `go-reactor run [--engine E] [extra...] PROGRAM`, with a compiled-code cache of the
/// test's own (so the JIT engines compile each fixture once, not in every test).
fn run(engine: Option<EngineKind>, extra: &[&str], program: &Path) -> Output {
    run_with_cache(
        &Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-module-cache"),
        engine,
        extra,
        program,
    )
}

fn run_with_cache(cache: &Path, engine: Option<EngineKind>, extra: &[&str], program: &Path) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_go-reactor"));
    cmd.env_remove("GO_REACTOR_LOG").env("GO_REACTOR_CACHE_DIR", cache).arg("run");
    if let Some(engine) = engine {
        cmd.args(["--engine", engine.name()]);
    }
    let out = cmd.args(extra).arg(program).output().expect("cannot start go-reactor");
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!all.contains("panicked at"), "a Rust panic in the host:\n{all}");
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every engine compiled into the binary (the test links the same `go-reactor` features).
fn engines() -> Vec<EngineKind> {
    let engines = EngineKind::available();
    assert!(!engines.is_empty());
    engines
}

#[test]
fn hello_prints_and_exits_0() {
    for engine in engines() {
        let out = run(Some(engine), &[], &fixture("hello"));
        assert_eq!(out.status.code(), Some(0), "{engine}: {}", stderr(&out));
        assert_eq!(stdout(&out), "Hello from Go WASI reactor!\n", "{engine}");
    }
}

#[test]
fn exit_code_is_the_guests() {
    for engine in engines() {
        let out = run(Some(engine), &[], &fixture("exit"));
        assert_eq!(out.status.code(), Some(3), "{engine}: {}", stderr(&out));
        assert_eq!(stdout(&out), "exiting with code 3\n", "{engine}");
    }
}

#[test]
fn go_panic_exits_2_with_its_traceback() {
    for engine in engines() {
        let out = run(Some(engine), &[], &fixture("panic"));
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{engine}: {err}");
        assert_eq!(stdout(&out), "before panic\n", "{engine}");
        for want in ["panic: boom from a goroutine", "goroutine ", "main.main.func1()"] {
            assert!(err.contains(want), "{engine}: stderr lacks {want:?}:\n{err}");
        }
    }
}

#[test]
fn deadlock_exits_2() {
    for engine in engines() {
        let out = run(Some(engine), &[], &fixture("deadlock"));
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{engine}: {err}");
        assert!(err.contains("deadlock"), "{engine}: {err}");
        let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(errors.len(), 1, "{engine}: {err}");
    }
}

/// Host-side failures: exit 1 and exactly one line, starting with `error:`.
#[test]
fn host_failures_exit_1_with_one_error_line() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let invalid = dir.join("invalid.wasm");
    std::fs::write(&invalid, b"\0asm\x01\0\0\0garbage").unwrap();
    let not_wasm = dir.join("text.wasm");
    std::fs::write(&not_wasm, "(module)\n").unwrap();
    // A valid, empty module: no `_initialize`.
    let empty = dir.join("empty.wasm");
    std::fs::write(&empty, b"\0asm\x01\0\0\0").unwrap();
    let missing = dir.join("does-not-exist.wasm");
    let mut cases: Vec<(Option<EngineKind>, Vec<&str>, PathBuf, &str)> = vec![
        (None, vec![], missing, "does-not-exist.wasm"),
        (None, vec![], invalid.clone(), "cannot compile"),
        (None, vec![], not_wasm, "cannot compile"),
        (None, vec![], empty.clone(), "not a Go reactor"),
    ];
    for engine in engines() {
        cases.push((Some(engine), vec![], invalid.clone(), engine.name()));
        cases.push((Some(engine), vec![], empty.clone(), "_initialize"));
        // An engine without memory limits refuses the option instead of ignoring it.
        if engine.info().is_some_and(|i| !i.capabilities.memory_limit) {
            cases.push((Some(engine), vec!["--max-memory", "64"], fixture("hello"), "memory limits"));
        }
    }
    for (engine, extra, program, want) in cases {
        let out = run(engine, &extra, &program);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{engine:?} {extra:?} {}: {err}", program.display());
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "{engine:?} {}: exactly one line expected:\n{err}",
            program.display()
        );
        assert!(lines[0].starts_with("error: "), "{err}");
        assert!(lines[0].contains(want), "{engine:?} {}: {err} lacks {want:?}", program.display());
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// `run` caches compiled code for engines that can serialize it, recovers from a damaged cache
/// file, honours `--no-cache`, and refuses (with a warning) a directory others can write to.
#[test]
fn compiled_code_cache() {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-cache-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let hello = fixture("hello");
    let cached_files = |dir: &Path, engine: EngineKind| -> Vec<PathBuf> {
        let prefix = format!("{}-", engine.name());
        std::fs::read_dir(dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(&prefix)))
                    .collect()
            })
            .unwrap_or_default()
    };
    let ok = |out: &Output, what: &str| {
        assert_eq!(out.status.code(), Some(0), "{what}: {}", stderr(out));
        assert_eq!(stdout(out), "Hello from Go WASI reactor!\n", "{what}");
        assert_eq!(stderr(out), "", "{what}");
    };
    for engine in engines() {
        let serializes = engine.info().is_some_and(|i| i.capabilities.serialize);
        let dir = root.join(engine.name());
        ok(&run_with_cache(&dir, Some(engine), &[], &hello), "first run");
        let files = cached_files(&dir, engine);
        assert_eq!(files.len(), usize::from(serializes), "{engine}: {files:?}");
        if let [file] = &files[..] {
            let len = std::fs::metadata(file).unwrap().len();
            ok(&run_with_cache(&dir, Some(engine), &[], &hello), "from the cache");
            std::fs::write(file, b"not compiled code").unwrap();
            ok(&run_with_cache(&dir, Some(engine), &[], &hello), "damaged cache file");
            assert_eq!(
                std::fs::metadata(file).unwrap().len(),
                len,
                "{engine}: the damaged file is rewritten"
            );
        }
        let none = root.join(format!("{}-no-cache", engine.name()));
        ok(&run_with_cache(&none, Some(engine), &["--no-cache"], &hello), "--no-cache");
        assert!(cached_files(&none, engine).is_empty(), "{engine}: --no-cache wrote a file");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let shared = root.join("shared");
        std::fs::create_dir_all(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
        let out = run_with_cache(&shared, None, &[], &hello);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(stdout(&out), "Hello from Go WASI reactor!\n");
        assert!(stderr(&out).starts_with("warning: not using module cache"), "{}", stderr(&out));
        assert_eq!(std::fs::read_dir(&shared).unwrap().count(), 0, "nothing written to an unsafe cache");
    }
    std::fs::remove_dir_all(&root).ok();
}
