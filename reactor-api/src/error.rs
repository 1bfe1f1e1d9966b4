//! The one error type of go-reactor.

use std::fmt;

use crate::reactor::Ending;
use crate::value::{ExternType, FuncType};

/// How the guest stopped executing when an engine reports a trap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TrapKind {
    /// `unreachable` executed (Go's `runtime.abort` after a panic or fatal error).
    Unreachable,
    /// Out-of-bounds linear memory access.
    MemoryOutOfBounds,
    /// The guest's call stack overflowed.
    StackOverflow,
    /// Integer division by zero.
    IntegerDivisionByZero,
    /// Integer overflow (e.g. `i32.div_s` of MIN by -1) or invalid float-to-int conversion.
    IntegerOverflow,
    /// Indirect call to a null or wrongly typed table entry, or a table access out of bounds.
    BadIndirectCall,
    /// The fuel budget ran out.
    OutOfFuel,
    /// The engine interrupted the guest (deadline / epoch).
    Interrupted,
    /// A host function ended the call (`proc_exit`, or an embedder's import returned an error).
    Host,
    /// Anything else the engine reports.
    Other,
}

impl fmt::Display for TrapKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrapKind::Unreachable => "unreachable executed",
            TrapKind::MemoryOutOfBounds => "out-of-bounds memory access",
            TrapKind::StackOverflow => "stack overflow",
            TrapKind::IntegerDivisionByZero => "integer division by zero",
            TrapKind::IntegerOverflow => "integer overflow",
            TrapKind::BadIndirectCall => "bad indirect call",
            TrapKind::OutOfFuel => "out of fuel",
            TrapKind::Interrupted => "interrupted",
            TrapKind::Host => "host function error",
            TrapKind::Other => "trap",
        })
    }
}

/// A trap as a backend reports it: a classified kind plus the engine's own message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trap {
    /// Classification.
    pub kind: TrapKind,
    /// The engine's message (may include a wasm backtrace).
    pub message: String,
}

impl Trap {
    /// A trap of `kind` with the engine's `message`.
    pub fn new(kind: TrapKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

/// Everything that can go wrong hosting a Go reactor.
///
/// Errors carry their context: which engine, which export or import. A guest that ends (exit,
/// panic, trap) leaves its reactor unusable; later calls return [`Error::Ended`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes are not a valid WebAssembly module, or the engine could not compile it.
    #[error("{engine}: cannot compile module: {message}")]
    Compile {
        /// Engine name.
        engine: &'static str,
        /// The engine's explanation.
        message: String,
    },
    /// A valid module that is not a Go reactor this host can drive.
    #[error("not a Go reactor: {reason}")]
    NotAReactor {
        /// What is missing or wrong.
        reason: String,
    },
    /// A required export has the wrong type.
    #[error("export `{name}` is {found}, expected {expected}")]
    ExportType {
        /// Export name.
        name: String,
        /// Expected type.
        expected: String,
        /// Actual type.
        found: String,
    },
    /// The module imports something the host does not provide.
    #[error("import `{module}::{name}` ({ty}) is not provided by the host{hint}")]
    UnresolvedImport {
        /// Import module.
        module: String,
        /// Import name.
        name: String,
        /// Declared type.
        ty: ExternType,
        /// A hint for the user (may be empty).
        hint: String,
    },
    /// The module imports a host function with a different signature than the host's.
    #[error("import `{module}::{name}` is declared as {declared}, the host provides {provided}")]
    ImportType {
        /// Import module.
        module: String,
        /// Import name.
        name: String,
        /// Type in the module.
        declared: FuncType,
        /// Type of the host function.
        provided: FuncType,
    },
    /// The engine failed to instantiate the module (e.g. memory limit below its initial size).
    #[error("{engine}: cannot instantiate module: {message}")]
    Instantiate {
        /// Engine name.
        engine: &'static str,
        /// The engine's explanation.
        message: String,
    },
    /// The guest called `proc_exit` (Go: `main` returned, or `os.Exit`).
    #[error("guest exited with code {code}")]
    Exited {
        /// Exit code.
        code: i32,
    },
    /// The guest panicked (or hit a Go fatal error): its traceback went to stderr, then it trapped.
    #[error("Go panic in `{export}`: {message}")]
    GuestPanic {
        /// Export that was running.
        export: String,
        /// The `panic: …` or `fatal error: …` line.
        message: String,
        /// The tail of the guest's stderr (the traceback).
        stderr: String,
    },
    /// The guest trapped without a Go panic message.
    #[error("{engine}: trap in `{export}`: {trap}")]
    Trap {
        /// Engine name.
        engine: &'static str,
        /// Export that was running.
        export: String,
        /// The trap.
        trap: Trap,
        /// The tail of the guest's stderr.
        stderr: String,
    },
    /// An embedder-provided import returned an error; the guest was stopped.
    #[error("host import `{import}` failed: {message}")]
    HostFunc {
        /// `module::name` of the import.
        import: String,
        /// The error it returned.
        message: String,
    },
    /// `go_tick` returned a value outside the ABI (`-1`, `0`, or positive milliseconds).
    #[error("go_tick returned {value}, which is not a valid tick result")]
    InvalidTick {
        /// The value.
        value: i32,
    },
    /// The module's `go_reactor_abi` marker names an ABI this host does not know.
    #[error("module declares reactor ABI {version}; this host supports ABI 1")]
    UnsupportedAbi {
        /// Declared version.
        version: i32,
    },
    /// The reactor ended earlier; it accepts no further calls.
    #[error("reactor has ended ({ending}); it accepts no further calls")]
    Ended {
        /// How it ended.
        ending: Ending,
    },
    /// A call names an export that does not exist or is not a function.
    #[error("no function export named `{name}`")]
    NoSuchExport {
        /// The name.
        name: String,
    },
    /// An export call's arguments do not match the export's signature.
    #[error("call to `{name}`: {problem} (export signature {signature})")]
    CallSignature {
        /// Export name.
        name: String,
        /// What does not match.
        problem: String,
        /// The export's signature.
        signature: FuncType,
    },
    /// A host access to guest memory out of bounds.
    #[error(transparent)]
    Memory(#[from] wasi_min::MemoryError),
    /// The engine cannot do what was asked.
    #[error("{engine} does not support {feature}")]
    Unsupported {
        /// Engine name.
        engine: &'static str,
        /// The feature.
        feature: &'static str,
    },
    /// Serializing compiled code, or loading serialized code back, failed (e.g. bytes written by
    /// another engine version or configuration).
    #[error("{engine}: cannot {operation} compiled code: {message}")]
    Serialize {
        /// Engine name.
        engine: &'static str,
        /// `serialize` or `deserialize`.
        operation: &'static str,
        /// The engine's explanation.
        message: String,
    },
    /// The engine was not compiled into this build.
    #[error("engine `{engine}` is not compiled into this build (enable the `{engine}` Cargo feature)")]
    EngineUnavailable {
        /// Engine name.
        engine: &'static str,
    },
    /// Taking, reading or restoring a snapshot failed.
    #[error("snapshot: {0}")]
    Snapshot(#[source] crate::snapshot::SnapshotError),
    /// Reading module bytes or a cache failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A Go handler registered with the guest SDK's `sdk.Export` returned an error.
    #[error("Go export `{export}` failed: {message}")]
    GuestCall {
        /// The handler's name.
        export: String,
        /// The Go error's message.
        message: String,
    },
    /// The guest SDK protocol was not followed: the module lacks the SDK, names no such handler,
    /// returned an invalid buffer, or a JSON payload did not encode or decode.
    #[error("guest SDK: {message}")]
    Sdk {
        /// What went wrong.
        message: String,
    },
}

impl Error {
    /// The exit code, if this is [`Error::Exited`].
    pub fn exit_code(&self) -> Option<i32> {
        match self {
            Error::Exited { code } => Some(*code),
            _ => None,
        }
    }
    /// The guest's stderr tail, for panics and traps.
    pub fn guest_stderr(&self) -> Option<&str> {
        match self {
            Error::GuestPanic { stderr, .. } | Error::Trap { stderr, .. } => Some(stderr),
            _ => None,
        }
    }
}

/// `Result` with go-reactor's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
