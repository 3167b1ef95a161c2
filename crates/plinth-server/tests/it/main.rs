//! HTTP scenario tests of `plinth serve`: the real server, in-process on a loopback port, driven
//! over real HTTP against SQLite and PostgreSQL (`PLINTH_TEST_POSTGRES_URL`). Scenarios are
//! written from the conventions of the served API in the product description, and each one runs
//! on both databases through the `scenarios!` macro.
//!
//! One integration binary (each file under `tests/` would be linked separately, which is slow);
//! the modules group the scenarios by area.

pub mod harness;

mod auth;
mod browser;
mod concurrency;
mod contract;
mod crud;
mod durability;
mod errors;
mod events;
mod filters;
mod migrations;
mod ops;
mod pagination;
mod policies;
mod redis_limits;
mod validation;
