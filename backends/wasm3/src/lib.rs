//! The wasm3 backend of go-reactor (work in progress).
