//! tradeplane's gateway: the one HTTP front door.
//!
//! Requests carry a JWT bearer token ([`auth`]), are checked against casbin RBAC policies
//! ([`rbac`]), and reach the matcher shards through the pooled shard client. Prices and
//! quantities travel as decimal strings and become integer ticks and lots per market
//! ([`decimal`]); every error is `application/problem+json` with a stable code
//! ([`problem`]).

pub mod app;
pub mod auth;
pub mod config;
pub mod control;
pub mod decimal;
pub mod extract;
pub mod feed;
pub mod health;
pub mod idempotency;
pub mod idempotency_layer;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod policy_reload;
pub mod problem;
pub mod rate_limit;
pub mod rbac;
pub mod routes;
pub mod shards;
pub mod stream;
