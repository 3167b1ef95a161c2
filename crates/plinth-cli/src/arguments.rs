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
    /// Serve the schema's REST API (CRUD, auth, policies) over HTTP.
    ///
    /// Settings come from defaults, then the config file (`--config` or PLINTH_CONFIG; TOML, or
    /// JSON for a `.json` file, keys: listen, db, jwt_secret, access_token_ttl_seconds,
    /// refresh_token_ttl_seconds, rate_limit_per_ip, rate_limit_per_user,
    /// rate_limit_auth_per_ip, body_limit_bytes, request_timeout_seconds, cors_origins,
    /// sqlite_synchronous, migrations, migrate), then environment variables (PLINTH_LISTEN, PLINTH_DB,
    /// PLINTH_JWT_SECRET, PLINTH_ACCESS_TOKEN_TTL, PLINTH_REFRESH_TOKEN_TTL,
    /// PLINTH_RATE_LIMIT_PER_IP, PLINTH_RATE_LIMIT_PER_USER, PLINTH_RATE_LIMIT_AUTH_PER_IP,
    /// PLINTH_BODY_LIMIT, PLINTH_REQUEST_TIMEOUT, PLINTH_CORS_ORIGINS,
    /// PLINTH_SQLITE_SYNCHRONOUS, PLINTH_MIGRATIONS, PLINTH_MIGRATE), then these flags. Logs go to stdout (JSON when it is not a
    /// terminal; level from PLINTH_LOG). Exits 1 when the schema has errors or the database
    /// holds a different schema or unapplied migrations, 2 when the server cannot start.
    Serve(ServeOptions),
    /// Evolve a database with the schema: write migrations, apply, roll back, show status.
    ///
    /// Migrations live in `<version>_<name>/` folders (`0001_init/`) holding up.sql, down.sql,
    /// the schema snapshot they lead to, and migration.json. Exits 1 on findings (a destructive
    /// change without --allow-destructive, drift), 2 when the command cannot run.
    Migrate(MigrateOptions),
    /// Prove a running API keeps its contract and its promises, over HTTP only.
    ///
    /// Reads the API's OpenAPI 3.0/3.1 document (JSON or YAML), exercises every operation with
    /// valid and deliberately invalid inputs, probes authorization with two users, forged and
    /// tampered tokens, injection payloads and leaky errors, and optionally load-tests it.
    /// Every finding has a rule id, a severity, the request that shows it (as curl) and a fix.
    /// Exits 0 when no finding is at or above --fail-on, 1 when one is, 2 when verify cannot
    /// run (unreachable URL, unreadable document, bad arguments).
    Verify(VerifyOptions),
    /// Review an existing backend's API documents, SQL and schemas as an architect would.
    ///
    /// Reads OpenAPI documents, SQL schemas and migration folders, and Prisma and Plinth
    /// schemas, and reports what a senior backend architect would flag, each finding with a rule
    /// id, a severity, its place and a fix. Folders are searched for `.json`/`.yaml`/`.yml` OpenAPI documents, `.sql` files (a folder
    /// named like `migrations`, or numbered files, are migrations replayed in order) and
    /// `.prisma`/`.plinth`/`.zmodel` schemas; inputs given together are also checked against
    /// each other. Settings come from `--config` (default: `plinth-review.toml` in the current
    /// directory, when present), then these flags. Rules: `plinth review --list-rules` and
    /// docs/rules/. Exits 0 when no finding is at or above --fail-on, 1 when one is, 2 when the
    /// review cannot run (a missing path, a bad config, no reviewable file).
    Review(ReviewOptions),
    /// Design a backend from a description in plain words, with an LLM whose every draft is
    /// compiled and reviewed before it is shown.
    ///
    /// Writes schema.plinth, docs/adr/0001-initial-design.md and build/ into --out, and keeps
    /// the conversation in .plinth/ so `plinth chat --dir` can continue it. Needs a model:
    /// PLINTH_LLM_PROVIDER (openai or anthropic), PLINTH_LLM_BASE_URL, PLINTH_LLM_MODEL and
    /// PLINTH_LLM_API_KEY (or OPENAI_API_KEY / ANTHROPIC_API_KEY), or the flags below, or an
    /// [llm] table in plinth.toml. Exits 0 with a draft that passes, 1 when a bound stopped the
    /// run first, 2 when no model is configured or it cannot be reached.
    Design(DesignOptions),
    /// Talk a design through with an LLM, one request per line on standard input; every turn's
    /// draft is checked and reviewed, and the conversation is saved to continue later.
    Chat(ChatOptions),
}

/// Which model to use and how much it may spend (shared by design and chat).
#[derive(Debug, Args)]
pub struct LlmOptions {
    /// `openai` (any OpenAI-compatible endpoint: OpenAI, Ollama, llama.cpp, vLLM) or
    /// `anthropic`. Default: PLINTH_LLM_PROVIDER, else guessed from the base URL.
    #[arg(long, value_name = "NAME")]
    pub provider: Option<String>,
    /// The endpoint, e.g. `http://127.0.0.1:11434/v1` for Ollama. Default: PLINTH_LLM_BASE_URL.
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// The model name, e.g. `qwen2.5:7b`. Default: PLINTH_LLM_MODEL.
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,
    /// The API key. Prefer PLINTH_LLM_API_KEY (or OPENAI_API_KEY / ANTHROPIC_API_KEY): a key on
    /// the command line ends up in the shell's history. Endpoints on localhost need none.
    #[arg(long, value_name = "KEY")]
    pub api_key: Option<String>,
    /// A TOML file with an [llm] table (provider, base_url, model, api_key_env). Default:
    /// plinth.toml in the current directory, when present.
    #[arg(long, value_name = "FILE")]
    pub llm_config: Option<PathBuf>,
    /// Most model calls per run (per turn in chat).
    #[arg(long, default_value_t = 40)]
    pub max_steps: u32,
    /// Most tokens (input + output, sub-agents included) per run.
    #[arg(long, default_value_t = 400_000)]
    pub max_tokens: u64,
    /// Most seconds per run.
    #[arg(long, default_value_t = 900, value_name = "SECONDS")]
    pub max_time: u64,
    /// Times a draft that fails check or review may go back to the model.
    #[arg(long, default_value_t = 6)]
    pub max_repairs: u32,
    /// Sub-agents that may run at once.
    #[arg(long, default_value_t = 3)]
    pub parallel: usize,
}

#[derive(Debug, Args)]
pub struct DesignOptions {
    /// What to build, in plain words.
    #[arg(value_name = "DESCRIPTION", required = true)]
    pub request: Vec<String>,
    /// The project folder to write into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    #[command(flatten)]
    pub llm: LlmOptions,
}

#[derive(Debug, Args)]
pub struct ChatOptions {
    /// The project folder; a conversation saved there is continued.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    #[command(flatten)]
    pub llm: LlmOptions,
}

#[derive(Debug, Args)]
pub struct ReviewOptions {
    /// Files and folders to review.
    #[arg(value_name = "PATH", required_unless_present = "list_rules")]
    pub paths: Vec<PathBuf>,
    /// How to print the findings: compiler-style text, one JSON document, or SARIF 2.1.0 (for
    /// GitHub code scanning).
    #[arg(long, value_enum, default_value_t = ReviewFormat::Text)]
    pub format: ReviewFormat,
    /// Write the findings to FILE instead of standard output (the summary line still goes to
    /// the terminal).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The configuration file (TOML: `fail-on`, `dialect`, and a `[rules]` table of
    /// `rule-id = "off" | "error" | "warning" | "note"`). Default: `plinth-review.toml` in the
    /// current directory, when present.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Set a rule's level, `id=level` with level off, error, warning or note (repeatable;
    /// overrides the config file).
    #[arg(long = "rule", value_name = "ID=LEVEL")]
    pub rules: Vec<String>,
    /// The lowest severity that fails the run (exit 1). Default: the config's, else error.
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<FailOn>,
    /// The SQL dialect of files that do not tell it by their name or their syntax.
    #[arg(long, value_enum)]
    pub dialect: Option<ReviewDialect>,
    /// Print every rule (id, severity, category, summary) and exit.
    #[arg(long)]
    pub list_rules: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReviewFormat {
    Text,
    Json,
    Sarif,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Error,
    Warning,
    Note,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReviewDialect {
    Postgres,
    Sqlite,
}

#[derive(Debug, Args)]
pub struct VerifyOptions {
    /// The API's base URL, e.g. `http://127.0.0.1:8080`.
    pub url: String,
    /// The OpenAPI document: a file, a URL, or a path on the API. Default: `URL/openapi.json`.
    #[arg(long, value_name = "FILE|URL")]
    pub openapi: Option<String>,
    /// A user's bearer token, `name:token` (repeatable; the first owns the rows the probes
    /// create, the second tries to reach them). Without two users, verify registers them itself
    /// when the API has Plinth's `/api/v1/auth/register` and `/login`.
    #[arg(long = "user", value_name = "NAME:TOKEN")]
    pub users: Vec<String>,
    /// An auth config (TOML or JSON) that gives tokens or registers and logs users in.
    #[arg(long, value_name = "FILE")]
    pub auth_config: Option<PathBuf>,
    /// The API's Plinth schema, when it is Plinth's: the authorization probes then expect what
    /// its access rules say (who may read, change or delete each row, which fields a user may
    /// not set, which endpoints refuse callers without a token with 401) instead of guessing.
    #[arg(long, value_name = "FILE")]
    pub schema: Option<PathBuf>,
    /// The lowest severity that fails the run (exit 1): info, low, medium, high or critical.
    #[arg(long, value_name = "SEVERITY", default_value = "medium")]
    pub fail_on: String,
    /// Write the JSON report to FILE (`-` for standard output; the text summary then goes to
    /// standard error).
    #[arg(long, value_name = "FILE|-")]
    pub json: Option<String>,
    /// Write a JUnit XML report (one test case per rule and operation) to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write a self-contained HTML report with the findings and latency plots to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// End with a load test of the API's reads.
    #[arg(long)]
    pub load: bool,
    /// Load test: concurrent connections.
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub connections: usize,
    /// Load test: a constant arrival rate in requests per second (open loop, latency measured
    /// from each request's intended send time). Without it: closed loop, as fast as answered.
    #[arg(long, value_name = "R")]
    pub rate: Option<f64>,
    /// Load test: seconds to run.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub duration: f64,
    /// Timeout of one functional request, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 15.0)]
    pub timeout: f64,
    /// Contract checks: the most requests sent to one operation.
    #[arg(long, value_name = "N", default_value_t = 40)]
    pub max_requests_per_operation: usize,
    /// Contract checks: the time budget in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 120.0)]
    pub max_contract_seconds: f64,
}

#[derive(Debug, Args)]
pub struct MigrateOptions {
    #[command(subcommand)]
    pub command: MigrateCommand,
}

#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Compare the schema with the last migration's snapshot and write the next migration.
    Diff(MigrateDiffOptions),
    /// Apply pending migrations in order: `up [N] SCHEMA` applies the next N (default all).
    Up(MigrateRunOptions),
    /// Roll back applied migrations, newest first: `down [N] SCHEMA` (default 1).
    Down(MigrateRunOptions),
    /// Show applied and pending migrations and drift (edited migrations, hand-made changes).
    Status(MigrateRunOptions),
}

#[derive(Debug, Args)]
pub struct MigrateDiffOptions {
    /// The schema file.
    pub file: PathBuf,
    /// The migrations folder. Default: `migrations` beside the schema.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The migration's name (`add_posts`). Default: `init` for the first, `change` after.
    #[arg(long)]
    pub name: Option<String>,
    /// A rename the planner must not guess, `Old=New` for a model or
    /// `Model.old=Model.new` for a field (repeatable).
    #[arg(long = "rename", value_name = "OLD=NEW")]
    pub renames: Vec<String>,
    /// Write a migration even though it drops tables or columns or narrows types.
    #[arg(long)]
    pub allow_destructive: bool,
    /// The SQL dialect(s) to write. Default: the schema's datasource provider.
    #[arg(long, value_enum)]
    pub dialect: Option<DialectChoice>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DialectChoice {
    Sqlite,
    Postgres,
    /// Both, in `sqlite/` and `postgres/` sub-folders.
    All,
}

#[derive(Debug, Args)]
pub struct MigrateRunOptions {
    /// `[N] SCHEMA`: how many migrations (up: default all; down: default 1), then the schema file.
    #[arg(num_args = 1..=2, required = true, value_name = "[N] SCHEMA")]
    pub arguments: Vec<String>,
    /// Database URL, as for `plinth serve`. Default: PLINTH_DB, else `<schema name>.db` beside
    /// the schema.
    #[arg(long, value_name = "URL", env = "PLINTH_DB")]
    pub db: Option<String>,
    /// The migrations folder. Default: `migrations` beside the schema.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
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

#[derive(Debug, Args)]
pub struct ServeOptions {
    /// The schema file (`.plinth`, or a Prisma `.prisma` file).
    pub file: PathBuf,
    /// Database URL: `sqlite://PATH` (WAL, created on first start), `sqlite::memory:`, or
    /// `postgres://user:password@host:port/database`. Default: `<schema name>.db` next to the
    /// schema.
    #[arg(long, value_name = "URL")]
    pub db: Option<String>,
    /// Address to listen on, e.g. `127.0.0.1:8080` (the default) or `0.0.0.0:8080`; port 0
    /// picks a free port.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// A config file (TOML, or JSON when it ends in `.json`); flags override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Origin allowed to call the API from a browser (repeatable; `*` for any). Default: none.
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    pub cors_origins: Vec<String>,
    /// Requests per second per client IP, like `1000/s`, `600/m`, or `off`.
    #[arg(long, value_name = "RATE")]
    pub rate_limit_per_ip: Option<String>,
    /// Requests per authenticated user, like `500/s`, or `off`.
    #[arg(long, value_name = "RATE")]
    pub rate_limit_per_user: Option<String>,
    /// Requests per client IP to /api/v1/auth/*, like `60/m`, or `off`.
    #[arg(long, value_name = "RATE")]
    pub rate_limit_auth_per_ip: Option<String>,
    /// The migrations folder (as for `plinth migrate`). Default: `migrations` beside the schema,
    /// used only when it exists. Migrations not applied to the database stop the start with the
    /// `plinth migrate up` command to run.
    #[arg(long, value_name = "DIR")]
    pub migrations: Option<PathBuf>,
    /// Apply pending non-destructive migrations at start (for development; also PLINTH_MIGRATE=1
    /// or `migrate = true` in the config file). Destructive ones are still refused.
    #[arg(long)]
    pub migrate: bool,
    /// `redis://host:port`: rate limits counted across every node behind the load balancer.
    /// Without it each node counts its own. If Redis becomes unreachable, nodes fall back to
    /// their own limits and report `degraded` on /readyz until it is back.
    #[arg(long, value_name = "URL")]
    pub redis: Option<String>,
    /// PostgreSQL connections in this node's pool (default 16).
    #[arg(long, value_name = "N")]
    pub pool_size: Option<usize>,
    /// A load balancer whose `X-Forwarded-For` header names the client (repeatable; an address
    /// or CIDR range like `10.0.0.0/8`). Without it the connection's address is the client.
    #[arg(long = "trusted-proxy", value_name = "ADDR")]
    pub trusted_proxies: Vec<String>,
}
