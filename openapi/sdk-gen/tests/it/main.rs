//! The generator against the committed files: the SDK source is what a fresh generation
//! makes of the committed OpenAPI document.

// Test helpers unwrap freely: a panic is a failed test with its location.
#![allow(clippy::unwrap_used)]

mod drift;
