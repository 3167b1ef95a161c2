//! The probes against a notes API with planted flaws (`flawed/app.rs`): with one flaw switched
//! on, the probe that covers it reports the flaw's rule id; with every flaw off, no probe reports
//! anything (no false positives) and the contract checks find neither a 500 nor schema drift.

#[path = "flawed/app.rs"]
mod app;

use app::Flaws;
use plinth_verify::client::Target;
use plinth_verify::document::ApiDocument;
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

async fn findings_of(
    probe: Probe,
    target: &Target,
    document: &ApiDocument,
    users: &Users,
) -> Vec<Finding> {
    match probe {
        Probe::Authz => authz::run(target, document, users).await,
        Probe::Tokens => tokens::run(target, document, users).await,
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
    let (target, document, users) = serve(flaws).await;
    let findings = findings_of(probe, &target, &document, &users).await;
    for finding in &findings {
        eprintln!(
            "{flaws:?} {probe:?}: {} {} | {}",
            finding.rule, finding.title, finding.detail
        );
        assert!(!finding.fix.is_empty(), "{finding:?}");
        if !finding.rule.starts_with("contract-") {
            assert!(
                finding.request.is_some(),
                "{finding:?} has the request that shows it"
            );
        }
    }
    findings.iter().map(|finding| finding.rule).collect()
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
        let findings = findings_of(probe, &target, &document, &users).await;
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
