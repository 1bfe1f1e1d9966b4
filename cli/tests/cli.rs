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

/// A temporary directory for one test, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // Canonical: the guest's PWD is derived from the canonical working directory.
        Self(dir.canonicalize().unwrap())
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn expected_stdout(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../guests/programs/{name}/expected/stdout"));
    std::fs::read_to_string(path).unwrap()
}

/// `go-reactor run` with the test's module cache, adjusted by `setup` (environment, working
/// directory), never a Rust panic. `extra` holds options, then optionally `--` and the guest's
/// arguments.
fn run_in(engine: EngineKind, extra: &[&str], program: &Path, setup: impl FnOnce(&mut Command)) -> Output {
    let (options, guest) = match extra.iter().position(|&a| a == "--") {
        Some(i) => extra.split_at(i),
        None => (extra, &[][..]),
    };
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_go-reactor"));
    cmd.env_remove("GO_REACTOR_LOG")
        .env(
            "GO_REACTOR_CACHE_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-module-cache"),
        )
        .args(["run", "--engine", engine.name()])
        .args(options)
        .arg(program)
        .args(guest);
    setup(&mut cmd);
    let out = cmd.output().expect("cannot start go-reactor");
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!all.contains("panicked at"), "a Rust panic in the host:\n{all}");
    out
}

/// `--dir HOST::GUEST`: the `files` fixture works in a host directory preopened at `/tmp`, and
/// the file it keeps is on the host afterwards.
#[test]
fn dir_preopens_a_host_directory() {
    for engine in engines() {
        let tmp = TempDir::new(&format!("dir-{engine}"));
        let spec = format!("{}::/tmp", tmp.path().display());
        let extra = ["--dir", &spec, "--env", "TMPDIR=/tmp", "--env", "FILES_KEEP=kept.txt"];
        let out = run_in(engine, &extra, &fixture("files"), |_| {});
        assert_eq!(out.status.code(), Some(0), "{engine}: {}{}", stdout(&out), stderr(&out));
        assert_eq!(stdout(&out), expected_stdout("files"), "{engine}");
        assert_eq!(std::fs::read_to_string(tmp.path().join("kept.txt")).unwrap(), "kept by files\n");
    }
}

/// `--dir HOST` alone: the guest sees the directory at the host's path, and its working
/// directory (PWD) follows the host's current directory into the preopen.
#[test]
fn dir_guest_path_defaults_to_host_and_pwd_follows() {
    for engine in engines() {
        let tmp = TempDir::new(&format!("pwd-{engine}"));
        let sub = tmp.path().join("work");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join("marker.txt"), "found").unwrap();
        let dir = tmp.path().to_string_lossy().into_owned();
        let tmpdir = format!("TMPDIR={dir}");
        let extra = ["--dir", &dir, "--env", &tmpdir, "--env", "FILES_CWD_MARKER=marker.txt"];
        let out = run_in(engine, &extra, &fixture("files"), |cmd| {
            cmd.current_dir(&sub);
        });
        assert_eq!(out.status.code(), Some(0), "{engine}: {}{}", stdout(&out), stderr(&out));
        let first = stdout(&out).lines().next().unwrap_or_default().to_string();
        assert_eq!(first, format!("cwd marker \"found\" in {}", sub.display()), "{engine}");
        // An explicit PWD wins.
        let extra = [
            "--dir",
            &format!("{dir}::/d"),
            "--env",
            "TMPDIR=/d",
            "--env",
            "FILES_CWD_MARKER=marker.txt",
            "--env",
            "PWD=/d/work",
        ];
        let out = run_in(engine, &extra, &fixture("files"), |_| {});
        assert_eq!(out.status.code(), Some(0), "{engine}: {}{}", stdout(&out), stderr(&out));
        assert!(
            stdout(&out).starts_with("cwd marker \"found\" in /d/work\n"),
            "{engine}: {}",
            stdout(&out)
        );
    }
}

/// `--dir-ro`: reading works, every change fails with "read-only file system", and the host
/// directory is left untouched.
#[test]
fn dir_ro_refuses_changes() {
    for engine in engines() {
        let tmp = TempDir::new(&format!("ro-{engine}"));
        std::fs::write(tmp.path().join("marker.txt"), "read me").unwrap();
        let spec = format!("{}::/ro", tmp.path().display());
        let extra = [
            "--dir-ro",
            &spec,
            "--env",
            "TMPDIR=/ro",
            "--env",
            "FILES_CWD_MARKER=marker.txt",
            "--env",
            "PWD=/ro",
        ];
        let out = run_in(engine, &extra, &fixture("files"), |_| {});
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(1), "{engine}: {text}{}", stderr(&out));
        assert!(text.starts_with("cwd marker \"read me\" in /ro\n"), "{engine}: {text}");
        assert!(
            text.contains("FAIL MkdirTemp") && text.to_lowercase().contains("read-only file system"),
            "{engine}: {text}"
        );
        let entries: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
        assert_eq!(entries.len(), 1, "{engine}: nothing created");
    }
}

/// A `--dir` that cannot be opened is a host failure: exit 1, exactly one `error:` line naming it.
#[test]
fn dir_missing_is_one_error_line() {
    let tmp = TempDir::new("missing");
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let missing = tmp.path().join("no-such-dir");
    for engine in engines() {
        for (flag, host) in [("--dir", &missing), ("--dir-ro", &missing), ("--dir", &file)] {
            let spec = format!("{}::/data", host.display());
            let out = run_in(engine, &[flag, &spec], &fixture("hello"), |_| {});
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(1), "{engine} {flag} {spec}: {err}");
            assert_eq!(stdout(&out), "", "{engine}: the guest did not run");
            let lines: Vec<&str> = err.lines().collect();
            assert_eq!(lines.len(), 1, "{engine}: exactly one line expected:\n{err}");
            assert!(lines[0].starts_with("error: "), "{err}");
            assert!(lines[0].contains(&host.display().to_string()), "{engine}: {err}");
        }
    }
    let out = run(None, &["--dir", "::/data"], &fixture("hello"));
    assert_eq!(out.status.code(), Some(2), "a malformed --dir is a usage error: {}", stderr(&out));
}

/// `--inherit-env` passes the host's environment; `--env` overrides it.
#[test]
fn inherit_env_with_env_overriding() {
    let args = ["--", "first", "héllo wörld", "--flag=value"];
    for engine in engines() {
        let set_host_env = |cmd: &mut Command| {
            cmd.env("FIXTURE_GREETING", "from the host, overridden")
                .env("FIXTURE_UNICODE", "ünïcödé ✓")
                .env("FIXTURE_EMPTY", "")
                .env_remove("FIXTURE_UNSET");
        };
        let mut extra = vec!["--inherit-env", "--env", "FIXTURE_GREETING=hello from env"];
        extra.extend(args);
        let out = run_in(engine, &extra, &fixture("args-env"), set_host_env);
        assert_eq!(out.status.code(), Some(0), "{engine}: {}", stderr(&out));
        assert_eq!(stdout(&out), expected_stdout("args-env"), "{engine}");
        // Without the flag, the host's variables do not reach the guest.
        let out = run_in(engine, &args, &fixture("args-env"), set_host_env);
        assert!(
            stdout(&out).contains("env FIXTURE_UNICODE is unset\n"),
            "{engine}: {}",
            stdout(&out)
        );
    }
}

/// The process's stdin reaches the guest, read line by line.
#[test]
fn stdin_is_the_guests() {
    let input = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../guests/programs/stdin-lines/expected/stdin")).unwrap();
    for engine in engines() {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_go-reactor"));
        cmd.env(
            "GO_REACTOR_CACHE_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-module-cache"),
        )
        .args(["run", "--engine", engine.name()])
        .arg(fixture("stdin-lines"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let feed = input.clone();
        let writer = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &feed));
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        assert_eq!(out.status.code(), Some(0), "{engine}: {}", stderr(&out));
        assert_eq!(stdout(&out), expected_stdout("stdin-lines"), "{engine}");
    }
}

/// A reactor that recurses 20,000 calls deep (see the file).
const DEEP_RECURSION: &str = include_str!("../../tests/wat/deep-recursion.wat");

/// `--max-wasm-stack`: the default (8 MiB) runs a deep guest on every engine (on wasmtime that
/// needs the run thread's big native stack); 256 KiB makes it a stack-overflow trap, exit 2.
/// A malformed size is a usage error.
#[test]
fn max_wasm_stack() {
    let tmp = TempDir::new("stack");
    let deep = tmp.path().join("deep.wasm");
    std::fs::write(&deep, wat::parse_str(DEEP_RECURSION).unwrap()).unwrap();
    for engine in engines() {
        let out = run_in(engine, &[], &deep, |_| {});
        assert_eq!(out.status.code(), Some(0), "{engine}: {}", stderr(&out));
        let out = run_in(engine, &["--max-wasm-stack", "16MiB"], &deep, |_| {});
        assert_eq!(out.status.code(), Some(0), "{engine}: {}", stderr(&out));
        let out = run_in(engine, &["--max-wasm-stack", "256KiB"], &deep, |_| {});
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{engine}: {err}");
        assert!(err.starts_with("error: ") && err.contains("stack overflow"), "{engine}: {err}");
    }
    for bad in ["12XB", "0", "-1", "lots"] {
        let out = run(None, &["--max-wasm-stack", bad], &deep);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", stderr(&out));
    }
}
