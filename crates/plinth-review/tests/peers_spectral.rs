//! Our API rules against the Spectral OWASP ruleset's own test cases
//! (`../shared/corpus/fixtures/spectral-owasp/`: each case is a document and the findings
//! Spectral expects on it, listed in `index.json`).
//!
//! For every Spectral rule we have a counterpart for ([`MAPPING`]), each case must agree: our
//! rule reports the documents Spectral reports, and spares those it spares. Where we disagree on
//! purpose, the case is in [`EXCEPTIONS`] with the reason, and the test checks that it still
//! disagrees, so the list cannot go stale. Spectral rules with no counterpart are printed, with
//! why, in [`UNMAPPED`].
//!
//! Runs whenever the corpus folder exists beside the repository, and says it skipped otherwise.

use plinth_review::{load_sources, review, Config};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Spectral OWASP rule → our rule.
const MAPPING: &[(&str, &str)] = &[
    ("owasp:api1:2023-no-numeric-ids", "numeric-id-enumeration"),
    (
        "owasp:api2:2023-auth-insecure-schemes",
        "insecure-auth-scheme",
    ),
    ("owasp:api2:2023-no-http-basic", "insecure-auth-scheme"),
    ("owasp:api2:2023-no-api-keys-in-url", "api-key-in-query"),
    ("owasp:api2:2023-no-credentials-in-url", "secret-in-query"),
    ("owasp:api4:2023-array-limit", "unbounded-array"),
    ("owasp:api4:2023-string-limit", "unbounded-string"),
    (
        "owasp:api4:2023-rate-limit-responses-429",
        "missing-429-response",
    ),
    (
        "owasp:api4:2023-rate-limit-retry-after",
        "missing-retry-after",
    ),
    (
        "owasp:api8:2023-define-error-responses-401",
        "missing-error-responses",
    ),
    (
        "owasp:api8:2023-define-error-responses-500",
        "missing-error-responses",
    ),
    (
        "owasp:api8:2023-define-error-validation",
        "missing-error-responses",
    ),
    ("owasp:api8:2023-no-scheme-http", "http-server-url"),
    ("owasp:api8:2023-no-server-http", "http-server-url"),
];

/// Cases of mapped rules where we differ from Spectral on purpose: `(file, reason)`.
const EXCEPTIONS: &[(&str, &str)] = &[
    (
        "owasp_api4_2023-array-limit__3.json",
        "the array is a schema no request body uses; we check what clients send, and leave \
         response lists to list-without-pagination",
    ),
    (
        "owasp_api4_2023-array-limit__4.json",
        "the array is a schema no request body uses",
    ),
    (
        "owasp_api4_2023-string-limit__7.json",
        "the string is a schema no request body uses; we check what clients send",
    ),
    (
        "owasp_api4_2023-string-limit__8.json",
        "the string is a schema no request body uses",
    ),
    (
        "owasp_api4_2023-string-limit__9.json",
        "the string is a schema no request body uses",
    ),
    (
        "owasp_api4_2023-string-limit__10.json",
        "Spectral reports a `format: date-time` string its own case calls valid; a date-time's \
         length is bounded by its format, so we do not",
    ),
    (
        "owasp_api4_2023-rate-limit-responses-429__2.json",
        "the `429` is documented; we do not also require it to describe a body (a \
         `Retry-After` header is what clients need, missing-retry-after)",
    ),
    (
        "owasp_api8_2023-define-error-responses-401__2.json",
        "an error response is documented; we ask for at least one, not specifically a `401` \
         with a body",
    ),
    (
        "owasp_api8_2023-define-error-responses-500__2.json",
        "an error response is documented; we ask for at least one, not specifically a `500` \
         with a body",
    ),
    (
        "owasp_api8_2023-no-scheme-http__4.json",
        "`ftp` is not a transport an HTTP API is served over; we report unencrypted `http` \
         and `ws` only",
    ),
];

/// Spectral OWASP rules with no counterpart here, and why.
const UNMAPPED: &[(&str, &str)] = &[
    (
        "owasp:api2:2023-jwt-best-practices",
        "asks for a mention of RFC 8725 in scheme descriptions: documentation wording",
    ),
    (
        "owasp:api2:2023-short-lived-access-tokens",
        "asks OAuth 2 flows for a refreshUrl: noisy on real documents",
    ),
    (
        "owasp:api3:2023-constrained-additionalProperties",
        "asks map schemas for maxProperties; open-request-body covers writes",
    ),
    (
        "owasp:api3:2023-constrained-unevaluatedProperties",
        "asks map schemas for maxProperties; open-request-body covers writes",
    ),
    (
        "owasp:api3:2023-no-additionalProperties",
        "flags an explicit `additionalProperties: true` in any schema; open-request-body \
         flags request bodies left open, explicitly or by default",
    ),
    (
        "owasp:api3:2023-no-unevaluatedProperties",
        "flags an explicit `unevaluatedProperties: true` in any schema; see open-request-body",
    ),
    (
        "owasp:api4:2023-integer-format",
        "integer formats: a data-modelling choice, not a design or security finding",
    ),
    (
        "owasp:api4:2023-integer-limit",
        "minimum and maximum on every integer: too noisy on real documents",
    ),
    (
        "owasp:api4:2023-integer-limit-legacy",
        "minimum and maximum on every integer (OpenAPI 3.0 and 2.0)",
    ),
    (
        "owasp:api4:2023-rate-limit",
        "rate-limit headers on every success response: we ask for 429 and Retry-After",
    ),
    (
        "owasp:api4:2023-string-restricted",
        "a format, pattern or enum on every string: we ask for a bound (maxLength suffices)",
    ),
    (
        "owasp:api5:2023-admin-security-unique",
        "admin paths with their own scheme: needs knowledge of roles the document lacks",
    ),
    (
        "owasp:api7:2023-concerning-url-parameter",
        "URL-valued parameters (SSRF): a hint to review, not a finding",
    ),
    (
        "owasp:api8:2023-define-cors-origin",
        "CORS headers on every response: a deployment concern, rarely documented",
    ),
    (
        "owasp:api9:2023-inventory-access",
        "`x-internal` on servers: a vendor extension",
    ),
    (
        "owasp:api9:2023-inventory-environment",
        "environment words in server descriptions: documentation wording",
    ),
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/fixtures/spectral-owasp")
}

struct Case {
    rule: String,
    name: String,
    file: String,
    expects_finding: bool,
}

fn cases(dir: &Path) -> Vec<Case> {
    let text = std::fs::read_to_string(dir.join("index.json")).expect("index.json is readable");
    let index: serde_json::Value = serde_json::from_str(&text).expect("index.json is JSON");
    index
        .as_array()
        .expect("index.json is a list")
        .iter()
        .map(|entry| Case {
            rule: entry["rule"].as_str().unwrap_or_default().to_string(),
            name: entry["case"].as_str().unwrap_or_default().to_string(),
            file: entry["file"].as_str().unwrap_or_default().to_string(),
            expects_finding: entry["expected"].as_array().is_some_and(|e| !e.is_empty()),
        })
        .collect()
}

/// The rules that report anything on one fixture document.
fn our_rules(dir: &Path, file: &str) -> BTreeSet<&'static str> {
    let text = std::fs::read_to_string(dir.join(file)).expect("fixture is readable");
    let report = review(
        load_sources(vec![(file.to_string(), text)]),
        &Config::default(),
    );
    report.findings.iter().map(|f| f.rule).collect()
}

#[test]
fn our_rules_agree_with_the_spectral_owasp_cases_they_map_to() {
    let dir = fixtures();
    if !dir.join("index.json").exists() {
        eprintln!(
            "skipped: no Spectral OWASP fixtures at {} (the corpus is not here)",
            dir.display()
        );
        return;
    }
    let cases = cases(&dir);
    let mut agreed = 0;
    let mut excepted = 0;
    let mut problems = Vec::new();
    let mut unknown = BTreeSet::new();
    println!("Spectral OWASP case → our rule: agreement");
    for case in &cases {
        let Some((_, ours)) = MAPPING.iter().find(|(theirs, _)| *theirs == case.rule) else {
            if !UNMAPPED.iter().any(|(theirs, _)| *theirs == case.rule) {
                unknown.insert(case.rule.clone());
            }
            continue;
        };
        let found = our_rules(&dir, &case.file).contains(ours);
        let agrees = found == case.expects_finding;
        let exception = EXCEPTIONS.iter().find(|(file, _)| *file == case.file);
        let verdict = match (agrees, exception) {
            (true, None) => {
                agreed += 1;
                "agree".to_string()
            }
            (false, Some((_, reason))) => {
                excepted += 1;
                format!("differ on purpose: {reason}")
            }
            (true, Some(_)) => {
                problems.push(format!(
                    "{}: listed as an exception but now agrees; remove it from EXCEPTIONS",
                    case.file
                ));
                "agree (stale exception)".to_string()
            }
            (false, None) => {
                problems.push(format!(
                    "{} ({}, {}): Spectral {} a finding, `{ours}` {}",
                    case.file,
                    case.rule,
                    case.name,
                    if case.expects_finding {
                        "expects"
                    } else {
                        "expects no"
                    },
                    if found { "reports one" } else { "reports none" }
                ));
                "DIFFER".to_string()
            }
        };
        println!(
            "  {} [{}] {} → {ours}: {verdict}",
            case.rule, case.name, case.file
        );
    }
    let mapped = agreed + excepted + problems.len();
    println!(
        "\nmapped cases: {mapped}; agree: {agreed} ({:.0}%); differ on purpose: {excepted}",
        100.0 * agreed as f64 / mapped.max(1) as f64
    );
    println!("\nSpectral OWASP rules with no counterpart here:");
    for (theirs, why) in UNMAPPED {
        println!("  {theirs}: {why}");
    }
    assert!(
        unknown.is_empty(),
        "Spectral rules neither mapped nor listed as unmapped: {unknown:?}"
    );
    assert!(mapped > 0, "no Spectral case maps to one of our rules");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
