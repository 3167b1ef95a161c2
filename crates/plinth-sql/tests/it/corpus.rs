//! Every real-world Prisma schema in the shared corpus compiles without errors and its DDL
//! applies to SQLite and (when configured) PostgreSQL.

use plinth_sql::{create_schema, Dialect};

use crate::support::{compile, crate_dir, postgres_url, sqlite_with, TestDatabase};

#[test]
fn corpus_prisma_schemas_compile_and_apply() {
    let corpus = crate_dir().join("../../../shared/corpus/prisma");
    let Ok(entries) = std::fs::read_dir(&corpus) else {
        eprintln!("corpus: skipped: no shared corpus beside the workspace");
        return;
    };
    let mut paths: Vec<_> = entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "prisma")
        })
        .collect();
    paths.sort();
    if paths.is_empty() {
        eprintln!("corpus: skipped: the corpus has no .prisma files");
        return;
    }
    let postgres = postgres_url("corpus");

    let mut failures = Vec::new();
    for path in &paths {
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let schema = match compile(path) {
            Ok(schema) => schema,
            Err(errors) => {
                failures.push(format!("{name}: does not compile:\n{errors}"));
                continue;
            }
        };
        let sqlite = create_schema(&schema, Dialect::Sqlite);
        if let Err(error) = sqlite_with(&sqlite) {
            failures.push(format!("{name}: {error}"));
        }
        if let Some(url) = &postgres {
            let mut database = TestDatabase::create(url);
            if let Err(error) = database.apply(&create_schema(&schema, Dialect::Postgres)) {
                failures.push(format!("{name}: {error}"));
            }
        }
    }
    let failed_files: std::collections::BTreeSet<&str> = failures
        .iter()
        .filter_map(|failure| failure.split(':').next())
        .collect();
    eprintln!(
        "corpus: {} of {} schemas compile and apply to SQLite{}",
        paths.len() - failed_files.len(),
        paths.len(),
        if postgres.is_some() {
            " and PostgreSQL"
        } else {
            ""
        }
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
