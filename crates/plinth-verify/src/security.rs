//! Security probes over HTTP: injection payloads (SQL, NoSQL operators, path traversal) in every
//! path and query parameter of the reads and every string field of the create and update
//! bodies, judged by error signatures and timing; verbose errors (stack traces, SQL text,
//! framework debug pages) and version banners; missing security headers; CORS that reflects any
//! origin with credentials; and a login without a rate limit.
//!
//! Guard rails: payloads never go into DELETE requests or into the path of a write (a vulnerable
//! `WHERE id = '…' OR '1'='1'` there would change every row); text the probe sent is removed from
//! an answer before it is searched, so an echoed payload is not mistaken for a leak; a slow
//! answer is only a finding when it is slow twice and the benign request beside it is not; the
//! rate-limit probe uses a fake email, so no real user is locked out, and stops at the first 429.

use crate::client::{Exchange, Request, Target};
use crate::document::{ApiDocument, Location, Operation};
use crate::findings::{Finding, Severity};
use crate::users::{
    collections, ensure_row, fill_path, finding, is_event_stream, is_success, properties,
    query_string, request_for, sample_value, schema_types, send_patiently, trailing_parameter,
    truncate, Users,
};
use regex::Regex;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;
use std::time::Duration;

/// An SQL payload caused a database error in the answer, or a sleep payload delayed it.
pub const INJECTION_SQL: &str = "injection-sql";
/// A NoSQL operator (`{"$ne": …}`, `field[$ne]=`) caused a database error or bypassed a login.
pub const INJECTION_NOSQL: &str = "injection-nosql";
/// A `../` path reached the file system (a system file's content or a file error came back).
pub const INJECTION_PATH_TRAVERSAL: &str = "injection-path-traversal";
/// An answer carried a stack trace, SQL text or a framework's debug page.
pub const EXPOSURE_VERBOSE_ERROR: &str = "exposure-verbose-error";
/// `Server` with a version, or `X-Powered-By`, tells attackers what to look up.
pub const EXPOSURE_SERVER_BANNER: &str = "exposure-server-banner";
/// A security header every API should send is missing (`nosniff` on JSON, `no-store` on tokens).
pub const EXPOSURE_SECURITY_HEADERS: &str = "exposure-security-headers";
/// CORS allows any origin (reflected) together with credentials.
pub const EXPOSURE_CORS_REFLECTS_ORIGIN: &str = "exposure-cors-reflects-origin";
/// About a hundred failed logins in a row were all answered, none refused with 429.
pub const RATE_LIMIT_MISSING_ON_AUTH: &str = "rate-limit-missing-on-auth";

/// Every rule this module reports, with its one-line description (for docs and JUnit).
pub const RULES: &[(&str, &str)] = &[
    (
        INJECTION_SQL,
        "SQL payloads cause no database error and no delay",
    ),
    (
        INJECTION_NOSQL,
        "NoSQL operators cause no database error and bypass no login",
    ),
    (INJECTION_PATH_TRAVERSAL, "`../` paths reach no file"),
    (
        EXPOSURE_VERBOSE_ERROR,
        "answers show no stack trace, SQL or debug page",
    ),
    (EXPOSURE_SERVER_BANNER, "headers name no software version"),
    (
        EXPOSURE_SECURITY_HEADERS,
        "`nosniff` on JSON and `no-store` on tokens are sent",
    ),
    (
        EXPOSURE_CORS_REFLECTS_ORIGIN,
        "CORS does not allow any origin with credentials",
    ),
    (
        RATE_LIMIT_MISSING_ON_AUTH,
        "the login refuses bursts of failed attempts with 429",
    ),
];

const FIX_SQL: &str = "Build every statement with bound parameters (`WHERE title = $1`), never \
    by concatenating request values into SQL; log database errors, answer a plain 500.";
const FIX_NOSQL: &str = "Accept only the documented types for each field (a string stays a \
    string) and never pass request objects into database queries as operators.";
const FIX_TRAVERSAL: &str = "Never build file paths from request values; map ids to files on \
    the server, or canonicalize and check the result stays inside the allowed directory.";
const FIX_VERBOSE: &str = "Log the details with a request id and answer a generic error body \
    (problem+json with `title`, `status`, `detail`) without stack traces, SQL or versions.";
const FIX_BANNER: &str = "Remove `X-Powered-By` and the version from `Server` (or the header \
    entirely) at the framework or proxy.";
const FIX_NOSNIFF: &str = "Send `X-Content-Type-Options: nosniff` on every response, so browsers \
    never guess a JSON body's type.";
const FIX_NO_STORE: &str = "Send `Cache-Control: no-store` with every answer that carries a \
    token, so no cache keeps it.";
const FIX_CORS: &str = "Allow only a fixed list of trusted origins; never echo the request's \
    `Origin` when `Access-Control-Allow-Credentials: true`.";
const FIX_RATE: &str = "Limit login attempts per IP and per account (answer 429 with \
    `Retry-After`), so passwords cannot be guessed at full speed.";

/// How many wrong logins the rate-limit probe sends at most.
const LOGIN_ATTEMPTS: usize = 100;
/// How much slower than its benign twin a sleep payload must be, twice, to count.
const SLEEP_MARGIN: Duration = Duration::from_millis(1500);
/// The evil origin the CORS probe claims.
const EVIL_ORIGIN: &str = "https://evil.example";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Judged by SQL error signatures.
    SqlError,
    /// Judged by time.
    SqlSleep,
    NoSql,
    Traversal,
}

#[derive(Clone, Copy, Debug)]
struct Payload {
    kind: Kind,
    text: &'static str,
}

/// Payloads for parameters and string fields.
const PAYLOADS: &[Payload] = &[
    Payload {
        kind: Kind::SqlError,
        text: "plinth'verify\"",
    },
    Payload {
        kind: Kind::SqlError,
        text: "' OR '1'='1",
    },
    Payload {
        kind: Kind::SqlSleep,
        text: "1;SELECT pg_sleep(2)--",
    },
    Payload {
        kind: Kind::SqlSleep,
        text: "1' AND SLEEP(2)--",
    },
    Payload {
        kind: Kind::SqlSleep,
        text: "';SELECT pg_sleep(2)--",
    },
    Payload {
        kind: Kind::Traversal,
        text: "../../../../../../../../etc/passwd",
    },
];

/// The benign value a sleep payload is timed against.
const BENIGN: &str = "plinth-verify";

static SQL_ERROR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r#"(?i)(SQLITE_ERROR|sqlite3?\.\w*Error|no such (column|table|function):|unrecognized token:|near "[^"]{0,60}": syntax error"#,
        r#"|syntax error at or near|unterminated quoted string|invalid input syntax for|PSQLException|PG::\w+Error|SQLSTATE\[?\w*"#,
        r#"|you have an error in your sql syntax|mysql_fetch_|mysqli_|MySqlException|com\.mysql\.jdbc"#,
        r#"|ORA-\d{5}|quoted string not properly terminated|Unclosed quotation mark|Microsoft OLE DB|ODBC SQL Server Driver"#,
        r#"|SequelizeDatabaseError|QueryFailedError|PrismaClient\w*Error|rusqlite::|sqlx::Error|diesel::result)"#
    ))
    .expect("the SQL signature pattern is valid")
});

static NOSQL_ERROR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(MongoError|MongoServerError|CastError|Cast to \w+ failed|BSONTypeError|unknown operator: \$\w+|E11000 duplicate key)")
        .expect("the NoSQL signature pattern is valid")
});

static TRAVERSAL_LEAK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(root:[x*!]?:0:0:|\[boot loader\]|for 16-bit app support|No such file or directory|ENOENT|FileNotFoundException)")
        .expect("the traversal pattern is valid")
});

static DATABASE_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(sql|sqlite|postgres(ql)?|mysql|database error|db error)\b")
        .expect("the database words pattern is valid")
});

/// Stack traces of the common runtimes, SQL statements, and framework debug pages.
static VERBOSE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r#"(Traceback \(most recent call last\)|File "[^"]+", line \d+"#,
        r#"|\bat [\w$.<>]+ \((?:/|[A-Za-z]:\\|node:)[^()]*:\d+:\d+\)"#,
        r#"|\bat [a-z][\w$]*(\.[\w$]+)+\([\w$]+\.java:\d+\)|Exception in thread "|java\.lang\.\w+(Exception|Error)"#,
        r#"|\bat [\w.]+\([^)]*\) in [^\s]+:line \d+|System\.\w+Exception"#,
        r#"|goroutine \d+ \[running\]|panic: runtime error|panicked at|stack backtrace:|\bsrc/[\w/]+\.rs:\d+:\d+"#,
        r#"|<b>(Fatal error|Warning|Parse error)</b>:|Stack trace:\s*(\\n)?\s*#0|\.php on line \d+|\.rb:\d+:in `"#,
        r#"|Whitelabel Error Page|Werkzeug Debugger|DEBUG = True|Server Error in '/' Application"#,
        r#"|\bSELECT\b[^"]{0,200}?\bFROM\b|\bINSERT INTO\b|\bDELETE FROM\b|\bUPDATE\b \S+ \bSET\b)"#
    ))
    .expect("the verbose error pattern is valid")
});

static VERSIONED_SERVER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z][\w.-]*/\d+(\.\d+)*").expect("the server banner pattern is valid")
});

/// What the probes found so far, one finding per rule and operation.
#[derive(Default)]
struct Collector {
    findings: Vec<Finding>,
    seen: BTreeSet<(&'static str, String)>,
    /// JSON 2xx answers without `nosniff`: reported once.
    missing_nosniff: Option<(Option<Operation>, Exchange)>,
    saw_json_success: bool,
}

impl Collector {
    fn push(&mut self, key: String, finding: Finding) {
        if self.seen.insert((finding.rule, key)) {
            self.findings.push(finding);
        }
    }

    fn has(&self, rule: &'static str, key: &str) -> bool {
        self.seen.contains(&(rule, key.to_string()))
    }

    /// The checks every answer gets: verbose errors, banners, `nosniff`. `sent` is text the
    /// probe put in the request, removed before searching.
    fn inspect(&mut self, operation: Option<&Operation>, exchange: &Exchange, sent: &[&str]) {
        let key = operation.map(Operation::label).unwrap_or_default();
        let text = without_echo(&searchable(exchange), sent);
        if let Some(found) = VERBOSE.find(&text).or_else(|| SQL_ERROR.find(&text)) {
            self.push(
                key.clone(),
                finding(
                    EXPOSURE_VERBOSE_ERROR,
                    Severity::Medium,
                    format!(
                        "an answer shows internals: `{}`",
                        truncate(found.as_str(), 80)
                    ),
                    format!(
                        "status {}; body: {}",
                        exchange.status,
                        excerpt(&text, found.start())
                    ),
                    operation,
                    Some(exchange),
                    FIX_VERBOSE,
                ),
            );
        }
        for name in ["x-powered-by", "x-aspnet-version", "x-aspnetmvc-version"] {
            if let Some(value) = exchange.header(name) {
                self.push(
                    name.to_string(),
                    finding(
                        EXPOSURE_SERVER_BANNER,
                        Severity::Low,
                        format!("`{name}: {value}` names the software behind the API"),
                        format!(
                            "answer to {} {}",
                            exchange.request.method, exchange.request.url
                        ),
                        operation,
                        Some(exchange),
                        FIX_BANNER,
                    ),
                );
            }
        }
        if let Some(server) = exchange.header("server") {
            if VERSIONED_SERVER.is_match(server) {
                self.push(
                    "server".into(),
                    finding(
                        EXPOSURE_SERVER_BANNER,
                        Severity::Low,
                        format!("`Server: {server}` names the software and its version"),
                        format!(
                            "answer to {} {}",
                            exchange.request.method, exchange.request.url
                        ),
                        operation,
                        Some(exchange),
                        FIX_BANNER,
                    ),
                );
            }
        }
        let is_json = exchange
            .media_type()
            .is_some_and(|media| media == "application/json" || media.ends_with("+json"));
        if is_json && is_success(exchange) {
            self.saw_json_success = true;
            let nosniff = exchange
                .header("x-content-type-options")
                .is_some_and(|value| value.trim().eq_ignore_ascii_case("nosniff"));
            if !nosniff && self.missing_nosniff.is_none() {
                self.missing_nosniff = Some((operation.cloned(), exchange.clone()));
            }
        }
    }
}

/// Runs every security probe; the login rate-limit probe goes last, because it uses up the
/// auth routes' budget (call this after anything else that signs in).
pub async fn run(target: &Target, document: &ApiDocument, users: &Users) -> Vec<Finding> {
    let document = &*crate::users::rooted(document);
    let mut collector = Collector::default();
    let ids = known_ids(target, document, users).await;
    headers_and_cors(target, document, users, &ids, &mut collector).await;
    for operation in &document.operations {
        if is_event_stream(operation) || operation.method == "DELETE" {
            continue;
        }
        inject_into_operation(target, operation, users, &ids, &mut collector).await;
    }
    malformed_bodies(target, document, users, &ids, &mut collector).await;
    login_bypass(target, users, &mut collector).await;
    if let Some((operation, exchange)) = collector.missing_nosniff.take() {
        collector.push(
            "nosniff".into(),
            finding(
                EXPOSURE_SECURITY_HEADERS,
                Severity::Low,
                "JSON answers come without `X-Content-Type-Options: nosniff`".into(),
                format!(
                    "answer to {} {} (status {})",
                    exchange.request.method, exchange.request.url, exchange.status
                ),
                operation.as_ref(),
                Some(&exchange),
                FIX_NOSNIFF,
            ),
        );
    }
    rate_limit_on_login(target, users, &mut collector).await;
    collector.findings
}

/// A real id per collection path (the owner's rows), for item reads and updates.
async fn known_ids(
    target: &Target,
    document: &ApiDocument,
    users: &Users,
) -> BTreeMap<String, String> {
    let mut ids = BTreeMap::new();
    if let Some(owner) = users.owner() {
        for collection in collections(document) {
            if let Some(row) = ensure_row(target, &collection, owner).await {
                ids.insert(collection.path.to_string(), row.id);
            }
        }
    }
    ids
}

/// The path of `operation` with its trailing id filled from a known row (or `None`).
fn known_path(operation: &Operation, ids: &BTreeMap<String, String>) -> Option<String> {
    if !operation.path.contains('{') {
        return Some(operation.path.clone());
    }
    let collection = crate::users::collection_of(&operation.path);
    let parameter = trailing_parameter(&operation.path)?;
    let id = ids.get(collection)?;
    let path = fill_path(&operation.path, &[(parameter, id)], false);
    (!path.contains('{')).then_some(path)
}

fn authorized(request: Request, users: &Users) -> Request {
    match users.owner() {
        Some(owner) => request.bearer(&owner.token),
        None => request,
    }
}

/// Whether the path is a sign-in route (rate-limited strictly: few payloads go there).
fn is_sign_in_route(path: &str) -> bool {
    let last = path.rsplit('/').next().unwrap_or("");
    matches!(
        last,
        "login" | "register" | "signin" | "signup" | "sign-in" | "sign-up"
    )
}

fn is_auth_route(path: &str) -> bool {
    path.contains("/auth/")
        || is_sign_in_route(path)
        || matches!(
            path.rsplit('/').next().unwrap_or(""),
            "token" | "refresh" | "logout"
        )
}

/// Payloads into one operation: path and query parameters of a GET, string fields of a body.
async fn inject_into_operation(
    target: &Target,
    operation: &Operation,
    users: &Users,
    ids: &BTreeMap<String, String>,
    collector: &mut Collector,
) {
    if is_auth_route(&operation.path) && !is_sign_in_route(&operation.path) {
        return;
    }
    let Some(base_path) = known_path(operation, ids) else {
        return;
    };
    if operation.method == "GET" {
        for parameter in &operation.parameters {
            match parameter.location {
                Location::Path => {
                    for payload in PAYLOADS {
                        if collector.has(rule_of(payload.kind), &operation.label()) {
                            continue;
                        }
                        let path =
                            fill_path(&operation.path, &[(&parameter.name, payload.text)], false);
                        let benign =
                            fill_path(&operation.path, &[(&parameter.name, BENIGN)], false);
                        let make = |path: String| authorized(Request::new("GET", path), users);
                        probe(
                            target,
                            operation,
                            payload,
                            make(path),
                            make(benign),
                            collector,
                        )
                        .await;
                    }
                }
                Location::Query if worth_injecting(operation, &parameter.name) => {
                    for payload in PAYLOADS {
                        if collector.has(rule_of(payload.kind), &operation.label()) {
                            continue;
                        }
                        let make = |value: &str| {
                            let path = format!(
                                "{base_path}?{}",
                                query_string(&[(parameter.name.clone(), value.to_string())])
                            );
                            authorized(Request::new("GET", path), users)
                        };
                        probe(
                            target,
                            operation,
                            payload,
                            make(payload.text),
                            make(BENIGN),
                            collector,
                        )
                        .await;
                    }
                }
                _ => {}
            }
        }
        // NoSQL operators as extra query parameters on plain filters.
        let filters: Vec<&str> = operation
            .parameters
            .iter()
            .filter(|parameter| {
                parameter.location == Location::Query
                    && !parameter.name.contains('[')
                    && schema_types(&parameter.schema)
                        .iter()
                        .any(|kind| kind == "string")
            })
            .map(|parameter| parameter.name.as_str())
            .take(10)
            .collect();
        for name in filters {
            if collector.has(INJECTION_NOSQL, &operation.label()) {
                break;
            }
            for operator in ["$ne", "$gt"] {
                let path = format!(
                    "{base_path}?{}",
                    query_string(&[(format!("{name}[{operator}]"), String::new())])
                );
                let request = authorized(Request::new("GET", path), users);
                let payload = Payload {
                    kind: Kind::NoSql,
                    text: "$ne",
                };
                probe(
                    target,
                    operation,
                    &payload,
                    request.clone(),
                    request,
                    collector,
                )
                .await;
            }
        }
        return;
    }
    // Writes: string fields of the body, never the path (see the module docs).
    let Some(schema) = &operation.request_body else {
        return;
    };
    // Never write payloads into the test users' own accounts: a PATCH of one's own user row
    // would rename the user or change its password and lock the next run out.
    if operation.path.contains('{') {
        let own_row = users
            .users
            .iter()
            .filter_map(|user| user.subject.as_deref())
            .any(|subject| {
                base_path.rsplit('/').next().is_some_and(|last| {
                    last == subject || last == crate::contract::percent_encode(subject)
                })
            });
        if own_row {
            return;
        }
    }
    // A fresh valid body per request, so unique fields (emails, names) never collide and every
    // payload reaches the code behind the uniqueness check.
    let base = || {
        if operation.method == "PATCH" {
            json!({})
        } else {
            sample_value(schema, "").unwrap_or_else(|| json!({}))
        }
    };
    let sign_in = is_sign_in_route(&operation.path);
    for (field, property) in properties(schema) {
        if !schema_types(&property).iter().any(|kind| kind == "string")
            || property.get("enum").is_some()
            || is_secret_field(&field, &property)
        {
            continue;
        }
        for payload in PAYLOADS {
            if sign_in && !matches!(payload.kind, Kind::SqlError | Kind::SqlSleep) {
                continue;
            }
            if collector.has(rule_of(payload.kind), &operation.label()) {
                continue;
            }
            let with = |value: Value| {
                let mut body = base();
                if let Value::Object(fields) = &mut body {
                    fields.insert(field.clone(), value);
                }
                authorized(Request::new(&operation.method, &base_path), users).json(&body)
            };
            probe(
                target,
                operation,
                payload,
                with(json!(payload.text)),
                with(json!(BENIGN)),
                collector,
            )
            .await;
        }
        if !sign_in && !collector.has(INJECTION_NOSQL, &operation.label()) {
            let mut body = base();
            if let Value::Object(fields) = &mut body {
                fields.insert(field.clone(), json!({"$ne": null}));
            }
            let request =
                authorized(Request::new(&operation.method, &base_path), users).json(&body);
            let payload = Payload {
                kind: Kind::NoSql,
                text: "$ne",
            };
            probe(
                target,
                operation,
                &payload,
                request.clone(),
                request,
                collector,
            )
            .await;
        }
    }
}

/// Password-like fields are never sent payloads: storing one would change a credential.
fn is_secret_field(name: &str, schema: &Value) -> bool {
    let lower = name.to_ascii_lowercase();
    schema.get("format").and_then(Value::as_str) == Some("password")
        || ["password", "secret", "passphrase"]
            .iter()
            .any(|word| lower.contains(word))
}

/// Filters come in families (`title`, `title[ne]`, `title[contains]`, …) that reach the same
/// column: the plain name and `[contains]` (a LIKE) are probed, plus the first other operator.
fn worth_injecting(operation: &Operation, name: &str) -> bool {
    let Some((base, _)) = name.split_once('[') else {
        return true;
    };
    if name.ends_with("[contains]") {
        return true;
    }
    let has_contains = operation
        .parameters
        .iter()
        .any(|parameter| parameter.name == format!("{base}[contains]"));
    if has_contains {
        return false;
    }
    operation
        .parameters
        .iter()
        .find(|parameter| parameter.name.starts_with(&format!("{base}[")))
        .is_some_and(|first| first.name == name)
}

fn rule_of(kind: Kind) -> &'static str {
    match kind {
        Kind::SqlError | Kind::SqlSleep => INJECTION_SQL,
        Kind::NoSql => INJECTION_NOSQL,
        Kind::Traversal => INJECTION_PATH_TRAVERSAL,
    }
}

/// Sends one payload (and, for sleep payloads, its benign twin) and judges the answer.
async fn probe(
    target: &Target,
    operation: &Operation,
    payload: &Payload,
    request: Request,
    benign: Request,
    collector: &mut Collector,
) {
    let Some(exchange) = send_patiently(target, request.clone()).await else {
        return;
    };
    let sent = [payload.text, "pg_sleep", "SLEEP(2)"];
    let text = without_echo(&searchable(&exchange), &sent);
    let rule = rule_of(payload.kind);
    let key = operation.label();
    let judged = match payload.kind {
        Kind::SqlError | Kind::SqlSleep => SQL_ERROR
            .find(&text)
            .map(|found| format!("a database error: {}", excerpt(&text, found.start())))
            .or_else(|| {
                (exchange.status == 500 && DATABASE_WORDS.is_match(&text))
                    .then(|| format!("500 with database text: {}", truncate(&text, 200)))
            }),
        Kind::NoSql => NOSQL_ERROR
            .find(&text)
            .map(|found| format!("a database error: {}", excerpt(&text, found.start())))
            .or_else(|| {
                (exchange.status == 500 && DATABASE_WORDS.is_match(&text))
                    .then(|| format!("500 with database text: {}", truncate(&text, 200)))
            }),
        Kind::Traversal => TRAVERSAL_LEAK.find(&text).map(|found| {
            format!(
                "file system content or error: {}",
                excerpt(&text, found.start())
            )
        }),
    };
    if let Some(detail) = judged {
        let (severity, fix) = match payload.kind {
            Kind::SqlError | Kind::SqlSleep => (Severity::Critical, FIX_SQL),
            Kind::NoSql => (Severity::High, FIX_NOSQL),
            Kind::Traversal => (Severity::High, FIX_TRAVERSAL),
        };
        collector.push(
            key,
            finding(
                rule,
                severity,
                format!(
                    "{} is open to {}",
                    operation.label(),
                    describe(payload.kind)
                ),
                format!(
                    "payload `{}` → status {}, {detail}",
                    payload.text, exchange.status
                ),
                Some(operation),
                Some(&exchange),
                fix,
            ),
        );
        return;
    }
    collector.inspect(Some(operation), &exchange, &sent);
    if payload.kind == Kind::SqlSleep && exchange.elapsed >= SLEEP_MARGIN {
        if let Some(detail) = confirm_sleep(target, &request, &benign, exchange.elapsed).await {
            collector.push(
                key,
                finding(
                    INJECTION_SQL,
                    Severity::Critical,
                    format!("{} is open to time-based SQL injection", operation.label()),
                    format!("payload `{}`: {detail}", payload.text),
                    Some(operation),
                    Some(&exchange),
                    FIX_SQL,
                ),
            );
        }
    }
}

/// A sleep payload counts when its benign twin is fast and the payload is slow again.
async fn confirm_sleep(
    target: &Target,
    request: &Request,
    benign: &Request,
    first: Duration,
) -> Option<String> {
    let baseline = send_patiently(target, benign.clone()).await?.elapsed;
    if first < baseline + SLEEP_MARGIN {
        return None;
    }
    let again = send_patiently(target, request.clone()).await?.elapsed;
    let baseline_again = send_patiently(target, benign.clone()).await?.elapsed;
    (again >= baseline_again + SLEEP_MARGIN).then(|| {
        format!(
            "answered in {} ms and {} ms; the same request with `{BENIGN}` in {} ms and {} ms",
            first.as_millis(),
            again.as_millis(),
            baseline.as_millis(),
            baseline_again.as_millis()
        )
    })
}

fn describe(kind: Kind) -> &'static str {
    match kind {
        Kind::SqlError | Kind::SqlSleep => "SQL injection",
        Kind::NoSql => "NoSQL operator injection",
        Kind::Traversal => "path traversal",
    }
}

/// The text to search in an answer: for JSON, its strings (keys and values) one per line, so
/// escaped quotes and newlines read as the server wrote them; otherwise the body as is.
fn searchable(exchange: &Exchange) -> String {
    fn collect(value: &Value, into: &mut String) {
        match value {
            Value::String(text) => {
                into.push_str(text);
                into.push('\n');
            }
            Value::Array(items) => items.iter().for_each(|item| collect(item, into)),
            Value::Object(fields) => {
                for (key, item) in fields {
                    into.push_str(key);
                    into.push('\n');
                    collect(item, into);
                }
            }
            _ => {}
        }
    }
    match exchange.json() {
        Some(value) => {
            let mut text = String::new();
            collect(&value, &mut text);
            text
        }
        None => exchange.text(),
    }
}

/// The text with everything the probe sent removed (raw, JSON-escaped and percent-encoded), so
/// an answer that only echoes the input does not match.
fn without_echo(text: &str, sent: &[&str]) -> String {
    let mut cleaned = text.to_string();
    for piece in sent {
        if piece.is_empty() {
            continue;
        }
        let escaped = Value::String(piece.to_string()).to_string();
        let escaped = escaped.trim_matches('"').to_string();
        for form in [
            piece.to_string(),
            escaped,
            crate::users::percent_encode(piece),
        ] {
            if !form.is_empty() {
                cleaned = cleaned.replace(&form, " ");
            }
        }
    }
    cleaned
}

/// Up to ~160 characters around `at`.
fn excerpt(text: &str, at: usize) -> String {
    let mut start = at.saturating_sub(40);
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    truncate(&text[start..], 160).replace(['\n', '\r', '\t'], " ")
}

/// `nosniff` is gathered from every answer; here: CORS with an evil origin, and `no-store` on
/// the answers that carried the users' tokens.
async fn headers_and_cors(
    target: &Target,
    document: &ApiDocument,
    users: &Users,
    ids: &BTreeMap<String, String>,
    collector: &mut Collector,
) {
    for exchange in &users.token_exchanges {
        let carries_token = exchange.json().is_some_and(|body| {
            [
                "access_token",
                "token",
                "id_token",
                "refresh_token",
                "accessToken",
            ]
            .iter()
            .any(|key| body.get(key).is_some_and(Value::is_string))
        });
        if !is_success(exchange) || !carries_token {
            continue;
        }
        collector.inspect(None, exchange, &[]);
        let no_store = exchange
            .header("cache-control")
            .is_some_and(|value| value.to_ascii_lowercase().contains("no-store"));
        if !no_store {
            collector.push(
                "no-store".into(),
                finding(
                    EXPOSURE_SECURITY_HEADERS,
                    Severity::Low,
                    "an answer carrying a token comes without `Cache-Control: no-store`".into(),
                    format!(
                        "{} {} answered {} with a token and `Cache-Control: {}`",
                        exchange.request.method,
                        exchange.request.url,
                        exchange.status,
                        exchange.header("cache-control").unwrap_or("(none)")
                    ),
                    None,
                    Some(exchange),
                    FIX_NO_STORE,
                ),
            );
        }
    }
    // CORS on the first read the owner can make (not an auth route: those are rate-limited).
    let mut reads: Vec<&Operation> = document
        .operations
        .iter()
        .filter(|operation| operation.method == "GET" && !is_event_stream(operation))
        .collect();
    reads.sort_by_key(|operation| is_auth_route(&operation.path));
    for operation in reads {
        let Some(path) = known_path(operation, ids) else {
            continue;
        };
        let values: Vec<(&str, &str)> = Vec::new();
        let mut request = request_for(operation, &values);
        request.path = match request.path.split_once('?') {
            Some((_, query)) => format!("{path}?{query}"),
            None => path.clone(),
        };
        let request = authorized(request, users).header("origin", EVIL_ORIGIN);
        let Some(exchange) = send_patiently(target, request).await else {
            continue;
        };
        if !is_success(&exchange) {
            continue;
        }
        collector.inspect(Some(operation), &exchange, &[]);
        let preflight = Request::new("OPTIONS", &path)
            .header("origin", EVIL_ORIGIN)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization");
        let preflight = send_patiently(target, preflight).await;
        for answer in std::iter::once(&exchange).chain(preflight.as_ref()) {
            let reflects = answer
                .header("access-control-allow-origin")
                .is_some_and(|origin| origin.trim() == EVIL_ORIGIN);
            let credentials = answer
                .header("access-control-allow-credentials")
                .is_some_and(|value| value.trim().eq_ignore_ascii_case("true"));
            if reflects && credentials {
                collector.push(
                    "cors".into(),
                    finding(
                        EXPOSURE_CORS_REFLECTS_ORIGIN,
                        Severity::High,
                        "CORS lets any origin make credentialed requests".into(),
                        format!(
                            "with `Origin: {EVIL_ORIGIN}`, {} {} answered `Access-Control-Allow-Origin: {EVIL_ORIGIN}` and `Access-Control-Allow-Credentials: true`",
                            answer.request.method, answer.request.url
                        ),
                        Some(operation),
                        Some(answer),
                        FIX_CORS,
                    ),
                );
            }
        }
        break;
    }
}

/// Broken JSON to the writes (a few) and an unknown route: error answers must not show
/// internals.
async fn malformed_bodies(
    target: &Target,
    document: &ApiDocument,
    users: &Users,
    ids: &BTreeMap<String, String>,
    collector: &mut Collector,
) {
    let writes = document
        .operations
        .iter()
        .filter(|operation| {
            matches!(operation.method.as_str(), "POST" | "PATCH" | "PUT")
                && operation.request_body.is_some()
                && !is_auth_route(&operation.path)
        })
        .take(8);
    for operation in writes {
        let Some(path) = known_path(operation, ids) else {
            continue;
        };
        let mut request = authorized(Request::new(&operation.method, path), users)
            .header("content-type", "application/json");
        request.body = Some(r#"{"plinth-verify": [1, 2,"#.to_string());
        if let Some(exchange) = send_patiently(target, request).await {
            collector.inspect(Some(operation), &exchange, &[]);
        }
    }
    let unknown = format!(
        "/plinth-verify-no-such-route-{}",
        crate::users::random_word()
    );
    if let Some(exchange) =
        send_patiently(target, authorized(Request::new("GET", unknown), users)).await
    {
        collector.inspect(None, &exchange, &[]);
    }
}

/// The login with SQL and NoSQL bypass payloads instead of credentials: a 2xx is a finding.
async fn login_bypass(target: &Target, users: &Users, collector: &mut Collector) {
    let Some(login) = &users.login else {
        return;
    };
    let Value::Object(wrong) = &login.wrong_body else {
        return;
    };
    let string_fields: Vec<&String> = wrong
        .iter()
        .filter(|(_, value)| value.is_string())
        .map(|(name, _)| name)
        .collect();
    let Some(identifier) = string_fields
        .iter()
        .find(|name| !name.to_ascii_lowercase().contains("password"))
    else {
        return;
    };
    let attempts = [
        (INJECTION_SQL, "SQL", {
            let mut body = wrong.clone();
            body.insert((*identifier).clone(), json!("' OR '1'='1' --"));
            body
        }),
        (INJECTION_NOSQL, "NoSQL", {
            let mut body = wrong.clone();
            for name in &string_fields {
                body.insert((*name).clone(), json!({"$ne": "plinth-verify-nobody"}));
            }
            body
        }),
    ];
    for (rule, what, body) in attempts {
        let request = Request::new(&login.method, &login.path).json(&Value::Object(body));
        let Some(exchange) = send_patiently(target, request).await else {
            continue;
        };
        if is_success(&exchange) {
            collector.push(
                format!("login {}", login.path),
                finding(
                    rule,
                    Severity::Critical,
                    format!("the login accepts a {what} injection instead of credentials"),
                    format!(
                        "{} {} answered {} to a body of injection payloads",
                        login.method, login.path, exchange.status
                    ),
                    None,
                    Some(&exchange),
                    if rule == INJECTION_SQL {
                        FIX_SQL
                    } else {
                        FIX_NOSQL
                    },
                ),
            );
        } else {
            collector.inspect(
                None,
                &exchange,
                &["' OR '1'='1' --", "$ne", "plinth-verify-nobody"],
            );
        }
    }
}

/// Up to [`LOGIN_ATTEMPTS`] wrong logins for an email nobody has; a 429 (or a 503 with
/// `Retry-After`) ends the probe without a finding.
async fn rate_limit_on_login(target: &Target, users: &Users, collector: &mut Collector) {
    let Some(login) = &users.login else {
        return;
    };
    let mut last = None;
    for attempt in 0..LOGIN_ATTEMPTS {
        let request = Request::new(&login.method, &login.path).json(&login.wrong_body);
        let Ok(exchange) = target.send(request).await else {
            return;
        };
        let limited = exchange.status == 429
            || (exchange.status == 503 && exchange.header("retry-after").is_some());
        if limited {
            return;
        }
        // Only a login that refuses the credentials tells anything (not a missing route).
        if attempt == 0 && !matches!(exchange.status, 400 | 401 | 403 | 422) {
            return;
        }
        last = Some(exchange);
    }
    if let Some(exchange) = last {
        collector.push(
            login.path.clone(),
            finding(
                RATE_LIMIT_MISSING_ON_AUTH,
                Severity::Medium,
                format!("{} {} never refused {LOGIN_ATTEMPTS} failed logins in a row", login.method, login.path),
                format!("{LOGIN_ATTEMPTS} wrong logins for a fake email were all answered (the last with {}); none with 429", exchange.status),
                None,
                Some(&exchange),
                FIX_RATE,
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_signatures_match_real_errors_and_not_echoes() {
        assert!(SQL_ERROR.is_match(r#"near "verify": syntax error"#));
        assert!(SQL_ERROR.is_match("ERROR: syntax error at or near \"OR\""));
        assert!(SQL_ERROR.is_match("You have an error in your SQL syntax; check the manual"));
        assert!(SQL_ERROR.is_match("no such function: SLEEP"));
        let echo = r#"{"detail":"`title` must be at most 10 characters, got ' OR '1'='1"}"#;
        assert!(!SQL_ERROR.is_match(&without_echo(echo, &["' OR '1'='1"])));
        assert!(!VERBOSE.is_match(&without_echo(
            r#"{"detail":"bad value 1;SELECT pg_sleep(2)--"}"#,
            &["1;SELECT pg_sleep(2)--"]
        )));
    }

    #[test]
    fn verbose_errors_are_recognised() {
        for text in [
            "Traceback (most recent call last):\n  File \"/app/main.py\", line 3",
            r#"{"error":"TypeError: x is undefined\n    at handler (/srv/app/index.js:10:5)"}"#,
            "java.lang.NullPointerException\n\tat com.example.Api.get(Api.java:42)",
            "thread 'main' panicked at src/main.rs:10:5",
            "SELECT id, title FROM tasks WHERE id = 1",
        ] {
            assert!(VERBOSE.is_match(text), "{text}");
        }
        // Plinth's own errors.
        for text in [
            r#"{"type":"about:blank","title":"Not Found","status":404,"detail":"there is no route `/x`","code":"not_found"}"#,
            r#"{"title":"Unprocessable Entity","detail":"`title`: select a shorter value","errors":[]}"#,
        ] {
            assert!(!VERBOSE.is_match(text), "{text}");
        }
    }

    #[test]
    fn banners_need_a_version() {
        assert!(VERSIONED_SERVER.is_match("nginx/1.25.3"));
        assert!(VERSIONED_SERVER.is_match("Apache/2.4.41 (Ubuntu)"));
        assert!(!VERSIONED_SERVER.is_match("nginx"));
        assert!(!VERSIONED_SERVER.is_match("cloudflare"));
    }

    #[test]
    fn filter_families_are_sampled() {
        use crate::document::{Parameter, Security};
        let parameter = |name: &str| Parameter {
            name: name.into(),
            location: Location::Query,
            required: false,
            schema: json!({"type": "string"}),
        };
        let operation = Operation {
            method: "GET".into(),
            path: "/t".into(),
            operation_id: None,
            parameters: [
                "title",
                "title[ne]",
                "title[contains]",
                "done",
                "done[ne]",
                "done[in]",
            ]
            .into_iter()
            .map(parameter)
            .collect(),
            request_body: None,
            request_body_required: false,
            responses: Default::default(),
            security: Security::None,
        };
        let chosen: Vec<&str> = operation
            .parameters
            .iter()
            .map(|parameter| parameter.name.as_str())
            .filter(|name| worth_injecting(&operation, name))
            .collect();
        assert_eq!(chosen, ["title", "title[contains]", "done", "done[ne]"]);
    }
}
