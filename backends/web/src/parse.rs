//! What the JavaScript API does not tell: import and export signatures and memory limits, read
//! from the module bytes; and rewriting the memory section for a per-instance memory cap.
//!
//! The bytes have already been validated by the JavaScript engine when these run, but parsing is
//! still fallible and never panics on odd input.

use reactor_api::{ExportDesc, ExternType, FuncType, ImportDesc, ModuleInfo, ValType};
use wasmparser::{CompositeInnerType, ExternalKind, MemoryType, Parser, Payload, TypeRef};

fn val_type(t: &wasmparser::ValType) -> ValType {
    match t {
        wasmparser::ValType::I32 => ValType::I32,
        wasmparser::ValType::I64 => ValType::I64,
        wasmparser::ValType::F32 => ValType::F32,
        wasmparser::ValType::F64 => ValType::F64,
        _ => ValType::Unsupported,
    }
}

fn memory(m: &MemoryType) -> ExternType {
    ExternType::Memory {
        min_pages: m.initial,
        max_pages: m.maximum,
    }
}

/// Imports and exports of a module, with function signatures and memory limits.
pub(crate) fn module_info(wasm: &[u8]) -> Result<ModuleInfo, String> {
    let err = |e: wasmparser::BinaryReaderError| e.to_string();
    // Function types by type index (`None` for GC types, which a function cannot import here).
    let mut types: Vec<Option<FuncType>> = Vec::new();
    let mut funcs: Vec<u32> = Vec::new(); // type index of every function, imported ones first
    let mut memories: Vec<MemoryType> = Vec::new();
    let mut imports = Vec::new();
    let mut exports = Vec::new();
    let func_type = |types: &[Option<FuncType>], index: u32| -> ExternType {
        match types.get(index as usize) {
            Some(Some(t)) => ExternType::Func(t.clone()),
            _ => ExternType::Other,
        }
    };
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(err)? {
            Payload::TypeSection(reader) => {
                for group in reader {
                    for sub in group.map_err(err)?.into_types() {
                        types.push(match &sub.composite_type.inner {
                            CompositeInnerType::Func(f) => {
                                Some(FuncType::new(f.params().iter().map(val_type), f.results().iter().map(val_type)))
                            }
                            _ => None,
                        });
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader {
                    let import = import.map_err(err)?;
                    let ty = match import.ty {
                        TypeRef::Func(index) => {
                            funcs.push(index);
                            func_type(&types, index)
                        }
                        TypeRef::Memory(m) => {
                            memories.push(m);
                            memory(&m)
                        }
                        TypeRef::Table(_) => ExternType::Table,
                        TypeRef::Global(_) => ExternType::Global,
                        TypeRef::Tag(_) => ExternType::Other,
                    };
                    imports.push(ImportDesc {
                        module: import.module.to_string(),
                        name: import.name.to_string(),
                        ty,
                    });
                }
            }
            Payload::FunctionSection(reader) => {
                for index in reader {
                    funcs.push(index.map_err(err)?);
                }
            }
            Payload::MemorySection(reader) => {
                for m in reader {
                    memories.push(m.map_err(err)?);
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.map_err(err)?;
                    let index = export.index as usize;
                    let ty = match export.kind {
                        ExternalKind::Func => funcs.get(index).map_or(ExternType::Other, |&t| func_type(&types, t)),
                        ExternalKind::Memory => memories.get(index).map_or(ExternType::Other, memory),
                        ExternalKind::Table => ExternType::Table,
                        ExternalKind::Global => ExternType::Global,
                        ExternalKind::Tag => ExternType::Other,
                    };
                    exports.push(ExportDesc {
                        name: export.name.to_string(),
                        ty,
                    });
                }
            }
            // Code comes after every section read here.
            Payload::CodeSectionStart { .. } => break,
            _ => {}
        }
    }
    Ok(ModuleInfo { imports, exports })
}

fn leb128(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// A copy of `wasm` whose defined memories may grow to at most `max_pages` (their own maximum
/// if lower). Fails if a memory's initial size is already above the cap.
pub(crate) fn cap_memory(wasm: &[u8], max_pages: u64) -> Result<Vec<u8>, String> {
    let err = |e: wasmparser::BinaryReaderError| e.to_string();
    for payload in Parser::new(0).parse_all(wasm) {
        let Payload::MemorySection(reader) = payload.map_err(err)? else {
            continue;
        };
        let range = reader.range();
        let mut body = Vec::new();
        leb128(&mut body, u64::from(reader.count()));
        for m in reader {
            let m = m.map_err(err)?;
            if m.initial > max_pages {
                return Err(format!(
                    "the memory limit ({max_pages} pages of 64 KiB) is below the module's initial memory ({} pages)",
                    m.initial
                ));
            }
            let max = m.maximum.map_or(max_pages, |own| own.min(max_pages));
            // Limits flags: bit 0 has a maximum, bit 1 shared, bit 2 memory64, bit 3 page size.
            let flags = 1 | (u8::from(m.shared) << 1) | (u8::from(m.memory64) << 2) | (u8::from(m.page_size_log2.is_some()) << 3);
            body.push(flags);
            leb128(&mut body, m.initial);
            leb128(&mut body, max);
            if let Some(log2) = m.page_size_log2 {
                leb128(&mut body, u64::from(log2));
            }
        }
        // `range` is the section's contents; its id and size come just before them.
        // (An id byte, then the size in at most 5 LEB128 bytes, possibly padded.)
        let header_start = (range.start.saturating_sub(6)..range.start)
            .rev()
            .find(|&i| wasm[i] == 5 && section_size_at(wasm, i + 1) == Some((range.end - range.start, range.start)))
            .ok_or("cannot locate the memory section header")?;
        let mut out = Vec::with_capacity(wasm.len() + 16);
        out.extend_from_slice(&wasm[..header_start]);
        out.push(5);
        leb128(&mut out, body.len() as u64);
        out.extend_from_slice(&body);
        out.extend_from_slice(&wasm[range.end..]);
        return Ok(out);
    }
    Err("the module defines no memory to limit".into())
}

/// Decodes the LEB128 section size at `at`: (size, offset just after it).
fn section_size_at(wasm: &[u8], at: usize) -> Option<(usize, usize)> {
    let mut value: u64 = 0;
    for (i, &b) in wasm.get(at..)?.iter().take(5).enumerate() {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((usize::try_from(value).ok()?, at + i + 1));
        }
    }
    None
}
