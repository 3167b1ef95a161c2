//! The command line, in one place: every subcommand and flag with its help text.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Plinth checks a schema like a compiler and builds SQL, OpenAPI and docs from it.
#[derive(Debug, Parser)]
#[command(name = "plinth", version, about, propagate_version = true)]
pub struct Arguments {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a schema and report every problem in it.
    ///
    /// Exits 0 when there are no errors (warnings allowed), 1 when there are errors, 2 when the
    /// file cannot be read.
    Check(CheckOptions),
    /// Format schemas canonically, in place.
    Fmt(FormatOptions),
    /// Write SQL DDL, an OpenAPI document and docs for a schema that checks without errors.
    Build(BuildOptions),
}

#[derive(Debug, Args)]
pub struct CheckOptions {
    /// The schema file (`.plinth`, or a Prisma `.prisma` file).
    pub file: PathBuf,
    /// How to print diagnostics.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Compiler-style text on stderr, a summary line on stdout.
    Text,
    /// One JSON document on stdout.
    Json,
}

#[derive(Debug, Args)]
pub struct FormatOptions {
    /// Schema files to format; `-` reads standard input and writes standard output.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Change nothing; list the files that would change and exit 1 if there are any.
    #[arg(long, conflicts_with = "stdout")]
    pub check: bool,
    /// Print the formatted text instead of writing the files.
    #[arg(long)]
    pub stdout: bool,
}

#[derive(Debug, Args)]
pub struct BuildOptions {
    /// The schema file.
    pub file: PathBuf,
    /// The directory to write into (created when missing; files in it are overwritten).
    #[arg(long, short)]
    pub out: PathBuf,
}
