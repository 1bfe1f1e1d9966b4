//! A minimal WASI preview1 layer for hosting Go reactors, independent of any WebAssembly engine.
//!
//! It is written once against the [`GuestMemory`] trait and shared by every go-reactor backend:
//! a backend only forwards `wasi_snapshot_preview1` imports to [`preview1::FUNCTIONS`] with a
//! view of the guest's memory and the instance's [`WasiCtx`].
//!
//! What the guest gets: arguments, environment, stdout/stderr ([`sink`]), a stdin that never
//! blocks the host thread ([`stdin`]: read ahead on a background thread, `EAGAIN` for a
//! non-blocking descriptor, real readiness in `poll_oneoff`), realtime and monotonic clocks
//! ([`clock`]), randomness ([`random`]), `poll_oneoff` clock subscriptions that really wait,
//! `proc_exit` reported as [`Exit`], and a file system ([`fs`]): the directories the embedder
//! preopens, host directories through cap-std or an in-memory [`fs::MemFs`], with every preview1
//! file-system function and no way for a path to lead out of a preopen. Sockets answer with the
//! errno a WASI host without them gives. Every guest pointer and length is bounds-checked before
//! any effect; a bad one yields `EFAULT`, never a host panic.
//!
//! ```
//! use wasi_min::{preview1, sink::SharedBuffer, Errno, WasiCtx};
//!
//! let out = SharedBuffer::new();
//! let mut ctx = WasiCtx::builder().stdout(out.clone()).build();
//! // A guest memory holding one iovec {ptr: 16, len: 5} at 0 and "hello" at 16.
//! let mut mem = vec![0u8; 64];
//! mem[0..4].copy_from_slice(&16u32.to_le_bytes());
//! mem[4..8].copy_from_slice(&5u32.to_le_bytes());
//! mem[16..21].copy_from_slice(b"hello");
//! let fd_write = preview1::function("fd_write").unwrap();
//! let errno = fd_write.call(&mut ctx, &mut mem, &[1, 0, 1, 32]).unwrap();
//! assert_eq!(errno, Errno::Success);
//! assert_eq!(out.contents(), b"hello");
//! ```
#![warn(missing_docs)]

pub mod clock;
mod ctx;
pub mod errno;
mod fd;
pub mod fs;
pub mod memory;
pub mod preview1;
pub mod random;
pub mod sink;
pub mod stdin;

pub use ctx::{WasiCtx, WasiCtxBuilder};
pub use errno::Errno;
pub use fd::{FdFacts, FdFactsError};
pub use memory::{GuestMemory, MemoryError};
pub use preview1::{Exit, WasiFunction, WasiType};

#[cfg(test)]
mod tests;
