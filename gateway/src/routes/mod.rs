//! One router per REST resource. Each handler answers with JSON or a [`crate::problem::Problem`].

pub mod admin;
pub mod dead_letters;
pub mod job_wire;
pub mod jobs;
pub mod markets;
pub mod orders;
pub mod queues;
pub mod whoami;
