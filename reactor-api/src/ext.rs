//! [`ReactorExt`]: typed conveniences on top of the object-safe [`Reactor`] trait.

use crate::error::{Error, Result};
use crate::reactor::Reactor;
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
use crate::run::Completion;
use crate::typed::WasmList;
use crate::value::{ExternType, Val};

/// Conveniences for every [`Reactor`], including `dyn Reactor`.
pub trait ReactorExt: Reactor {
    /// Runs to completion on this thread (see [`run::run`](crate::run::run)).
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    fn run(&mut self) -> Result<Completion> {
        crate::run::run(self)
    }
    /// Reads `len` bytes of guest memory at `addr`.
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
    fn read_string(&mut self, addr: u32, len: u32) -> Result<String> {
        Ok(String::from_utf8_lossy(&self.read_bytes(addr, len)?).into_owned())
    }
    /// Calls an export that returns exactly one `i32`.
    fn call_i32(&mut self, name: &str, args: &[Val]) -> Result<i32> {
        match self.call(name, args)?.as_slice() {
            [Val::I32(v)] => Ok(*v),
            _ => Err(Error::NoSuchExport {
                name: format!("{name} (returning one i32)"),
            }),
        }
    }
    /// Calls an export with typed arguments and results, e.g.
    /// `reactor.call_typed::<(i32, i32), i32>("add", (2, 3))`. The export's signature is checked
    /// against `P` before the call and against `R` after it.
    fn call_typed<P: WasmList, R: WasmList>(&mut self, name: &str, params: P) -> Result<R> {
        if let Some(ExternType::Func(sig)) = self.module_info().export(name)
            && sig.results() != R::types()
        {
            let wanted: Vec<String> = R::types().iter().map(ToString::to_string).collect();
            let problem = format!("the caller expects results ({})", wanted.join(", "));
            return Err(Error::CallSignature {
                name: name.to_string(),
                problem,
                signature: sig.clone(),
            });
        }
        let vals = self.call(name, &params.into_vals())?;
        // The export's result types were checked above, so this conversion cannot fail.
        R::from_vals(&vals).ok_or_else(|| Error::NoSuchExport { name: name.to_string() })
    }
    /// Writes `data` into guest memory at `addr`.
    fn write_bytes(&mut self, addr: u32, data: &[u8]) -> Result<()> {
        self.write_memory(addr.into(), data)
    }
    /// The embedder's state, if it is a `T`.
    fn data<T: 'static>(&mut self) -> Option<&mut T> {
        self.state().downcast_mut()
    }
}

impl<R: Reactor + ?Sized> ReactorExt for R {}
