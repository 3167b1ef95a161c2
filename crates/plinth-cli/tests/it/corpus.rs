//! Real-world Prisma schemas from `../shared/corpus/prisma/` must check with at most warnings.

use crate::{plinth_in, workspace_root};

#[test]
fn every_corpus_prisma_schema_checks_without_errors() {
    let corpus = workspace_root().join("../shared/corpus/prisma");
    let Ok(entries) = std::fs::read_dir(&corpus) else {
        println!("skipped: ../shared/corpus/prisma is absent");
        return;
    };
    let mut schemas: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "prisma")
        })
        .collect();
    schemas.sort();
    assert!(!schemas.is_empty(), "the corpus has no .prisma files");

    let mut failures = Vec::new();
    for schema in &schemas {
        let name = schema
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let run = plinth_in(&corpus, &["check", &name], None);
        if run.code != 0 {
            failures.push(format!("{name}:\n{}", run.transcript()));
        }
    }
    println!(
        "corpus: {} of {} Prisma schemas check without errors",
        schemas.len() - failures.len(),
        schemas.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
