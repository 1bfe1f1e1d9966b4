//! The wasmi backend of go-reactor (work in progress).
