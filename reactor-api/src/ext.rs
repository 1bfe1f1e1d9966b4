//! [`ReactorExt`]: typed conveniences on top of the object-safe [`Reactor`] trait.

use crate::error::{Error, Result};
use crate::reactor::Reactor;
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
use crate::run::Completion;
use crate::typed::WasmList;
use crate::value::{ExternType, FuncType, ModuleInfo, Val, ValType};

/// Conveniences for every [`Reactor`], including `dyn Reactor`.
pub trait ReactorExt: Reactor {
    /// Runs to completion on this thread (see [`run::run`](crate::run::run)).
    ///
    /// # Errors
    /// As [`run::run`](crate::run::run): the error that ended the guest (panic, trap, host
    /// function failure, invalid tick).
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    fn run(&mut self) -> Result<Completion> {
        crate::run::run(self)
    }
    /// Reads `len` bytes of guest memory at `addr`.
    ///
    /// # Errors
    /// [`Error::Memory`] when the range is not inside guest memory.
    fn read_bytes(&mut self, addr: u32, len: u32) -> Result<Vec<u8>> {
        let size = self.memory_size();
        if u64::from(addr) + u64::from(len) > size {
            return Err(wasi_min::MemoryError {
                addr: addr.into(),
                len: len.into(),
                size,
            }
            .into());
        }
        let mut buf = vec![0; len as usize];
        self.read_memory(addr.into(), &mut buf)?;
        Ok(buf)
    }
    /// Reads `len` bytes at `addr` as UTF-8 (lossily).
    ///
    /// # Errors
    /// [`Error::Memory`] when the range is not inside guest memory.
    fn read_string(&mut self, addr: u32, len: u32) -> Result<String> {
        Ok(String::from_utf8_lossy(&self.read_bytes(addr, len)?).into_owned())
    }
    /// Calls an export that returns exactly one `i32`.
    ///
    /// # Errors
    /// As [`Reactor::call`]; [`Error::CallSignature`] (before calling) when the export does not
    /// return exactly one `i32`.
    fn call_i32(&mut self, name: &str, args: &[Val]) -> Result<i32> {
        check_results(self.module_info(), name, &[ValType::I32])?;
        match self.call(name, args)?.as_slice() {
            [Val::I32(v)] => Ok(*v),
            // Unreachable after the check above, unless a backend breaks its contract.
            other => Err(results_mismatch(self.module_info(), name, other)),
        }
    }
    /// Calls an export with typed arguments and results, e.g.
    /// `reactor.call_typed::<(i32, i32), i32>("add", (2, 3))`. The export's signature is checked
    /// against `P` and `R` before the call.
    ///
    /// # Errors
    /// As [`Reactor::call`]; [`Error::CallSignature`] (before calling) when the export's results
    /// are not `R`.
    fn call_typed<P: WasmList, R: WasmList>(&mut self, name: &str, params: P) -> Result<R> {
        check_results(self.module_info(), name, &R::types())?;
        let vals = self.call(name, &params.into_vals())?;
        // Unreachable after the check above, unless a backend breaks its contract.
        R::from_vals(&vals).ok_or_else(|| results_mismatch(self.module_info(), name, &vals))
    }
    /// Writes `data` into guest memory at `addr`.
    ///
    /// # Errors
    /// [`Error::Memory`] when the range is not inside guest memory.
    fn write_bytes(&mut self, addr: u32, data: &[u8]) -> Result<()> {
        self.write_memory(addr.into(), data)
    }
    /// The embedder's state, if it is a `T`.
    fn data<T: 'static>(&mut self) -> Option<&mut T> {
        self.state().downcast_mut()
    }
}

impl<R: Reactor + ?Sized> ReactorExt for R {}

/// Refuses a call whose caller expects other results than export `name` returns. A missing
/// export is left to [`Reactor::call`], which reports [`Error::NoSuchExport`].
fn check_results(info: &ModuleInfo, name: &str, wanted: &[ValType]) -> Result<()> {
    match info.export(name) {
        Some(ExternType::Func(sig)) if sig.results() != wanted => {
            let wanted: Vec<String> = wanted.iter().map(ToString::to_string).collect();
            Err(Error::CallSignature {
                name: name.to_string(),
                problem: format!("the caller expects results ({})", wanted.join(", ")),
                signature: sig.clone(),
            })
        }
        _ => Ok(()),
    }
}

/// The error for results that do not match what the caller expects, after the call.
fn results_mismatch(info: &ModuleInfo, name: &str, got: &[Val]) -> Error {
    let got: Vec<String> = got.iter().map(|v| v.ty().to_string()).collect();
    Error::CallSignature {
        name: name.to_string(),
        problem: format!("the call returned ({})", got.join(", ")),
        signature: match info.export(name) {
            Some(ExternType::Func(sig)) => sig.clone(),
            _ => FuncType::default(),
        },
    }
}
