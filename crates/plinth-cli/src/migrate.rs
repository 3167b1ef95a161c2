//! `plinth migrate diff | up | down | status`: the command-line face of `plinth-migrate`.

use crate::arguments::{
    DialectChoice, MigrateCommand, MigrateDiffOptions, MigrateOptions, MigrateRunOptions,
};
use crate::input::{print_diagnostics, read_schema, Counts};
use crate::Outcome;
use anyhow::Context;
use plinth_diagnostics::has_errors;
use plinth_migrate::author::{DiffOptions, DiffOutcome};
use plinth_migrate::database::Database;
use plinth_migrate::{folder, runner};
use plinth_sql::Dialect;
use std::path::{Path, PathBuf};

pub fn run(options: &MigrateOptions) -> anyhow::Result<Outcome> {
    match &options.command {
        MigrateCommand::Diff(options) => diff(options),
        MigrateCommand::Up(options) => up(options),
        MigrateCommand::Down(options) => down(options),
        MigrateCommand::Status(options) => status(options),
    }
}

/// `migrations` beside the schema unless `--dir` says otherwise.
fn migrations_directory(schema: &Path, dir: Option<&PathBuf>) -> PathBuf {
    match dir {
        Some(dir) => dir.clone(),
        None => schema
            .parent()
            .map(|parent| parent.join("migrations"))
            .unwrap_or_else(|| PathBuf::from("migrations")),
    }
}

fn diff(options: &MigrateDiffOptions) -> anyhow::Result<Outcome> {
    let file = read_schema(&options.file)?;
    let (schema, diagnostics) = plinth_model::compile(&file.text);
    print_diagnostics(&file, &diagnostics);
    if has_errors(&diagnostics) {
        eprintln!(
            "no migration written for {}: {}",
            file.name,
            Counts::of(&diagnostics).describe()
        );
        return Ok(Outcome::Findings);
    }
    let mut renames = Vec::new();
    for rename in &options.renames {
        let Some((old, new)) = rename.split_once('=') else {
            anyhow::bail!("`--rename {rename}` must be `OLD=NEW`");
        };
        renames.push((old.trim().to_string(), new.trim().to_string()));
    }
    let dialects = match options.dialect {
        None => Vec::new(),
        Some(DialectChoice::Sqlite) => vec![Dialect::Sqlite],
        Some(DialectChoice::Postgres) => vec![Dialect::Postgres],
        Some(DialectChoice::All) => Dialect::ALL.to_vec(),
    };
    let directory = migrations_directory(&options.file, options.dir.as_ref());
    let diff_options = DiffOptions {
        name: options.name.clone(),
        renames,
        allow_destructive: options.allow_destructive,
        dialects,
    };
    let outcome = plinth_migrate::author::diff(&directory, &file.text, &schema, &diff_options)?;
    match outcome {
        DiffOutcome::NothingToDo => {
            println!(
                "nothing to do: {} matches the last migration in {}",
                file.name,
                directory.display()
            );
            Ok(Outcome::Clean)
        }
        DiffOutcome::Written { folder, files } => {
            println!("wrote {}", folder.display());
            for file in files {
                println!("  {file}");
            }
            Ok(Outcome::Clean)
        }
        DiffOutcome::Destructive { losses } => {
            eprintln!("error: this change would lose data:");
            for loss in &losses {
                eprintln!("  - {loss}");
            }
            eprintln!(
                "no migration written; run again with --allow-destructive to write it anyway"
            );
            Ok(Outcome::Findings)
        }
        DiffOutcome::Refused { reason } => {
            eprintln!("error: {reason}");
            eprintln!("no migration written");
            Ok(Outcome::Findings)
        }
    }
}

/// The run options resolved: count, schema path, database, migrations.
struct Target {
    count: Option<usize>,
    database: Database,
    url: String,
    migrations: Vec<folder::Migration>,
}

fn target(options: &MigrateRunOptions) -> anyhow::Result<Target> {
    let (count, schema) = match options.arguments.as_slice() {
        [schema] => (None, schema),
        [count, schema] => {
            let count: usize = count
                .parse()
                .with_context(|| format!("`{count}` is not a number of migrations"))?;
            (Some(count), schema)
        }
        _ => anyhow::bail!("expected `[N] SCHEMA`"),
    };
    let schema = PathBuf::from(schema);
    if !schema.is_file() {
        anyhow::bail!("cannot read `{}`: no such file", schema.display());
    }
    let directory = migrations_directory(&schema, options.dir.as_ref());
    let migrations = folder::list(&directory)?;
    let url = options
        .db
        .clone()
        .unwrap_or_else(|| plinth_server::default_database_for(&schema));
    let database = Database::open(&url)?;
    Ok(Target {
        count,
        database,
        url,
        migrations,
    })
}

fn up(options: &MigrateRunOptions) -> anyhow::Result<Outcome> {
    let mut target = target(options)?;
    let steps = runner::up(&mut target.database, &target.migrations, target.count)?;
    if steps.is_empty() {
        println!("nothing to apply: {} is up to date", target.url);
    }
    for step in &steps {
        if step.adopted {
            println!(
                "adopted {} (the database already had its schema)",
                step.migration
            );
        } else {
            println!("applied {} ({} ms)", step.migration, step.duration_ms);
        }
    }
    Ok(Outcome::Clean)
}

fn down(options: &MigrateRunOptions) -> anyhow::Result<Outcome> {
    let mut target = target(options)?;
    let steps = runner::down(
        &mut target.database,
        &target.migrations,
        target.count.unwrap_or(1),
    )?;
    if steps.is_empty() {
        println!(
            "nothing to roll back: no migration is applied to {}",
            target.url
        );
    }
    for step in &steps {
        println!("rolled back {} ({} ms)", step.migration, step.duration_ms);
    }
    Ok(Outcome::Clean)
}

fn status(options: &MigrateRunOptions) -> anyhow::Result<Outcome> {
    let mut target = target(options)?;
    let status = runner::status(&mut target.database, &target.migrations)?;
    println!("database: {}", target.url);
    println!("applied: {}", status.applied.len());
    for row in &status.applied {
        println!("  {} (applied {})", row.id(), row.applied_at);
    }
    println!("pending: {}", status.pending.len());
    for migration in &status.pending {
        println!("  {}", migration.id());
    }
    if status.drift.is_empty() {
        println!("drift: none");
        Ok(Outcome::Clean)
    } else {
        println!("drift: {}", status.drift.len());
        for drift in &status.drift {
            println!("  {drift}");
        }
        Ok(Outcome::Findings)
    }
}
