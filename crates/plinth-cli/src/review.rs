//! `plinth review PATH…`: the config file and flags become one `Config`, the paths are read and
//! reviewed, and the report is printed as text, JSON or SARIF. Exit 1 when a finding reaches the
//! fail-on severity; a missing path, a bad config or nothing to review is exit 2.

use crate::arguments::{FailOn, ReviewDialect, ReviewFormat, ReviewOptions};
use crate::Outcome;
use anyhow::{bail, Context};
use plinth_review::config::Dialect;
use plinth_review::{output, registry, Config, Level, Report, Severity};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The configuration file read when `--config` is not given, if it exists.
const DEFAULT_CONFIG: &str = "plinth-review.toml";

pub fn run(options: &ReviewOptions) -> anyhow::Result<Outcome> {
    if options.list_rules {
        print_rules(options.format)?;
        return Ok(Outcome::Clean);
    }
    let config = settings(options)?;
    let workspace =
        plinth_review::load_paths(&options.paths, &config).map_err(anyhow::Error::msg)?;
    if workspace.files.is_empty() {
        let given = options
            .paths
            .iter()
            .map(|path| format!("`{}`", path.display()))
            .collect::<Vec<_>>()
            .join(", ");
        let mut message = format!(
            "no reviewable file in {given}: expected OpenAPI documents (.json, .yaml, .yml with \
             an `openapi` or `swagger` key), SQL (.sql) or schemas (.prisma, .plinth, .zmodel)"
        );
        for skipped in &workspace.skipped {
            message.push_str(&format!("\n  skipped {}: {}", skipped.path, skipped.reason));
        }
        bail!(message);
    }
    let report = plinth_review::review(workspace, &config);
    let fails = report.fails(config.fail_on());
    write_report(options, &report)?;
    Ok(if fails {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}

/// The config file (explicit, or the default one when present), then the flags over it.
fn settings(options: &ReviewOptions) -> anyhow::Result<Config> {
    let path = match &options.config {
        Some(path) => Some(path.clone()),
        None => Some(PathBuf::from(DEFAULT_CONFIG)).filter(|path| path.is_file()),
    };
    let mut config = match &path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the config file `{}`", path.display()))?;
            Config::parse(&text).map_err(|e| anyhow::anyhow!("`{}`: {e}", path.display()))?
        }
        None => Config::default(),
    };
    for flag in &options.rules {
        let Some((id, level)) = flag.split_once('=') else {
            bail!("`--rule {flag}`: expected `rule-id=level`, e.g. `--rule verb-in-path=off`");
        };
        let level = Level::parse(level.trim()).with_context(|| {
            format!("`--rule {flag}`: the level must be off, error, warning or note")
        })?;
        config
            .set(id.trim(), level)
            .map_err(|e| anyhow::anyhow!("`--rule {flag}`: {e}"))?;
    }
    if let Some(fail_on) = options.fail_on {
        config.fail_on = Some(match fail_on {
            FailOn::Error => Severity::Error,
            FailOn::Warning => Severity::Warning,
            FailOn::Note => Severity::Note,
        });
    }
    if let Some(dialect) = options.dialect {
        config.dialect = Some(match dialect {
            ReviewDialect::Postgres => Dialect::Postgres,
            ReviewDialect::Sqlite => Dialect::Sqlite,
        });
    }
    Ok(config)
}

/// Prints the report where it was asked for. The one-line summary goes where a person reads it:
/// after the text on stdout; on stderr when stdout carries a JSON or SARIF document; on stdout
/// when the report goes to a file.
fn write_report(options: &ReviewOptions, report: &Report) -> anyhow::Result<()> {
    let document = match options.format {
        ReviewFormat::Text => output::render_text(report),
        ReviewFormat::Json => pretty(&output::render_json(report))?,
        ReviewFormat::Sarif => {
            let root = std::env::current_dir().ok();
            pretty(&output::render_sarif_with_root(report, root.as_deref()))?
        }
    };
    let summary = output::summary(report);
    match &options.output {
        Some(path) => {
            write_file(path, &document)?;
            println!("{summary}; findings written to {}", path.display());
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(document.as_bytes())
                .and_then(|()| stdout.flush())
                .context("cannot write the report to standard output")?;
            if options.format != ReviewFormat::Text {
                eprintln!("{summary}");
            }
        }
    }
    Ok(())
}

fn pretty(value: &serde_json::Value) -> anyhow::Result<String> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    Ok(text)
}

fn write_file(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text)
        .with_context(|| format!("cannot write the report to `{}`", path.display()))
}

/// `--list-rules`: the catalogue as an aligned table, or as JSON.
fn print_rules(format: ReviewFormat) -> anyhow::Result<()> {
    match format {
        ReviewFormat::Text => {
            let width = registry::all().map(|rule| rule.id.len()).max().unwrap_or(0);
            let mut out = format!(
                "{:width$}  {:8}  {:14}  SUMMARY\n",
                "RULE", "SEVERITY", "CATEGORY"
            );
            for rule in registry::all() {
                out.push_str(&format!(
                    "{:width$}  {:8}  {:14}  {}\n",
                    rule.id,
                    rule.severity.as_str(),
                    rule.category.as_str(),
                    rule.summary
                ));
            }
            out.push_str(&format!(
                "{} rules; each is described in docs/rules/<rule>.md\n",
                registry::all().count()
            ));
            print!("{out}");
        }
        ReviewFormat::Json => {
            let rules: Vec<serde_json::Value> = registry::all()
                .map(|rule| {
                    serde_json::json!({
                        "id": rule.id,
                        "severity": rule.severity.as_str(),
                        "category": rule.category.as_str(),
                        "summary": rule.summary,
                        "docs": registry::doc_path(rule.id),
                    })
                })
                .collect();
            print!("{}", pretty(&serde_json::Value::Array(rules))?);
        }
        ReviewFormat::Sarif => {
            bail!("`--list-rules` prints text or JSON; the SARIF output lists every rule in `tool.driver.rules`")
        }
    }
    Ok(())
}
