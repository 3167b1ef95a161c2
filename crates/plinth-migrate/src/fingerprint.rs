//! The schema fingerprint shared with `plinth serve`: SHA-256 (lowercase hex) of the schema's
//! `create_schema` DDL for the database's dialect. Serve stores it in `_plinth_meta` under
//! `schema_fingerprint` and refuses to start when it differs; migrate writes it after every
//! `up`/`down`, so the two must compute it the same way — this function is that one rule.

use plinth_model::Schema;
use plinth_sql::Dialect;
use sha2::{Digest, Sha256};

/// The `_plinth_meta` key that holds the fingerprint.
pub const FINGERPRINT_KEY: &str = "schema_fingerprint";

/// SHA-256 of `create_schema(schema, dialect)`, as lowercase hex.
pub fn schema_fingerprint(schema: &Schema, dialect: Dialect) -> String {
    sha256_hex(plinth_sql::create_schema(schema, dialect).as_bytes())
}

/// SHA-256 of `bytes` as 64 lowercase hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}
