//! The probes against a notes API with planted flaws (`flawed/app.rs`): with one flaw switched
//! on, the probe that covers it reports the flaw's rule id; with every flaw off, no probe reports
//! anything (no false positives) and the contract checks find neither a 500 nor schema drift.
//! Given a Plinth schema that describes the API (`--schema`), the probes expect what its rules
//! say: a flaw the document hides appears, and a "flaw" the rules allow disappears.

#[path = "flawed/app.rs"]
mod app;

use app::Flaws;
use plinth_verify::client::Target;
use plinth_verify::document::ApiDocument;
use plinth_verify::policy::Policies;
use plinth_verify::users::{self, Users};
use plinth_verify::{authz, contract, security, tokens, Finding};
use std::collections::BTreeSet;
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
enum Probe {
    Authz,
    Tokens,
    Security,
    Contract,
}

async fn serve(flaws: Flaws) -> (Target, ApiDocument, Users) {
    let base_url = app::start(flaws).await;
    let target = Target::new(&base_url, Duration::from_secs(20)).expect("the URL is valid");
    let document = ApiDocument::load("/openapi.json", Some(&target))
        .await
        .expect("the document loads");
    let users = users::prepare(&target, &document, Vec::new(), None)
        .await
        .expect("users are prepared");
    assert_eq!(users.users.len(), 2, "two users registered themselves");
    assert!(users.users.iter().all(|user| user.subject.is_some()));
    (target, document, users)
}

/// The notes API as a Plinth schema would describe it: notes readable by `notes_read`, users'
/// rows by `users_read`; an email only its owner reads, and a role only admins change.
fn schema(notes_read: &str, users_read: &str) -> Policies {
    let source = format!(
        r#"
enum Role {{
  USER
  ADMIN
}}

model User {{
  id       String @id @default(uuid())
  email    String @unique @email @allow("read", auth() == this)
  password String @password @omit
  name     String @length(1, 100)
  role     Role   @default(USER) @allow("update", auth().role == ADMIN)
  notes    Note[]

  @@auth
  @@allow("create", true)
  @@allow("read", {users_read})
  @@allow("update", auth() == this)
}}

model Note {{
  id      String  @id @default(uuid())
  title   String  @length(1, 200)
  body    String? @length(0, 2000)
  owner   User    @relation(fields: [ownerId], references: [id])
  ownerId String  @default(auth().id)

  @@allow("read", {notes_read})
  @@allow("all", auth() == owner)
}}
"#
    );
    Policies::compile("notes.plinth", &source).expect("the notes schema compiles")
}

/// Notes only their owner reaches (what the flawless server does).
fn private_notes() -> Policies {
    schema("auth() == owner", "auth() == this")
}

async fn findings_of(
    probe: Probe,
    target: &Target,
    document: &ApiDocument,
    users: &Users,
) -> Vec<Finding> {
    findings_with(probe, target, document, users, None).await
}

async fn findings_with(
    probe: Probe,
    target: &Target,
    document: &ApiDocument,
    users: &Users,
    policies: Option<&Policies>,
) -> Vec<Finding> {
    match probe {
        Probe::Authz => authz::run(target, document, users, policies).await,
        Probe::Tokens => tokens::run(target, document, users, policies).await,
        Probe::Security => security::run(target, document, users).await,
        Probe::Contract => {
            let token = users.owner().map(|owner| owner.token.as_str());
            contract::check(
                target,
                document,
                token,
                &contract::ContractLimits::default(),
            )
            .await
            .findings
        }
    }
}

/// The rule ids `probe` reports against a server with `flaws`.
async fn rules_found(flaws: Flaws, probe: Probe) -> BTreeSet<&'static str> {
    rules_found_with(flaws, probe, None).await
}

/// The rule ids `probe` reports against a server with `flaws`, given the schema's rules.
async fn rules_found_with(
    flaws: Flaws,
    probe: Probe,
    policies: Option<&Policies>,
) -> BTreeSet<&'static str> {
    let (target, document, users) = serve(flaws).await;
    let findings = findings_with(probe, &target, &document, &users, policies).await;
    for finding in &findings {
        eprintln!(
            "{flaws:?} {probe:?} (schema: {}): {} {} | {}",
            policies.is_some(),
            finding.rule,
            finding.title,
            finding.detail
        );
        assert_fix_style(finding);
        if !finding.rule.starts_with("contract-") {
            assert!(
                finding.request.is_some(),
                "{finding:?} has the request that shows it"
            );
        }
    }
    findings.iter().map(|finding| finding.rule).collect()
}

/// Every fix is one imperative sentence (or a few), capitalized and ending with a period.
fn assert_fix_style(finding: &Finding) {
    let fix = finding.fix.trim();
    assert!(
        fix.chars().next().is_some_and(char::is_uppercase) && fix.ends_with('.'),
        "{}: the fix is not a capitalized sentence with a period: {fix:?}",
        finding.rule
    );
}

async fn assert_found(flaws: Flaws, probe: Probe, rule: &str) {
    let rules = rules_found(flaws, probe).await;
    assert!(
        rules.contains(rule),
        "{rule} not among {rules:?} ({flaws:?})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_users_note_is_readable() {
    let flaws = Flaws {
        object_read_unchecked: true,
        ..Flaws::default()
    };
    assert_found(flaws, Probe::Authz, authz::AUTHZ_OBJECT_READ).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_without_a_token_is_accepted() {
    let flaws = Flaws {
        write_without_auth: true,
        ..Flaws::default()
    };
    assert_found(flaws, Probe::Tokens, tokens::AUTH_MISSING).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_is_mass_assigned() {
    let flaws = Flaws {
        mass_assignment_role: true,
        ..Flaws::default()
    };
    assert_found(flaws, Probe::Authz, authz::AUTHZ_MASS_ASSIGNMENT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concatenated_filter_is_injectable() {
    let flaws = Flaws {
        sql_injection: true,
        ..Flaws::default()
    };
    assert_found(flaws, Probe::Security, security::INJECTION_SQL).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alg_none_tokens_are_believed() {
    let flaws = Flaws {
        alg_none_accepted: true,
        ..Flaws::default()
    };
    let rules = rules_found(flaws, Probe::Tokens).await;
    assert!(rules.contains(tokens::AUTH_ALG_NONE), "{rules:?}");
    // Only `none` is believed: signatures are still checked otherwise.
    assert!(!rules.contains(tokens::AUTH_FORGED_TOKEN), "{rules:?}");
    assert!(!rules.contains(tokens::AUTH_TAMPERED_TOKEN), "{rules:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_has_no_rate_limit() {
    let flaws = Flaws {
        no_login_rate_limit: true,
        ..Flaws::default()
    };
    assert_found(flaws, Probe::Security, security::RATE_LIMIT_MISSING_ON_AUTH).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_carry_a_stack_trace() {
    let flaws = Flaws {
        stack_trace_in_errors: true,
        ..Flaws::default()
    };
    assert_found(flaws, Probe::Security, security::EXPOSURE_VERBOSE_ERROR).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_and_banners_are_reported() {
    let flaws = Flaws {
        cors_reflects_origin: true,
        server_banner: true,
        ..Flaws::default()
    };
    let rules = rules_found(flaws, Probe::Security).await;
    assert!(
        rules.contains(security::EXPOSURE_CORS_REFLECTS_ORIGIN),
        "{rules:?}"
    );
    assert!(
        rules.contains(security::EXPOSURE_SERVER_BANNER),
        "{rules:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_body_is_a_server_error() {
    let flaws = Flaws {
        server_error_on_malformed_body: true,
        ..Flaws::default()
    };
    assert_found(flaws, Probe::Contract, contract::SERVER_ERROR).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_drifts_from_its_schema() {
    let flaws = Flaws {
        schema_drift: true,
        ..Flaws::default()
    };
    assert_found(flaws, Probe::Contract, contract::RESPONSE_SCHEMA).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schema_decides_whether_another_users_note_may_be_read() {
    let flaws = Flaws {
        object_read_unchecked: true,
        ..Flaws::default()
    };
    let without = rules_found(flaws, Probe::Authz).await;
    assert!(without.contains(authz::AUTHZ_OBJECT_READ), "{without:?}");
    let private = rules_found_with(flaws, Probe::Authz, Some(&private_notes())).await;
    assert!(private.contains(authz::AUTHZ_OBJECT_READ), "{private:?}");
    // Notes every signed-in user may read: B reading A's note is the design, not a flaw.
    let shared = schema("auth() != null", "auth() == this");
    let shared = rules_found_with(flaws, Probe::Authz, Some(&shared)).await;
    assert!(!shared.contains(authz::AUTHZ_OBJECT_READ), "{shared:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_only_admins_may_set_is_found_with_the_schema() {
    let flaws = Flaws {
        role_writable_by_anyone: true,
        ..Flaws::default()
    };
    // The document lists `role` as writable (admins may change it): nothing to see from it.
    let without = rules_found(flaws, Probe::Authz).await;
    assert!(
        !without.contains(authz::AUTHZ_MASS_ASSIGNMENT),
        "{without:?}"
    );
    let with = rules_found_with(flaws, Probe::Authz, Some(&private_notes())).await;
    assert!(with.contains(authz::AUTHZ_MASS_ASSIGNMENT), "{with:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_kept_from_other_users_is_found_with_the_schema() {
    let flaws = Flaws {
        email_shown_to_others: true,
        ..Flaws::default()
    };
    // Without the schema, a readable user row of A's looks like a leak of the whole row…
    let without = rules_found(flaws, Probe::Authz).await;
    assert!(without.contains(authz::AUTHZ_OBJECT_READ), "{without:?}");
    // …with it, profiles are public by design and only the email is kept from others.
    let public_profiles = schema("auth() == owner", "auth() != null");
    let with = rules_found_with(flaws, Probe::Authz, Some(&public_profiles)).await;
    assert!(with.contains(authz::AUTHZ_FIELD_READ), "{with:?}");
    assert!(!with.contains(authz::AUTHZ_OBJECT_READ), "{with:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anonymous_delete_the_document_calls_optional_is_found_with_the_schema() {
    let flaws = Flaws {
        write_without_auth: true,
        delete_security_optional: true,
        ..Flaws::default()
    };
    let without = rules_found(flaws, Probe::Tokens).await;
    assert!(!without.contains(tokens::AUTH_MISSING), "{without:?}");
    let with = rules_found_with(flaws, Probe::Tokens, Some(&private_notes())).await;
    assert!(with.contains(tokens::AUTH_MISSING), "{with:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comments_under_another_users_note_are_reachable() {
    let flaws = Flaws {
        nested_unchecked: true,
        ..Flaws::default()
    };
    let rules = rules_found(flaws, Probe::Authz).await;
    for rule in [
        authz::AUTHZ_LIST_LEAK,
        authz::AUTHZ_OBJECT_READ,
        authz::AUTHZ_OBJECT_UPDATE,
    ] {
        assert!(rules.contains(rule), "{rule} not among {rules:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_filtered_by_the_owner_leaks() {
    let flaws = Flaws {
        owner_filter_unchecked: true,
        ..Flaws::default()
    };
    assert_found(flaws, Probe::Authz, authz::AUTHZ_LIST_LEAK).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_header_is_a_server_error() {
    let flaws = Flaws {
        server_error_on_bad_header: true,
        ..Flaws::default()
    };
    let (target, document, users) = serve(flaws).await;
    let findings = findings_of(Probe::Contract, &target, &document, &users).await;
    let header_errors: Vec<&Finding> = findings
        .iter()
        .filter(|finding| {
            finding.rule == contract::SERVER_ERROR && finding.title.contains("`Idempotency-Key`")
        })
        .collect();
    assert!(!header_errors.is_empty(), "{findings:#?}");
    let request = header_errors[0].request.as_ref().expect("the request");
    assert!(request
        .headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("idempotency-key")));
}

/// Every flaw off: the probes report nothing at all, and the contract checks report none of the
/// planted contract rules.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_flaws_has_no_findings() {
    let (target, document, users) = serve(Flaws::default()).await;
    let mut all = Vec::new();
    for probe in [
        Probe::Contract,
        Probe::Authz,
        Probe::Tokens,
        Probe::Security,
    ] {
        let before = target.requests_sent();
        let findings = findings_of(probe, &target, &document, &users).await;
        // The run's request count covers every probe, not only the contract checks.
        assert!(
            target.requests_sent() > before,
            "{probe:?}: its requests were not counted"
        );
        for finding in &findings {
            assert_fix_style(finding);
        }
        let unexpected: Vec<&Finding> = findings
            .iter()
            .filter(|finding| {
                !finding.rule.starts_with("contract-")
                    || finding.rule == contract::SERVER_ERROR
                    || finding.rule == contract::RESPONSE_SCHEMA
            })
            .collect();
        assert!(unexpected.is_empty(), "{probe:?} reported {unexpected:#?}");
        all.extend(findings);
    }
    // The contract's other rules are the core's business; show them to whoever reads the log.
    for finding in &all {
        eprintln!("note: {} {}", finding.rule, finding.title);
    }
}

/// Every flaw off, with the schema that describes the server: still nothing at all — among
/// others, every endpoint refuses a request without a token with 401, as the rules say.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_flaws_has_no_findings_with_its_schema() {
    let (target, document, users) = serve(Flaws::default()).await;
    let policies = private_notes();
    for probe in [Probe::Authz, Probe::Tokens] {
        let findings = findings_with(probe, &target, &document, &users, Some(&policies)).await;
        assert!(findings.is_empty(), "{probe:?} reported {findings:#?}");
    }
}
