//! Where `go-reactor run` caches compiled code, and the check that makes loading it safe.
//!
//! A JIT engine (wasmtime, wasmer) spends seconds compiling a multi-megabyte Go module and
//! milliseconds loading the result back, so `run` caches compiled code by default, the way
//! wazero's and wasmtime's own command-line tools do. Cache files are loaded as machine code,
//! so a directory that someone else could write to is never used: the cache is then skipped
//! with a warning, not trusted.

use std::path::{Path, PathBuf};

/// The cache directory to use, created if needed (mode 0700 on Unix), or `None` (compile
/// without a cache) if there is no home directory or the directory is not safe to load from.
pub fn dir(explicit: Option<PathBuf>) -> Option<PathBuf> {
    let dir = explicit.or_else(default_dir)?;
    if let Err(e) = create_private(&dir) {
        tracing::warn!(dir = %dir.display(), error = %e, "cannot create the module cache; compiling without it");
        return None;
    }
    match unsafe_reason(&dir) {
        None => Some(dir),
        Some(why) => {
            eprintln!("warning: not using module cache {}: {why}", dir.display());
            None
        }
    }
}

/// `$XDG_CACHE_HOME/go-reactor`, else `$HOME/.cache/go-reactor`.
fn default_dir() -> Option<PathBuf> {
    let non_empty = |v: std::ffi::OsString| (!v.is_empty()).then(|| PathBuf::from(v));
    std::env::var_os("XDG_CACHE_HOME")
        .and_then(non_empty)
        .or_else(|| std::env::var_os("HOME").and_then(non_empty).map(|h| h.join(".cache")))
        .map(|d| d.join("go-reactor"))
}

#[cfg(unix)]
fn create_private(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

#[cfg(not(unix))]
fn create_private(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// Why loading code from `dir` would not be safe, if it would not be.
#[cfg(unix)]
fn unsafe_reason(dir: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let meta = match std::fs::metadata(dir) {
        Ok(m) => m,
        Err(e) => return Some(e.to_string()),
    };
    if !meta.is_dir() {
        return Some("not a directory".into());
    }
    if meta.mode() & 0o022 != 0 {
        return Some(format!("writable by group or others (mode {:o})", meta.mode() & 0o777));
    }
    // Owned by whoever runs us: a file we create there is ours, so compare owners.
    let probe = dir.join(format!(".owner-{}", std::process::id()));
    let ours = std::fs::write(&probe, b"")
        .and_then(|()| std::fs::metadata(&probe))
        .map(|m| m.uid());
    let _ = std::fs::remove_file(&probe);
    match ours {
        Ok(uid) if uid == meta.uid() => None,
        Ok(_) => Some("owned by another user".into()),
        Err(e) => Some(format!("not writable ({e})")),
    }
}

#[cfg(not(unix))]
fn unsafe_reason(dir: &Path) -> Option<String> {
    std::fs::metadata(dir).err().map(|e| e.to_string())
}
