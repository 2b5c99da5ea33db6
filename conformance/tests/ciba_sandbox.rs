//! The `fapi-ciba` plan end to end against fapilab's real sandbox: every module runs against
//! the workspace of profile `fapi2-security-profile` (picked by the modules' `[requires]
//! profile`), whose manifest names its CIBA endpoint, device users and device API, and passes
//! in every variant it applies to (the OpenID Connect ones: CIBA-01 needs `openid`). The
//! ping modules register a ping client for the variant's client, with the harness's
//! notification endpoint (served with the manifest's certificate); without registration they
//! are SKIPPED with the reason, and without CIBA every module is.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::describe;
use std::sync::Arc;
use std::time::Instant;

use fapilab_conformance::model::{ModuleResult, Verdict};
use fapilab_conformance::plan::builtin_plans;
use fapilab_conformance::runner;
use fapilab_conformance::target::Targets;
use fapilab_conformance::variant::Variant;

const PLAN: &str = "fapi-ciba";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ciba_plan_passes_against_the_sandbox() {
    let dir = std::env::temp_dir().join(format!("fapilab-ciba-{}-{}", std::process::id(), fapilab_jose::random_token(6)));
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
    let fapi2 = targets.entries().iter().find(|e| e.profile.as_deref() == Some("fapi2-security-profile")).expect("the fapi2 workspace");
    let ciba = fapi2.target.ciba.clone().expect("the manifest describes the workspace's CIBA");
    assert!(ciba.approved_user.is_some() && ciba.denied_user.is_some() && ciba.pending_user.is_some() && ciba.device_api_token.is_some());
    let plans: Vec<_> = builtin_plans().expect("plans").into_iter().filter(|p| p.name == PLAN).collect();
    assert_eq!(plans.len(), 1, "the {PLAN} plan is built in");

    let started = Instant::now();
    let results = runner::run(Arc::clone(&targets), &plans, &Variant::all(), None, 8, |_| {}).await;
    eprintln!("{} module runs in {:.1} s", results.len(), started.elapsed().as_secs_f64());
    let bad: Vec<String> = results.iter().filter(|r| r.verdict != Verdict::Passed).map(describe).collect();
    assert!(bad.is_empty(), "{} of {} modules did not pass:\n{}", bad.len(), results.len(), bad.join("\n"));
    assert_eq!(results.len(), runner::schedule(&plans, &Variant::all(), None).len(), "every module ran in every variant it applies to");
    assert!(results.iter().all(|r| r.variant.openid == fapilab_conformance::variant::OpenId::OpenidConnect));

    // Not vacuous: what each module is about was checked, and passed, wherever it applies.
    let passed = |module: &str, id: &str| {
        let runs: Vec<&ModuleResult> = results.iter().filter(|r| r.module == module).collect();
        !runs.is_empty() && runs.iter().all(|r| r.conditions.iter().any(|c| c.id == id && c.passed))
    };
    for (module, id) in [
        ("ciba-happy-flow-poll", "backchannel.auth_req_id"),
        ("ciba-happy-flow-poll", "ciba_token.error_code"),
        ("ciba-happy-flow-poll", "ciba_token.token_type"),
        ("ciba-happy-flow-poll", "ciba_token.id_token"),
        ("ciba-happy-flow-poll", "ciba_token.id_token_no_nonce"),
        ("ciba-happy-flow-poll", "resource.status"),
        ("ciba-happy-flow-poll", "refresh.status"),
        ("ciba-user-denies", "ciba_token.error_code"),
        ("ciba-request-expiry", "ciba_token.error_code"),
        ("ciba-auth-req-id-other-client", "ciba_token.error_code"),
        ("ciba-unknown-auth-req-id", "ciba_token.error_code"),
        ("ciba-device-approval", "device.request_pending"),
        ("ciba-device-approval", "device.decided"),
        ("ciba-device-approval", "resource.status"),
        ("ciba-unknown-user", "backchannel.error_code"),
        ("ciba-unsigned-request-refused", "backchannel.error_code"),
        ("ciba-request-signed-by-other-client", "backchannel.error_code"),
        ("ciba-happy-flow-ping", "ping.bearer"),
        ("ciba-happy-flow-ping", "ping.body"),
        ("ciba-happy-flow-ping", "ciba_token.id_token"),
        ("ciba-happy-flow-ping", "refresh.status"),
        ("ciba-ping-endpoint-unauthorized", "ping.single"),
        ("ciba-ping-endpoint-redirect", "ping.single"),
        ("ciba-ping-endpoint-redirect", "ping.redirect_not_followed"),
    ] {
        assert!(passed(module, id), "{module} lacks a passed {id}");
    }
    // Without registration the ping modules are SKIPPED with the reason; without CIBA, all are.
    let mut no_registration = (*fapi2.target).clone();
    no_registration.registration = None;
    let mut no_ciba = no_registration.clone();
    no_ciba.ciba = None;
    let only = Variant::filter("client_auth=private_key_jwt,sender=dpop,openid=openid_connect").unwrap();
    let skipped = runner::run(Arc::new(Targets::single(no_ciba)), &plans, &only, None, 8, |_| {}).await;
    assert!(skipped.iter().all(|r| matches!(&r.verdict, Verdict::Skipped { reason } if reason.contains("CIBA"))), "all skipped without CIBA");
    let ping_skipped = |r: &ModuleResult| matches!(&r.verdict, Verdict::Skipped { reason } if reason.contains("registration"));
    for r in runner::run(Arc::new(Targets::single(no_registration)), &plans, &only, None, 8, |_| {}).await {
        let ping = r.module.contains("ping");
        assert!(ping == ping_skipped(&r) && (ping || r.verdict == Verdict::Passed), "{}", describe(&r));
    }

    // Every authentication request of the run was signed, except the one sent unsigned on purpose.
    for r in results.iter().filter(|r| r.module != "ciba-unsigned-request-refused") {
        for x in r.exchanges.iter().filter(|x| x.method == "POST" && x.url.ends_with("/bc-authorize")) {
            let body = x.request_body.as_deref().unwrap_or_default();
            assert!(body.contains("request=") && !body.contains("login_hint="), "{} [{}]: {body}", r.module, r.variant);
        }
    }
    drop(sandbox);
    let _ = std::fs::remove_dir_all(&dir);
}
