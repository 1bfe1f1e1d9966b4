//! The web demo's Rust side: runs a Go reactor with go-reactor's web backend and reports its
//! output and every `go_tick` result to the page's JavaScript (`examples/web/main.js`).
//!
//! Build and serve it with `scripts/web-demo.sh build` and `scripts/web-demo.sh serve`.
#![cfg(all(target_arch = "wasm32", target_os = "unknown"))]

use std::ops::ControlFlow;

use go_reactor::engines::{JsSink, WebEngine};
use go_reactor::{Completion, LoopResult, ReactorConfig, RunOptions, run_async_with};
use js_sys::Function;
use wasm_bindgen::prelude::*;

/// How the page shows one `go_tick` result.
fn describe(r: LoopResult) -> String {
    match r {
        LoopResult::Ready => "ready".into(),
        LoopResult::Idle => "idle".into(),
        LoopResult::Timer(d) => format!("timer {} ms", d.as_millis()),
    }
}

/// Compiles and runs the Go reactor `wasm` (named `name`, its `os.Args[0]`) on the page's event
/// loop. Calls `on_output(text)` for everything it writes to stdout or stderr and
/// `on_tick(description)` after every `go_tick`, and resolves to how the program ended.
#[wasm_bindgen]
pub async fn run_reactor(name: String, wasm: Vec<u8>, on_output: Function, on_tick: Function) -> Result<String, JsError> {
    let module = WebEngine::new().compile_async(&wasm).await?;
    let config = ReactorConfig::new()
        .arg(&name)
        .stdout(JsSink::new(on_output.clone()))
        .stderr(JsSink::new(on_output));
    let mut reactor = module.instantiate(config)?;
    let report = |r: LoopResult| {
        // The page's callback failing must not stop the guest.
        let _ = on_tick.call1(&JsValue::UNDEFINED, &JsValue::from_str(&describe(r)));
        ControlFlow::Continue(())
    };
    Ok(match run_async_with(&mut reactor, RunOptions::new().on_tick(report)).await? {
        Completion::Exited(code) => format!("exited with code {code}"),
        Completion::Idle => "idle: main is blocked (deadlock)".into(),
        Completion::Finished => "finished".into(),
        Completion::Cancelled => "cancelled".into(),
        other => format!("{other:?}"),
    })
}
