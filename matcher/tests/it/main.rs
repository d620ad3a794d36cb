//! The matcher's integration tests: one binary, one module per concern.

mod prop;
mod reference;
mod scenarios;
