//! Drives the Go scheduler by hand with `tick()`, as a game loop or another event loop would:
//! the host decides when Go runs and does its own work in between.
//!
//! `cargo run --example manual_loop`

use std::time::{Duration, Instant};

use go_reactor::{DefaultEngine, Error, LoopResult, Module, Reactor, ReactorConfig};

fn main() -> Result<(), Error> {
    let engine = DefaultEngine::default();
    let module = Module::from_file(&engine, "guests/wasm/timers.wasm")?;
    let mut reactor = module.instantiate(ReactorConfig::new().arg("timers"))?;
    reactor.start_main()?;

    let frame = Duration::from_millis(16);
    let mut next_go = Instant::now();
    for frame_no in 0.. {
        let frame_start = Instant::now();
        // Host work for this frame would go here.
        if Instant::now() >= next_go {
            match reactor.tick() {
                Ok(LoopResult::Ready) => next_go = Instant::now(),
                Ok(LoopResult::Timer(d)) => next_go = Instant::now() + d,
                Ok(LoopResult::Idle) => {
                    println!("[host] frame {frame_no}: Go is idle");
                    break;
                }
                Err(Error::Exited { code }) => {
                    println!("[host] frame {frame_no}: Go exited with {code}");
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        std::thread::sleep(frame.saturating_sub(frame_start.elapsed()));
    }
    println!("[host] {:?}", reactor.stats());
    Ok(())
}
