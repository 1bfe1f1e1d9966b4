//! Tests on small WAT modules (every rewrite's output validated and read back) and on hostile
//! inputs (never a panic).

use super::*;

fn validate(wasm: &[u8]) {
    wasmparser::Validator::new().validate_all(wasm).expect("rewritten module is valid");
}

/// (offset, bytes) of each active data segment.
fn segments(wasm: &[u8]) -> Vec<(u64, Vec<u8>)> {
    plain_segments(wasm)
        .unwrap()
        .unwrap()
        .into_iter()
        .map(|(o, d)| (o, d.to_vec()))
        .collect()
}

/// Initial memory as the segments write it.
fn image(wasm: &[u8], len: usize) -> Vec<u8> {
    let mut mem = vec![0; len];
    for (o, d) in segments(wasm) {
        mem[o as usize..o as usize + d.len()].copy_from_slice(&d);
    }
    mem
}

fn memory_limits(wasm: &[u8]) -> (u64, Option<u64>) {
    for p in Parser::new(0).parse_all(wasm) {
        if let Payload::MemorySection(r) = p.unwrap() {
            let m = r.into_iter().next().unwrap().unwrap();
            return (m.initial, m.maximum);
        }
    }
    panic!("no memory")
}

fn exports(wasm: &[u8]) -> Vec<(String, wasmparser::ExternalKind, u32)> {
    let mut out = Vec::new();
    for p in Parser::new(0).parse_all(wasm) {
        if let Payload::ExportSection(r) = p.unwrap() {
            for e in r {
                let e = e.unwrap();
                out.push((e.name.to_string(), e.kind, e.index));
            }
        }
    }
    out
}

const GO_LIKE: &str = r#"(module
  (import "wasi_snapshot_preview1" "sched_yield" (func $y (result i32)))
  (memory (export "memory") 2 100)
  (global $sp (mut i32) (i32.const 65536))
  (global $c i64 (i64.const 7))
  (global $g (mut i64) (i64.const -3))
  (global $f (mut f64) (f64.const 1.5))
  (func (export "go_tick") (result i32) (global.set $sp (i32.add (global.get $sp) (i32.const 1))) (global.get $sp))
  (data (i32.const 16) "abc")
  (data (i32.const 1000) "defg")
  (data (i32.const 8) "xy")
  (data (i32.const 20000) "far")
  (@custom "name-ish" "keep me"))"#;

#[test]
fn data_segments_are_merged_without_changing_memory() {
    let wasm = wat::parse_str(GO_LIKE).unwrap();
    let merged = merge_data_segments(&wasm, 4096).unwrap().expect("merged");
    validate(&merged);
    assert_eq!(segments(&merged).len(), 2);
    assert_eq!(segments(&merged)[0].0, 8);
    assert_eq!(image(&merged, 1 << 17), image(&wasm, 1 << 17));
    assert_eq!(exports(&merged), exports(&wasm));
    assert_eq!(custom_section(&merged, "name-ish").unwrap().as_deref(), Some(&b"keep me"[..]));
    // Nothing to merge, overlapping, computed offset, passive: left alone.
    assert!(merge_data_segments(&wasm, 0).unwrap().is_none());
    for unchanged in [
        r#"(module (memory 1) (data (i32.const 0) "abcd") (data (i32.const 2) "x"))"#,
        r#"(module (memory 1) (global i32 (i32.const 0)) (data (global.get 0) "a") (data (i32.const 2) "x"))"#,
        r#"(module (memory 1) (data "a") (data (i32.const 2) "x"))"#,
    ] {
        assert!(
            merge_data_segments(&wat::parse_str(unchanged).unwrap(), 4096).unwrap().is_none(),
            "{unchanged}"
        );
    }
}

#[test]
fn memory_is_capped() {
    let wasm = wat::parse_str(GO_LIKE).unwrap();
    let capped = cap_memory(&wasm, 10).unwrap();
    validate(&capped);
    assert_eq!(memory_limits(&capped), (2, Some(10)));
    assert_eq!(memory_limits(&cap_memory(&wasm, 1000).unwrap()), (2, Some(100)));
    let unbounded = wat::parse_str(r#"(module (memory 3))"#).unwrap();
    assert_eq!(memory_limits(&cap_memory(&unbounded, 5).unwrap()), (3, Some(5)));
    assert!(matches!(cap_memory(&wasm, 1), Err(Error::MemoryCap { max_pages: 1, initial: 2 })));
    let no_memory = wat::parse_str(r#"(module (import "a" "m" (memory 1)))"#).unwrap();
    assert!(matches!(cap_memory(&no_memory, 5), Err(Error::NoMemory)));
}

#[test]
fn accessors_are_added_after_existing_functions() {
    let wasm = wat::parse_str(GO_LIKE).unwrap();
    let globals = mutable_globals(&wasm).unwrap();
    assert_eq!(
        globals,
        [
            MutableGlobal {
                index: 0,
                ty: GlobalType::I32
            },
            MutableGlobal {
                index: 2,
                ty: GlobalType::I64
            },
            MutableGlobal {
                index: 3,
                ty: GlobalType::F64
            },
        ]
    );
    let (out, got) = add_state_accessors(&wasm).unwrap();
    assert_eq!(got, globals);
    validate(&out);
    let ex = exports(&out);
    // The original exports are unchanged; one import + one defined function come first.
    assert_eq!(&ex[..2], &exports(&wasm)[..]);
    let names: Vec<&str> = ex[2..].iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "__go_reactor_global_get_0",
            "__go_reactor_global_set_0",
            "__go_reactor_global_get_2",
            "__go_reactor_global_set_2",
            "__go_reactor_global_get_3",
            "__go_reactor_global_set_3",
            MEMORY_GROW
        ]
    );
    assert_eq!(ex[2].2, 2, "new functions are numbered after the imported and defined ones");
    assert!(custom_section(&out, ACCESSORS_SECTION).unwrap().is_some());
    assert_eq!(image(&out, 1 << 17), image(&wasm, 1 << 17));
    // Twice is refused (the names would clash).
    assert!(matches!(add_state_accessors(&out), Err(Error::Unsupported(_))));
}

#[test]
fn accessors_are_added_to_a_module_without_functions_or_exports() {
    let wasm = wat::parse_str(r#"(module (memory 1) (global (mut i32) (i32.const 5)))"#).unwrap();
    let (out, globals) = add_state_accessors(&wasm).unwrap();
    validate(&out);
    assert_eq!(globals.len(), 1);
    assert_eq!(exports(&out).len(), 3);
}

#[test]
fn state_is_written_into_data_and_globals() {
    let wasm = wat::parse_str(GO_LIKE).unwrap();
    let mut memory = vec![0u8; 3 * PAGE_SIZE as usize];
    memory[5] = 1;
    memory[5 + STATE_GAP] = 2; // same segment (a gap of STATE_GAP - 1 zeros)
    memory[5 + 3 * STATE_GAP] = 3; // a new one
    memory[3 * PAGE_SIZE as usize - 1] = 4;
    let globals = [(0, GlobalValue::I32(-9)), (3, GlobalValue::F64(2.5f64.to_bits()))];
    let out = write_state(&wasm, &memory, &globals, &[("go-reactor.preinit", b"v1")]).unwrap();
    validate(&out);
    assert_eq!(image(&out, memory.len()), memory, "the data segments write exactly the image");
    assert_eq!(segments(&out).len(), 3);
    assert_eq!(memory_limits(&out), (3, Some(100)));
    assert_eq!(custom_section(&out, "go-reactor.preinit").unwrap().as_deref(), Some(&b"v1"[..]));
    // Global initializers: read them back.
    let mut inits = Vec::new();
    for p in Parser::new(0).parse_all(&out) {
        if let Payload::GlobalSection(r) = p.unwrap() {
            for g in r {
                let op = g.unwrap().init_expr.get_operators_reader().read().unwrap();
                inits.push(format!("{op:?}"));
            }
        }
    }
    assert_eq!(inits[0], "I32Const { value: -9 }");
    assert_eq!(inits[1], "I64Const { value: 7 }");
    assert_eq!(inits[2], "I64Const { value: -3 }");
    assert!(inits[3].contains(&format!("{}", 2.5f64.to_bits())), "{}", inits[3]);
    // Writing again replaces the marker rather than adding a second one.
    let again = write_state(&out, &memory, &[], &[("go-reactor.preinit", b"v2")]).unwrap();
    let markers = Parser::new(0)
        .parse_all(&again)
        .filter(|p| matches!(p, Ok(Payload::CustomSection(c)) if c.name() == "go-reactor.preinit"))
        .count();
    assert_eq!(markers, 1);
}

#[test]
fn bad_state_is_refused() {
    let wasm = wat::parse_str(GO_LIKE).unwrap();
    let page = vec![0u8; PAGE_SIZE as usize];
    assert!(matches!(
        write_state(&wasm, &page, &[(1, GlobalValue::I64(0))], &[]),
        Err(Error::Global { index: 1, .. })
    ));
    assert!(matches!(
        write_state(&wasm, &page, &[(0, GlobalValue::I64(0))], &[]),
        Err(Error::Global { index: 0, .. })
    ));
    assert!(matches!(write_state(&wasm, &page[1..], &[], &[]), Err(Error::Unsupported(_))));
    let big = vec![0u8; 101 * PAGE_SIZE as usize];
    assert!(matches!(write_state(&wasm, &big, &[], &[]), Err(Error::Unsupported(_))));
}

#[test]
fn nonzero_runs_cover_exactly_the_nonzero_bytes() {
    let runs: Vec<_> = nonzero_runs(&[0, 1, 0, 0, 2, 0, 0, 0, 0, 3, 0], 2).collect();
    assert_eq!(runs, [(1, 5), (9, 10)]);
    assert_eq!(nonzero_runs(&[0; 10], 2).count(), 0);
    assert_eq!(nonzero_runs(&[], 2).count(), 0);
    assert_eq!(nonzero_runs(&[7; 3], 0).collect::<Vec<_>>(), [(0, 3)]);
}

/// A small deterministic generator (no dependency): the same inputs every run.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn hostile_inputs_are_errors_never_panics() {
    let good = wat::parse_str(GO_LIKE).unwrap();
    let mut inputs: Vec<Vec<u8>> = vec![
        vec![],
        b"\0asm".to_vec(),
        b"\0asm\x01\0\0\0".to_vec(),
        b"\0asm\x0d\0\x01\0".to_vec(), // a component
        b"not wasm at all".to_vec(),
    ];
    for cut in [9, 20, good.len() / 2, good.len() - 1] {
        inputs.push(good[..cut].to_vec());
    }
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..3000 {
        let mut m = good.clone();
        for _ in 0..1 + xorshift(&mut rng) % 4 {
            let at = 8 + (xorshift(&mut rng) as usize) % (m.len() - 8);
            m[at] = xorshift(&mut rng) as u8;
        }
        inputs.push(m);
    }
    let page = vec![1u8; PAGE_SIZE as usize];
    for input in &inputs {
        let _ = merge_data_segments(input, 4096);
        let _ = cap_memory(input, 10);
        let _ = add_state_accessors(input);
        let _ = mutable_globals(input);
        let _ = custom_section(input, "x");
        let _ = write_state(input, &page, &[(0, GlobalValue::I32(1))], &[]);
    }
}

#[test]
fn go_reactor_fixture_round_trips() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../guests/wasm/hello.wasm");
    let wasm = std::fs::read(path).expect("guests/wasm/hello.wasm is committed");
    let (out, globals) = add_state_accessors(&wasm).unwrap();
    validate(&out);
    assert_eq!(globals.len(), 8, "a Go reactor has eight mutable globals");
    let merged = merge_data_segments(&wasm, 4096).unwrap().expect("Go's segments merge");
    validate(&merged);
    assert!(segments(&merged).len() < segments(&wasm).len() / 10);
    validate(&cap_memory(&wasm, 1 << 14).unwrap());
}

#[test]
fn constant_export_is_added() {
    let wasm = wat::parse_str(GO_LIKE).unwrap();
    let out = export_constant(&wasm, "marker", 1).unwrap();
    validate(&out);
    assert_eq!(exports(&out).last().unwrap().0, "marker");
    assert!(matches!(export_constant(&out, "marker", 1), Err(Error::Unsupported(_))));
}
