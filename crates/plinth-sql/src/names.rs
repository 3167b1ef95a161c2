//! Identifier quoting and Prisma-style constraint and index names (`User_pkey`,
//! `User_email_key`, `Post_authorId_idx`, `Post_authorId_fkey`), kept unique and within
//! PostgreSQL's identifier length.

use std::collections::{HashMap, HashSet};

use crate::Dialect;

/// PostgreSQL silently truncates longer identifiers, which can make two generated names collide;
/// generated names are therefore shortened (with a hash of the full name) to fit.
pub const POSTGRES_MAX_IDENTIFIER_BYTES: usize = 63;

/// Quotes an identifier for `dialect`: always double quotes, inner quotes doubled. Both dialects
/// use the SQL-standard form; quoting every name keeps case and reserved words safe.
pub fn quote_ident(dialect: Dialect, name: &str) -> String {
    // The same in both dialects today; the parameter keeps call sites honest if that changes.
    let _ = dialect;
    let mut quoted = String::with_capacity(name.len() + 2);
    quoted.push('"');
    for character in name.chars() {
        if character == '"' {
            quoted.push('"');
        }
        quoted.push(character);
    }
    quoted.push('"');
    quoted
}

/// `prefix_suffix`, shortened when longer than [`POSTGRES_MAX_IDENTIFIER_BYTES`]: the prefix is
/// cut and an 8-digit hash of the full name is inserted, so the suffix (`_key`, `_fkey`...) that
/// says what the object is survives and distinct long names stay distinct.
pub fn constraint_name(prefix: &str, suffix: &str) -> String {
    let full = format!("{prefix}_{suffix}");
    if full.len() <= POSTGRES_MAX_IDENTIFIER_BYTES {
        return full;
    }
    let hash = fnv1a_32(full.as_bytes());
    // Room for "<cut>_<8 hex>_<suffix>".
    let room = POSTGRES_MAX_IDENTIFIER_BYTES.saturating_sub(suffix.len() + 10);
    let mut cut_at = room.min(prefix.len());
    while cut_at > 0 && !prefix.is_char_boundary(cut_at) {
        cut_at -= 1;
    }
    format!("{}_{hash:08x}_{suffix}", &prefix[..cut_at])
}

/// A small, stable hash: names must not change between runs or Rust versions.
fn fnv1a_32(bytes: &[u8]) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in bytes {
        hash ^= u32::from(*byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

/// Keeps generated names unique within their namespace (PostgreSQL: tables and indexes share
/// one namespace per schema; constraint names are per table. SQLite: one namespace).
#[derive(Debug, Default)]
pub(crate) struct NameRegistry {
    used: HashMap<String, HashSet<String>>,
}

impl NameRegistry {
    /// Records a name chosen by the user (`map:`) or a table name, as is.
    pub(crate) fn reserve(&mut self, namespace: &str, name: &str) {
        self.used
            .entry(namespace.to_string())
            .or_default()
            .insert(name.to_string());
    }

    /// A default name `prefix_suffix`, or `prefix_2_suffix`, `prefix_3_suffix`... when taken.
    pub(crate) fn allocate(&mut self, namespace: &str, prefix: &str, suffix: &str) -> String {
        let used = self.used.entry(namespace.to_string()).or_default();
        let mut attempt: usize = 1;
        loop {
            let candidate_prefix = if attempt == 1 {
                prefix.to_string()
            } else {
                format!("{prefix}_{attempt}")
            };
            let candidate = constraint_name(&candidate_prefix, suffix);
            if used.insert(candidate.clone()) {
                return candidate;
            }
            attempt += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_doubles_inner_quotes() {
        assert_eq!(quote_ident(Dialect::Postgres, "User"), "\"User\"");
        assert_eq!(quote_ident(Dialect::Sqlite, "we\"ird"), "\"we\"\"ird\"");
    }

    #[test]
    fn short_names_are_kept() {
        assert_eq!(constraint_name("User_email", "key"), "User_email_key");
    }

    #[test]
    fn long_names_fit_and_keep_suffix_and_stay_distinct() {
        let first = constraint_name(&"a".repeat(80), "fkey");
        let second = constraint_name(&format!("{}b", "a".repeat(79)), "fkey");
        assert!(first.len() <= POSTGRES_MAX_IDENTIFIER_BYTES);
        assert!(first.ends_with("_fkey"));
        assert_ne!(first, second);
        let multibyte = constraint_name(&"é".repeat(60), "idx");
        assert!(multibyte.len() <= POSTGRES_MAX_IDENTIFIER_BYTES);
    }

    #[test]
    fn registry_deduplicates() {
        let mut registry = NameRegistry::default();
        registry.reserve("public", "Post_title_idx");
        assert_eq!(
            registry.allocate("public", "Post_title", "idx"),
            "Post_title_2_idx"
        );
        assert_eq!(
            registry.allocate("other", "Post_title", "idx"),
            "Post_title_idx"
        );
    }
}
