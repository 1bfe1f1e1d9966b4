// TEMPORARY smoke test (deleted before hand-off).
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use reactor_api::{Completion, Error, FuncType, HostFunc, Limits, Module, ReactorConfig, Val, ValType, WasmEngine};
use reactor_wasmi::WasmiEngine;

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);
impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
impl Buf {
    fn string(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

const G: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../guests");

fn expected(name: &str, f: &str) -> Option<String> {
    std::fs::read_to_string(format!("{G}/programs/{name}/expected/{f}")).ok()
}

fn run_fixture(engine: &WasmiEngine, name: &str) {
    let bytes = std::fs::read(format!("{G}/wasm/{name}.wasm")).unwrap();
    let t0 = Instant::now();
    let module = Module::new(engine, &bytes).unwrap();
    let t_compile = t0.elapsed();
    let (out, err) = (Buf::default(), Buf::default());
    let mut cfg = ReactorConfig::new().arg(name).stdout(out.clone()).stderr(err.clone());
    if let Some(args) = expected(name, "args") {
        cfg = cfg.args(args.lines());
    }
    if let Some(env) = expected(name, "env") {
        for l in env.lines() {
            let (k, v) = l.split_once('=').unwrap();
            cfg = cfg.env(k, v);
        }
    }
    let logged = Arc::new(Mutex::new(Vec::<String>::new()));
    if name == "hostcall" {
        cfg = cfg.import(HostFunc::new(
            "env",
            "host_add",
            FuncType::new([ValType::I32; 2], [ValType::I32]),
            |_c, a, r| {
                r[0] = Val::I32(a[0].i32().unwrap() + a[1].i32().unwrap());
                Ok(())
            },
        ));
        let l2 = logged.clone();
        cfg = cfg.import(HostFunc::new(
            "env",
            "host_log",
            FuncType::new([ValType::I32; 2], []),
            move |c, a, _r| {
                let s = c.read_str(a[0].i32().unwrap() as u32, a[1].i32().unwrap() as u32)?;
                l2.lock().unwrap().push(s);
                Ok(())
            },
        ));
    }
    let t1 = Instant::now();
    let mut reactor = module.instantiate(cfg).unwrap();
    let r = reactor_api::run(&mut reactor);
    let t_run = t1.elapsed();
    let exit = expected(name, "exit").unwrap();
    match exit.trim() {
        "deadlock" | "idle" => assert!(matches!(r, Ok(Completion::Idle)), "{name}: {r:?}"),
        code if name == "panic" => {
            let _ = code;
            match &r {
                Err(Error::GuestPanic { stderr, .. }) => {
                    for l in expected(name, "stderr-contains").unwrap().lines() {
                        assert!(stderr.contains(l), "{name}: stderr lacks {l:?}: {stderr}");
                    }
                }
                other => panic!("{name}: {other:?}"),
            }
        }
        code => {
            let code: i32 = code.parse().unwrap();
            let got = r.as_ref().map(|c| c.exit_code()).unwrap_or_else(|e| e.exit_code());
            assert_eq!(got, Some(code), "{name}: {r:?} stderr={}", err.string());
        }
    }
    let stdout = out.string();
    if let Some(want) = expected(name, "stdout") {
        assert_eq!(stdout, want, "{name} stdout");
    }
    if name == "stdout-big" {
        let (body, last) = stdout.trim_end().rsplit_once('\n').unwrap();
        let body = format!("{body}\n");
        let mut child = std::process::Command::new("sha256sum")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(body.as_bytes()).unwrap();
        let sum = String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap();
        let sum = sum.split_whitespace().next().unwrap();
        assert_eq!(last, format!("sha256 {sum} bytes {}", body.len()));
    }
    if name == "hostcall" {
        assert_eq!(*logged.lock().unwrap(), vec!["hello from go".to_string()]);
    }
    if name == "exports" {
        use reactor_api::Reactor;
        assert_eq!(reactor.call("add", &[Val::I32(2), Val::I32(40)]).unwrap(), vec![Val::I32(42)]);
        assert_eq!(reactor.call("add_i64", &[Val::I64(2), Val::I64(40)]).unwrap(), vec![Val::I64(42)]);
        assert_eq!(
            reactor.call("mul_f64", &[Val::F64(1.5), Val::F64(4.0)]).unwrap(),
            vec![Val::F64(6.0)]
        );
        assert_eq!(
            reactor.call("scale_f32", &[Val::F32(1.5), Val::F32(4.0)]).unwrap(),
            vec![Val::F32(6.0)]
        );
    }
    eprintln!("{name}: compile {:?}, instantiate+run {:?}", t_compile, t_run);
}

#[test]
fn fixtures() {
    let engine = if std::env::var("NOFUEL").is_ok() {
        WasmiEngine::without_fuel()
    } else {
        WasmiEngine::new()
    };
    let only = std::env::var("FIXTURES").ok();
    for name in [
        "hello",
        "timers",
        "exit",
        "panic",
        "deadlock",
        "busy",
        "args-env",
        "stdout-big",
        "exports",
        "hostcall",
        "initsleep",
        "legacy-hello",
        "cpu",
    ] {
        if let Some(o) = &only {
            if !o.split(',').any(|x| x == name) {
                continue;
            }
        }
        run_fixture(&engine, name);
    }
}

#[test]
fn fuel_engine_fixtures() {
    if std::env::var("FUEL").is_err() {
        return;
    }
    let engine = WasmiEngine::new();
    for name in std::env::var("FUEL").unwrap().split(',') {
        run_fixture(&engine, name);
    }
}

#[test]
fn modes() {
    let Ok(m) = std::env::var("MODES") else {
        return;
    };
    let bytes = std::fs::read(format!("{G}/wasm/{m}.wasm")).unwrap();
    for mode in [
        wasmi::CompilationMode::Eager,
        wasmi::CompilationMode::LazyTranslation,
        wasmi::CompilationMode::Lazy,
    ] {
        let mut c = wasmi::Config::default();
        c.compilation_mode(mode);
        let engine = WasmiEngine::with_config(&c);
        let t0 = Instant::now();
        let module = Module::new(&engine, &bytes).unwrap();
        let tc = t0.elapsed();
        let t1 = Instant::now();
        let mut reactor = module.instantiate(ReactorConfig::new().arg("x").stdout(Buf::default())).unwrap();
        let r = reactor_api::run(&mut reactor);
        eprintln!("{mode:?}: compile {tc:?} run {:?} {r:?}", t1.elapsed());
    }
}

#[test]
fn limits() {
    let bytes = std::fs::read(format!("{G}/wasm/busy.wasm")).unwrap();
    let engine = WasmiEngine::without_fuel();
    assert!(!engine.info().capabilities.fuel);
    let module = Module::new(&engine, &bytes).unwrap();
    let e = module
        .instantiate(ReactorConfig::new().limits(Limits {
            fuel_per_tick: Some(1000),
            ..Limits::default()
        }))
        .unwrap_err();
    eprintln!("{e}");
    assert!(matches!(e, Error::Unsupported { .. }));
    let e = module
        .instantiate(ReactorConfig::new().limits(Limits {
            tick_deadline: Some(std::time::Duration::from_millis(5)),
            ..Limits::default()
        }))
        .unwrap_err();
    eprintln!("{e}");
    assert!(matches!(e, Error::Unsupported { .. }));
    // memory cap below the initial size
    let e = module.instantiate(ReactorConfig::new().max_memory_bytes(64 * 1024)).unwrap_err();
    eprintln!("{e}");

    let engine = WasmiEngine::new();
    assert!(engine.info().capabilities.fuel);
    let module = Module::new(&engine, &bytes).unwrap();
    let t = Instant::now();
    let mut r = module
        .instantiate(ReactorConfig::new().stdout(Buf::default()).limits(Limits {
            fuel_per_tick: Some(2_000_000_000),
            ..Limits::default()
        }))
        .unwrap();
    let res = reactor_api::run(&mut r);
    eprintln!("busy with fuel 2G/tick: {res:?} in {:?}", t.elapsed());
    let res = module
        .instantiate(ReactorConfig::new().stdout(Buf::default()).limits(Limits {
            fuel_per_tick: Some(100_000),
            ..Limits::default()
        }))
        .map(|_| ());
    eprintln!("busy with fuel 100k/tick: {res:?}");
    match res {
        Err(Error::Trap { trap, .. }) => assert_eq!(trap.kind, reactor_api::TrapKind::OutOfFuel),
        other => panic!("{other:?}"),
    }
}

#[test]
fn fuel_probe() {
    let Ok(name) = std::env::var("PROBE") else {
        return;
    };
    let bytes = std::fs::read(format!("{G}/wasm/{name}.wasm")).unwrap();
    for mode in [wasmi::CompilationMode::Eager, wasmi::CompilationMode::LazyTranslation] {
        let mut c = wasmi::Config::default();
        c.compilation_mode(mode).consume_fuel(true);
        let engine = WasmiEngine::with_config(&c);
        let module = Module::new(&engine, &bytes).unwrap();
        for fuel in [1_000_000u64, 10_000_000, 100_000_000, 1_000_000_000, 10_000_000_000] {
            let t = Instant::now();
            let mut r = match module.instantiate(ReactorConfig::new().stdout(Buf::default()).limits(Limits {
                fuel_per_tick: Some(fuel),
                ..Limits::default()
            })) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("{mode:?} fuel {fuel}: init {e} in {:?}", t.elapsed());
                    continue;
                }
            };
            let res = reactor_api::run(&mut r);
            use reactor_api::Reactor;
            eprintln!(
                "{mode:?} fuel {fuel}: {:?} in {:?} stats {:?}",
                res.map_err(|e| e.to_string()),
                t.elapsed(),
                r.stats()
            );
        }
    }
}

#[test]
fn memory_cap() {
    let bytes = std::fs::read(format!("{G}/wasm/cpu.wasm")).unwrap();
    let engine = WasmiEngine::new();
    let module = Module::new(&engine, &bytes).unwrap();
    let Some(reactor_api::ExternType::Memory { min_pages, max_pages }) = module.info().export("memory").cloned() else {
        panic!()
    };
    eprintln!("memory: {min_pages} pages, max {max_pages:?}");
    let cap = min_pages * 65536 + (4 << 20);
    let err = Buf::default();
    let mut r = module
        .instantiate(
            ReactorConfig::new()
                .stdout(Buf::default())
                .stderr(err.clone())
                .max_memory_bytes(cap),
        )
        .unwrap();
    let res = reactor_api::run(&mut r);
    eprintln!("cpu with {cap} bytes: {res:?}");
    use reactor_api::Reactor;
    eprintln!("memory now {} <= {cap}", r.memory_size());
    assert!(r.memory_size() <= cap);
    assert!(res.is_err());
}
