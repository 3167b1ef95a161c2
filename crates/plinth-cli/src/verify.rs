//! `plinth verify URL`: flags become a `VerifyConfig`, the run happens on a tokio runtime, and
//! the report is written as text (stdout, or stderr when JSON goes to stdout), JSON, JUnit XML
//! and HTML. Exit 1 when a finding reaches `--fail-on`; any failure to run at all is exit 2.

use crate::arguments::VerifyOptions;
use crate::Outcome;
use anyhow::{bail, Context};
use plinth_verify::{report, users, LoadSettings, SchemaSource, Severity, VerifyConfig};
use std::io::{IsTerminal, Write};
use std::time::Duration;

fn seconds(value: f64, flag: &str) -> anyhow::Result<Duration> {
    if !value.is_finite() || value <= 0.0 || value > 86_400.0 {
        bail!("`--{flag}` must be a number of seconds between 0 and 86400, got {value}");
    }
    Ok(Duration::from_secs_f64(value))
}

fn config(options: &VerifyOptions) -> anyhow::Result<VerifyConfig> {
    let mut config = VerifyConfig::new(&options.url);
    config.openapi = options.openapi.clone();
    config.fail_on = Severity::parse(&options.fail_on).with_context(|| {
        format!(
            "`--fail-on {}`: expected info, low, medium, high or critical",
            options.fail_on
        )
    })?;
    for user in &options.users {
        config.users.push(users::parse_user_flag(user)?);
    }
    if let Some(path) = &options.auth_config {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the auth config {}", path.display()))?;
        config.auth_config = Some(users::AuthConfig::parse(&text)?);
    }
    if let Some(path) = &options.schema {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the schema {}", path.display()))?;
        config.schema = Some(SchemaSource {
            name: path.display().to_string(),
            text,
        });
    }
    config.request_timeout = seconds(options.timeout, "timeout")?;
    config.contract.max_requests_per_operation = options.max_requests_per_operation.max(1);
    config.contract.max_duration = seconds(options.max_contract_seconds, "max-contract-seconds")?;
    if let Some(rate) = options.rate {
        if !rate.is_finite() || rate <= 0.0 {
            bail!("`--rate` must be a positive number of requests per second, got {rate}");
        }
    }
    if options.load {
        if options.connections == 0 {
            bail!("`--connections` must be at least 1");
        }
        config.load = Some(LoadSettings {
            connections: options.connections,
            rate: options.rate,
            duration: seconds(options.duration, "duration")?,
            progress: std::io::stderr().is_terminal(),
        });
    }
    Ok(config)
}

fn write_file(path: &std::path::Path, text: &str, what: &str) -> anyhow::Result<()> {
    std::fs::write(path, text)
        .with_context(|| format!("cannot write the {what} report to {}", path.display()))
}

pub fn run(options: &VerifyOptions) -> anyhow::Result<Outcome> {
    let config = config(options)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let report = runtime.block_on(plinth_verify::run(&config))?;

    let json_to_stdout = options.json.as_deref() == Some("-");
    if let Some(destination) = &options.json {
        let text = report::json::render(&report);
        if json_to_stdout {
            let mut stdout = std::io::stdout();
            stdout
                .write_all(text.as_bytes())
                .context("cannot write the JSON report to standard output")?;
            let _ = stdout.flush();
        } else {
            write_file(std::path::Path::new(destination), &text, "JSON")?;
        }
    }
    if let Some(path) = &options.junit {
        write_file(path, &report::junit::render(&report), "JUnit")?;
    }
    if let Some(path) = &options.html {
        write_file(path, &report::html::render(&report), "HTML")?;
    }
    // The summary goes where the reader is: stderr when stdout carries the JSON.
    if json_to_stdout {
        let text = report::text::render(&report, std::io::stderr().is_terminal());
        let _ = std::io::stderr().write_all(text.as_bytes());
    } else {
        let text = report::text::render(&report, std::io::stdout().is_terminal());
        let _ = std::io::stdout().write_all(text.as_bytes());
    }
    Ok(if report.fails(config.fail_on) {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}
