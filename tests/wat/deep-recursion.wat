;; A reactor whose go_tick recurses 20,000 calls deep with four values live across each call,
;; so every engine keeps a real frame per level: more than 256 KiB of wasm stack on every engine,
;; well within 8 MiB. Used by tests/hostile.rs (EngineOptions::max_wasm_stack) and
;; cli/tests/cli.rs (--max-wasm-stack).
(module
  (memory (export "memory") 1)
  (func (export "_initialize"))
  (func (export "go_start_main"))
  (func $deep (param $n i32) (param $a i64) (param $b i64) (param $c i64) (param $d i64) (result i64)
    (if (result i64) (i32.eqz (local.get $n))
      (then (i64.const 0))
      (else (i64.add
        (call $deep (i32.sub (local.get $n) (i32.const 1))
          (i64.add (local.get $a) (i64.const 1)) (i64.add (local.get $b) (i64.const 2))
          (i64.add (local.get $c) (i64.const 3)) (i64.add (local.get $d) (i64.const 4)))
        (i64.add (i64.add (local.get $a) (local.get $b)) (i64.add (local.get $c) (local.get $d)))))))
  (func (export "go_tick") (result i32)
    (drop (call $deep (i32.const 20000) (i64.const 1) (i64.const 2) (i64.const 3) (i64.const 4)))
    (i32.const -1)))
