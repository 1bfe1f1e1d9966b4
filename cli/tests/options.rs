//! The `go-reactor` options that change what the guest sees or what is printed: `--env` and
//! guest arguments (checked against native Go's output of the same program), `--max-memory`
//! accepted where the engine enforces it, `engines`, and `bench --json`.

use std::path::{Path, PathBuf};
use std::process::Output;

use go_reactor::EngineKind;

fn guests() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../guests")
}

/// `go-reactor ARGS...` with a compiled-code cache of this test binary's own.
fn go_reactor(args: &[&str]) -> Output {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_go-reactor"))
        .env_remove("GO_REACTOR_LOG")
        .env(
            "GO_REACTOR_CACHE_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-options-cache"),
        )
        .args(args)
        .output()
        .expect("cannot start go-reactor");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked at"), "a Rust panic in the host:\n{stderr}");
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn lines(path: PathBuf) -> Vec<String> {
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn env_and_guest_args_reach_the_guest() {
    let expected = guests().join("programs/args-env/expected");
    let want = std::fs::read(expected.join("stdout")).expect("expected/stdout");
    let (args, env) = (lines(expected.join("args")), lines(expected.join("env")));
    let program = guests().join("wasm/args-env.wasm");
    for engine in EngineKind::available() {
        let mut cmd = vec!["run", "--engine", engine.name()];
        for kv in &env {
            cmd.extend(["--env", kv.as_str()]);
        }
        cmd.push(program.to_str().expect("a UTF-8 path"));
        cmd.push("--");
        cmd.extend(args.iter().map(String::as_str));
        let out = go_reactor(&cmd);
        assert_eq!(out.status.code(), Some(0), "{engine}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), text(&want), "{engine}: the output native Go printed");
    }
}

#[test]
fn max_memory_is_enforced_or_refused() {
    let hello = guests().join("wasm/hello.wasm");
    for engine in EngineKind::available() {
        let out = go_reactor(&[
            "run",
            "--engine",
            engine.name(),
            "--max-memory",
            "64",
            hello.to_str().expect("UTF-8"),
        ]);
        let caps = engine.info().expect("a compiled-in engine").capabilities;
        if caps.memory_limit {
            assert_eq!(out.status.code(), Some(0), "{engine}: {}", text(&out.stderr));
            assert_eq!(text(&out.stdout), "Hello from Go WASI reactor!\n", "{engine}");
        } else {
            assert_eq!(out.status.code(), Some(1), "{engine}");
            assert_eq!(
                text(&out.stderr),
                format!("error: {} does not support memory limits\n", engine.name())
            );
        }
    }
}

#[test]
fn engines_lists_each_compiled_in_engine() {
    let out = go_reactor(&["engines"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let rows: Vec<Vec<&str>> = stdout.lines().map(|l| l.split_whitespace().collect()).collect();
    let available = EngineKind::available();
    assert_eq!(rows.len(), available.len(), "{stdout}");
    for (row, kind) in rows.iter().zip(available) {
        let info = kind.info().expect("a compiled-in engine");
        let c = info.capabilities;
        let mut want = vec![
            info.name.to_string(),
            info.version.to_string(),
            format!("{:?}", info.kind).to_lowercase(),
        ];
        for (yes, word) in [
            (c.memory_limit, "memory-limit"),
            (c.fuel, "fuel"),
            (c.deadline, "deadline"),
            (c.serialize, "module-cache"),
            (c.send, "send"),
        ] {
            if yes {
                want.push(word.to_string());
            }
        }
        assert_eq!(row, &want, "{stdout}");
    }
}

#[test]
fn bench_json_reports_every_engine() {
    let hello = guests().join("wasm/hello.wasm");
    let out = go_reactor(&["bench", "--runs", "1", "--json", hello.to_str().expect("UTF-8")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("bench --json prints JSON");
    assert_eq!(report["runs"], 1);
    let engines = report["engines"].as_array().expect("an engines array");
    let names: Vec<&str> = engines.iter().filter_map(|e| e["engine"].as_str()).collect();
    let available: Vec<&str> = EngineKind::available().into_iter().map(EngineKind::name).collect();
    assert_eq!(names, available);
    for e in engines {
        assert_eq!(e["error"], serde_json::Value::Null, "{e}");
        let samples = e["samples"].as_array().expect("a samples array");
        assert_eq!(samples.len(), 1, "{e}");
        assert_eq!(samples[0]["outcome"], "exit 0", "{e}");
        assert!(samples[0]["ticks"].as_u64().is_some_and(|t| t >= 1), "{e}");
    }
}
