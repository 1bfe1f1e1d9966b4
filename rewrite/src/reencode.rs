//! The one re-encoding pass behind every public operation: copy a module section by section,
//! applying a set of [`Edits`].
//!
//! Built on `wasm_encoder::reencode`, with the hooks that would decode code overridden to copy
//! bytes instead: function bodies, constant expressions and custom sections are never parsed
//! into instructions. That keeps the pass fast on 2.5 MB Go modules and means an instruction
//! the encoder does not know can never make it fail (or panic) on a module it only copies.

use wasm_encoder::reencode::{Error as ReError, Reencode, utils};
use wasm_encoder::{CodeSection, ConstExpr, DataSection, ExportKind, Function, SectionId, ValType};

use crate::{Error, Result};

/// A function to append to the module and export.
pub(crate) struct NewFunc {
    pub export: String,
    pub params: Vec<ValType>,
    pub results: Vec<ValType>,
    pub body: Function,
}

/// What to change; everything else is copied.
#[derive(Default)]
pub(crate) struct Edits {
    /// Functions appended after the module's own (their indices follow) and exported.
    pub funcs: Vec<NewFunc>,
    /// Custom sections (name, contents) appended at the end; a section of the same name in the
    /// module is dropped.
    pub custom: Vec<(String, Vec<u8>)>,
    /// Caps the maximum of every defined memory.
    pub memory_cap: Option<u64>,
    /// New initial size of the first defined memory, in pages.
    pub memory_initial: Option<u64>,
    /// Replaces the data section.
    pub data: Option<DataSection>,
    /// New initializers of defined globals, by global index.
    pub globals: Vec<(u32, ConstExpr)>,
}

/// Index-space sizes read before re-encoding (new types and functions are numbered after them).
#[derive(Default)]
struct Counts {
    types: u32,
    imported_funcs: u32,
    defined_funcs: u32,
    imported_globals: u32,
}

fn counts(wasm: &[u8]) -> Result<Counts> {
    let mut c = Counts::default();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        match payload? {
            wasmparser::Payload::TypeSection(reader) => {
                for group in reader {
                    let n = group?.types().len();
                    c.types = c.types.saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
                }
            }
            wasmparser::Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    match import?.ty {
                        wasmparser::TypeRef::Func(_) | wasmparser::TypeRef::FuncExact(_) => c.imported_funcs += 1,
                        wasmparser::TypeRef::Global(_) => c.imported_globals += 1,
                        _ => {}
                    }
                }
            }
            wasmparser::Payload::FunctionSection(reader) => c.defined_funcs = reader.count(),
            wasmparser::Payload::CodeSectionStart { .. } => break,
            _ => {}
        }
    }
    Ok(c)
}

/// Sections the pass may have to create when the module lacks them.
const CREATED: [SectionId; 5] = [
    SectionId::Type,
    SectionId::Function,
    SectionId::Export,
    SectionId::Code,
    SectionId::Data,
];

/// Position of a section in the binary format's required order.
fn rank(id: SectionId) -> u8 {
    match id {
        SectionId::Custom => 0,
        SectionId::Type => 1,
        SectionId::Import => 2,
        SectionId::Function => 3,
        SectionId::Table => 4,
        SectionId::Memory => 5,
        SectionId::Tag => 6,
        SectionId::Global => 7,
        SectionId::Export => 8,
        SectionId::Start => 9,
        SectionId::Element => 10,
        SectionId::DataCount => 11,
        SectionId::Code => 12,
        SectionId::Data => 13,
    }
}

struct Rewriter {
    edits: Edits,
    counts: Counts,
    /// Sections seen (or created), by [`CREATED`] position.
    seen: [bool; CREATED.len()],
    /// A defined memory was seen.
    memory_seen: bool,
}

impl Rewriter {
    fn mark(&mut self, id: SectionId) {
        if let Some(i) = CREATED.iter().position(|&c| c == id) {
            self.seen[i] = true;
        }
    }
    fn new_type(&self, k: usize) -> u32 {
        self.counts.types + k as u32
    }
    fn add_types(&self, types: &mut wasm_encoder::TypeSection) {
        for f in &self.edits.funcs {
            types.ty().function(f.params.iter().copied(), f.results.iter().copied());
        }
    }
    fn add_functions(&self, functions: &mut wasm_encoder::FunctionSection) {
        for k in 0..self.edits.funcs.len() {
            functions.function(self.new_type(k));
        }
    }
    fn add_exports(&self, exports: &mut wasm_encoder::ExportSection) {
        let first = self.counts.imported_funcs + self.counts.defined_funcs;
        for (k, f) in self.edits.funcs.iter().enumerate() {
            exports.export(&f.export, ExportKind::Func, first + k as u32);
        }
    }
    fn add_code(&self, code: &mut CodeSection) {
        for f in &self.edits.funcs {
            code.function(&f.body);
        }
    }
    /// Emits section `id` holding only what the edits add (the module had none).
    fn create(&mut self, module: &mut wasm_encoder::Module, id: SectionId) {
        match id {
            SectionId::Type if !self.edits.funcs.is_empty() => {
                let mut s = wasm_encoder::TypeSection::new();
                self.add_types(&mut s);
                module.section(&s);
            }
            SectionId::Function if !self.edits.funcs.is_empty() => {
                let mut s = wasm_encoder::FunctionSection::new();
                self.add_functions(&mut s);
                module.section(&s);
            }
            SectionId::Export if !self.edits.funcs.is_empty() => {
                let mut s = wasm_encoder::ExportSection::new();
                self.add_exports(&mut s);
                module.section(&s);
            }
            SectionId::Code if !self.edits.funcs.is_empty() => {
                let mut s = CodeSection::new();
                self.add_code(&mut s);
                module.section(&s);
            }
            SectionId::Data => {
                if let Some(data) = self.edits.data.take()
                    && !data.is_empty()
                {
                    module.section(&data);
                }
            }
            _ => {}
        }
        self.mark(id);
    }
}

fn user(e: Error) -> ReError<Error> {
    ReError::UserError(e)
}

impl Reencode for Rewriter {
    type Error = Error;

    fn intersperse_section_hook(
        &mut self,
        module: &mut wasm_encoder::Module,
        _after: Option<SectionId>,
        before: Option<SectionId>,
    ) -> std::result::Result<(), ReError<Error>> {
        // Create the sections the edits need that the module lacks, at their place in the order.
        let next = before.map_or(u8::MAX, rank);
        for (i, id) in CREATED.into_iter().enumerate() {
            if !self.seen[i] && before != Some(id) && rank(id) < next {
                self.create(module, id);
            }
        }
        if before.is_none() {
            for (name, data) in &self.edits.custom {
                module.section(&wasm_encoder::CustomSection {
                    name: name.into(),
                    data: data.into(),
                });
            }
        }
        Ok(())
    }

    fn parse_custom_section(
        &mut self,
        module: &mut wasm_encoder::Module,
        section: wasmparser::CustomSectionReader<'_>,
    ) -> std::result::Result<(), ReError<Error>> {
        if self.edits.custom.iter().any(|(name, _)| name == section.name()) {
            return Ok(());
        }
        module.section(&wasm_encoder::CustomSection {
            name: section.name().into(),
            data: section.data().into(),
        });
        Ok(())
    }

    fn const_expr(&mut self, expr: wasmparser::ConstExpr<'_>) -> std::result::Result<ConstExpr, ReError<Error>> {
        // Copied as bytes (without the final `end`, which the encoder adds back).
        let mut reader = expr.get_binary_reader();
        let bytes = reader.read_bytes(reader.bytes_remaining())?;
        match bytes.split_last() {
            Some((0x0b, body)) => Ok(ConstExpr::raw(body.iter().copied())),
            _ => Err(ReError::InvalidConstExpr),
        }
    }

    fn parse_type_section(
        &mut self,
        types: &mut wasm_encoder::TypeSection,
        section: wasmparser::TypeSectionReader<'_>,
    ) -> std::result::Result<(), ReError<Error>> {
        utils::parse_type_section(self, types, section)?;
        self.add_types(types);
        self.mark(SectionId::Type);
        Ok(())
    }

    fn parse_function_section(
        &mut self,
        functions: &mut wasm_encoder::FunctionSection,
        section: wasmparser::FunctionSectionReader<'_>,
    ) -> std::result::Result<(), ReError<Error>> {
        utils::parse_function_section(self, functions, section)?;
        self.add_functions(functions);
        self.mark(SectionId::Function);
        Ok(())
    }

    fn parse_export_section(
        &mut self,
        exports: &mut wasm_encoder::ExportSection,
        section: wasmparser::ExportSectionReader<'_>,
    ) -> std::result::Result<(), ReError<Error>> {
        for export in section.clone() {
            let name = export?.name;
            if self.edits.funcs.iter().any(|f| f.export == name) {
                return Err(user(Error::Unsupported(format!("the module already exports `{name}`").into())));
            }
        }
        utils::parse_export_section(self, exports, section)?;
        self.add_exports(exports);
        self.mark(SectionId::Export);
        Ok(())
    }

    fn parse_code_section(
        &mut self,
        code: &mut CodeSection,
        section: wasmparser::CodeSectionReader<'_>,
    ) -> std::result::Result<(), ReError<Error>> {
        for body in section {
            code.raw(body?.as_bytes());
        }
        self.add_code(code);
        self.mark(SectionId::Code);
        Ok(())
    }

    fn parse_data_section(
        &mut self,
        data: &mut DataSection,
        section: wasmparser::DataSectionReader<'_>,
    ) -> std::result::Result<(), ReError<Error>> {
        match self.edits.data.take() {
            Some(new) => *data = new,
            None => utils::parse_data_section(self, data, section)?,
        }
        self.mark(SectionId::Data);
        Ok(())
    }

    fn parse_memory_section(
        &mut self,
        memories: &mut wasm_encoder::MemorySection,
        section: wasmparser::MemorySectionReader<'_>,
    ) -> std::result::Result<(), ReError<Error>> {
        for (i, m) in section.into_iter().enumerate() {
            let m = m?;
            if m.page_size_log2.is_some() {
                return Err(user(Error::Unsupported("custom page sizes".into())));
            }
            let mut initial = m.initial;
            if i == 0
                && let Some(pages) = self.edits.memory_initial
            {
                if m.maximum.is_some_and(|max| pages > max) {
                    return Err(user(Error::Unsupported(
                        "the memory image is larger than the memory's maximum".into(),
                    )));
                }
                initial = pages;
            }
            let mut maximum = m.maximum;
            if let Some(cap) = self.edits.memory_cap {
                if initial > cap {
                    return Err(user(Error::MemoryCap { max_pages: cap, initial }));
                }
                maximum = Some(maximum.map_or(cap, |own| own.min(cap)));
            }
            memories.memory(wasm_encoder::MemoryType {
                minimum: initial,
                maximum,
                memory64: m.memory64,
                shared: m.shared,
                page_size_log2: None,
            });
            self.memory_seen = true;
        }
        Ok(())
    }

    fn parse_global_section(
        &mut self,
        globals: &mut wasm_encoder::GlobalSection,
        section: wasmparser::GlobalSectionReader<'_>,
    ) -> std::result::Result<(), ReError<Error>> {
        for (i, g) in section.into_iter().enumerate() {
            let g = g?;
            let index = self.counts.imported_globals.saturating_add(i as u32);
            match self.edits.globals.iter().position(|(at, _)| *at == index) {
                Some(k) => {
                    let ty = self.global_type(g.ty)?;
                    globals.global(ty, &self.edits.globals[k].1);
                }
                None => utils::parse_global(self, globals, g)?,
            }
        }
        Ok(())
    }
}

/// Copies `wasm` applying `edits`.
pub(crate) fn rewrite(wasm: &[u8], edits: Edits) -> Result<Vec<u8>> {
    let needs_memory = edits.memory_cap.is_some() || edits.memory_initial.is_some();
    let mut r = Rewriter {
        counts: counts(wasm)?,
        edits,
        seen: [false; CREATED.len()],
        memory_seen: false,
    };
    let mut module = wasm_encoder::Module::new();
    r.parse_core_module(&mut module, wasmparser::Parser::new(0), wasm)
        .map_err(|e| match e {
            ReError::UserError(e) => e,
            ReError::ParseError(e) => Error::Parse(e),
            other => Error::Unsupported(other.to_string().into()),
        })?;
    if needs_memory && !r.memory_seen {
        return Err(Error::NoMemory);
    }
    Ok(module.finish())
}
