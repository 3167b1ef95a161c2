//! Generates a large, realistic schema for the compile benchmark (and the test that keeps the
//! generator honest): enums, scalar fields with validations, a relation to the previous model,
//! and two access policies per model.

use std::fmt::Write;

const ENUM_COUNT: usize = 10;

/// A schema with an `@@auth` user model plus `models` generated models, each with ten fields
/// besides the back-relation and two policies.
pub fn generated_schema(models: usize) -> String {
    let mut out = String::new();
    out.push_str(
        "datasource db {\n  provider = \"postgresql\"\n  url      = env(\"DATABASE_URL\")\n}\n\n",
    );
    out.push_str("enum Role {\n  MEMBER\n  ADMIN\n}\n\n");
    for number in 0..ENUM_COUNT {
        let _ = writeln!(
            out,
            "enum Stage{number} {{\n  S{number}_DRAFT\n  S{number}_ACTIVE\n  S{number}_ARCHIVED\n}}\n"
        );
    }
    out.push_str(
        "model User {\n  id       Int    @id @default(autoincrement())\n  email    String @unique @email\n  \
         password String @password @omit\n  role     Role   @default(MEMBER)\n\n  @@auth\n  \
         @@allow('create', role == MEMBER)\n  @@allow('read', auth() == this)\n}\n\n",
    );
    for index in 0..models {
        let stage = index % ENUM_COUNT;
        let _ = writeln!(out, "/// Generated model number {index}.");
        let _ = writeln!(out, "model Entity{index:04} {{");
        let _ = writeln!(out, "  id        Int      @id @default(autoincrement())");
        let _ = writeln!(out, "  name      String   @length(1, 100)");
        let _ = writeln!(out, "  code      String   @unique @regex(\"^[A-Z0-9]+$\")");
        let _ = writeln!(out, "  stage     Stage{stage}   @default(S{stage}_DRAFT)");
        let _ = writeln!(out, "  amount    Decimal  @gte(0)");
        let _ = writeln!(out, "  quantity  Int      @default(0) @gte(0)");
        let _ = writeln!(out, "  active    Boolean  @default(true)");
        let _ = writeln!(out, "  ownerId   Int      @default(auth().id)");
        let _ = writeln!(out, "  createdAt DateTime @default(now())");
        if index > 0 {
            let previous = index - 1;
            let _ = writeln!(
                out,
                "  parent    Entity{previous:04}? @relation(fields: [parentId], references: [id], onDelete: SetNull)"
            );
            let _ = writeln!(out, "  parentId  Int?");
        }
        if index + 1 < models {
            let _ = writeln!(out, "  children  Entity{:04}[]", index + 1);
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "  @@index([stage, createdAt])");
        let _ = writeln!(
            out,
            "  @@allow('read', active && stage != S{stage}_ARCHIVED)"
        );
        if index > 0 {
            let _ = writeln!(
                out,
                "  @@allow('all', ownerId == auth().id || parent.ownerId == auth().id)"
            );
        } else {
            let _ = writeln!(out, "  @@allow('all', ownerId == auth().id)");
        }
        let _ = writeln!(out, "}}\n");
    }
    out
}
