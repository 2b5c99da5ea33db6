//! The `fapi1-advanced` plan: its shape (its own variant axes, the OIDF plan's plain-FAPI
//! modules), and end to end against fapilab's real sandbox, where its modules run against the
//! workspace of profile `fapi1-advanced` (picked by the plan's `[requires] profile`) in all eight
//! of its variants — client authentication × request object by value or pushed × hybrid or JARM
//! responses — and every module passes in every variant it applies to.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::describe;
use std::sync::Arc;
use std::time::Instant;

use fapilab_conformance::model::{ModuleResult, Verdict};
use fapilab_conformance::plan::{Plan, builtin_plans};
use fapilab_conformance::runner;
use fapilab_conformance::scenario::SecurityProfile;
use fapilab_conformance::target::Targets;
use fapilab_conformance::variant::{RequestMethod, ResponseMode, VariantFilter};

const PLAN: &str = "fapi1-advanced";
const PROFILE: &str = "fapi1-advanced";

/// The OIDF `fapi1-advanced-final-test-plan` modules for plain FAPI (suite research §2.3),
/// without their `fapi1-advanced-final-` prefix (the happy flow, `fapi1-advanced-final` itself,
/// is `happy-flow`).
const OIDF_MODULES: &[&str] = &[
    "discovery-end-point-verification",
    "happy-flow",
    "user-rejects-authentication",
    "ensure-request-object-with-multiple-aud-succeeds",
    "ensure-authorization-request-without-state-success",
    "ensure-valid-pkce-succeeds",
    "ensure-other-scope-order-succeeds",
    "access-token-type-header-case-sensitivity",
    "ensure-response-mode-query",
    "ensure-different-nonce-inside-and-outside-request-object",
    "ensure-registered-redirect-uri",
    "ensure-request-object-with-long-nonce",
    "ensure-request-object-with-64-char-nonce-success",
    "ensure-request-object-with-long-state",
    "ensure-request-object-without-exp-fails",
    "ensure-request-object-without-nbf-fails",
    "ensure-request-object-without-scope-fails",
    "state-only-outside-request-object-not-used",
    "ensure-request-object-without-nonce-fails",
    "ensure-request-object-without-redirect-uri-fails",
    "ensure-expired-request-object-fails",
    "ensure-request-object-with-bad-aud-fails",
    "ensure-request-object-with-exp-over-60-fails",
    "ensure-request-object-with-nbf-over-60-fails",
    "ensure-signed-request-object-with-RS256-fails",
    "ensure-request-object-signature-algorithm-is-not-none",
    "ensure-request-object-with-invalid-signature-fails",
    "ensure-matching-key-in-authorization-request",
    "ensure-authorization-request-without-request-object-fails",
    "ensure-redirect-uri-in-authorization-request",
    "ensure-response-type-code-fails",
    "ensure-client-id-in-token-endpoint",
    "ensure-mtls-holder-of-key-required",
    "ensure-authorization-code-is-bound-to-client",
    "attempt-reuse-authorisation-code-after-one-second",
    "ensure-signed-client-assertion-with-RS256-fails",
    "ensure-client-assertion-in-token-endpoint",
    "ensure-client-assertion-with-exp-is-5-minutes-in-past-fails",
    "ensure-client-assertion-with-wrong-aud-fails",
    "ensure-client-assertion-with-no-sub-fails",
    "ensure-client-assertion-with-wrong-iss-fails",
    "ensure-client-assertion-with-wrong-sub-fails",
    "ensure-client-assertion-with-iss-aud-succeeds",
    "refresh-token",
    "par-ensure-reused-request-uri-prior-to-auth-completion-succeeds",
    "par-attempt-reuse-request_uri",
    "par-attempt-to-use-expired-request_uri",
    "par-test-pushed-authorization-url-as-audience-for-client-JWT-assertion",
    "par-token-endpoint-url-as-audience-for-client-JWT-assertion",
    "test-array-as-audience-for-client-JWT-assertion",
    "par-ensure-client-assertion-with-wrong-aud-fails",
    "par-ensure-client-assertion-with-wrong-iss-fails",
    "par-ensure-client-assertion-with-wrong-sub-fails",
    "par-attempt-to-use-request_uri-for-different-client",
    "par-authorization-request-containing-request_uri-form-param",
    "par-attempt-invalid-http-method",
    "par-ensure-pkce-required",
    "ensure-pkce-code-verifier-required",
    "incorrect-pkce-code-verifier-rejected",
    "par-plain-pkce-rejected",
    "par-pushed-authorization-url-as-audience-in-request-object",
    "par-attempt-invalid-redirect_uri",
    "par-authorization-request-containing-request_uri",
    "par-without-duplicate-parameters",
];

fn plan() -> Plan {
    builtin_plans().expect("plans").into_iter().find(|p| p.name == PLAN).expect("the fapi1-advanced plan is built in")
}

#[test]
fn the_plan_has_its_own_axes_and_every_oidf_module() {
    let plan = plan();
    assert_eq!(plan.messages.profile, SecurityProfile::Fapi1Advanced);
    let variants = plan.variants();
    assert_eq!(variants.len(), 8, "client_auth × request method × response mode");
    assert!(variants.iter().all(|v| v.request_method.is_some() && v.response_mode.is_some()));
    assert!(variants.iter().all(|v| v.label().contains(",sender=mtls,openid=openid_connect,request_method=")));
    for name in OIDF_MODULES {
        assert!(plan.modules.iter().any(|m| m.module == *name), "module {name} is missing");
    }
    // Plus the resource server's x-fapi headers (B-RS-11, B-RS-13).
    assert_eq!(plan.modules.len(), OIDF_MODULES.len() + 1);
    // The pushed-only modules run in the four pushed variants, the by-value PKCE one in the four
    // by-value variants, the private_key_jwt ones in four; everything else in all eight.
    let runs = |name: &str| variants.iter().filter(|v| plan.modules.iter().find(|m| m.module == name).unwrap().applies_to(v)).count();
    assert_eq!(runs("happy-flow"), 8);
    assert_eq!(runs("par-plain-pkce-rejected"), 4);
    assert_eq!(runs("ensure-valid-pkce-succeeds"), 4);
    assert_eq!(runs("ensure-client-assertion-with-wrong-iss-fails"), 4);
    assert_eq!(runs("par-ensure-client-assertion-with-wrong-iss-fails"), 2);
    // A filter on the new axes picks the plan's variants; the FAPI 2.0 axes exclude them.
    let by_value_jarm = VariantFilter::parse("request_method=by_value,response_mode=jarm").unwrap().select(&variants);
    assert_eq!(by_value_jarm.len(), 2);
    assert!(VariantFilter::parse("sender=dpop").unwrap().select(&variants).is_empty());
    let listing = fapilab_conformance::certify::list(std::slice::from_ref(&plan));
    assert!(listing.contains(&format!("  {PLAN}  ({} modules, {} module runs over all variants)", plan.modules.len(), plan.runs())), "{listing}");
    assert!(listing.contains(
        "variants: client_auth=private_key_jwt|mtls, sender=mtls, openid=openid_connect, request_method=by_value|signed, response_mode=hybrid|jarm (8)"
    ));
    assert!(listing.contains("security profile fapi1-advanced"), "{listing}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fapi1_advanced_plan_passes_against_the_sandbox() {
    let dir = std::env::temp_dir().join(format!("fapilab-fapi1-{}-{}", std::process::id(), fapilab_jose::random_token(6)));
    let sandbox = fapilab_sandbox::start(fapilab_sandbox::SandboxOptions {
        data_dir: dir.clone(),
        port_base: 0,
        bind: std::net::IpAddr::from([127, 0, 0, 1]),
        code_lifetime: Some(5),
        request_uri_lifetime: Some(5),
        ..Default::default()
    })
    .await
    .expect("sandbox starts");
    let targets = Arc::new(Targets::load_any(&sandbox.manifest_path).expect("manifest loads"));
    let fapi1 = targets.entries().iter().find(|e| e.profile.as_deref() == Some(PROFILE)).expect("a FAPI 1.0 Advanced workspace");
    let issuer = fapi1.target.issuer.clone();
    let plans = vec![plan()];
    let variants = plans[0].variants();

    let started = Instant::now();
    let results = runner::run(Arc::clone(&targets), &plans, &variants, None, 8, |_| {}).await;
    eprintln!("{} module runs in {:.1} s", results.len(), started.elapsed().as_secs_f64());
    let bad: Vec<String> = results.iter().filter(|r| r.verdict != Verdict::Passed).map(describe).collect();
    drop(sandbox);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(bad.is_empty(), "{} of {} modules did not pass:\n{}", bad.len(), results.len(), bad.join("\n"));
    assert_eq!(results.len(), runner::schedule(&plans, &variants, None).len(), "every module ran in every variant it applies to");
    assert!(results.iter().all(|r| r.exchanges.iter().all(|x| !x.url.contains("/default/fapi2"))), "only the FAPI 1.0 workspace");
    assert!(results.iter().any(|r| r.exchanges.iter().any(|x| x.url.starts_with(&issuer))));

    // Not vacuous: what the plan is about was checked, and passed, in every variant of `filter`.
    let passed = |module: &str, filter: &str, id: &str| {
        let f = VariantFilter::parse(filter).unwrap();
        let runs: Vec<&ModuleResult> = results.iter().filter(|r| r.module == module && f.matches(&r.variant)).collect();
        !runs.is_empty() && runs.iter().all(|r| r.conditions.iter().any(|c| c.id == id && c.passed))
    };
    for (module, filter, id) in [
        ("discovery-end-point-verification", "", "discovery.mtls_bound_tokens"),
        ("discovery-end-point-verification", "request_method=by_value", "discovery.request_parameter_supported"),
        ("happy-flow", "response_mode=hybrid", "authorize.hybrid_nothing_in_query"),
        ("happy-flow", "response_mode=hybrid", "authorize.id_token_signature"),
        ("happy-flow", "response_mode=hybrid", "authorize.id_token_c_hash"),
        ("happy-flow", "response_mode=hybrid", "authorize.id_token_s_hash"),
        ("happy-flow", "response_mode=hybrid", "authorize.id_token_nonce"),
        ("happy-flow", "response_mode=hybrid", "authorize.id_token_aud"),
        ("happy-flow", "response_mode=hybrid", "token.id_token_same_subject"),
        ("happy-flow", "response_mode=jarm", "jarm.signature"),
        ("happy-flow", "response_mode=jarm", "jarm.aud"),
        ("happy-flow", "", "token.id_token_nonce"),
        ("happy-flow", "", "resource.rejected"),
        ("ensure-authorization-request-without-state-success", "response_mode=hybrid", "authorize.id_token_s_hash"),
        ("ensure-request-object-without-nonce-fails", "", "authorize.rejected"),
        ("ensure-authorization-request-without-request-object-fails", "", "authorize.rejected"),
        ("par-test-pushed-authorization-url-as-audience-for-client-JWT-assertion", "", "token.status"),
        ("par-token-endpoint-url-as-audience-for-client-JWT-assertion", "", "token.status"),
        ("test-array-as-audience-for-client-JWT-assertion", "", "token.status"),
        ("resource-fapi-headers", "", "resource.interaction_id"),
    ] {
        assert!(passed(module, filter, id), "{module} [{filter}] lacks a passed {id}");
    }
    // By value nothing is pushed and the request object travels in the authorization URL with
    // response_type, client_id and scope repeated (A-AS-19); pushed, the URL has only
    // client_id and request_uri.
    for r in &results {
        let by_value = r.variant.request_method == Some(RequestMethod::ByValue);
        if by_value {
            assert!(r.exchanges.iter().all(|x| !x.url.ends_with("/par")), "{} [{}] pushed a request", r.module, r.variant);
        }
        if r.module == "happy-flow" {
            let authz = r.exchanges.iter().find(|x| x.url.contains("/authorize?")).expect("an authorization request");
            if by_value {
                for p in ["request=", "response_type=", "client_id=", "scope="] {
                    assert!(authz.url.contains(p), "{}: {} lacks {p}", r.variant, authz.url);
                }
            } else {
                assert!(authz.url.contains("request_uri=") && !authz.url.contains("scope="), "{}: {}", r.variant, authz.url);
            }
            let hybrid = r.variant.response_mode == Some(ResponseMode::Hybrid);
            assert_eq!(authz.url.contains("response_type=code+id_token"), hybrid && by_value, "{}", r.variant);
        }
    }
}
