//! `plinth serve`: a REST API served straight from a Plinth schema.
//!
//! [`start`] compiles the schema, opens and initializes the database, binds the listener and
//! serves in the background; it returns a [`RunningServer`] with the bound address and a
//! shutdown handle (tests bind port 0 and talk real HTTP to it). [`app`] builds the same router
//! without a socket, for `tower::ServiceExt::oneshot` tests.
//!
//! Routes come only from `plinth_api::api(&schema)`, the API the OpenAPI document describes;
//! access policies are compiled into SQL by `plinth_sql::query`; see `crud` for the status
//! code decisions.

mod auth;
mod bootstrap;
mod cluster;
pub mod config;
mod crud;
pub mod error;
mod events;
mod http;
mod idempotency;
mod ops;
mod rows;
mod sessions;
mod sql;
mod state;
pub mod store;
mod wire;

pub use config::{ConfigError, ConfigLayer, RateLimit, ServeConfig, SqliteSynchronous};
pub use error::{ApiError, FieldError};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use plinth_diagnostics::{has_errors, render_text, SourceFile};
use state::{AppState, ModelPlan, ResourcePlan};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

/// Where the schema comes from.
#[derive(Clone, Debug)]
pub enum SchemaSource {
    /// A `.plinth` / `.prisma` file; the default database is `<stem>.db` beside it.
    Path(PathBuf),
    /// Schema text (tests); the default database is in memory.
    Text { name: String, text: String },
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The schema has errors; `diagnostics` is the rendered report.
    #[error("the schema has errors:\n{diagnostics}")]
    Schema { diagnostics: String },
    #[error("cannot read the schema `{}`: {message}", path.display())]
    SchemaFile { path: PathBuf, message: String },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot open the database: {0}")]
    Database(String),
    /// The database holds another schema, or migrations that must be applied first (the
    /// message names the `plinth migrate` command to run).
    #[error("{0}")]
    SchemaMismatch(String),
    /// The migrations folder or applying it failed.
    #[error("{0}")]
    Migrations(String),
    #[error("cannot listen on {address}: {message}")]
    Bind {
        address: SocketAddr,
        message: String,
    },
}

/// The OpenAPI document as `plinth build` writes it (pretty JSON and a final newline), so
/// `/openapi.json` and `openapi.json` are byte-identical.
pub fn openapi_text(schema: &plinth_model::Schema) -> String {
    let mut text = serde_json::to_string_pretty(&plinth_openapi::document(schema))
        .unwrap_or_else(|_| "{}".to_string());
    text.push('\n');
    text
}

/// The deliverables `plinth build` writes (and `plinth design` builds into its project), as
/// paths relative to the output folder with their contents. Everything is generated before
/// anything is written, so a failure never leaves half a build.
pub fn build_outputs(schema: &plinth_model::Schema) -> Vec<(&'static str, String)> {
    use plinth_sql::Dialect;
    vec![
        (
            "sqlite/0001_init.sql",
            plinth_sql::create_schema(schema, Dialect::Sqlite),
        ),
        (
            "postgres/0001_init.sql",
            plinth_sql::create_schema(schema, Dialect::Postgres),
        ),
        ("openapi.json", openapi_text(schema)),
        ("erd.mmd", plinth_docs::erd(schema)),
        ("API.md", plinth_docs::api_reference(schema)),
    ]
}

/// The default database URL for a schema file: `sqlite://<dir>/<stem>.db`.
pub fn default_database_for(schema_path: &std::path::Path) -> String {
    let stem = schema_path
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plinth".into());
    let directory = schema_path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .map(|parent| parent.to_path_buf())
        .unwrap_or_else(|| PathBuf::from("."));
    format!(
        "sqlite://{}",
        directory.join(format!("{stem}.db")).display()
    )
}

/// The process-wide Prometheus recorder (installed once; several in-process servers share it).
fn metrics_handle() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("plinth_http_request_duration_seconds".into()),
                    &[
                        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                        5.0, 10.0,
                    ],
                )
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            Some(handle)
        })
        .clone()
}

/// A server running in the background.
pub struct RunningServer {
    local_addr: SocketAddr,
    database: String,
    warnings: String,
    created_tables: bool,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    pub fn docs_url(&self) -> String {
        format!("{}{}", self.url(), plinth_api::DOCS_PATH)
    }

    /// The database, without any password.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// Schema warnings, rendered (empty when none).
    pub fn warnings(&self) -> &str {
        &self.warnings
    }

    /// Whether this start created the tables.
    pub fn created_tables(&self) -> bool {
        self.created_tables
    }

    /// Stops accepting connections, lets in-flight requests finish, and waits.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(sender) = self.shutdown.take() {
            let _ = sender.send(());
        }
        self.wait().await
    }

    /// Waits until the server stops (on SIGINT/SIGTERM when `handle_signals` is set).
    pub async fn wait(self) -> std::io::Result<()> {
        match self.task.await {
            Ok(result) => result,
            Err(error) => Err(std::io::Error::other(error)),
        }
    }
}

/// Builds the shared state from a checked schema and an opened, initialized store.
async fn build_state(
    config: ServeConfig,
    schema: plinth_model::Schema,
    store: store::Store,
    secret: Vec<u8>,
) -> Arc<AppState> {
    let api = plinth_api::api(&schema);
    let plans = api
        .resources
        .iter()
        .map(|resource| ResourcePlan::new(&schema, resource))
        .collect();
    let model_plans = schema
        .models
        .iter()
        .map(|model| ModelPlan::new(&schema, model.id))
        .collect();
    let dialect = store.dialect();
    let auth_schema = schema.clone();
    let auth_plan = tokio::task::spawn_blocking(move || auth::AuthPlan::new(&auth_schema, dialect))
        .await
        .ok()
        .flatten();
    let openapi_json = axum::body::Bytes::from(openapi_text(&schema));
    let docs_html = axum::body::Bytes::from(ops::docs_page(&schema));
    let events = events::Events::new(&schema, config.events_buffer);
    let state = Arc::new(AppState {
        api,
        plans,
        model_plans,
        dialect,
        auth: auth_plan,
        jwt: auth::JwtKeys::new(&secret),
        limiters: http::limits::Limiters::new(&config),
        openapi_json,
        docs_html,
        metrics: metrics_handle(),
        store,
        schema,
        config,
        sessions: sessions::RevokedSessions::default(),
        cluster: cluster::Cluster::default(),
        events,
    });
    // Sessions revoked before this node started (SQLite: this process's earlier runs).
    if let Ok(revoked) = state.store.read(sessions::load).await {
        state.sessions.replace(revoked);
    }
    cluster::spawn(&state);
    events::spawn_dispatcher(&state);
    state
}

/// Compiles the schema: the schema and its rendered warnings, or the rendered errors.
fn compile(name: &str, text: &str) -> Result<(plinth_model::Schema, String), StartError> {
    let (schema, diagnostics) = plinth_model::compile(text);
    let file = SourceFile::new(name.to_string(), text.to_string());
    let rendered = if diagnostics.is_empty() {
        String::new()
    } else {
        render_text(&file, &diagnostics)
    };
    if has_errors(&diagnostics) {
        return Err(StartError::Schema {
            diagnostics: rendered,
        });
    }
    Ok((schema, rendered))
}

/// The router for a schema on a store, without a socket (for `oneshot` tests). Creates the
/// tables like [`start`] does.
pub async fn app(config: ServeConfig, source: SchemaSource) -> Result<axum::Router, StartError> {
    let prepared = prepare(config, source).await?;
    Ok(http::router(prepared.state))
}

struct Prepared {
    state: Arc<AppState>,
    warnings: String,
    created: bool,
}

async fn prepare(config: ServeConfig, source: SchemaSource) -> Result<Prepared, StartError> {
    // Also for configs built in code rather than through `ServeConfig::resolve`.
    if let Some(secret) = &config.jwt_secret {
        config::check_jwt_secret(secret)?;
    }
    let schema_path = match &source {
        SchemaSource::Path(path) => Some(path.clone()),
        SchemaSource::Text { .. } => None,
    };
    let (name, text, default_database) = match source {
        SchemaSource::Path(path) => {
            let bytes = std::fs::read(&path).map_err(|error| StartError::SchemaFile {
                path: path.clone(),
                message: error.to_string(),
            })?;
            let text = String::from_utf8(bytes).map_err(|_| StartError::SchemaFile {
                path: path.clone(),
                message: "the file is not valid UTF-8".into(),
            })?;
            let default = default_database_for(&path);
            (path.display().to_string(), text, default)
        }
        SchemaSource::Text { name, text } => (name, text, "sqlite::memory:".to_string()),
    };
    let (schema, warnings) = compile(&name, &text)?;
    let url = config.database.clone().unwrap_or(default_database);
    let migrations = bootstrap::MigrationSetup::new(
        config.migrations_directory.as_deref(),
        config.apply_migrations,
        schema_path.as_deref(),
        &name,
        &url,
    )
    .map_err(StartError::Migrations)?;
    bootstrap::prepare_migrations(&migrations)
        .await
        .map_err(|stop| match stop {
            bootstrap::MigrationStop::Refused(message) => StartError::SchemaMismatch(message),
            bootstrap::MigrationStop::Failed(message) => StartError::Migrations(message),
        })?;
    let store = store::open(&url, &config)
        .await
        .map_err(|error| StartError::Database(error.to_string()))?;
    let want_stored_secret =
        config.jwt_secret.is_none() && store.dialect() == sql::Dialect::Postgres;
    let initialized =
        bootstrap::initialize(&store, &schema, want_stored_secret, &migrations.commands)
            .await
            .map_err(|error| StartError::Database(error.detail))?
            .map_err(StartError::SchemaMismatch)?;
    let secret = match (&config.jwt_secret, &store, initialized.stored_jwt_secret) {
        (Some(secret), _, _) => secret.as_bytes().to_vec(),
        (None, _, Some(stored)) => {
            tracing::warn!(
                "PLINTH_JWT_SECRET is not set: using the signing secret stored in _plinth_meta; set PLINTH_JWT_SECRET in production"
            );
            stored.into_bytes()
        }
        (None, store::Store::Sqlite(sqlite), None) => bootstrap::sqlite_jwt_secret(sqlite.path())
            .map_err(|error| {
            StartError::Database(format!("cannot store the JWT secret: {error}"))
        })?,
        (None, store::Store::Postgres(_), None) => {
            auth::sha256_hex(&auth::random_bytes()).into_bytes()
        }
    };
    let state = build_state(config, schema, store, secret).await;
    Ok(Prepared {
        state,
        warnings,
        created: initialized.created,
    })
}

/// Starts serving in the background. Port 0 in `config.listen` picks a free port.
pub async fn start(config: ServeConfig, source: SchemaSource) -> Result<RunningServer, StartError> {
    let listen = config.listen;
    let handle_signals = config.handle_signals;
    let prepared = prepare(config, source).await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|error| StartError::Bind {
            address: listen,
            message: error.to_string(),
        })?;
    let local_addr = listener.local_addr().map_err(|error| StartError::Bind {
        address: listen,
        message: error.to_string(),
    })?;
    let database = prepared.state.store.describe();
    spawn_housekeeping(Arc::downgrade(&prepared.state));
    let closing_state = Arc::clone(&prepared.state);
    let router = http::router(prepared.state);
    let (sender, receiver) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            shutdown_signal(receiver, handle_signals).await;
            // Event streams never end by themselves; end them so in-flight requests can.
            closing_state.events.close_all();
        })
        .await
    });
    Ok(RunningServer {
        local_addr,
        database,
        warnings: prepared.warnings,
        created_tables: prepared.created,
        shutdown: Some(sender),
        task,
    })
}

/// Periodic upkeep while the server lives: forget idle rate-limit keys, roll metrics.
fn spawn_housekeeping(state: std::sync::Weak<AppState>) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(std::time::Duration::from_secs(30));
        loop {
            interval.tick().await;
            let Some(state) = state.upgrade() else {
                return;
            };
            state.limiters.shrink();
            state.sessions.shrink();
            if let Some(auth) = &state.auth {
                auth.known_users.shrink();
            }
            if let Some(handle) = &state.metrics {
                handle.run_upkeep();
            }
        }
    });
}

async fn shutdown_signal(receiver: tokio::sync::oneshot::Receiver<()>, handle_signals: bool) {
    let requested = async {
        let _ = receiver.await;
    };
    if !handle_signals {
        requested.await;
        return;
    }
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = requested => {}
        _ = interrupt => tracing::info!("SIGINT received: finishing in-flight requests"),
        _ = terminate => tracing::info!("SIGTERM received: finishing in-flight requests"),
    }
}

/// Installs the log subscriber: JSON lines when stdout is not a terminal, readable text when it
/// is; the level from `PLINTH_LOG` or `RUST_LOG` (default `info`).
pub fn init_logging() {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("PLINTH_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = if std::io::stdout().is_terminal() {
        builder.try_init()
    } else {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init()
    };
}
