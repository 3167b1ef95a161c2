//! Integration tests of the DDL generator: snapshots, and every generated file applied to a real
//! SQLite and (when `PLINTH_TEST_POSTGRES_URL` is set) a real PostgreSQL.

mod support;

mod behaviour;
mod corpus;
mod robustness;
mod snapshots;
