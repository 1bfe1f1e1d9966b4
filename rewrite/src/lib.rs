//! Module rewriting for go-reactor, written once on `wasmparser` + `wasm-encoder`.
//!
//! Several parts of go-reactor need a slightly different module than the one the user gave:
//!
//! - [`merge_data_segments`]: Wasm3 evaluates each data segment separately and Go's linker
//!   emits tens of thousands of them; merging neighbours halves Wasm3's start-up time.
//! - [`cap_memory`]: engines without a memory limiter (the browser's) enforce a per-instance
//!   memory cap through the module's own maximum.
//! - [`add_state_accessors`]: engines expose only *exported* globals, and a Go reactor's eight
//!   mutable globals are not exported. Snapshots read and write them, and grow memory, through
//!   small exported functions that work through every engine's ordinary export-call API.
//! - [`write_state`]: pre-initialized modules, whose data segments and global initializers hold
//!   a reactor's state after `_initialize`.
//!
//! Every section this crate does not change is copied byte for byte (function bodies, custom
//! sections, constant expressions are never decoded into instructions), so the rewrite is cheap
//! and cannot misinterpret instructions it does not know. Parsing is fallible and never panics
//! on malformed input: every operation returns [`Error`].
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod reencode;

use std::borrow::Cow;

use wasm_encoder::{ConstExpr, DataSection};
use wasmparser::{DataKind, Operator, Parser, Payload};

use crate::reencode::{Edits, NewFunc, rewrite};

/// The size of a WebAssembly page, in bytes.
pub const PAGE_SIZE: u64 = 65536;

/// Name of the function [`add_state_accessors`] exports to grow memory: `(pages: i32) -> i32`,
/// the previous size in pages or `-1` (as `memory.grow`).
pub const MEMORY_GROW: &str = "__go_reactor_memory_grow";

/// Name of the custom section [`add_state_accessors`] adds (empty: a marker).
pub const ACCESSORS_SECTION: &str = "go-reactor.accessors";

/// Why a module could not be rewritten.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes are not a well-formed module.
    #[error("cannot parse the module: {0}")]
    Parse(#[from] wasmparser::BinaryReaderError),
    /// The module uses something this rewrite does not handle.
    #[error("cannot rewrite the module: {0}")]
    Unsupported(Cow<'static, str>),
    /// A memory cap below the module's own initial memory.
    #[error("the memory limit ({max_pages} pages of 64 KiB) is below the module's initial memory ({initial} pages)")]
    MemoryCap {
        /// The cap asked for, in pages.
        max_pages: u64,
        /// The module's initial memory, in pages.
        initial: u64,
    },
    /// The module defines no memory (it has none, or imports it).
    #[error("the module defines no memory")]
    NoMemory,
    /// A value given for a global does not fit it.
    #[error("global {index}: {problem}")]
    Global {
        /// The global's index.
        index: u32,
        /// What is wrong.
        problem: Cow<'static, str>,
    },
}

/// Result of this crate's operations.
pub type Result<T> = std::result::Result<T, Error>;

/// The value type of a global this crate can read and write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GlobalType {
    /// `i32`
    I32,
    /// `i64`
    I64,
    /// `f32`
    F32,
    /// `f64`
    F64,
}

impl GlobalType {
    fn from_parser(t: wasmparser::ValType) -> Option<Self> {
        match t {
            wasmparser::ValType::I32 => Some(Self::I32),
            wasmparser::ValType::I64 => Some(Self::I64),
            wasmparser::ValType::F32 => Some(Self::F32),
            wasmparser::ValType::F64 => Some(Self::F64),
            _ => None,
        }
    }
    fn encoder(self) -> wasm_encoder::ValType {
        match self {
            Self::I32 => wasm_encoder::ValType::I32,
            Self::I64 => wasm_encoder::ValType::I64,
            Self::F32 => wasm_encoder::ValType::F32,
            Self::F64 => wasm_encoder::ValType::F64,
        }
    }
}

/// The value of a global; floats as their bit patterns, so every value round-trips exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GlobalValue {
    /// An `i32`.
    I32(i32),
    /// An `i64`.
    I64(i64),
    /// An `f32`, as bits.
    F32(u32),
    /// An `f64`, as bits.
    F64(u64),
}

impl GlobalValue {
    /// The value's type.
    pub fn ty(self) -> GlobalType {
        match self {
            Self::I32(_) => GlobalType::I32,
            Self::I64(_) => GlobalType::I64,
            Self::F32(_) => GlobalType::F32,
            Self::F64(_) => GlobalType::F64,
        }
    }
    fn const_expr(self) -> ConstExpr {
        match self {
            Self::I32(v) => ConstExpr::i32_const(v),
            Self::I64(v) => ConstExpr::i64_const(v),
            Self::F32(v) => ConstExpr::f32_const(wasm_encoder::Ieee32::new(v)),
            Self::F64(v) => ConstExpr::f64_const(wasm_encoder::Ieee64::new(v)),
        }
    }
}

/// A mutable global the module defines (imported globals are the importer's business).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MutableGlobal {
    /// Index in the module's global index space.
    pub index: u32,
    /// Its value type.
    pub ty: GlobalType,
}

impl MutableGlobal {
    /// Name of the exported function `() -> ty` that [`add_state_accessors`] adds to read it.
    pub fn getter(&self) -> String {
        format!("__go_reactor_global_get_{}", self.index)
    }
    /// Name of the exported function `(ty) -> ()` that [`add_state_accessors`] adds to write it.
    pub fn setter(&self) -> String {
        format!("__go_reactor_global_set_{}", self.index)
    }
}

/// The mutable globals `wasm` defines, in index order. A mutable global of a type other than
/// the four number types is [`Error::Unsupported`] (its value could not be saved).
pub fn mutable_globals(wasm: &[u8]) -> Result<Vec<MutableGlobal>> {
    let mut imported = 0u32;
    let mut out = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload? {
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    if let wasmparser::TypeRef::Global(g) = import?.ty {
                        if g.mutable {
                            return Err(Error::Unsupported("the module imports a mutable global".into()));
                        }
                        imported += 1;
                    }
                }
            }
            Payload::GlobalSection(reader) => {
                for (i, g) in reader.into_iter().enumerate() {
                    let g = g?;
                    if !g.ty.mutable {
                        continue;
                    }
                    let index = imported
                        .checked_add(u32::try_from(i).map_err(|_| Error::Unsupported("too many globals".into()))?)
                        .ok_or(Error::Unsupported("too many globals".into()))?;
                    let ty = GlobalType::from_parser(g.ty.content_type).ok_or(Error::Global {
                        index,
                        problem: "a mutable global of a reference or vector type cannot be saved".into(),
                    })?;
                    out.push(MutableGlobal { index, ty });
                }
            }
            Payload::CodeSectionStart { .. } => break,
            _ => {}
        }
    }
    Ok(out)
}

/// Whether `wasm` has a custom section called `name`, and its contents.
pub fn custom_section(wasm: &[u8], name: &str) -> Result<Option<Vec<u8>>> {
    for payload in Parser::new(0).parse_all(wasm) {
        if let Payload::CustomSection(c) = payload?
            && c.name() == name
        {
            return Ok(Some(c.data().to_vec()));
        }
    }
    Ok(None)
}

/// Adds exported functions to read and write every mutable global `wasm` defines
/// ([`MutableGlobal::getter`], [`MutableGlobal::setter`]) and to grow its memory
/// ([`MEMORY_GROW`]), and the [`ACCESSORS_SECTION`] marker. Existing functions keep their
/// indices (the new ones come last), so the module behaves exactly as before.
///
/// Returns the rewritten module and the globals it exposes.
pub fn add_state_accessors(wasm: &[u8]) -> Result<(Vec<u8>, Vec<MutableGlobal>)> {
    let globals = mutable_globals(wasm)?;
    let mut funcs = Vec::with_capacity(globals.len() * 2 + 1);
    for g in &globals {
        let t = g.ty.encoder();
        let mut get = wasm_encoder::Function::new([]);
        get.instructions().global_get(g.index).end();
        funcs.push(NewFunc {
            export: g.getter(),
            params: vec![],
            results: vec![t],
            body: get,
        });
        let mut set = wasm_encoder::Function::new([]);
        set.instructions().local_get(0).global_set(g.index).end();
        funcs.push(NewFunc {
            export: g.setter(),
            params: vec![t],
            results: vec![],
            body: set,
        });
    }
    let mut grow = wasm_encoder::Function::new([]);
    grow.instructions().local_get(0).memory_grow(0).end();
    funcs.push(NewFunc {
        export: MEMORY_GROW.to_string(),
        params: vec![wasm_encoder::ValType::I32],
        results: vec![wasm_encoder::ValType::I32],
        body: grow,
    });
    let out = rewrite(
        wasm,
        Edits {
            funcs,
            custom: vec![(ACCESSORS_SECTION.to_string(), Vec::new())],
            ..Edits::default()
        },
    )?;
    Ok((out, globals))
}

/// Adds an exported function `name: () -> i32` returning `value` (a marker a host can see
/// through any engine's export list, e.g. that a module is pre-initialized).
pub fn export_constant(wasm: &[u8], name: &str, value: i32) -> Result<Vec<u8>> {
    let mut body = wasm_encoder::Function::new([]);
    body.instructions().i32_const(value).end();
    rewrite(
        wasm,
        Edits {
            funcs: vec![NewFunc {
                export: name.to_string(),
                params: vec![],
                results: vec![wasm_encoder::ValType::I32],
                body,
            }],
            ..Edits::default()
        },
    )
}

/// A copy of `wasm` whose defined memory may grow to at most `max_pages` (its own maximum if
/// lower). [`Error::MemoryCap`] if its initial size is already above the cap.
pub fn cap_memory(wasm: &[u8], max_pages: u64) -> Result<Vec<u8>> {
    let out = rewrite(
        wasm,
        Edits {
            memory_cap: Some(max_pages),
            ..Edits::default()
        },
    )?;
    Ok(out)
}

/// An active data segment: (offset in memory 0, bytes).
type Segment<'a> = (u64, &'a [u8]);

/// Active data segments as (offset, bytes), if every segment is active in memory 0 at an
/// `i32.const` offset and the module has no data count section (`memory.init`/`data.drop`
/// name segments by index, so they could not be renumbered). `None` otherwise.
fn plain_segments(wasm: &[u8]) -> Result<Option<Vec<Segment<'_>>>> {
    let mut out = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload? {
            Payload::DataCountSection { .. } => return Ok(None),
            Payload::DataSection(reader) => {
                for d in reader {
                    let d = d?;
                    let DataKind::Active {
                        memory_index: 0,
                        offset_expr,
                    } = d.kind
                    else {
                        return Ok(None);
                    };
                    let mut ops = offset_expr.get_operators_reader();
                    let (Ok(Operator::I32Const { value }), Ok(Operator::End)) = (ops.read(), ops.read()) else {
                        return Ok(None);
                    };
                    out.push((u64::from(value as u32), d.data));
                }
            }
            _ => {}
        }
    }
    Ok(Some(out))
}

/// Encodes segments (sorted, disjoint) as a data section.
fn data_section(segments: &[(u64, Cow<'_, [u8]>)]) -> Result<DataSection> {
    let mut data = DataSection::new();
    for (offset, bytes) in segments {
        let offset = u32::try_from(*offset).map_err(|_| Error::Unsupported("a data segment beyond 4 GiB".into()))?;
        data.active(0, &ConstExpr::i32_const(offset as i32), bytes.iter().copied());
    }
    Ok(data)
}

/// Merges a module's active data segments whose gaps are at most `max_gap` bytes into one,
/// the gap filled with zeros: linear memory starts zeroed, so the initialised memory is byte
/// for byte the same.
///
/// Returns `Ok(None)` (use the module as it is) when nothing would merge, or unless every segment
/// is active in memory 0 at an `i32.const` offset, no two segments overlap (then the order they
/// are written in does not matter), and the module has no data count section.
pub fn merge_data_segments(wasm: &[u8], max_gap: u64) -> Result<Option<Vec<u8>>> {
    let Some(mut original) = plain_segments(wasm)? else {
        return Ok(None);
    };
    // Segments that do not overlap write independent bytes, so their order does not matter
    // (Go emits two ascending runs); overlapping ones would, and are left alone.
    original.sort_by_key(|&(offset, _)| offset);
    let mut segments: Vec<(u64, Cow<'_, [u8]>)> = Vec::new();
    for &(offset, data) in &original {
        if let Some((at, bytes)) = segments.last_mut() {
            let end = *at + bytes.len() as u64;
            if offset < end {
                return Ok(None);
            }
            if offset - end <= max_gap {
                let bytes = bytes.to_mut();
                bytes.resize((offset - *at) as usize, 0);
                bytes.extend_from_slice(data);
                continue;
            }
        }
        segments.push((offset, Cow::Borrowed(data)));
    }
    if segments.len() == original.len() {
        return Ok(None);
    }
    let out = rewrite(
        wasm,
        Edits {
            data: Some(data_section(&segments)?),
            ..Edits::default()
        },
    )?;
    Ok(Some(out))
}

/// Largest run of zero bytes [`write_state`] keeps inside one data segment rather than
/// starting a new one (a segment costs a few bytes of header; engines initialise per segment).
pub const STATE_GAP: usize = 64;

/// A copy of `wasm` whose memory starts as `memory` and whose mutable globals start as
/// `globals` (index, value): a pre-initialized module.
///
/// The data section is replaced by segments holding the non-zero bytes of `memory`, the
/// memory's initial size becomes `memory.len()` (a whole number of pages) and each global's
/// initializer becomes its value. `custom` sections (name, contents) are added. The module's
/// data segments must all be active in memory 0 at constant offsets (as Go's are), since the
/// state replaces them.
pub fn write_state(wasm: &[u8], memory: &[u8], globals: &[(u32, GlobalValue)], custom: &[(&str, &[u8])]) -> Result<Vec<u8>> {
    if !(memory.len() as u64).is_multiple_of(PAGE_SIZE) {
        return Err(Error::Unsupported("the memory image is not a whole number of pages".into()));
    }
    if plain_segments(wasm)?.is_none() {
        return Err(Error::Unsupported(
            "the module has passive data segments or computed offsets; its data cannot be replaced".into(),
        ));
    }
    let defined = mutable_globals(wasm)?;
    for &(index, value) in globals {
        match defined.iter().find(|g| g.index == index) {
            Some(g) if g.ty == value.ty() => {}
            Some(_) => {
                return Err(Error::Global {
                    index,
                    problem: "the value's type differs from the global's".into(),
                });
            }
            None => {
                return Err(Error::Global {
                    index,
                    problem: "the module defines no mutable global with this index".into(),
                });
            }
        }
    }
    let segments: Vec<(u64, Cow<'_, [u8]>)> = nonzero_runs(memory, STATE_GAP)
        .map(|(start, end)| (start as u64, Cow::Borrowed(&memory[start..end])))
        .collect();
    rewrite(
        wasm,
        Edits {
            data: Some(data_section(&segments)?),
            memory_initial: Some(memory.len() as u64 / PAGE_SIZE),
            globals: globals.iter().map(|&(i, v)| (i, v.const_expr())).collect(),
            custom: custom.iter().map(|&(n, d)| (n.to_string(), d.to_vec())).collect(),
            ..Edits::default()
        },
    )
}

/// Ranges `[start, end)` of `bytes` that hold non-zero bytes, runs of at most `gap` zeros
/// inside a range.
fn nonzero_runs(bytes: &[u8], gap: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        let start = at + bytes.get(at..)?.iter().position(|&b| b != 0)?;
        let mut end = start;
        let mut i = start;
        while i < bytes.len() {
            if bytes[i] != 0 {
                end = i + 1;
                i += 1;
            } else if i - end >= gap {
                break;
            } else {
                i += 1;
            }
        }
        at = end;
        Some((start, end))
    })
}

#[cfg(test)]
mod tests;
