//! One router per REST resource. Each handler answers with JSON or a [`crate::problem::Problem`].

pub mod admin;
pub mod markets;
pub mod orders;
pub mod whoami;
