//! `plinth serve`: settings from file, environment and flags, then the server until SIGINT or
//! SIGTERM. A schema with errors, a database holding another schema, or migrations not yet
//! applied (without `--migrate`) is a finding (exit 1).

use crate::arguments::ServeOptions;
use crate::Outcome;
use anyhow::Context;
use plinth_server::{ConfigLayer, SchemaSource, ServeConfig, StartError};
use std::io::Write;

fn settings(options: &ServeOptions) -> anyhow::Result<ServeConfig> {
    let environment = ConfigLayer::from_environment(|name| std::env::var(name).ok())?;
    let config_file = options
        .config
        .clone()
        .or_else(|| std::env::var_os("PLINTH_CONFIG").map(Into::into));
    let file = match &config_file {
        Some(path) => ConfigLayer::from_file(path)?,
        None => ConfigLayer::default(),
    };
    let flags = ConfigLayer {
        listen: options.listen.clone(),
        db: options.db.clone(),
        cors_origins: (!options.cors_origins.is_empty()).then(|| options.cors_origins.clone()),
        rate_limit_per_ip: options.rate_limit_per_ip.clone(),
        rate_limit_per_user: options.rate_limit_per_user.clone(),
        rate_limit_auth_per_ip: options.rate_limit_auth_per_ip.clone(),
        migrations: options.migrations.clone(),
        redis: options.redis.clone(),
        postgres_pool_size: options.pool_size,
        trusted_proxies: (!options.trusted_proxies.is_empty())
            .then(|| options.trusted_proxies.clone()),
        // Only the flag's presence overrides: without it, the file or PLINTH_MIGRATE decide.
        migrate: options.migrate.then_some(true),
        ..ConfigLayer::default()
    };
    let mut config = ServeConfig::resolve(file.overridden_by(environment).overridden_by(flags))?;
    config.handle_signals = true;
    Ok(config)
}

pub fn run(options: &ServeOptions) -> anyhow::Result<Outcome> {
    let config = settings(options)?;
    plinth_server::init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let file_name = options.file.display().to_string();
    runtime.block_on(async {
        let server = match plinth_server::start(config, SchemaSource::Path(options.file.clone())).await {
            Ok(server) => server,
            Err(StartError::Schema { diagnostics }) => {
                eprint!("{diagnostics}");
                eprintln!("not serving {file_name}: the schema has errors");
                return Ok(Outcome::Findings);
            }
            Err(StartError::SchemaMismatch(message)) => {
                eprintln!("error: {message}");
                return Ok(Outcome::Findings);
            }
            Err(other) => return Err(anyhow::Error::new(other)),
        };
        if !server.warnings().is_empty() {
            eprint!("{}", server.warnings());
        }
        // Written without `println!`: a closed stdout must not take the server down.
        let banner = format!(
            "plinth serve: {file_name} is listening on {url}\n  API docs:  {docs}\n  OpenAPI:   {url}/openapi.json\n  database:  {database}{created}\n",
            url = server.url(),
            docs = server.docs_url(),
            database = server.database(),
            created = if server.created_tables() { " (tables created)" } else { "" },
        );
        let mut stdout = std::io::stdout();
        let _ = stdout.write_all(banner.as_bytes());
        let _ = stdout.flush();
        server.wait().await.context("the server stopped with an error")?;
        let _ = stdout.write_all(b"plinth serve: stopped\n");
        Ok(Outcome::Clean)
    })
}
