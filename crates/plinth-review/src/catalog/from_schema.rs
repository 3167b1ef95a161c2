//! Adds Prisma/Plinth models to the catalogue as the tables they map to.
//!
//! A model becomes the table Prisma Migrate (or `plinth build`) would create: `@@map`/`@map`
//! names, scalar fields as columns, `@id`/`@@id`, `@unique`/`@@unique`, `@@index`, foreign keys
//! from the relations, and implicit many-to-many join tables (`_PostToTag`). For `.plinth`
//! schemas the foreign-key indexes Plinth's DDL adds are included too, since they will exist;
//! Prisma Migrate adds none, so for `.prisma` and `.zmodel` files they are left out.

use super::{Catalog, Column, ForeignKey, Index, Key, Origin, Table, TableSource};
use crate::input::schema::SchemaDoc;
use crate::{FileId, Workspace};
use plinth_model::{DefaultValue, FieldType, Model, RelationKind, Schema, Value as ModelValue};

pub(super) fn add_models(workspace: &Workspace, catalog: &mut Catalog) {
    for doc in &workspace.schemas {
        let plinth = workspace
            .files
            .get(doc.file)
            .is_some_and(|file| file.name.to_ascii_lowercase().ends_with(".plinth"));
        add_schema(doc, plinth, catalog);
    }
}

fn add_schema(doc: &SchemaDoc, plinth: bool, catalog: &mut Catalog) {
    let schema = &doc.schema;
    let first = catalog.tables.len();
    for model in &schema.models {
        catalog.tables.push(model_table(schema, model, doc.file));
    }
    for relation in &schema.relations {
        let (Some(referencing), Some(referenced)) = (
            schema.models.get(relation.referencing.model.0),
            schema.models.get(relation.referenced.model.0),
        ) else {
            continue;
        };
        let origin = Origin {
            file: doc.file,
            span: referencing
                .fields
                .get(relation.referencing.index)
                .map_or(referencing.name_span, |field| field.span),
        };
        if let RelationKind::ManyToMany { join_table } = &relation.kind {
            catalog
                .tables
                .push(join_table_of(schema, relation, join_table, origin));
            continue;
        }
        let columns = column_names(referencing, &relation.fk_fields);
        let references_columns = column_names(referenced, &relation.references);
        if columns.is_empty() || columns.len() != relation.fk_fields.len() {
            continue;
        }
        let Some(table) = catalog.tables.get_mut(first + relation.referencing.model.0) else {
            continue;
        };
        if plinth && !covered_in_any_order(table, &columns) {
            table.indexes.push(Index {
                name: None,
                columns: columns.clone(),
                unique: false,
                partial: false,
                method: None,
                origin,
            });
        }
        table.foreign_keys.push(ForeignKey {
            name: None,
            columns,
            references_table: referenced.db_name.clone(),
            references_columns,
            origin,
        });
    }
}

fn model_table(schema: &Schema, model: &Model, file: FileId) -> Table {
    let origin = |span| Origin { file, span };
    let columns = model
        .columns()
        .map(|(_, field)| Column {
            name: field.db_name.clone(),
            data_type: data_type(schema, field),
            nullable: field.is_optional(),
            default: field.default.as_ref().map(|d| default_text(schema, d)),
            origin: origin(field.span),
        })
        .collect();
    let primary_key = (!model.primary_key.fields.is_empty()).then(|| Key {
        name: model.primary_key.db_name.clone(),
        columns: column_names(model, &model.primary_key.fields),
        origin: origin(match model.primary_key.fields.as_slice() {
            [single] => model
                .fields
                .get(*single)
                .map_or(model.name_span, |f| f.span),
            _ => model.name_span,
        }),
    });
    let uniques = model
        .unique_constraints
        .iter()
        .map(|unique| {
            let fields: Vec<usize> = unique.fields.iter().map(|f| f.field).collect();
            Key {
                name: unique.db_name.clone(),
                columns: column_names(model, &fields),
                origin: origin(unique.span),
            }
        })
        .collect();
    let indexes = model
        .indexes
        .iter()
        .map(|index| {
            let fields: Vec<usize> = index.fields.iter().map(|f| f.field).collect();
            Index {
                name: index.db_name.clone(),
                columns: column_names(model, &fields),
                unique: false,
                partial: false,
                method: index.method.as_ref().map(|m| m.to_ascii_lowercase()),
                origin: origin(index.span),
            }
        })
        .collect();
    Table {
        name: model.db_name.clone(),
        schema: model.db_schema.clone(),
        source: TableSource::Schema,
        origin: origin(model.name_span),
        columns,
        primary_key,
        uniques,
        foreign_keys: Vec::new(),
        indexes,
    }
}

/// Prisma's implicit many-to-many table: columns `A` and `B` referencing the two models' ids,
/// unique on `(A, B)` and indexed on `B`.
fn join_table_of(
    schema: &Schema,
    relation: &plinth_model::Relation,
    join_table: &str,
    origin: Origin,
) -> Table {
    let model_a = schema.models.get(relation.referencing.model.0);
    let model_b = schema.models.get(relation.referenced.model.0);
    let id_type = |model: Option<&Model>| {
        model
            .and_then(|m| m.primary_key_fields().next())
            .map_or_else(|| "string".to_string(), |f| data_type(schema, f))
    };
    let column = |name: &str, model: Option<&Model>| Column {
        name: name.to_string(),
        data_type: id_type(model),
        nullable: false,
        default: None,
        origin,
    };
    let foreign_key = |name: &str, model: Option<&Model>| ForeignKey {
        name: None,
        columns: vec![name.to_string()],
        references_table: model.map_or_else(String::new, |m| m.db_name.clone()),
        references_columns: model
            .map(|m| column_names(m, &m.primary_key.fields))
            .unwrap_or_default(),
        origin,
    };
    Table {
        name: join_table.to_string(),
        schema: model_a.and_then(|m| m.db_schema.clone()),
        source: TableSource::Schema,
        origin,
        columns: vec![column("A", model_a), column("B", model_b)],
        primary_key: None,
        uniques: vec![Key {
            name: None,
            columns: vec!["A".to_string(), "B".to_string()],
            origin,
        }],
        foreign_keys: vec![foreign_key("A", model_a), foreign_key("B", model_b)],
        indexes: vec![Index {
            name: None,
            columns: vec!["B".to_string()],
            unique: false,
            partial: false,
            method: None,
            origin,
        }],
    }
}

fn column_names(model: &Model, fields: &[usize]) -> Vec<String> {
    fields
        .iter()
        .filter_map(|&index| model.fields.get(index))
        .map(|field| field.db_name.clone())
        .collect()
}

/// The native type when one is written (`varchar(255)`, `decimal(10,2)`), else the Prisma
/// type lowercased (`string`, `datetime`, an enum's name); lists end in `[]`.
fn data_type(schema: &Schema, field: &plinth_model::Field) -> String {
    let base = match (&field.native_type, &field.ty) {
        (Some(native), _) if native.args.is_empty() => native.name.to_ascii_lowercase(),
        (Some(native), _) => format!(
            "{}({})",
            native.name.to_ascii_lowercase(),
            native.args.join(",")
        ),
        (None, FieldType::Scalar(scalar)) => scalar.name().to_ascii_lowercase(),
        (None, FieldType::Enum(id)) => schema
            .enums
            .get(id.0)
            .map_or_else(|| "enum".to_string(), |e| e.db_name.to_ascii_lowercase()),
        (None, FieldType::Unsupported(name)) => name.to_ascii_lowercase(),
        (None, FieldType::Relation(_)) => String::new(),
    };
    if field.is_list() {
        format!("{base}[]")
    } else {
        base
    }
}

/// A default as Prisma writes it: `autoincrement()`, `now()`, `'draft'`, `false`.
fn default_text(schema: &Schema, default: &DefaultValue) -> String {
    match default {
        DefaultValue::Autoincrement => "autoincrement()".to_string(),
        DefaultValue::Uuid { .. } => "uuid()".to_string(),
        DefaultValue::Cuid { .. } => "cuid()".to_string(),
        DefaultValue::Nanoid { .. } => "nanoid()".to_string(),
        DefaultValue::Ulid => "ulid()".to_string(),
        DefaultValue::Now => "now()".to_string(),
        DefaultValue::DbGenerated(Some(expr)) => expr.clone(),
        DefaultValue::DbGenerated(None) => "dbgenerated()".to_string(),
        DefaultValue::Auth { .. } => "auth()".to_string(),
        DefaultValue::Value(value) => value_text(schema, value),
    }
}

fn value_text(schema: &Schema, value: &ModelValue) -> String {
    match value {
        ModelValue::String(text) => format!("'{}'", text.replace('\'', "''")),
        ModelValue::Int(n) => n.to_string(),
        ModelValue::Float(text) => text.clone(),
        ModelValue::Boolean(b) => b.to_string(),
        ModelValue::Enum { enum_id, value } => schema
            .enums
            .get(enum_id.0)
            .and_then(|e| e.values.get(*value))
            .map_or_else(String::new, |v| format!("'{}'", v.db_name)),
        ModelValue::List(items) => format!(
            "[{}]",
            items
                .iter()
                .map(|item| value_text(schema, item))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        ModelValue::Null => "null".to_string(),
    }
}

/// Like [`Table::has_index_on`], but the leading columns may come in any order, as Plinth's DDL
/// decides whether a foreign key needs an index of its own.
fn covered_in_any_order(table: &Table, columns: &[String]) -> bool {
    let leads = |key: &[String]| {
        key.len() >= columns.len()
            && columns.iter().all(|c| {
                key[..columns.len()]
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(c))
            })
    };
    table.primary_key.iter().any(|k| leads(&k.columns))
        || table.uniques.iter().any(|k| leads(&k.columns))
        || table
            .indexes
            .iter()
            .any(|i| !i.partial && leads(&i.columns))
}

#[cfg(test)]
mod tests {
    use crate::catalog::TableSource;
    use crate::load_sources;

    const SCHEMA: &str = r#"
datasource db {
  provider = "postgresql"
  url      = env("DATABASE_URL")
}

model User {
  id    Int    @id @default(autoincrement())
  email String @unique @db.VarChar(320)
  posts Post[]
  tags  Tag[]
  @@map("users")
}

model Post {
  id       Int     @id @default(autoincrement())
  title    String
  price    Float?
  author   User    @relation(fields: [authorId], references: [id])
  authorId Int     @map("author_id")
  status   String  @default("draft")
  @@index([status])
}

model Tag {
  id    Int    @id
  users User[]
}
"#;

    #[test]
    fn models_become_tables_with_keys_and_foreign_keys() {
        let workspace = load_sources(vec![("schema.prisma".to_string(), SCHEMA.to_string())]);
        let catalog = &workspace.catalog;
        let users = catalog.table("users").expect("@@map names the table");
        assert_eq!(users.source, TableSource::Schema);
        assert_eq!(
            users.column("email").map(|c| c.data_type.as_str()),
            Some("varchar(320)")
        );
        assert_eq!(users.primary_key.as_ref().unwrap().columns, ["id"]);
        assert_eq!(users.uniques[0].columns, ["email"]);

        let post = catalog.table("Post").unwrap();
        let price = post.column("price").unwrap();
        assert!(price.nullable);
        assert_eq!(price.data_type, "float");
        assert_eq!(
            post.column("status").unwrap().default.as_deref(),
            Some("'draft'")
        );
        assert_eq!(post.foreign_keys.len(), 1);
        assert_eq!(post.foreign_keys[0].columns, ["author_id"]);
        assert_eq!(post.foreign_keys[0].references_table, "users");
        assert!(post.has_index_on(&["status".to_string()]));
        // Prisma Migrate creates no index behind a foreign key.
        assert!(!post.has_index_on(&["author_id".to_string()]));

        let join = catalog
            .table("_TagToUser")
            .expect("implicit many-to-many table");
        assert_eq!(join.foreign_keys.len(), 2);
        assert!(join.has_index_on(&["B".to_string()]));
    }

    #[test]
    fn plinth_schemas_get_the_foreign_key_indexes_plinth_creates() {
        let workspace = load_sources(vec![("schema.plinth".to_string(), SCHEMA.to_string())]);
        let post = workspace.catalog.table("Post").unwrap();
        assert!(post.has_index_on(&["author_id".to_string()]));
    }
}
