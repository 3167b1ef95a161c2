//! `plinth verify URL`: proves a running HTTP API keeps its contract and its promises, using
//! only HTTP and the API's OpenAPI document — never the server's internals — so it works on any
//! API, not only Plinth's.
//!
//! The pieces, in the order a run uses them:
//! - [`document`]: the OpenAPI 3.0/3.1 document, loaded and flattened into operations;
//! - [`findings`]: what a run reports — a rule id, a severity, the request that shows it (as a
//!   curl command) and what to do;
//! - contract, authorization and security checks, and the load generator, each producing
//!   findings or measurements;
//! - reports: terminal text, JSON, JUnit XML and a self-contained HTML page.

pub mod authz;
pub mod client;
pub mod contract;
pub mod document;
pub mod findings;
pub mod generate;
pub mod load;
pub mod policy;
pub mod report;
pub mod security;
pub mod tokens;
pub mod users;

pub use findings::{Finding, RecordedRequest, Severity};
pub use report::Report;

use std::time::{Duration, Instant};

/// Which families of checks a run does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checks {
    pub contract: bool,
    /// Object-level authorization and mass assignment (needs two users).
    pub authz: bool,
    /// Missing, forged, `alg:none`, expired and tampered tokens.
    pub tokens: bool,
    /// Injection, verbose errors, security headers, CORS, rate limits.
    pub security: bool,
}

impl Default for Checks {
    fn default() -> Checks {
        Checks {
            contract: true,
            authz: true,
            tokens: true,
            security: true,
        }
    }
}

/// The load test a run ends with, when asked (`--load`).
#[derive(Clone, Debug, PartialEq)]
pub struct LoadSettings {
    pub connections: usize,
    /// Requests per second for an open-loop run; `None` is closed loop (as fast as answered).
    pub rate: Option<f64>,
    pub duration: Duration,
    /// Live progress on stderr (the CLI sets it when stderr is a terminal).
    pub progress: bool,
}

impl Default for LoadSettings {
    fn default() -> LoadSettings {
        LoadSettings {
            connections: 16,
            rate: None,
            duration: Duration::from_secs(10),
            progress: false,
        }
    }
}

/// A Plinth schema as given: its file name (for messages) and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaSource {
    pub name: String,
    pub text: String,
}

/// Everything a run needs.
#[derive(Clone, Debug)]
pub struct VerifyConfig {
    /// The API's base URL (`http://127.0.0.1:8080`).
    pub url: String,
    /// The OpenAPI document: a file, a URL, or a path on the API. Default `URL/openapi.json`.
    pub openapi: Option<String>,
    /// Users from `--user name:token`, in order (the first is the owner).
    pub users: Vec<users::User>,
    /// The `--auth-config` file, parsed.
    pub auth_config: Option<users::AuthConfig>,
    /// The API's Plinth schema (`--schema`), when the API is Plinth's: the probes then expect
    /// what its access rules say instead of guessing.
    pub schema: Option<SchemaSource>,
    /// Findings at or above this severity make the run fail (exit 1).
    pub fail_on: Severity,
    /// Timeout of one functional request.
    pub request_timeout: Duration,
    pub contract: contract::ContractLimits,
    pub checks: Checks,
    pub load: Option<LoadSettings>,
}

impl VerifyConfig {
    /// Defaults for `url`: the document at `URL/openapi.json`, every check, no load test.
    pub fn new(url: &str) -> VerifyConfig {
        VerifyConfig {
            url: url.trim().trim_end_matches('/').to_string(),
            openapi: None,
            users: Vec::new(),
            auth_config: None,
            schema: None,
            fail_on: Severity::Medium,
            request_timeout: Duration::from_secs(15),
            contract: contract::ContractLimits::default(),
            checks: Checks::default(),
            load: None,
        }
    }

    /// Where the document is read from.
    pub fn openapi_source(&self) -> String {
        self.openapi
            .clone()
            .unwrap_or_else(|| format!("{}/openapi.json", self.url))
    }
}

/// Why a run could not happen at all (the CLI exits 2).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Client(#[from] client::ClientError),
    #[error("cannot reach {url}: {message}")]
    Unreachable { url: String, message: String },
    #[error(transparent)]
    Document(#[from] document::DocumentError),
    #[error(transparent)]
    Users(#[from] users::UsersError),
    #[error(transparent)]
    Schema(#[from] policy::SchemaError),
    #[error("the load test could not run: {0}")]
    Load(String),
}

/// Runs every check `config` asks for against the API and gathers the report.
pub async fn run(config: &VerifyConfig) -> Result<Report, VerifyError> {
    let started_at = Instant::now();
    // A broken schema stops the run before anything is sent.
    let policies = match &config.schema {
        Some(source) => Some(policy::Policies::compile(&source.name, &source.text)?),
        None => None,
    };
    let now = time::OffsetDateTime::now_utc();
    let started = now
        .replace_nanosecond(0)
        .unwrap_or(now)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let target = client::Target::new(&config.url, config.request_timeout)?;
    // Reachable at all? Any HTTP answer will do; only a transport failure stops the run.
    target
        .send(client::Request::new("GET", "/"))
        .await
        .map_err(|error| VerifyError::Unreachable {
            url: config.url.clone(),
            message: error.to_string(),
        })?;
    let openapi = config.openapi_source();
    let document = document::ApiDocument::load(&openapi, Some(&target)).await?;
    let users = users::prepare(
        &target,
        &document,
        config.users.clone(),
        config.auth_config.as_ref(),
    )
    .await?;
    let owner_token = users.owner().map(|user| user.token.clone());

    let mut report = Report {
        target: config.url.clone(),
        openapi,
        started,
        ..Report::default()
    };

    if config.checks.contract {
        let outcome =
            contract::check(&target, &document, owner_token.as_deref(), &config.contract).await;
        report.findings.extend(outcome.findings);
        report.checks.extend(outcome.checks);
        report.operations_tested = outcome.operations_tested;
        report.skipped.extend(outcome.skipped);
    }

    // The probes run after the contract checks, with the same target, document and users; the
    // security probes last, because their login rate-limit probe uses up the auth budget.
    if config.checks.authz {
        if users.users.len() < 2 {
            // A clean report must not suggest object-level access was checked when it was not.
            report.skipped.push((
                "authorization probes".to_string(),
                "they need two users: give a second `--user` or an auth config".to_string(),
            ));
        }
        report
            .findings
            .extend(authz::run(&target, &document, &users, policies.as_ref()).await);
    }
    if config.checks.tokens {
        report
            .findings
            .extend(tokens::run(&target, &document, &users, policies.as_ref()).await);
    }
    if config.checks.security {
        report
            .findings
            .extend(security::run(&target, &document, &users).await);
    }

    // Hook: the load test runs last, so the checks above do not disturb its figures.
    if let Some(settings) = &config.load {
        load_phase(
            &target,
            &document,
            owner_token.as_deref(),
            settings,
            &mut report,
        )
        .await?;
    }

    // Every request of the run: the reachability check, the document, signing users in, the
    // contract checks and the probes (the load generator's own client counts its own).
    report.requests_sent += target.requests_sent();
    report.duration = started_at.elapsed();
    Ok(report)
}

/// The load test: a mix of the document's safe reads (`GET` without path parameters answering
/// JSON, no event streams), with the owner's token where one is taken.
async fn load_phase(
    target: &client::Target,
    document: &document::ApiDocument,
    token: Option<&str>,
    settings: &LoadSettings,
    report: &mut Report,
) -> Result<(), VerifyError> {
    let base_path = document.base_path();
    let requests: Vec<load::PlannedRequest> = document
        .operations
        .iter()
        .filter(|operation| {
            // API reads: JSON answers, not the document itself, docs pages or metrics.
            let json_answer = operation
                .success_media_types()
                .iter()
                .any(|media| media.contains("json"));
            let is_document = operation.path.ends_with("openapi.json")
                || operation.path.ends_with("openapi.yaml");
            operation.method == "GET"
                && json_answer
                && !is_document
                // Sign-in routes are rate-limited hard on purpose; they are not the API's load.
                && !operation.path.contains("/auth/")
                && !operation.path.contains('{')
                && !operation.is_event_stream()
                && operation
                    .parameters
                    .iter()
                    .all(|parameter| !parameter.required)
        })
        .map(|operation| {
            let planned = load::PlannedRequest::get(format!("{base_path}{}", operation.path));
            match (token, operation.security) {
                (Some(token), document::Security::Required | document::Security::Optional) => {
                    planned.bearer(token)
                }
                _ => planned,
            }
        })
        .collect();
    let mut requests = requests;
    requests.extend(item_reads(target, document, token).await);
    if requests.is_empty() {
        return Err(VerifyError::Load(
            "the document has no GET operation without parameters to load".into(),
        ));
    }
    let mut plan = load::LoadPlan::new(
        target.base_url.clone(),
        requests,
        settings.connections,
        settings.duration,
    )
    .progress(settings.progress)
    .warmup(std::time::Duration::from_secs(1));
    if let Some(rate) = settings.rate {
        plan = plan.open_loop(rate);
    }
    let outcome = load::run(&plan)
        .await
        .map_err(|error| VerifyError::Load(error.to_string()))?;
    report.requests_sent += outcome.sent as usize;
    report.findings.extend(load::findings(&outcome));
    report.load_text = Some(load::summary(&outcome));
    report.plots = vec![
        (
            "Latency by percentile".to_string(),
            load::svg_percentiles(&outcome),
        ),
        (
            "Latency over time".to_string(),
            load::svg_timeline(&outcome),
        ),
    ];
    report.load = serde_json::to_value(&outcome).ok();
    Ok(())
}

/// Reads of single items for the load mix: for each `GET …/{id}` whose collection lists rows,
/// the first listed row's id (Plinth's `{"data": [...]}` or a bare array), read with the
/// owner's token where the operation takes one.
async fn item_reads(
    target: &client::Target,
    document: &document::ApiDocument,
    token: Option<&str>,
) -> Vec<load::PlannedRequest> {
    let base_path = document.base_path();
    let mut planned = Vec::new();
    for operation in &document.operations {
        if operation.method != "GET"
            || operation.path.contains("/auth/")
            || operation.is_event_stream()
        {
            continue;
        }
        let Some((collection, last)) = operation.path.rsplit_once('/') else {
            continue;
        };
        let Some(parameter) = last
            .strip_prefix('{')
            .and_then(|rest| rest.strip_suffix('}'))
        else {
            continue;
        };
        if collection.contains('{') {
            continue;
        }
        let mut request = client::Request::new("GET", format!("{base_path}{collection}?limit=1"));
        if let Some(token) = token {
            request = request.bearer(token);
        }
        let Ok(exchange) = target.send(request).await else {
            continue;
        };
        let Some(body) = exchange.json().filter(|_| exchange.status == 200) else {
            continue;
        };
        let first = body
            .get("data")
            .and_then(|data| data.get(0))
            .or_else(|| body.get(0))
            .cloned();
        let id = first.and_then(|row| row.get(parameter).or_else(|| row.get("id")).cloned());
        let id = match id {
            Some(serde_json::Value::String(text)) => text,
            Some(serde_json::Value::Number(number)) => number.to_string(),
            _ => continue,
        };
        let path = format!("{base_path}{collection}/{}", contract::percent_encode(&id));
        let request = load::PlannedRequest::get(path);
        planned.push(match (token, operation.security) {
            (Some(token), document::Security::Required | document::Security::Optional) => {
                request.bearer(token)
            }
            _ => request,
        });
    }
    planned
}
