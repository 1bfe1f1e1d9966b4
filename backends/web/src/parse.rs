//! What the JavaScript API does not tell: import and export signatures and memory limits, read
//! from the module bytes; and the per-instance memory cap (a rewrite done by `reactor-rewrite`).
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
                for import in reader.into_imports() {
                    let import = import.map_err(err)?;
                    let ty = match import.ty {
                        TypeRef::Func(index) | TypeRef::FuncExact(index) => {
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
                        ExternalKind::Func | ExternalKind::FuncExact => {
                            funcs.get(index).map_or(ExternType::Other, |&t| func_type(&types, t))
                        }
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

/// A copy of `wasm` whose defined memories may grow to at most `max_pages` (their own maximum
/// if lower). Fails if a memory's initial size is already above the cap.
pub(crate) fn cap_memory(wasm: &[u8], max_pages: u64) -> Result<Vec<u8>, String> {
    reactor_rewrite::cap_memory(wasm, max_pages).map_err(|e| e.to_string())
}
