//! A generated 500-model schema (about 5,000 fields) parses and formats quickly.

use std::fmt::Write;
use std::time::{Duration, Instant};

fn generated_schema(models: usize) -> String {
    let mut source = String::from("datasource db {\n  provider = \"postgresql\"\n}\n\n");
    for index in 0..models {
        let _ = write!(
            source,
            "/// Model number {index}.\nmodel Model{index} {{\n  id        Int      @id @default(autoincrement())\n  name      String   @db.VarChar(200)\n  email     String   @unique\n  score     Float?   @default(-1.5)\n  active    Boolean  @default(true)\n  createdAt DateTime @default(now())\n  updatedAt DateTime @updatedAt\n  tags      String[]\n  ownerId   Int\n  owner     Model{next} @relation(fields: [ownerId], references: [id], onDelete: Cascade) // owner\n\n  @@index([name, createdAt(sort: Desc)])\n  @@allow('read', owner.active == true && auth().id == ownerId || tags?[this != null])\n}}\n\n",
            next = (index + 1) % models,
        );
    }
    source
}

#[test]
fn five_hundred_models_parse_fast() {
    let source = generated_schema(500);
    let started = Instant::now();
    let (file, diagnostics) = plinth_syntax::parse(&source);
    let parsed = started.elapsed();
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    assert_eq!(file.items.len(), 501);
    let started = Instant::now();
    let formatted = plinth_syntax::format(&source).expect("formats");
    let formatting = started.elapsed();
    assert!(formatted.len() > source.len() / 2);
    println!(
        "parse: {parsed:?}, format: {formatting:?} for {} bytes",
        source.len()
    );
    // Generous bound: this runs unoptimised in debug builds and on busy CI machines.
    assert!(parsed < Duration::from_millis(500), "parse took {parsed:?}");
    assert!(
        formatting < Duration::from_secs(2),
        "format took {formatting:?}"
    );
}
