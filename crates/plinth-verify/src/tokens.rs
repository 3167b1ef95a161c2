//! Authentication probes: every operation the document protects is sent without a token — or,
//! with the API's Plinth schema, every endpoint whose rules no caller without a token can pass,
//! which must then be refused with 401 — and the protected reads that really refuse anonymous
//! callers are sent with tokens a server must refuse — signed with another secret, `alg: none`, the owner's real token with its expiry or
//! subject changed but its signature kept (tampered), and garbage. Any 2xx is a finding.
//!
//! Nothing here needs the server's secret: the forged token is signed (HS256) with a random key,
//! and the other JWTs only re-encode the real token's parts.

use crate::client::{Exchange, Request, Target};
use crate::document::{ApiDocument, Operation, Security};
use crate::findings::{Finding, Severity};
use crate::policy::Policies;
use crate::users::{
    collection_of, collections, ensure_row, finding, is_event_stream, is_success, is_write,
    random_word, request_for, sample_value, send_patiently, trailing_parameter, User, Users,
};
use base64::Engine;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// An operation the document protects answered 2xx without any token.
pub const AUTH_MISSING: &str = "auth-missing";
/// An endpoint the schema closes to callers without a token refused one with another status
/// than 401.
pub const AUTH_MISSING_WRONG_STATUS: &str = "auth-missing-wrong-status";
/// A write the document leaves open (no security) on a resource whose reads need a token, and
/// the server accepted it without one.
pub const AUTH_WRITE_WITHOUT_SECURITY: &str = "auth-write-without-security";
/// A token signed with another key (or no token at all, just garbage) was accepted.
pub const AUTH_FORGED_TOKEN: &str = "auth-forged-token";
/// A JWT with `alg: none` and no signature was accepted.
pub const AUTH_ALG_NONE: &str = "auth-alg-none";
/// A real token whose claims were changed (expiry in the past, another subject) without
/// re-signing was accepted: the signature or the expiry is not checked.
pub const AUTH_TAMPERED_TOKEN: &str = "auth-tampered-token";

/// Every rule this module reports, with its one-line description (for docs and JUnit).
pub const RULES: &[(&str, &str)] = &[
    (
        AUTH_MISSING,
        "protected operations refuse requests without a token",
    ),
    (
        AUTH_MISSING_WRONG_STATUS,
        "requests without a token that the schema refuses are answered 401",
    ),
    (
        AUTH_WRITE_WITHOUT_SECURITY,
        "writes of a protected resource need a token",
    ),
    (
        AUTH_FORGED_TOKEN,
        "tokens signed with another key, and garbage, are refused",
    ),
    (AUTH_ALG_NONE, "unsigned `alg: none` tokens are refused"),
    (
        AUTH_TAMPERED_TOKEN,
        "tokens with changed claims (expiry, subject) are refused",
    ),
];

const FIX_MISSING: &str = "Require a valid token on this operation before doing anything else \
    (an auth middleware on the route), and answer 401 without one.";
const FIX_STATUS: &str = "Answer 401 (with `WWW-Authenticate: Bearer`) to every request without \
    a token that needs one, before looking at the row, so clients know to sign in.";
const FIX_WRITE: &str = "Require authentication on every write of a resource whose reads are \
    protected, and declare it in the document (`security`).";
const FIX_VERIFY: &str = "Verify every token's signature with the server's key and a fixed \
    algorithm allow-list (never `none`, never the algorithm the token names), and check `exp`.";

/// How many protected reads the token probes use.
const TOKEN_PROBE_OPERATIONS: usize = 3;

/// Runs every authentication probe, with the schema's rules when `policies` is given.
pub async fn run(
    target: &Target,
    document: &ApiDocument,
    users: &Users,
    policies: Option<&Policies>,
) -> Vec<Finding> {
    let document = &*crate::users::rooted(document);
    let mut findings = Vec::new();
    let owner = users.owner();
    let ids = match owner {
        Some(owner) => known_ids(target, document, owner).await,
        None => BTreeMap::new(),
    };

    // Reads first, deletes last: a server that lets anonymous deletes through loses only the
    // probe's own row, after everything else has used it.
    let mut ordered: Vec<&Operation> = document
        .operations
        .iter()
        .filter(|operation| !is_event_stream(operation))
        .collect();
    ordered.sort_by_key(|operation| operation.method == "DELETE");

    let mut refusing_reads: Vec<(&Operation, String)> = Vec::new();
    for operation in ordered {
        let Some(path_values) = path_values(operation, &ids) else {
            continue;
        };
        // With the schema, its rules decide which endpoints refuse callers without a token,
        // whatever the document says.
        let schema_endpoint = policies.and_then(|policies| {
            let (rules, endpoint) = policies.endpoint(&operation.method, &operation.path)?;
            Some(rules.anonymous_refused(endpoint, policies.has_auth()))
        });
        if let Some(refused) = schema_endpoint {
            if !refused {
                continue;
            }
            let request = anonymous_request(operation, &path_values);
            let Some(exchange) = send_patiently(target, request).await else {
                continue;
            };
            if is_success(&exchange) {
                findings.push(finding(
                    AUTH_MISSING,
                    if is_write(&operation.method) {
                        Severity::Critical
                    } else {
                        Severity::High
                    },
                    format!(
                        "{} answers without a token although the schema lets no anonymous caller through",
                        operation.label()
                    ),
                    format!(
                        "sent without `Authorization`, it answered {}",
                        exchange.status
                    ),
                    Some(operation),
                    Some(&exchange),
                    FIX_MISSING,
                ));
            } else if exchange.status != 401 {
                findings.push(finding(
                    AUTH_MISSING_WRONG_STATUS,
                    Severity::Low,
                    format!(
                        "{} refuses a request without a token with {}, not 401",
                        operation.label(),
                        exchange.status
                    ),
                    format!(
                        "the schema lets no anonymous caller through; sent without `Authorization`, it answered {}",
                        exchange.status
                    ),
                    Some(operation),
                    Some(&exchange),
                    FIX_STATUS,
                ));
            } else if operation.method == "GET" {
                refusing_reads.push((operation, exchange.request.url.clone()));
            }
            continue;
        }
        match operation.security {
            Security::Required => {
                let request = anonymous_request(operation, &path_values);
                let Some(exchange) = send_patiently(target, request).await else {
                    continue;
                };
                if is_success(&exchange) {
                    let write = is_write(&operation.method);
                    findings.push(finding(
                        AUTH_MISSING,
                        if write {
                            Severity::Critical
                        } else {
                            Severity::High
                        },
                        format!(
                            "{} answers without a token although the document requires one",
                            operation.label()
                        ),
                        format!(
                            "sent without `Authorization`, it answered {}",
                            exchange.status
                        ),
                        Some(operation),
                        Some(&exchange),
                        FIX_MISSING,
                    ));
                } else if matches!(exchange.status, 401 | 403) && operation.method == "GET" {
                    refusing_reads.push((operation, exchange.request.url.clone()));
                }
            }
            Security::None if is_write(&operation.method) => {
                if !reads_need_token(document, &operation.path) {
                    continue;
                }
                let request = anonymous_request(operation, &path_values);
                let Some(exchange) = send_patiently(target, request).await else {
                    continue;
                };
                if is_success(&exchange) {
                    findings.push(finding(
                        AUTH_WRITE_WITHOUT_SECURITY,
                        Severity::High,
                        format!("{} needs no token although reading the same resource does", operation.label()),
                        format!("the document declares no security here; sent without `Authorization`, it answered {}", exchange.status),
                        Some(operation),
                        Some(&exchange),
                        FIX_WRITE,
                    ));
                }
            }
            _ => {}
        }
    }

    if let Some(owner) = owner {
        let others: Vec<&User> = users.users.iter().skip(1).collect();
        probe_tokens(
            target,
            owner,
            others.first().copied(),
            &refusing_reads,
            &mut findings,
        )
        .await;
    }
    findings
}

/// A real id per collection path, so item operations are probed on a row that exists.
async fn known_ids(
    target: &Target,
    document: &ApiDocument,
    owner: &User,
) -> BTreeMap<String, String> {
    let mut ids = BTreeMap::new();
    for collection in collections(document) {
        if let Some(row) = ensure_row(target, &collection, owner).await {
            ids.insert(collection.path.to_string(), row.id);
        }
    }
    ids
}

/// Values for the path's parameters: the trailing one from a known row of its collection.
/// `None` when a parameter has no known value (the operation is skipped).
fn path_values(
    operation: &Operation,
    ids: &BTreeMap<String, String>,
) -> Option<Vec<(String, String)>> {
    if !operation.path.contains('{') {
        return Some(Vec::new());
    }
    let collection = collection_of(&operation.path);
    if collection.contains('{') {
        return None;
    }
    let parameter = trailing_parameter(&operation.path)?;
    let id = ids.get(collection)?;
    Some(vec![(parameter.to_string(), id.clone())])
}

fn anonymous_request(operation: &Operation, path_values: &[(String, String)]) -> Request {
    let values: Vec<(&str, &str)> = path_values
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    let request = request_for(operation, &values);
    match &operation.request_body {
        Some(schema) if operation.method != "DELETE" => {
            let body = sample_value(schema, "").unwrap_or_else(|| json!({}));
            request.json(&body)
        }
        _ => request,
    }
}

/// Whether a GET of the same resource (collection or item) requires a token.
fn reads_need_token(document: &ApiDocument, path: &str) -> bool {
    let resource = collection_of(path);
    document.operations.iter().any(|operation| {
        operation.method == "GET"
            && operation.security == Security::Required
            && collection_of(&operation.path) == resource
            && !is_event_stream(operation)
    })
}

/// One kind of bad token.
struct BadToken {
    rule: &'static str,
    severity: Severity,
    what: &'static str,
    token: String,
}

/// The bad tokens made from the owner's real one (only garbage when it is not a JWT).
fn bad_tokens(owner: &User, other: Option<&User>) -> Vec<BadToken> {
    let mut tokens = vec![BadToken {
        rule: AUTH_FORGED_TOKEN,
        severity: Severity::Critical,
        what: "a garbage token",
        token: format!("plinth-verify-{}", random_word()),
    }];
    let Some((header, claims, signature)) = split_jwt(&owner.token) else {
        return tokens;
    };
    let encode = |value: &Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string().as_bytes())
    };
    // Signed, but with a key the server never had.
    let mut forged_header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    forged_header.kid = header
        .get("kid")
        .and_then(Value::as_str)
        .map(str::to_string);
    let wrong_key = format!(
        "plinth-verify-wrong-key-{}-{}",
        random_word(),
        random_word()
    );
    if let Ok(forged) = jsonwebtoken::encode(
        &forged_header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(wrong_key.as_bytes()),
    ) {
        tokens.push(BadToken {
            rule: AUTH_FORGED_TOKEN,
            severity: Severity::Critical,
            what: "the owner's claims signed with another key",
            token: forged,
        });
    }
    for algorithm in ["none", "None"] {
        let mut none_header = header.clone();
        if let Value::Object(fields) = &mut none_header {
            fields.insert("alg".into(), json!(algorithm));
        }
        tokens.push(BadToken {
            rule: AUTH_ALG_NONE,
            severity: Severity::Critical,
            what: "the owner's claims with `alg: none` and no signature",
            token: format!("{}.{}.", encode(&none_header), encode(&claims)),
        });
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0);
    let mut expired = claims.clone();
    if let Value::Object(fields) = &mut expired {
        fields.insert("exp".into(), json!(now.saturating_sub(3600)));
        if fields.contains_key("iat") {
            fields.insert("iat".into(), json!(now.saturating_sub(7200)));
        }
    }
    tokens.push(BadToken {
        rule: AUTH_TAMPERED_TOKEN,
        severity: Severity::Critical,
        what: "the owner's token with `exp` an hour ago and the original signature",
        token: format!("{}.{}.{signature}", encode(&header), encode(&expired)),
    });
    let mut other_subject = claims.clone();
    if let Value::Object(fields) = &mut other_subject {
        let subject = other
            .and_then(|other| other.subject.clone())
            .filter(|subject| Some(subject) != owner.subject.as_ref())
            .unwrap_or_else(|| "plinth-verify-someone-else".into());
        let subject = match fields.get("sub") {
            Some(Value::Number(_)) => subject
                .parse::<i64>()
                .map(|n| json!(n))
                .unwrap_or(json!(subject)),
            _ => json!(subject),
        };
        fields.insert("sub".into(), subject);
    }
    tokens.push(BadToken {
        rule: AUTH_TAMPERED_TOKEN,
        severity: Severity::Critical,
        what: "the owner's token with another `sub` and the original signature",
        token: format!("{}.{}.{signature}", encode(&header), encode(&other_subject)),
    });
    tokens
}

/// A JWT's decoded header and claims, and its signature part as sent.
fn split_jwt(token: &str) -> Option<(Value, Value, String)> {
    let mut parts = token.split('.');
    let (header, claims, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let decode = |part: &str| -> Option<Value> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part.trim_end_matches('='))
            .ok()?;
        let value: Value = serde_json::from_slice(&bytes).ok()?;
        value.is_object().then_some(value)
    };
    Some((decode(header)?, decode(claims)?, signature.to_string()))
}

/// Sends each bad token to protected reads that refuse anonymous callers and accept the owner.
async fn probe_tokens(
    target: &Target,
    owner: &User,
    other: Option<&User>,
    refusing_reads: &[(&Operation, String)],
    findings: &mut Vec<Finding>,
) {
    // Prefer resource reads over auth routes (which are rate-limited more strictly).
    let mut chosen: Vec<(&Operation, String)> = Vec::new();
    let mut candidates: Vec<&(&Operation, String)> = refusing_reads.iter().collect();
    candidates.sort_by_key(|(operation, _)| operation.path.contains("/auth/"));
    for (operation, url) in candidates {
        if chosen.len() >= TOKEN_PROBE_OPERATIONS {
            break;
        }
        let accepted = send_patiently(
            target,
            Request::new("GET", url.clone()).bearer(&owner.token),
        )
        .await
        .is_some_and(|exchange| is_success(&exchange));
        if accepted {
            chosen.push((operation, url.clone()));
        }
    }
    let tokens = bad_tokens(owner, other);
    let mut reported: Vec<&'static str> = Vec::new();
    for bad in &tokens {
        if reported.contains(&bad.rule) {
            continue;
        }
        for (operation, url) in &chosen {
            let request = Request::new("GET", url.clone()).bearer(&bad.token);
            let Some(exchange) = send_patiently(target, request).await else {
                continue;
            };
            if is_success(&exchange) {
                findings.push(token_finding(bad, operation, &exchange));
                reported.push(bad.rule);
                break;
            }
        }
    }
}

fn token_finding(bad: &BadToken, operation: &Operation, exchange: &Exchange) -> Finding {
    finding(
        bad.rule,
        bad.severity,
        format!("{} accepts {}", operation.label(), bad.what),
        format!("sent with {}, it answered {}", bad.what, exchange.status),
        Some(operation),
        Some(exchange),
        FIX_VERIFY,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn real_token() -> String {
        let claims = json!({"sub": "u1", "exp": 4_000_000_000u64, "iat": 1_700_000_000u64});
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(b"the-real-secret-the-real-secret!"),
        )
        .unwrap()
    }

    #[test]
    fn bad_tokens_cover_every_kind_and_keep_what_they_must() {
        let owner = User::with_token("a", &real_token());
        let other = User {
            name: "b".into(),
            token: "x".into(),
            subject: Some("u2".into()),
        };
        let tokens = bad_tokens(&owner, Some(&other));
        let rules: Vec<&str> = tokens.iter().map(|token| token.rule).collect();
        assert_eq!(
            rules,
            [
                AUTH_FORGED_TOKEN,
                AUTH_FORGED_TOKEN,
                AUTH_ALG_NONE,
                AUTH_ALG_NONE,
                AUTH_TAMPERED_TOKEN,
                AUTH_TAMPERED_TOKEN
            ]
        );
        let real_signature = owner.token.rsplit('.').next().unwrap().to_string();
        let (none_header, none_claims, none_signature) = split_jwt(&tokens[2].token).unwrap();
        assert_eq!(none_header["alg"], "none");
        assert_eq!(none_claims["sub"], "u1");
        assert!(none_signature.is_empty());
        let (_, expired, signature) = split_jwt(&tokens[4].token).unwrap();
        assert!(expired["exp"].as_u64().unwrap() < 4_000_000_000);
        assert_eq!(signature, real_signature);
        let (_, moved, _) = split_jwt(&tokens[5].token).unwrap();
        assert_eq!(moved["sub"], "u2");
        // The forged token really is signed with another key.
        let (_, _, forged_signature) = split_jwt(&tokens[1].token).unwrap();
        assert_ne!(forged_signature, real_signature);
        // An opaque token gets only the garbage probe.
        assert_eq!(bad_tokens(&User::with_token("a", "opaque"), None).len(), 1);
    }
}
