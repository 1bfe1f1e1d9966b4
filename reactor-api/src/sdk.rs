//! [`SdkExt`]: calls from the host into Go handlers registered with the guest SDK
//! (`sdk.Export(name, func([]byte) ([]byte, error))` in `goreactor.dev/guests/sdk`), with
//! bytes, strings or serde-typed JSON.
//!
//! # The protocol
//! The Go SDK exports two functions for this:
//! - `go_reactor_alloc(n: i32) -> i32`: a fresh Go buffer of `n` bytes (0 for `n == 0`), kept
//!   alive by the SDK until the next `go_reactor_invoke`;
//! - `go_reactor_invoke(ptr: i32, name_len: i32, in_len: i32) -> i32`: the buffer at `ptr`
//!   (from `go_reactor_alloc`) holds 8 bytes for the reply, then the handler name, then the input.
//!   The SDK runs the handler with the input (a slice of that buffer: no copy), stores the
//!   reply's address and length (two little-endian `u32`) in the first 8 bytes, and returns a
//!   status: `0` ok, `1` the handler returned an error (the reply is its message), `3` no handler
//!   of that name, negative for a buffer it did not hand out. The reply stays alive until the
//!   next call.
//!
//! So one call costs two export calls and two copies (input in, reply out), whatever the size:
//! no per-byte work. Everything the guest returns is bounds-checked by the host.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::ext::ReactorExt;
use crate::reactor::Reactor;
use crate::value::Val;

/// Export of the Go SDK that hands out input buffers.
pub const ALLOC_EXPORT: &str = "go_reactor_alloc";
/// Export of the Go SDK that runs a handler.
pub const INVOKE_EXPORT: &str = "go_reactor_invoke";

const HEADER: u32 = 8;

fn sdk_err(message: String) -> Error {
    Error::Sdk { message }
}

/// Byte, string and JSON calls into Go handlers of the guest SDK; for every [`Reactor`],
/// including `dyn Reactor`.
///
/// ```no_run
/// use reactor_api::{Module, ReactorConfig, SdkExt, WasmEngine};
/// # fn demo<E: WasmEngine>(module: Module<E>) -> reactor_api::Result<()> {
/// let mut reactor = module.instantiate(ReactorConfig::new())?;
/// reactor_api::run::run(&mut reactor)?; // main registers its handlers, then idles
/// let out = reactor.call_bytes("echo", b"ping")?;
/// let shout = reactor.call_string("upper", "hello")?;
/// let sum: u64 = reactor.call_json("sum", &[1u64, 2, 3])?;
/// # Ok(()) }
/// ```
pub trait SdkExt: Reactor {
    /// Calls the Go handler `name` with `input`; returns its reply.
    ///
    /// A handler's Go error is [`Error::GuestCall`]; a module without the SDK, an unknown
    /// handler or an invalid reply is [`Error::Sdk`].
    fn call_bytes(&mut self, name: &str, input: &[u8]) -> Result<Vec<u8>> {
        let too_big = || sdk_err(format!("call to `{name}`: input of {} bytes is too large", input.len()));
        let name_len = u32::try_from(name.len()).map_err(|_| too_big())?;
        let in_len = u32::try_from(input.len()).map_err(|_| too_big())?;
        let total = HEADER
            .checked_add(name_len)
            .and_then(|n| n.checked_add(in_len))
            .filter(|&n| n <= i32::MAX as u32)
            .ok_or_else(too_big)?;
        if self.module_info().export(INVOKE_EXPORT).is_none() {
            return Err(sdk_err(format!(
                "cannot call `{name}`: the module has no `{INVOKE_EXPORT}` export (it does not import goreactor.dev/guests/sdk)"
            )));
        }
        let ptr = self.call_i32(ALLOC_EXPORT, &[Val::I32(total as i32)])? as u32;
        if ptr == 0 {
            return Err(sdk_err(format!("call to `{name}`: {ALLOC_EXPORT}({total}) returned 0")));
        }
        self.write_bytes(ptr.wrapping_add(HEADER), name.as_bytes())?;
        self.write_bytes(ptr.wrapping_add(HEADER + name_len), input)?;
        let args = [Val::I32(ptr as i32), Val::I32(name_len as i32), Val::I32(in_len as i32)];
        let status = self.call_i32(INVOKE_EXPORT, &args)?;
        if status < 0 {
            return Err(sdk_err(format!(
                "call to `{name}`: the guest rejected the buffer (status {status})"
            )));
        }
        let header = self.read_bytes(ptr, HEADER)?;
        let word = |i: usize| u32::from_le_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
        let (out_ptr, out_len) = (word(0), word(4));
        let reply = if out_len == 0 {
            Vec::new()
        } else {
            self.read_bytes(out_ptr, out_len)?
        };
        match status {
            0 => Ok(reply),
            1 => Err(Error::GuestCall {
                export: name.to_string(),
                message: String::from_utf8_lossy(&reply).into_owned(),
            }),
            3 => Err(sdk_err(format!("the guest has no handler `{name}` (register it with sdk.Export)"))),
            other => Err(sdk_err(format!("call to `{name}`: unknown status {other}"))),
        }
    }

    /// [`call_bytes`](Self::call_bytes) with UTF-8 strings (Go: `sdk.ExportString`).
    fn call_string(&mut self, name: &str, input: &str) -> Result<String> {
        let reply = self.call_bytes(name, input.as_bytes())?;
        String::from_utf8(reply).map_err(|e| sdk_err(format!("call to `{name}`: reply is not UTF-8: {e}")))
    }

    /// [`call_bytes`](Self::call_bytes) with JSON: `input` serialized with serde, the reply
    /// deserialized into `R` (Go: `sdkjson.Export`).
    fn call_json<T: Serialize + ?Sized, R: DeserializeOwned>(&mut self, name: &str, input: &T) -> Result<R> {
        let bytes = serde_json::to_vec(input).map_err(|e| sdk_err(format!("call to `{name}`: cannot encode input: {e}")))?;
        let reply = self.call_bytes(name, &bytes)?;
        serde_json::from_slice(&reply).map_err(|e| sdk_err(format!("call to `{name}`: cannot decode reply: {e}")))
    }
}

impl<R: Reactor + ?Sized> SdkExt for R {}
