//! The `fapi2-message-signing` plan end to end against fapilab's real sandbox: its modules —
//! the Security Profile plan's, included by its `plan.toml` and run with signed request objects
//! and JARM responses, and its own request-object, JARM and signed-introspection modules — run
//! against the workspace of profile `fapi2-message-signing` (picked from one sandbox.json by
//! the plan's `[requires] profile`), and every module passes in every variant it applies to;
//! none is skipped, since the sandbox publishes the resource-server client the signed
//! introspection module needs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::describe;
use std::sync::Arc;
use std::time::Instant;

use fapilab_conformance::model::{ModuleResult, Verdict};
use fapilab_conformance::plan::builtin_plans;
use fapilab_conformance::runner;
use fapilab_conformance::scenario::{RequestMethod, ResponseMode};
use fapilab_conformance::target::Targets;
use fapilab_conformance::variant::Variant;

const PLAN: &str = "fapi2-message-signing";
const PROFILE: &str = "fapi2-message-signing";


#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn message_signing_plan_passes_against_the_sandbox() {
    let dir = std::env::temp_dir().join(format!("fapilab-ms-{}-{}", std::process::id(), fapilab_jose::random_token(6)));
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
    let ms = targets.entries().iter().find(|e| e.profile.as_deref() == Some(PROFILE)).expect("a message signing workspace");
    let issuer = ms.target.issuer.clone();
    assert!(ms.target.introspection_client.is_some(), "the manifest names the workspace's introspection client");
    let plans: Vec<_> = builtin_plans().expect("plans").into_iter().filter(|p| p.name == PLAN).collect();
    assert_eq!(plans.len(), 1, "the {PLAN} plan is built in");
    assert_eq!((plans[0].messages.request, plans[0].messages.response), (RequestMethod::Signed, ResponseMode::Jarm));

    let started = Instant::now();
    let results = runner::run(Arc::clone(&targets), &plans, &Variant::all(), None, 8, |_| {}).await;
    eprintln!("{} module runs in {:.1} s", results.len(), started.elapsed().as_secs_f64());
    let bad: Vec<String> = results.iter().filter(|r| r.verdict != Verdict::Passed).map(describe).collect();
    drop(sandbox);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(bad.is_empty(), "{} of {} modules did not pass:\n{}", bad.len(), results.len(), bad.join("\n"));
    assert_eq!(results.len(), runner::schedule(&plans, &Variant::all(), None).len(), "every module ran in every variant it applies to");

    // Every module ran against the message signing workspace.
    for r in &results {
        assert!(r.exchanges.iter().all(|x| !x.url.contains("/default/fapi2/")), "{} [{}] used the fapi2 workspace", r.module, r.variant);
    }
    assert!(results.iter().any(|r| r.exchanges.iter().any(|x| x.url.starts_with(&issuer))));
    // Not vacuous: what the plan is about was checked, and passed, wherever it applies.
    let passed = |module: &str, id: &str| {
        let runs: Vec<&ModuleResult> = results.iter().filter(|r| r.module == module).collect();
        !runs.is_empty() && runs.iter().all(|r| r.conditions.iter().any(|c| c.id == id && c.passed))
    };
    for (module, id) in [
        ("discovery", "discovery.require_signed_request_object"),
        ("discovery", "discovery.request_object_algs"),
        ("discovery", "discovery.authorization_signing_algs"),
        ("happy-flow", "jarm.signature"),
        ("happy-flow", "jarm.aud"),
        ("happy-flow", "jarm.exp"),
        ("happy-flow", "jarm.no_iss_parameter"),
        ("happy-flow", "authorize.iss"),
        ("happy-flow", "authorize.redirect_query_intact"),
        ("happy-flow", "resource.status"),
        ("user-rejects-authentication", "jarm.response"),
        ("user-rejects-authentication", "authorize.error_state"),
        ("request-uri-in-par-body", "par.error_code"),
        ("pkce-plain-refused", "par.rejected"),
        ("par-without-request-object", "par.error_code"),
        ("request-object-without-aud", "par.error_code"),
        ("request-object-alg-none", "par.error_code"),
        ("request-object-with-multiple-aud", "token.token_type"),
        ("request-object-params-outside-ignored", "authorize.redirect_uri"),
        ("request-object-params-outside-ignored", "token.token_type"),
        ("request-object-typ", "token.token_type"),
        ("jarm-response-mode-fragment-jwt", "jarm.response_mode"),
        ("jarm-response-mode-form-post-jwt", "jarm.response_mode"),
        ("jarm-response-mode-form-post-jwt", "authorize.error_code"),
        ("jarm-required", "par.error_code"),
        ("signed-introspection", "introspect.jwt_typ"),
        ("signed-introspection", "introspect.jwt_aud"),
        ("signed-introspection", "introspect.jwt_signature"),
        ("signed-introspection", "introspect.status"),
        ("signed-introspection", "introspect.inactive_minimal"),
    ] {
        assert!(passed(module, id), "{module} lacks a passed {id}");
    }
    // The included Security Profile modules ran as modules of this plan, with signed requests:
    // every pushed request of the run carried a request object and no parameter outside it,
    // except where a module sends them on purpose.
    for r in results.iter().filter(|r| r.module != "par-without-request-object" && r.module != "request-object-params-outside-ignored") {
        for x in r.exchanges.iter().filter(|x| x.method == "POST" && x.url.ends_with("/par")) {
            let body = x.request_body.as_deref().unwrap_or_default();
            assert!(body.contains("request=") && !body.contains("code_challenge="), "{} [{}]: {body}", r.module, r.variant);
        }
    }
}
