//! Rules of the `api-security` category, in the spirit of the OWASP API Security Top 10 (2023):
//! unauthenticated writes, secrets in responses and URLs, API keys in query strings, plain-HTTP
//! servers, request bodies open to mass assignment, and weak authentication schemes.

use super::api_design::{
    has_type, is_structured_body, is_true, properties, report_places, segments, server_urls,
    squash, words, Place, Segment,
};
use crate::input::openapi::{OpenApiDoc, Operation, Version};
use crate::registry::{Category, RuleInfo};
use crate::{Sink, Workspace};
use plinth_diagnostics::Severity;
use serde_json::Value;
use std::collections::HashSet;

const fn rule(id: &'static str, severity: Severity, summary: &'static str) -> RuleInfo {
    RuleInfo {
        id,
        severity,
        category: Category::ApiSecurity,
        summary,
    }
}

pub(crate) const RULES: &[RuleInfo] = &[
    rule(
        "write-without-security",
        Severity::Error,
        "a POST, PUT, PATCH or DELETE needs no credentials",
    ),
    rule(
        "secret-in-response",
        Severity::Error,
        "a response returns a password, secret or private key",
    ),
    rule(
        "secret-in-query",
        Severity::Error,
        "a query or path parameter carries a password, token, secret or API key in the URL",
    ),
    rule(
        "api-key-in-query",
        Severity::Error,
        "an apiKey security scheme sends the key in the query string",
    ),
    rule(
        "http-server-url",
        Severity::Error,
        "a server URL (or Swagger scheme) is plain http:// on a non-local host",
    ),
    rule(
        "open-request-body",
        Severity::Warning,
        "an object request body accepts properties it does not declare (mass assignment)",
    ),
    rule(
        "insecure-auth-scheme",
        Severity::Warning,
        "a security scheme is HTTP Basic, Digest, Negotiate, OAuth 1, or the OAuth 2 implicit or \
         password flow",
    ),
    rule(
        "undefined-security-scheme",
        Severity::Error,
        "a security requirement names a scheme the document does not define",
    ),
];

pub(crate) fn check(workspace: &Workspace, sink: &mut Sink) {
    for doc in &workspace.openapi {
        let operations = doc.operations();
        write_without_security(doc, &operations, sink);
        secret_in_response(doc, &operations, sink);
        secret_in_query(doc, &operations, sink);
        api_key_in_query(doc, sink);
        http_server_url(doc, sink);
        open_request_body(doc, &operations, sink);
        insecure_auth_scheme(doc, sink);
        undefined_security_scheme(doc, &operations, sink);
    }
}

// ---------------------------------------------------------------------------------------------
// write-without-security

/// Path words of endpoints that must be callable without credentials: signing in and up,
/// token exchange, password recovery, confirmation links, and webhooks (authenticated by a
/// signature in the payload, not a security scheme).
const PUBLIC_WORDS: &[&str] = &[
    "login",
    "logon",
    "signin",
    "signup",
    "register",
    "registration",
    "token",
    "tokens",
    "oauth",
    "oauth2",
    "authorize",
    "authenticate",
    "forgot",
    "reset",
    "recover",
    "recovery",
    "verify",
    "verification",
    "confirm",
    "confirmation",
    "callback",
    "callbacks",
    "webhook",
    "webhooks",
    "refresh",
    "otp",
    "magic",
    "sso",
    "saml",
];

/// True for an endpoint that is public by its nature (`POST /auth/login`,
/// `POST /password/forgot`, `POST /oauth/token`).
fn is_public_endpoint(path: &str) -> bool {
    segments(path).into_iter().any(|segment| match segment {
        Segment::Literal(text) => {
            let squashed = squash(text);
            PUBLIC_WORDS.contains(&squashed.as_str())
                || words(text)
                    .iter()
                    .any(|w| PUBLIC_WORDS.contains(&w.as_str()))
                || ["signin", "signup", "login", "logout", "signout"]
                    .iter()
                    .any(|w| squashed == *w)
        }
        Segment::Template => false,
    })
}

/// Header or cookie parameters that carry credentials, for documents that describe
/// authentication as parameters instead of a security scheme.
fn is_credential_header(name: &str) -> bool {
    let name = squash(name);
    name == "authorization"
        || name.ends_with("apikey")
        || name.ends_with("token")
        || name.ends_with("authtoken")
        || name == "cookie"
}

/// A `POST` to a collection whose body carries a password creates an account: sign-up is public
/// by nature (Plinth serves one at `POST /api/v1/users` when the user model allows `create`).
fn is_sign_up(doc: &OpenApiDoc, operation: &Operation<'_>) -> bool {
    operation.method == "post"
        && !operation.path.trim_end_matches('/').ends_with('}')
        && doc.request_bodies(operation).iter().any(|media| {
            media
                .schema
                .get("properties")
                .and_then(|p| p.as_object())
                .is_some_and(|properties| {
                    properties
                        .keys()
                        .any(|k| matches!(squash(k).as_str(), "password" | "passphrase"))
                })
        })
}

fn has_credential_parameter(doc: &OpenApiDoc, operation: &Operation<'_>) -> bool {
    doc.parameters(operation)
        .iter()
        .any(|p| matches!(p.location, "header" | "cookie") && is_credential_header(p.name))
}

fn declares_security(doc: &OpenApiDoc, operations: &[Operation<'_>]) -> bool {
    !doc.security_schemes().is_empty()
        || doc.root.get("security").is_some()
        || operations.iter().any(|o| o.value.get("security").is_some())
}

/// A write that needs no credentials is reported unless its path says it is public by nature
/// (login, token, password reset, webhooks) or it takes a credential header parameter. A
/// document that declares no security at all gets one finding, not one per write.
fn write_without_security(doc: &OpenApiDoc, operations: &[Operation<'_>], sink: &mut Sink) {
    let open: Vec<&Operation<'_>> = operations
        .iter()
        .filter(|o| o.is_write())
        .filter(|o| !doc.requires_auth(o))
        .filter(|o| !is_public_endpoint(o.path))
        .filter(|o| !has_credential_parameter(doc, o))
        .filter(|o| !is_sign_up(doc, o))
        .collect();
    let Some(first) = open.first() else {
        return;
    };
    let help = "Require a security scheme on every write (a top-level `security` applies to all \
                operations), and make an operation public with `security: []` only when it \
                must be.";
    if !declares_security(doc, operations) {
        let pointer = if doc.get("/paths").is_some() {
            "/paths"
        } else {
            ""
        };
        let finding = Sink::finding(
            "write-without-security",
            doc.file,
            doc.span(pointer),
            format!(
                "the document declares no security scheme, so none of its {} write operations \
                 (starting with `{}`) requires credentials",
                open.len(),
                first.display()
            ),
            "Declare how clients authenticate under `components.securitySchemes` (Swagger 2.0: \
             `securityDefinitions`), require it with a top-level `security`, and mark the \
             public operations with `security: []`.",
        )
        .with_pointer(String::new());
        sink.push(finding);
        return;
    }
    let places = open
        .iter()
        .map(|operation| {
            let own = format!("{}/security", operation.pointer());
            let explicit = operation.value.get("security").is_some();
            Place {
                pointer: if explicit { own } else { operation.pointer() },
                message: if explicit {
                    format!(
                        "`{}` changes data but its `security` lets anyone call it",
                        operation.display()
                    )
                } else {
                    format!(
                        "`{}` changes data but no security requirement applies to it",
                        operation.display()
                    )
                },
                label: format!("`{}`", operation.display()),
            }
        })
        .collect();
    report_places(
        sink,
        doc,
        "write-without-security",
        places,
        help,
        |n, first| {
            format!(
                "{n} write operations need no credentials, starting with {}",
                first.label
            )
        },
    );
}

// ---------------------------------------------------------------------------------------------
// secret-in-response, secret-in-query

/// Property names (squashed) of passwords and their hashes.
const PASSWORD_NAMES: &[&str] = &[
    "password",
    "passwd",
    "passwordhash",
    "hashedpassword",
    "passworddigest",
    "encryptedpassword",
    "passwordsalt",
];

/// Other stored secrets. Like passwords, a response may return one only from the POST that
/// generates it (creating an API key shows it once), never from a read.
const SECRET_NAMES: &[&str] = &[
    "secret",
    "clientsecret",
    "apisecret",
    "secretkey",
    "privatekey",
    "secretaccesskey",
    "signingsecret",
    "webhooksecret",
    "sharedsecret",
    "otpsecret",
    "totpsecret",
    "mfasecret",
    "apikey",
    "authtoken",
];

fn secret_in_response(doc: &OpenApiDoc, operations: &[Operation<'_>], sink: &mut Sink) {
    let mut places = Vec::new();
    // Each response schema is walked once per kind of operation, not once per operation.
    let mut walked = HashSet::new();
    for operation in operations {
        let creates = operation.method == "post";
        // What the client of a POST sends: a password in its response that is also in its
        // request is the client's own echoed back, not one generated for it.
        let mut sent = HashSet::new();
        let mut bodies = String::new();
        if creates {
            for media in doc.request_bodies(operation) {
                bodies.push_str(&media.pointer);
                bodies.push(' ');
                doc.walk_schema(media.pointer.clone(), media.schema, &mut |pointer, _, _| {
                    sent.insert(pointer.to_string());
                });
            }
        }
        for response in doc.responses(operation) {
            if !response.status.starts_with('2') {
                continue;
            }
            for media in &response.content {
                if !walked.insert((media.pointer.clone(), creates, bodies.clone())) {
                    continue;
                }
                let display = operation.display();
                let status = response.status;
                doc.walk_schema(
                    media.pointer.clone(),
                    media.schema,
                    &mut |pointer, schema, name| {
                        let Some(name) = name else {
                            return;
                        };
                        if is_true(schema, "writeOnly")
                            || !(has_type(schema, "string") || schema.get("type").is_none())
                            || schema.get("properties").is_some()
                        {
                            return;
                        }
                        let squashed = squash(name);
                        let password = PASSWORD_NAMES.contains(&squashed.as_str())
                            || schema.get("format").and_then(Value::as_str) == Some("password");
                        let secret = SECRET_NAMES.contains(&squashed.as_str());
                        let generated = creates && !sent.contains(pointer);
                        if (password || secret) && !generated {
                            places.push(Place {
                                pointer: pointer.to_string(),
                                message: format!(
                                    "`{display}` returns `{name}` in its `{status}` response"
                                ),
                                label: format!("`{name}` from `{display}`"),
                            });
                        }
                    },
                );
            }
        }
    }
    report_places(
        sink,
        doc,
        "secret-in-response",
        places,
        "Remove the property from the response (mark it `writeOnly: true` where clients send \
         it); store only a hash of passwords, and show a generated secret once, in the response \
         that creates it.",
        |n, first| {
            format!(
                "{n} response properties return secrets, starting with {}",
                first.label
            )
        },
    );
}

/// Parameter names (squashed) of credentials. Pagination tokens (`page_token`) are not here.
const CREDENTIAL_PARAMETERS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "clientsecret",
    "apisecret",
    "secretkey",
    "privatekey",
    "token",
    "accesstoken",
    "refreshtoken",
    "idtoken",
    "authtoken",
    "sessiontoken",
    "bearertoken",
    "jwt",
    "apikey",
    "authorization",
];

fn secret_in_query(doc: &OpenApiDoc, operations: &[Operation<'_>], sink: &mut Sink) {
    let mut places = Vec::new();
    for operation in operations {
        for parameter in doc.parameters(operation) {
            let squashed = squash(parameter.name);
            let credential = CREDENTIAL_PARAMETERS.contains(&squashed.as_str());
            // A one-time token in a path (`/invitations/{token}`) is how emailed links work.
            let reported = match parameter.location {
                "query" => credential,
                "path" => credential && squashed != "token",
                _ => false,
            };
            if reported {
                places.push(Place {
                    pointer: format!("{}/name", parameter.pointer),
                    message: format!(
                        "{} parameter `{}` of `{}` puts a credential in the URL",
                        parameter.location,
                        parameter.name,
                        operation.display()
                    ),
                    label: format!("`{}` of `{}`", parameter.name, operation.display()),
                });
            }
        }
    }
    report_places(
        sink,
        doc,
        "secret-in-query",
        places,
        "Send credentials in a header (`Authorization`) or the request body: URLs end up in \
         server and proxy logs, browser history and `Referer` headers.",
        |n, first| {
            format!(
                "{n} parameters put credentials in URLs, starting with {}",
                first.label
            )
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Security schemes and servers

fn api_key_in_query(doc: &OpenApiDoc, sink: &mut Sink) {
    for (name, pointer, scheme) in doc.security_schemes() {
        if scheme.get("type").and_then(Value::as_str) != Some("apiKey") {
            continue;
        }
        let location = scheme.get("in").and_then(Value::as_str).unwrap_or("");
        if matches!(location, "header" | "cookie" | "") {
            continue;
        }
        let place = if location == "query" {
            "query string"
        } else {
            location
        };
        let pointer = format!("{pointer}/in");
        let finding = Sink::finding(
            "api-key-in-query",
            doc.file,
            doc.span(&pointer),
            format!("security scheme `{name}` sends the API key in the {place}"),
            "Send API keys in a header (`in: header`, for example `X-API-Key`): keys in URLs \
             are written to access logs, proxies and browser history.",
        )
        .with_pointer(pointer);
        sink.push(finding);
    }
}

/// Hosts where plain HTTP is expected: the developer's own machine.
fn is_local_host(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let authority = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = if authority.starts_with('[') {
        authority
            .split(']')
            .next()
            .unwrap_or(authority)
            .trim_start_matches('[')
    } else {
        authority.split(':').next().unwrap_or(authority)
    }
    .to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host.ends_with(".local")
        || host.starts_with("127.")
        || host == "0.0.0.0"
        || host == "::1"
        || host == "host.docker.internal"
        || host.is_empty()
}

fn http_server_url(doc: &OpenApiDoc, sink: &mut Sink) {
    let help = "Serve the API over HTTPS only (and `wss://` for WebSockets); keep `http://` for \
                localhost.";
    for (pointer, url) in server_urls(doc) {
        let lower = url.to_ascii_lowercase();
        let scheme = if lower.starts_with("http://") {
            "http"
        } else if lower.starts_with("ws://") {
            "ws"
        } else {
            continue;
        };
        if is_local_host(&url) {
            continue;
        }
        let finding = Sink::finding(
            "http-server-url",
            doc.file,
            doc.span(&pointer),
            format!("server `{url}` is reached over unencrypted `{scheme}://`"),
            help,
        )
        .with_pointer(pointer);
        sink.push(finding);
    }
    if doc.version != Version::Swagger2 {
        return;
    }
    let host = doc.root.get("host").and_then(Value::as_str).unwrap_or("");
    if host.is_empty() || is_local_host(host) {
        return;
    }
    let Some(schemes) = doc.root.get("schemes").and_then(Value::as_array) else {
        return;
    };
    for (i, scheme) in schemes.iter().enumerate() {
        let Some(scheme) = scheme.as_str().filter(|s| matches!(*s, "http" | "ws")) else {
            continue;
        };
        let pointer = format!("/schemes/{i}");
        let finding = Sink::finding(
            "http-server-url",
            doc.file,
            doc.span(&pointer),
            format!("`{host}` is offered over unencrypted `{scheme}`"),
            help,
        )
        .with_pointer(pointer);
        sink.push(finding);
    }
}

fn insecure_auth_scheme(doc: &OpenApiDoc, sink: &mut Sink) {
    for (name, pointer, scheme) in doc.security_schemes() {
        let kind = scheme.get("type").and_then(Value::as_str).unwrap_or("");
        let mut found: Vec<(String, String)> = Vec::new();
        match kind {
            "http" => {
                let http = scheme
                    .get("scheme")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_ascii_lowercase();
                let why = match http.as_str() {
                    "basic" => Some("HTTP Basic, which sends the password with every request"),
                    "digest" => Some("HTTP Digest, which rests on MD5"),
                    "negotiate" => Some("HTTP Negotiate, which is meant for intranets"),
                    "oauth" => Some("OAuth 1.0, which is superseded by OAuth 2.0"),
                    _ => None,
                };
                if let Some(why) = why {
                    found.push((format!("{pointer}/scheme"), why.to_string()));
                }
            }
            "basic" => found.push((
                format!("{pointer}/type"),
                "HTTP Basic, which sends the password with every request".to_string(),
            )),
            "oauth2" => {
                if let Some(flows) = scheme.get("flows").and_then(Value::as_object) {
                    for flow in ["implicit", "password"] {
                        if flows.contains_key(flow) {
                            found.push((format!("{pointer}/flows/{flow}"), flow_why(flow)));
                        }
                    }
                }
                if let Some(flow) = scheme.get("flow").and_then(Value::as_str) {
                    if matches!(flow, "implicit" | "password") {
                        found.push((format!("{pointer}/flow"), flow_why(flow)));
                    }
                }
            }
            _ => {}
        }
        for (at, why) in found {
            let finding = Sink::finding(
                "insecure-auth-scheme",
                doc.file,
                doc.span(&at),
                format!("security scheme `{name}` uses {why}"),
                "Use OAuth 2.0 with the authorization code flow and PKCE for users, client \
                 credentials for services, or bearer tokens issued by such a flow.",
            )
            .with_pointer(at);
            sink.push(finding);
        }
    }
}

fn flow_why(flow: &str) -> String {
    match flow {
        "implicit" => {
            "the OAuth 2.0 implicit flow, which returns tokens in the URL and is deprecated by \
             the OAuth 2.0 Security Best Current Practice (RFC 9700)"
                .to_string()
        }
        _ => "the OAuth 2.0 password flow, which hands the user's password to the client and is \
              deprecated by RFC 9700"
            .to_string(),
    }
}

fn undefined_security_scheme(doc: &OpenApiDoc, operations: &[Operation<'_>], sink: &mut Sink) {
    let defined: HashSet<&str> = doc
        .security_schemes()
        .into_iter()
        .map(|(name, _, _)| name)
        .collect();
    let mut lists: Vec<(String, &Value)> = Vec::new();
    if let Some(security) = doc.root.get("security") {
        lists.push(("/security".to_string(), security));
    }
    for operation in operations {
        if let Some(security) = operation.value.get("security") {
            lists.push((format!("{}/security", operation.pointer()), security));
        }
    }
    let mut reported = HashSet::new();
    for (base, security) in lists {
        let Some(requirements) = security.as_array() else {
            continue;
        };
        for (i, requirement) in requirements.iter().enumerate() {
            let Some(requirement) = requirement.as_object() else {
                continue;
            };
            for name in requirement.keys() {
                if defined.contains(name.as_str()) || !reported.insert((base.clone(), name)) {
                    continue;
                }
                let pointer = format!("{base}/{i}/{}", crate::input::openapi::escape(name));
                let finding = Sink::finding(
                    "undefined-security-scheme",
                    doc.file,
                    doc.span(&pointer),
                    format!(
                        "security requirement names `{name}`, which no security scheme defines"
                    ),
                    "Define the scheme under `components.securitySchemes` (Swagger 2.0: \
                     `securityDefinitions`) or correct the name: tools treat an unknown scheme \
                     as no authentication at all.",
                )
                .with_pointer(pointer);
                sink.push(finding);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// open-request-body

/// True when the object schema refuses undeclared properties.
fn is_closed(schema: &Value) -> bool {
    schema.get("additionalProperties").and_then(Value::as_bool) == Some(false)
        || schema.get("unevaluatedProperties").and_then(Value::as_bool) == Some(false)
}

/// Object request bodies of writes that declare properties but let any other through; each
/// shared schema is reported once.
fn open_request_body(doc: &OpenApiDoc, operations: &[Operation<'_>], sink: &mut Sink) {
    let mut places = Vec::new();
    for operation in operations.iter().filter(|o| o.is_write()) {
        for media in doc.request_bodies(operation) {
            if !is_structured_body(media.media_type) {
                continue;
            }
            let schema = media.schema;
            let object = has_type(schema, "object")
                || schema.get("properties").is_some()
                || schema.get("allOf").is_some();
            if !object || is_closed(schema) {
                continue;
            }
            // `allOf` parts closed one by one would refuse each other's properties; only
            // `unevaluatedProperties: false` on the whole closes a composed schema.
            if properties(doc, &media.pointer, schema).is_empty() {
                continue;
            }
            let explicit = schema.get("additionalProperties").is_some()
                || schema.get("unevaluatedProperties").is_some();
            let display = operation.display();
            places.push(Place {
                pointer: media.pointer.clone(),
                message: if explicit {
                    format!("the request body of `{display}` allows additional properties")
                } else {
                    format!("the request body of `{display}` does not refuse undeclared properties")
                },
                label: format!("`{display}`"),
            });
        }
    }
    report_places(
        sink,
        doc,
        "open-request-body",
        places,
        "Set `additionalProperties: false` on the body schema (`unevaluatedProperties: false` \
         for a schema composed with `allOf` in OpenAPI 3.1), and reject unknown fields on the \
         server, so that clients cannot set fields such as `role` or `owner_id`.",
        |n, first| {
            format!(
                "{n} request bodies do not refuse undeclared properties, starting with the one \
                 of {}",
                first.label
            )
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn findings(yaml: &str) -> Vec<crate::Finding> {
        let workspace = crate::load_sources(vec![("openapi.yaml".into(), yaml.into())]);
        let mut sink = Sink::default();
        check(&workspace, &mut sink);
        sink.into_findings()
    }

    #[test]
    fn a_post_may_return_a_secret_it_generates_but_not_one_it_was_sent() {
        let yaml = r#"openapi: 3.0.3
paths:
  /users:
    post:
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/User'}
      responses:
        '201':
          description: ok
          content:
            application/json:
              schema: {$ref: '#/components/schemas/User'}
  /turn-credentials:
    post:
      responses:
        '201':
          description: ok
          content:
            application/json:
              schema:
                type: object
                properties:
                  username: {type: string}
                  password: {type: string}
components:
  schemas:
    User:
      type: object
      properties:
        email: {type: string}
        password: {type: string}
"#;
        let secrets: Vec<String> = findings(yaml)
            .into_iter()
            .filter(|f| f.rule == "secret-in-response")
            .map(|f| f.message)
            .collect();
        assert_eq!(
            secrets,
            ["`POST /users` returns `password` in its `201` response"]
        );
    }

    #[test]
    fn local_servers_may_be_plain_http() {
        for url in [
            "http://localhost:8080/v1",
            "http://127.0.0.1",
            "http://[::1]:3000",
            "http://api.localhost",
        ] {
            assert!(is_local_host(url), "{url}");
        }
        assert!(!is_local_host("http://api.example.com"));
        assert!(!is_local_host("http://localhost.example.com"));
    }

    #[test]
    fn public_endpoints_are_told_by_their_path() {
        for path in [
            "/auth/login",
            "/oauth/token",
            "/session/forgot_password.json",
            "/signUp",
        ] {
            assert!(is_public_endpoint(path), "{path}");
        }
        for path in ["/tasks", "/users/{id}", "/admin/backups.json"] {
            assert!(!is_public_endpoint(path), "{path}");
        }
    }
}
