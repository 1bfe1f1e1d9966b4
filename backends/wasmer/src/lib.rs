//! The wasmer backend of go-reactor (work in progress).
