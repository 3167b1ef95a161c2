//! Generated DDL behaves as the schema says once applied: defaults fill in, foreign keys and
//! CHECKs reject bad rows, cascades cascade — in SQLite and PostgreSQL.

use plinth_sql::{create_schema, Dialect};

use crate::support::{
    compile_clean, postgres_failure, postgres_url, sqlite_failure, sqlite_for, test_data,
    TestDatabase,
};

fn postgres_database(test: &str, schema_file: &str) -> Option<TestDatabase> {
    let url = postgres_url(test)?;
    let schema = compile_clean(&test_data(schema_file));
    let ddl = create_schema(&schema, Dialect::Postgres);
    let mut database = TestDatabase::create(&url);
    if let Err(error) = database.apply(&ddl) {
        panic!("{error}\n--- DDL ---\n{ddl}");
    }
    Some(database)
}

fn sqlite_database(schema_file: &str) -> rusqlite::Connection {
    sqlite_for(&compile_clean(&test_data(schema_file)))
}

#[test]
fn blog_in_postgres() {
    let Some(mut database) = postgres_database("blog_in_postgres", "blog.plinth") else {
        return;
    };
    let client = database.client();
    let user = client
        .query_one(
            r#"INSERT INTO "users" ("email", "password", "updated_at")
               VALUES ('ada@example.com', 'hash', now())
               RETURNING "id", "role"::text, "created_at" IS NOT NULL"#,
            &[],
        )
        .expect("insert a user");
    let user_id: i32 = user.get(0);
    assert_eq!(user.get::<_, String>(1), "USER");
    assert!(user.get::<_, bool>(2), "created_at gets now()");

    // Enum values are stored under their mapped names.
    client
        .execute(r#"UPDATE "users" SET "role" = 'admin'"#, &[])
        .expect("mapped enum value");
    let (code, _) = postgres_failure(client.execute(r#"UPDATE "users" SET "role" = 'ADMIN'"#, &[]));
    assert_eq!(
        code, "22P02",
        "the model name of a mapped value is not a database value"
    );

    let insert_post = r#"INSERT INTO "Post" ("title", "slug", "authorId") VALUES ($1, $2, $3)"#;
    let (code, constraint) =
        postgres_failure(client.execute(insert_post, &[&"Hello", &"post-a", &999i32]));
    assert_eq!(
        (code.as_str(), constraint.as_deref()),
        ("23503", Some("Post_authorId_fkey"))
    );
    let (code, constraint) =
        postgres_failure(client.execute(insert_post, &[&"Hi", &"post-b", &user_id]));
    assert_eq!(
        (code.as_str(), constraint.as_deref()),
        ("23514", Some("Post_title_check"))
    );
    let (_, constraint) =
        postgres_failure(client.execute(insert_post, &[&"Hello", &"hello", &user_id]));
    assert_eq!(constraint.as_deref(), Some("Post_slug_check"));

    let post = client
        .query_one(
            r#"INSERT INTO "Post" ("title", "slug", "authorId") VALUES ('Hello', 'post-hello', $1)
               RETURNING "id", "published", "views", "tags"::text, "body""#,
            &[&user_id],
        )
        .expect("insert a post");
    let post_id: i32 = post.get(0);
    assert!(!post.get::<_, bool>(1));
    assert_eq!(post.get::<_, i32>(2), 0);
    assert_eq!(post.get::<_, String>(3), "{}");
    assert_eq!(post.get::<_, String>(4), "");
    let (_, constraint) =
        postgres_failure(client.execute(r#"UPDATE "Post" SET "views" = -1"#, &[]));
    assert_eq!(constraint.as_deref(), Some("Post_views_check"));
    let (_, constraint) =
        postgres_failure(client.execute(r#"UPDATE "Post" SET "rating" = 0"#, &[]));
    assert_eq!(constraint.as_deref(), Some("Post_rating_check"));
    client
        .execute(r#"UPDATE "Post" SET "rating" = 5"#, &[])
        .expect("rating at the upper bound");

    // The implicit many-to-many join table.
    client
        .execute(
            r#"INSERT INTO "Category" ("id", "name") VALUES ('c1', 'News')"#,
            &[],
        )
        .expect("insert a category");
    let link = r#"INSERT INTO "_CategoryToPost" ("A", "B") VALUES ('c1', $1)"#;
    client.execute(link, &[&post_id]).expect("link");
    let (code, constraint) = postgres_failure(client.execute(link, &[&post_id]));
    assert_eq!(
        (code.as_str(), constraint.as_deref()),
        ("23505", Some("_CategoryToPost_AB_unique"))
    );

    // A user with posts cannot be deleted; deleting the post cascades to the join table.
    let (_, constraint) = postgres_failure(client.execute(r#"DELETE FROM "users""#, &[]));
    assert_eq!(constraint.as_deref(), Some("Post_authorId_fkey"));
    client
        .execute(r#"DELETE FROM "Post""#, &[])
        .expect("delete post");
    let links: i64 = client
        .query_one(r#"SELECT count(*) FROM "_CategoryToPost""#, &[])
        .expect("count")
        .get(0);
    assert_eq!(links, 0);

    // One-to-one with onDelete: Cascade, and the unique key behind it.
    client
        .execute(
            r#"INSERT INTO "Profile" ("userId") VALUES ($1)"#,
            &[&user_id],
        )
        .expect("profile");
    let (code, _) = postgres_failure(client.execute(
        r#"INSERT INTO "Profile" ("userId") VALUES ($1)"#,
        &[&user_id],
    ));
    assert_eq!(code, "23505");
    client
        .execute(r#"DELETE FROM "users""#, &[])
        .expect("delete user");
    let profiles: i64 = client
        .query_one(r#"SELECT count(*) FROM "Profile""#, &[])
        .expect("count")
        .get(0);
    assert_eq!(profiles, 0);
}

#[test]
fn blog_in_sqlite() {
    let connection = sqlite_database("blog.plinth");
    connection
        .execute(
            r#"INSERT INTO "users" ("email", "password", "updated_at")
               VALUES ('ada@example.com', 'hash', '2024-01-01T00:00:00.000Z')"#,
            [],
        )
        .expect("insert a user");
    let (id, role, created_at): (i64, String, String) = connection
        .query_row(
            r#"SELECT "id", "role", "created_at" FROM "users""#,
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .expect("read the user");
    assert_eq!(id, 1, "AUTOINCREMENT primary key");
    assert_eq!(role, "USER");
    let bytes = created_at.as_bytes();
    assert!(
        created_at.len() == 24
            && bytes[10] == b'T'
            && bytes[19] == b'.'
            && created_at.ends_with('Z'),
        "ISO-8601 with milliseconds: {created_at}"
    );

    let error = sqlite_failure(connection.execute(r#"UPDATE "users" SET "role" = 'ADMIN'"#, []));
    assert!(error.contains("users_role_check"), "{error}");
    connection
        .execute(r#"UPDATE "users" SET "role" = 'admin'"#, [])
        .expect("mapped enum value");

    let insert_post = r#"INSERT INTO "Post" ("title", "slug", "authorId") VALUES (?1, ?2, ?3)"#;
    let error = sqlite_failure(connection.execute(insert_post, ("Hello", "post-a", 999)));
    assert!(error.contains("FOREIGN KEY constraint failed"), "{error}");
    let error = sqlite_failure(connection.execute(insert_post, ("Hi", "post-b", id)));
    assert!(error.contains("Post_title_check"), "{error}");
    // @startsWith is case-sensitive, unlike SQLite's LIKE.
    let error = sqlite_failure(connection.execute(insert_post, ("Hello", "POST-c", id)));
    assert!(error.contains("Post_slug_check"), "{error}");
    connection
        .execute(insert_post, ("Hello", "post-hello", id))
        .expect("insert a post");
    let (published, views, tags): (bool, i64, String) = connection
        .query_row(
            r#"SELECT "published", "views", "tags" FROM "Post""#,
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .expect("read the post");
    assert!(!published);
    assert_eq!(views, 0);
    assert_eq!(tags, "[]");
    let error = sqlite_failure(connection.execute(r#"UPDATE "Post" SET "published" = 2"#, []));
    assert!(error.contains("Post_published_check"), "{error}");
    sqlite_failure(connection.execute(r#"UPDATE "Post" SET "tags" = 'not json'"#, []));
    sqlite_failure(connection.execute(r#"UPDATE "Post" SET "tags" = '{}'"#, []));
    connection
        .execute(r#"UPDATE "Post" SET "tags" = '["a","b"]'"#, [])
        .expect("a JSON array");

    connection
        .execute(
            r#"INSERT INTO "Category" ("id", "name") VALUES ('c1', 'News')"#,
            [],
        )
        .expect("insert a category");
    connection
        .execute(
            r#"INSERT INTO "_CategoryToPost" ("A", "B") VALUES ('c1', 1)"#,
            [],
        )
        .expect("link");
    let error = sqlite_failure(connection.execute(
        r#"INSERT INTO "_CategoryToPost" ("A", "B") VALUES ('c1', 1)"#,
        [],
    ));
    assert!(error.contains("UNIQUE"), "{error}");
    let error = sqlite_failure(connection.execute(r#"DELETE FROM "users""#, []));
    assert!(error.contains("FOREIGN KEY"), "{error}");
    connection
        .execute(r#"DELETE FROM "Post""#, [])
        .expect("delete post");
    let links: i64 = connection
        .query_row(r#"SELECT count(*) FROM "_CategoryToPost""#, [], |row| {
            row.get(0)
        })
        .expect("count");
    assert_eq!(links, 0, "the join row cascades");
}

#[test]
fn types_in_postgres() {
    let Some(mut database) = postgres_database("types_in_postgres", "types.plinth") else {
        return;
    };
    let client = database.client();
    let row = client
        .query_one(
            r#"INSERT INTO "Everything" ("generatedId", "nano") VALUES ('g', 'n')
               RETURNING "text", "code", "flag", "count", "big", "price"::text, "data"::text,
                         "color"::text, "colors"::text, "numbers"::text, "id" IS NOT NULL"#,
            &[],
        )
        .expect("insert with defaults");
    assert_eq!(row.get::<_, String>(0), "it's \"quoted\"");
    assert_eq!(row.get::<_, String>(1), "XX");
    assert!(row.get::<_, bool>(2));
    assert_eq!(row.get::<_, i32>(3), -1);
    assert_eq!(row.get::<_, i64>(4), 9_007_199_254_740_993);
    assert_eq!(row.get::<_, String>(5), "9.990000000000000000000000000000");
    assert_eq!(row.get::<_, String>(6), "{}");
    assert_eq!(row.get::<_, String>(7), "GREEN");
    assert_eq!(row.get::<_, String>(8), "{RED,BLUE}");
    assert_eq!(row.get::<_, String>(9), "{1,2,3}");
    assert!(row.get::<_, bool>(10), "dbgenerated id");

    let set_hex = r#"UPDATE "Everything" SET "hex" = $1"#;
    client
        .execute(set_hex, &[&"0x50%_off'%_"])
        .expect("matches @startsWith, @contains and @endsWith");
    for bad in ["0x50a_off'%_", "0X50%_off'%_", "0x50%_off'ab"] {
        let (_, constraint) = postgres_failure(client.execute(set_hex, &[&bad]));
        assert_eq!(constraint.as_deref(), Some("Everything_hex_check"), "{bad}");
    }
    let (code, _) = postgres_failure(client.execute(
        r#"UPDATE "Everything" SET "shortText" = $1"#,
        &[&"x".repeat(21)],
    ));
    assert_eq!(code, "22001", "VARCHAR(20)");
    let (_, constraint) =
        postgres_failure(client.execute(r#"UPDATE "Everything" SET "handle" = 'a'"#, &[]));
    assert_eq!(constraint.as_deref(), Some("Everything_handle_check"));
    client
        .execute(r#"UPDATE "Everything" SET "handle" = 'NOT-A-MATCH'"#, &[])
        .expect("@regex is left to the server");
    let (_, constraint) =
        postgres_failure(client.execute(r#"UPDATE "Everything" SET "temperature" = -300"#, &[]));
    assert_eq!(constraint.as_deref(), Some("Everything_temperature_check"));
    client
        .execute(r#"UPDATE "Everything" SET "caseless" = 'MiXeD'"#, &[])
        .expect("citext");
    let found: i64 = client
        .query_one(
            r#"SELECT count(*) FROM "Everything" WHERE "caseless" = 'mixed'"#,
            &[],
        )
        .expect("citext compare")
        .get(0);
    assert_eq!(found, 1);
}

#[test]
fn types_in_sqlite() {
    let connection = sqlite_database("types.plinth");
    connection
        .execute(
            r#"INSERT INTO "Everything" ("id", "generatedId", "nano") VALUES ('x', 'g', 'n')"#,
            [],
        )
        .expect("insert with defaults");
    let row: (String, bool, i64, String, String, String, String, String) = connection
        .query_row(
            r#"SELECT "text", "flag", "big", "data", "color", "colors", "numbers", "at"
               FROM "Everything""#,
            [],
            |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                    row.get(5)?,
                    row.get(6)?,
                    row.get(7)?,
                ))
            },
        )
        .expect("read defaults");
    assert_eq!(row.0, "it's \"quoted\"");
    assert!(row.1);
    assert_eq!(row.2, 9_007_199_254_740_993);
    assert_eq!(row.3, "{}");
    assert_eq!(row.4, "GREEN");
    assert_eq!(row.5, r#"["RED","BLUE"]"#);
    assert_eq!(row.6, "[1,2,3]");
    assert!(row.7.ends_with('Z'), "{}", row.7);

    let set_hex = r#"UPDATE "Everything" SET "hex" = ?1"#;
    connection
        .execute(set_hex, ["0x50%_off'%_"])
        .expect("matches @startsWith, @contains and @endsWith");
    for bad in ["0x50a_off'%_", "0X50%_off'%_", "0x50%_off'ab"] {
        let error = sqlite_failure(connection.execute(set_hex, [bad]));
        assert!(error.contains("Everything_hex_check"), "{bad}: {error}");
    }
    let error =
        sqlite_failure(connection.execute(r#"UPDATE "Everything" SET "color" = 'PURPLE'"#, []));
    assert!(error.contains("Everything_color_check"), "{error}");
    let error = sqlite_failure(connection.execute(r#"UPDATE "Everything" SET "data" = '{'"#, []));
    assert!(error.contains("Everything_data_check"), "{error}");
    let error =
        sqlite_failure(connection.execute(r#"UPDATE "Everything" SET "temperature" = -300"#, []));
    assert!(error.contains("Everything_temperature_check"), "{error}");
}

#[test]
fn relations_in_postgres() {
    let Some(mut database) = postgres_database("relations_in_postgres", "relations.plinth") else {
        return;
    };
    let client = database.client();
    client
        .batch_execute(
            r#"INSERT INTO "crm"."Organization" ("name") VALUES ('Acme');
               INSERT INTO "Person" ("email") VALUES ('a@acme.test'), ('b@acme.test');
               INSERT INTO "Membership" ("organizationId", "personId") VALUES (1, 1);
               INSERT INTO "Team" ("organizationId", "code") VALUES (1, 'red');
               INSERT INTO "Badge" ("organizationId", "teamCode", "label") VALUES (1, 'red', 'x');
               INSERT INTO "_Friends" ("A", "B") VALUES (1, 2);"#,
        )
        .expect("rows across schemas");
    let (_, constraint) = postgres_failure(client.execute(
        r#"INSERT INTO "Badge" ("organizationId", "teamCode", "label") VALUES (1, 'blue', 'y')"#,
        &[],
    ));
    assert_eq!(
        constraint.as_deref(),
        Some("Badge_organizationId_teamCode_fkey")
    );
    let (_, constraint) = postgres_failure(client.execute(r#"DELETE FROM "Team""#, &[]));
    assert_eq!(
        constraint.as_deref(),
        Some("Badge_organizationId_teamCode_fkey"),
        "onDelete: Restrict"
    );
    client
        .execute(r#"DELETE FROM "Person" WHERE "id" = 1"#, &[])
        .expect("memberships and friendships cascade");
    let remaining: i64 = client
        .query_one(
            r#"SELECT (SELECT count(*) FROM "Membership") + (SELECT count(*) FROM "_Friends")"#,
            &[],
        )
        .expect("count")
        .get(0);
    assert_eq!(remaining, 0);
    let (code, constraint) = postgres_failure(client.execute(
        r#"INSERT INTO "Person" ("email") VALUES ('b@acme.test')"#,
        &[],
    ));
    assert_eq!(
        (code.as_str(), constraint.as_deref()),
        ("23505", Some("person_email_unique"))
    );
}

#[test]
fn relations_in_sqlite() {
    let connection = sqlite_database("relations.plinth");
    connection
        .execute_batch(
            r#"INSERT INTO "Organization" ("name") VALUES ('Acme');
               INSERT INTO "Person" ("email") VALUES ('a@acme.test'), ('b@acme.test');
               INSERT INTO "Person" ("email", "managerId") VALUES ('c@acme.test', 1);
               INSERT INTO "Team" ("organizationId", "code") VALUES (1, 'red');
               INSERT INTO "Badge" ("organizationId", "teamCode", "label") VALUES (1, 'red', 'x');"#,
        )
        .expect("rows");
    let error = sqlite_failure(connection.execute(r#"DELETE FROM "Team""#, []));
    assert!(error.contains("FOREIGN KEY"), "{error}");
    connection
        .execute(r#"DELETE FROM "Person" WHERE "id" = 1"#, [])
        .expect("delete the manager");
    let manager: Option<i64> = connection
        .query_row(
            r#"SELECT "managerId" FROM "Person" WHERE "email" = 'c@acme.test'"#,
            [],
            |row| row.get(0),
        )
        .expect("read");
    assert_eq!(manager, None, "onDelete: SetNull");
}

#[test]
fn dbgenerated_is_written_only_for_the_datasource_dialect() {
    let source = r#"
        datasource db {
          provider = "sqlite"
          url      = "file:dev.db"
        }
        model Token {
          id    Int    @id @default(autoincrement())
          value String @default(dbgenerated("lower(hex(randomblob(8)))"))
        }
    "#;
    let (schema, diagnostics) = plinth_model::compile(source);
    assert!(
        !plinth_diagnostics::has_errors(&diagnostics),
        "{diagnostics:?}"
    );
    let sqlite = create_schema(&schema, Dialect::Sqlite);
    assert!(
        sqlite.contains(r#""value" TEXT NOT NULL DEFAULT (lower(hex(randomblob(8))))"#),
        "{sqlite}"
    );
    let postgres = create_schema(&schema, Dialect::Postgres);
    assert!(
        postgres.contains(r#""value" TEXT NOT NULL, -- dbgenerated("#),
        "{postgres}"
    );

    let connection = crate::support::sqlite_with(&sqlite).expect("apply");
    connection
        .execute(r#"INSERT INTO "Token" DEFAULT VALUES"#, [])
        .expect("insert");
    let value: String = connection
        .query_row(r#"SELECT "value" FROM "Token""#, [], |row| row.get(0))
        .expect("read");
    assert_eq!(value.len(), 16, "the database generated it");
}
