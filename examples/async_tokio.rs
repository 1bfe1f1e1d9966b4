//! Runs two reactors concurrently on one tokio thread with the executor-agnostic async loop,
//! while a host task keeps running beside them.
//!
//! `cargo run --example async_tokio`

use go_reactor::wasi_min::sink::SharedBuffer;
use go_reactor::{DefaultEngine, Module, ReactorConfig, run_async};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), go_reactor::Error> {
    let engine = DefaultEngine::default();
    let timers = Module::from_file(&engine, "guests/wasm/timers.wasm")?;
    let hello = Module::from_file(&engine, "guests/wasm/hello.wasm")?;

    let (out_a, out_b) = (SharedBuffer::new(), SharedBuffer::new());
    let mut a = timers.instantiate(ReactorConfig::new().arg("timers").stdout(out_a.clone()))?;
    let mut b = hello.instantiate(ReactorConfig::new().arg("hello").stdout(out_b.clone()))?;

    let heartbeat = async {
        for i in 0..3 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            println!("[host] heartbeat {i} while Go sleeps");
        }
    };
    let (ra, rb, ()) = tokio::join!(run_async(&mut a), run_async(&mut b), heartbeat);
    println!("[host] timers: {:?}, hello: {:?}", ra?, rb?);
    print!(
        "--- timers stdout ---\n{}--- hello stdout ---\n{}",
        out_a.to_string_lossy(),
        out_b.to_string_lossy()
    );
    Ok(())
}
