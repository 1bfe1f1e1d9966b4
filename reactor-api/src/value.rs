//! Values and types crossing the host/guest boundary, and what a module declares.

use std::fmt;

/// A WebAssembly value type as seen by go-reactor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValType {
    /// 32-bit integer.
    I32,
    /// 64-bit integer.
    I64,
    /// 32-bit float.
    F32,
    /// 64-bit float.
    F64,
    /// A type go-reactor cannot pass (v128, references); calls involving it are refused.
    Unsupported,
}

impl fmt::Display for ValType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValType::I32 => "i32",
            ValType::I64 => "i64",
            ValType::F32 => "f32",
            ValType::F64 => "f64",
            ValType::Unsupported => "<unsupported>",
        })
    }
}

/// A WebAssembly value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Val {
    /// 32-bit integer.
    I32(i32),
    /// 64-bit integer.
    I64(i64),
    /// 32-bit float.
    F32(f32),
    /// 64-bit float.
    F64(f64),
}

impl Val {
    /// This value's type.
    pub fn ty(&self) -> ValType {
        match self {
            Val::I32(_) => ValType::I32,
            Val::I64(_) => ValType::I64,
            Val::F32(_) => ValType::F32,
            Val::F64(_) => ValType::F64,
        }
    }
    /// The zero value of `ty` (`None` for unsupported types).
    pub fn default_for(ty: ValType) -> Option<Val> {
        Some(match ty {
            ValType::I32 => Val::I32(0),
            ValType::I64 => Val::I64(0),
            ValType::F32 => Val::F32(0.0),
            ValType::F64 => Val::F64(0.0),
            ValType::Unsupported => return None,
        })
    }
    /// The value as `i32`, if it is one.
    pub fn i32(&self) -> Option<i32> {
        if let Val::I32(v) = *self { Some(v) } else { None }
    }
    /// The value as `i64`, if it is one.
    pub fn i64(&self) -> Option<i64> {
        if let Val::I64(v) = *self { Some(v) } else { None }
    }
    /// The value as `f32`, if it is one.
    pub fn f32(&self) -> Option<f32> {
        if let Val::F32(v) = *self { Some(v) } else { None }
    }
    /// The value as `f64`, if it is one.
    pub fn f64(&self) -> Option<f64> {
        if let Val::F64(v) = *self { Some(v) } else { None }
    }
    /// The raw bits, integers zero-extended from their width (the form WASI functions take).
    pub fn to_raw(&self) -> u64 {
        match *self {
            Val::I32(v) => u64::from(v as u32),
            Val::I64(v) => v as u64,
            Val::F32(v) => u64::from(v.to_bits()),
            Val::F64(v) => v.to_bits(),
        }
    }
}

macro_rules! val_from {
    ($($t:ty => $v:ident),*) => {$(
        impl From<$t> for Val {
            fn from(v: $t) -> Val { Val::$v(v) }
        }
    )*};
}
val_from!(i32 => I32, i64 => I64, f32 => F32, f64 => F64);

/// A function signature.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct FuncType {
    params: Box<[ValType]>,
    results: Box<[ValType]>,
}

impl FuncType {
    /// A signature from parameter and result types.
    pub fn new(params: impl IntoIterator<Item = ValType>, results: impl IntoIterator<Item = ValType>) -> Self {
        Self {
            params: params.into_iter().collect(),
            results: results.into_iter().collect(),
        }
    }
    /// Parameter types.
    pub fn params(&self) -> &[ValType] {
        &self.params
    }
    /// Result types.
    pub fn results(&self) -> &[ValType] {
        &self.results
    }
}

impl fmt::Display for FuncType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |v: &[ValType]| v.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
        write!(f, "({}) -> ({})", list(&self.params), list(&self.results))
    }
}

/// The type of an import or export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExternType {
    /// A function.
    Func(FuncType),
    /// A linear memory with its limits in 64 KiB pages.
    Memory {
        /// Initial size in pages.
        min_pages: u64,
        /// Maximum size in pages, if declared.
        max_pages: Option<u64>,
    },
    /// A table.
    Table,
    /// A global.
    Global,
    /// A tag or anything newer.
    Other,
}

impl fmt::Display for ExternType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExternType::Func(t) => write!(f, "func {t}"),
            ExternType::Memory { .. } => f.write_str("memory"),
            ExternType::Table => f.write_str("table"),
            ExternType::Global => f.write_str("global"),
            ExternType::Other => f.write_str("other"),
        }
    }
}

/// One import of a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportDesc {
    /// Import module name, e.g. `wasi_snapshot_preview1` or `env`.
    pub module: String,
    /// Field name.
    pub name: String,
    /// What is imported.
    pub ty: ExternType,
}

/// One export of a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportDesc {
    /// Export name.
    pub name: String,
    /// What is exported.
    pub ty: ExternType,
}

/// The imports and exports of a compiled module, in declaration order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModuleInfo {
    /// Imports in the order the module declares them (the order instantiation takes them).
    pub imports: Vec<ImportDesc>,
    /// Exports.
    pub exports: Vec<ExportDesc>,
}

impl ModuleInfo {
    /// The export named `name`.
    pub fn export(&self, name: &str) -> Option<&ExternType> {
        self.exports.iter().find(|e| e.name == name).map(|e| &e.ty)
    }
}
