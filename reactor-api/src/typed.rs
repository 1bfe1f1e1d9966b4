//! Typed calls in both directions: Rust tuples as export arguments and results
//! ([`ReactorExt::call_typed`](crate::ReactorExt::call_typed)), and Rust closures as host
//! functions ([`HostFunc::wrap`]).

use crate::host::{Caller, HostError, HostFunc};
use crate::value::{FuncType, Val, ValType};

/// A Rust type that maps to one WebAssembly value type.
pub trait WasmTy: Copy + Send + Sync + 'static {
    /// Its WebAssembly type.
    const TYPE: ValType;
    /// Converts to a [`Val`].
    fn into_val(self) -> Val;
    /// Converts from a [`Val`] of the right type.
    fn from_val(v: Val) -> Option<Self>;
}

macro_rules! wasm_ty {
    ($($t:ty => $v:ident),*) => {$(
        impl WasmTy for $t {
            const TYPE: ValType = ValType::$v;
            fn into_val(self) -> Val { Val::$v(self) }
            fn from_val(v: Val) -> Option<Self> { if let Val::$v(x) = v { Some(x) } else { None } }
        }
    )*};
}
wasm_ty!(i32 => I32, i64 => I64, f32 => F32, f64 => F64);

// Unsigned integers are the same WebAssembly types, reinterpreted bit for bit (a guest pointer is
// an `i32` the guest means as `u32`), as in wasmtime's typed functions.
macro_rules! wasm_ty_unsigned {
    ($($t:ty => $s:ty, $v:ident),*) => {$(
        impl WasmTy for $t {
            const TYPE: ValType = ValType::$v;
            fn into_val(self) -> Val { Val::$v(self as $s) }
            fn from_val(v: Val) -> Option<Self> { if let Val::$v(x) = v { Some(x as $t) } else { None } }
        }
    )*};
}
wasm_ty_unsigned!(u32 => i32, I32, u64 => i64, I64);

/// A list of values: `()`, a single [`WasmTy`], or a tuple of them (up to 8).
pub trait WasmList: Sized {
    /// The types, in order.
    fn types() -> Vec<ValType>;
    /// The values, in order.
    fn into_vals(self) -> Vec<Val>;
    /// Writes the values, in order, into the start of `out` (without allocating: this is how
    /// typed host functions return their results). Values beyond `out`'s length are dropped.
    fn store(self, out: &mut [Val]);
    /// Reads the values back (`None` on a count or type mismatch).
    fn from_vals(vals: &[Val]) -> Option<Self>;
}

impl<T: WasmTy> WasmList for T {
    fn types() -> Vec<ValType> {
        vec![T::TYPE]
    }
    fn into_vals(self) -> Vec<Val> {
        vec![self.into_val()]
    }
    fn store(self, out: &mut [Val]) {
        if let Some(slot) = out.first_mut() {
            *slot = self.into_val();
        }
    }
    fn from_vals(vals: &[Val]) -> Option<Self> {
        match vals {
            [v] => T::from_val(*v),
            _ => None,
        }
    }
}

macro_rules! wasm_list {
    ($($t:ident)*) => {
        impl<$($t: WasmTy),*> WasmList for ($($t,)*) {
            fn types() -> Vec<ValType> { vec![$($t::TYPE),*] }
            #[allow(non_snake_case)]
            fn into_vals(self) -> Vec<Val> { let ($($t,)*) = self; vec![$($t.into_val()),*] }
            #[allow(non_snake_case, unused_mut, unused_variables)]
            fn store(self, out: &mut [Val]) {
                let ($($t,)*) = self;
                let mut slots = out.iter_mut();
                $(if let Some(slot) = slots.next() { *slot = $t.into_val(); })*
            }
            #[allow(non_snake_case, unused_mut, unused_variables)]
            fn from_vals(vals: &[Val]) -> Option<Self> {
                let mut it = vals.iter().copied();
                let r = ($($t::from_val(it.next()?)?,)*);
                if it.next().is_some() { None } else { Some(r) }
            }
        }
    };
}
wasm_list!();
wasm_list!(A);
wasm_list!(A B);
wasm_list!(A B C);
wasm_list!(A B C D);
wasm_list!(A B C D E);
wasm_list!(A B C D E F);
wasm_list!(A B C D E F G);
wasm_list!(A B C D E F G H);

/// A Rust closure usable as a host function: `Fn(&mut Caller, A, B, …) -> Result<R, HostError>`
/// where the arguments are [`WasmTy`]s and `R` is a [`WasmList`]. Implemented for closures of up
/// to 8 arguments; annotate the caller parameter (`_: &mut Caller<'_>`) so the closure is
/// generic over its lifetime.
pub trait IntoHostFn<Params, Results>: Send + Sync + 'static {
    /// The signature.
    fn signature() -> FuncType;
    /// Calls the closure with checked arguments, writing its results.
    fn invoke(&self, caller: &mut Caller<'_>, args: &[Val], results: &mut [Val]) -> Result<(), HostError>;
}

macro_rules! into_host_fn {
    ($($t:ident)*) => {
        impl<Func, $($t: WasmTy,)* R: WasmList> IntoHostFn<($($t,)*), R> for Func
        where
            Func: Fn(&mut Caller<'_>, $($t),*) -> Result<R, HostError> + Send + Sync + 'static,
        {
            fn signature() -> FuncType {
                FuncType::new(<($($t,)*) as WasmList>::types(), R::types())
            }
            #[allow(non_snake_case)]
            fn invoke(&self, caller: &mut Caller<'_>, args: &[Val], results: &mut [Val]) -> Result<(), HostError> {
                let ($($t,)*) = <($($t,)*) as WasmList>::from_vals(args)
                    .ok_or_else(|| HostError::new("arguments do not match the host function's signature"))?;
                // Straight into the engine's result slots: no allocation per host call.
                self(caller, $($t),*)?.store(results);
                Ok(())
            }
        }
    };
}
into_host_fn!();
into_host_fn!(A);
into_host_fn!(A B);
into_host_fn!(A B C);
into_host_fn!(A B C D);
into_host_fn!(A B C D E);
into_host_fn!(A B C D E F);
into_host_fn!(A B C D E F G);
into_host_fn!(A B C D E F G H);

impl HostFunc {
    /// A host function from a typed closure; the signature comes from its types.
    ///
    /// ```
    /// use reactor_api::{Caller, HostError, HostFunc, ValType};
    /// let add = HostFunc::wrap("env", "host_add", |_: &mut Caller<'_>, a: i32, b: i32| Ok::<_, HostError>(a.wrapping_add(b)));
    /// assert_eq!(add.ty().params(), [ValType::I32, ValType::I32]);
    /// // Guest pointers and lengths as `u32`, the way the guest means them.
    /// let log = HostFunc::wrap("env", "host_log", |c: &mut Caller<'_>, ptr: u32, len: u32| {
    ///     println!("guest says {}", c.read_str(ptr, len)?);
    ///     Ok(())
    /// });
    /// assert!(log.ty().results().is_empty());
    /// ```
    pub fn wrap<P, R, F: IntoHostFn<P, R>>(module: impl Into<String>, name: impl Into<String>, f: F) -> Self {
        HostFunc::new(module, name, F::signature(), move |caller, args, results| {
            f.invoke(caller, args, results)
        })
    }
}
