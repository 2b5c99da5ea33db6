//! The protocol steps end to end against fapilab's real sandbox (TLS, mTLS, DPoP, login
//! pages): the happy flow must pass in all eight variants, and a few rejection modules must
//! pass (the server refused as expected).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::describe;
use std::sync::Arc;

use fapilab_conformance::execute::execute;
use fapilab_conformance::model::{ModuleResult, Verdict};
use fapilab_conformance::scenario::{Applies, Expect, Requires, Scenario, StepSpec};
use fapilab_conformance::target::Target;
use fapilab_conformance::variant::{ClientAuth, Variant};

fn step(name: &str, client: u8, mutations: &[&str], expect: Expect, params: &[(&str, toml::Value)]) -> StepSpec {
    StepSpec {
        step: name.into(),
        client,
        mutations: mutations.iter().map(|s| (*s).to_owned()).collect(),
        expect,
        errors: Vec::new(),
        params: params.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect(),
        line: 0,
    }
}

fn ok(name: &str) -> StepSpec {
    step(name, 1, &[], Expect::Success, &[])
}

fn scenario(module: &str, steps: Vec<StepSpec>) -> Scenario {
    Scenario {
        plan: "test".into(),
        module: module.into(),
        title: module.into(),
        requirements: Vec::new(),
        applies: Applies::default(),
        requires: Requires::default(),
        steps,
        source: "in code".into(),
        messages: Default::default(),
    }
}

fn flow(client: u8) -> Vec<StepSpec> {
    vec![
        step("par", client, &[], Expect::Success, &[]),
        step("authorize", client, &[], Expect::Success, &[]),
        step("token", client, &[], Expect::Success, &[]),
    ]
}


/// The sandbox's FAPI 2.0 Security Profile workspace (the manifest lists others first).
fn fapi2_workspace(manifest: &std::path::Path) -> Arc<Target> {
    let targets = fapilab_conformance::target::Targets::load_any(manifest).expect("manifest loads");
    let entry = targets.entries().iter().find(|e| e.profile.as_deref() == Some("fapi2-security-profile")).expect("a fapi2 workspace");
    Arc::clone(&entry.target)
}

async fn run_all(target: &Arc<Target>, modules: Vec<(Scenario, Vec<Variant>)>) -> Vec<ModuleResult> {
    let mut handles = Vec::new();
    for (sc, variants) in modules {
        for v in variants {
            let t = target.clone();
            let sc = sc.clone();
            handles.push(tokio::spawn(async move { execute(t, &sc, v).await }));
        }
    }
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("module task"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn steps_against_the_sandbox() {
    let dir = std::env::temp_dir().join(format!("fapilab-steps-{}-{}", std::process::id(), fapilab_jose::random_token(6)));
    let sandbox = fapilab_sandbox::start(fapilab_sandbox::SandboxOptions {
        data_dir: dir.clone(),
        port_base: 0,
        bind: std::net::IpAddr::from([127, 0, 0, 1]),
        ..Default::default()
    })
    .await
    .expect("sandbox starts");
    let target = fapi2_workspace(&sandbox.manifest_path);
    let all = Variant::all();
    let pkjwt: Vec<Variant> = all.iter().copied().filter(|v| v.client_auth == ClientAuth::PrivateKeyJwt).collect();
    let dpop: Vec<Variant> = all.iter().copied().filter(|v| v.sender == fapilab_conformance::variant::Sender::Dpop).collect();

    let mut happy = vec![ok("discover"), ok("jwks"), ok("check_headers"), ok("check_tls")];
    happy.extend(flow(1));
    happy.extend([ok("call_resource"), ok("userinfo"), ok("introspect"), ok("refresh"), ok("call_resource")]);
    happy.extend(flow(2));
    happy.push(step("call_resource", 2, &[], Expect::Success, &[]));
    happy.push(step("call_resource", 1, &["other_client_token"], Expect::Rejected, &[]));
    happy.push(step("call_resource", 1, &["scheme_case"], Expect::Success, &[]));
    happy.push(step("call_resource", 1, &["token_in_query"], Expect::Rejected, &[]));

    let pkce_plain = scenario("par-plain-pkce-rejected", vec![ok("discover"), step("par", 1, &["pkce_plain"], Expect::Rejected, &[])]);
    let mut reuse = flow(1);
    reuse.push(step("reuse_code", 1, &[], Expect::Rejected, &[]));
    let reuse = scenario("reuse-code", reuse);
    let aud = scenario("par-aud-token-url", vec![step("par", 1, &["assertion_aud_token_url"], Expect::Rejected, &[])]);
    let mut negatives = flow(1);
    negatives.extend([
        step("call_resource", 1, &["dpop_wrong_htm"], Expect::Rejected, &[]),
        step("call_resource", 1, &["dpop_wrong_htu"], Expect::Rejected, &[]),
        step("call_resource", 1, &["dpop_no_ath"], Expect::Rejected, &[]),
        step("call_resource", 1, &["dpop_wrong_ath"], Expect::Rejected, &[]),
        step("call_resource", 1, &["dpop_wrong_typ"], Expect::Rejected, &[]),
        step("call_resource", 1, &["dpop_alg_none"], Expect::Rejected, &[]),
        step("call_resource", 1, &["dpop_private_jwk"], Expect::Rejected, &[]),
        step("call_resource", 1, &["dpop_bad_signature"], Expect::Rejected, &[]),
        step("call_resource", 1, &["dpop_iat_plus_3600"], Expect::Rejected, &[]),
        step("call_resource", 1, &["dpop_iat_minus_3600"], Expect::Rejected, &[]),
        step("call_resource", 1, &["dpop_replay"], Expect::Rejected, &[]),
        step("call_resource", 1, &["dpop_two_headers"], Expect::Rejected, &[]),
        step("call_resource", 1, &["dpop_header_name_case"], Expect::Success, &[]),
        step("call_resource", 1, &["bearer_scheme_for_dpop_token"], Expect::Rejected, &[]),
        step("call_resource", 1, &["no_sender_constraint"], Expect::Rejected, &[]),
        step("call_resource", 1, &["dpop_iat_plus_8", "dpop_nbf_exp"], Expect::Success, &[]),
        ok("call_resource"),
    ]);
    let negatives = scenario("dpop-negative-tests", negatives);
    let deny =
        scenario("user-rejects", vec![ok("par"), step("authorize", 1, &[], Expect::Rejected, &[("approve", toml::Value::Boolean(false))])]);
    let no_par = scenario("no-par", vec![step("authorize", 1, &["no_par"], Expect::Rejected, &[])]);
    let mut wrong_client = flow(1);
    wrong_client.push(step("par", 2, &[], Expect::Success, &[]));
    wrong_client.push(step("authorize", 2, &["other_client_id"], Expect::Rejected, &[]));
    let wrong_client = scenario("request-uri-other-client", wrong_client);
    let mut bound = vec![ok("par"), ok("authorize")];
    bound.push(step("token", 1, &["use_client_2"], Expect::Rejected, &[]));
    let bound = scenario("code-bound-to-client", bound);
    let mut hok = vec![ok("par"), ok("authorize")];
    hok.push(step("token", 1, &["no_sender_constraint"], Expect::Rejected, &[]));
    let hok = scenario("holder-of-key-required", hok);
    let method = scenario("par-put", vec![ok("http_method")]);

    let results = run_all(
        &target,
        vec![
            (scenario("happy-flow", happy), all.clone()),
            (pkce_plain, all.clone()),
            (reuse, all.clone()),
            (aud, pkjwt),
            (negatives, dpop),
            (deny, all.clone()),
            (no_par, all.clone()),
            (wrong_client, all.clone()),
            (bound, all.clone()),
            (hok, all.clone()),
            (method, all.clone()),
        ],
    )
    .await;
    let bad: Vec<String> = results.iter().filter(|r| r.verdict != Verdict::Passed).map(describe).collect();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(bad.is_empty(), "{} of {} modules did not pass:\n{}", bad.len(), results.len(), bad.join("\n"));
    // Not vacuous: the happy flow checked the things it is about.
    for r in results.iter().filter(|r| r.module == "happy-flow") {
        for id in [
            "discovery.issuer",
            "jwks.kid",
            "par.expires_in",
            "authorize.iss",
            "authorize.state",
            "token.cache_control",
            "token.token_type",
            "resource.status",
            "refresh.status",
            "resource.rejected",
            "tls.tls12_suite",
            "headers.no_cors",
        ] {
            assert!(r.conditions.iter().any(|c| c.id == id && c.passed), "{} [{}] lacks a passed {id}", r.module, r.variant);
        }
        if r.variant.openid == fapilab_conformance::variant::OpenId::OpenidConnect {
            assert!(r.conditions.iter().any(|c| c.id == "token.id_token_signature" && c.passed), "{}", r.variant);
        }
    }
    for r in results.iter().filter(|r| r.module == "dpop-negative-tests") {
        let refused = r.conditions.iter().filter(|c| c.id == "resource.rejected" && c.passed).count();
        assert!(refused >= 14, "{}: only {refused} refusals judged", r.variant);
    }
    // Redaction holds across a whole run: no full access token or assertion in any exchange.
    let text = serde_json::to_string(&results).expect("serializes");
    assert!(!text.contains("\"d\":\""), "a private key member leaked");
}

fn rej(name: &str, client: u8, mutations: &[&str]) -> StepSpec {
    step(name, client, mutations, Expect::Rejected, &[])
}

fn with(name: &str, mutations: &[&str]) -> StepSpec {
    step(name, 1, mutations, Expect::Success, &[])
}

/// More mutations, and the expiry waits with a sandbox whose lifetimes are shortened.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mutations_against_the_sandbox() {
    let dir = std::env::temp_dir().join(format!("fapilab-steps-m-{}-{}", std::process::id(), fapilab_jose::random_token(6)));
    let sandbox = fapilab_sandbox::start(fapilab_sandbox::SandboxOptions {
        data_dir: dir.clone(),
        port_base: 0,
        bind: std::net::IpAddr::from([127, 0, 0, 1]),
        code_lifetime: Some(8),
        request_uri_lifetime: Some(10),
        ..Default::default()
    })
    .await
    .expect("sandbox starts");
    let mut t = (*fapi2_workspace(&sandbox.manifest_path)).clone();
    t.code_lifetime = 8;
    let target = Arc::new(t);
    let all = Variant::all();
    let pkjwt: Vec<Variant> = all.iter().copied().filter(|v| v.client_auth == ClientAuth::PrivateKeyJwt).collect();
    let dpop: Vec<Variant> = all.iter().copied().filter(|v| v.sender == fapilab_conformance::variant::Sender::Dpop).collect();
    let mtls_sender: Vec<Variant> = all.iter().copied().filter(|v| v.sender == fapilab_conformance::variant::Sender::Mtls).collect();
    let oidc: Vec<Variant> = all.iter().copied().filter(|v| v.openid == fapilab_conformance::variant::OpenId::OpenidConnect).collect();

    let pa = |m: &[&str]| vec![with("par", m), ok("authorize")];
    let pat = |m: &[&str]| {
        let mut v = pa(m);
        v.push(ok("token"));
        v.push(ok("call_resource"));
        v
    };
    let mut modules: Vec<(Scenario, Vec<Variant>)> = Vec::new();
    let mut add = |name: &str, steps: Vec<StepSpec>, vs: &Vec<Variant>| modules.push((scenario(name, steps), vs.clone()));

    add(
        "expired-code",
        vec![
            ok("par"),
            ok("authorize"),
            step("wait", 1, &[], Expect::Success, &[("until", toml::Value::String("code_expiry".into()))]),
            rej("token", 1, &[]),
        ],
        &all,
    );
    add(
        "expired-request-uri",
        vec![
            ok("par"),
            step("wait", 1, &[], Expect::Success, &[("until", toml::Value::String("request_uri_expiry".into()))]),
            rej("authorize", 1, &[]),
        ],
        &all,
    );
    let mut reuse_ru = pat(&[]);
    reuse_ru.push(rej("authorize", 1, &[]));
    add("reuse-request-uri", reuse_ru, &all);
    for m in [
        "assertion_rs256",
        "assertion_missing",
        "assertion_exp_past",
        "assertion_no_sub",
        "assertion_aud_array",
        "assertion_aud_other",
        "assertion_aud_par_url",
    ] {
        add(&format!("token-{m}"), vec![ok("par"), ok("authorize"), rej("token", 1, &[m])], &pkjwt);
        add(&format!("par-{m}"), vec![rej("par", 1, &[m])], &pkjwt);
    }
    add("par-iat-plus-61", vec![rej("par", 1, &["assertion_iat_plus_61"])], &pkjwt);
    add("par-nbf-plus-8", pat(&["assertion_nbf_plus_8"]), &pkjwt);
    add("no-client-auth", vec![rej("par", 1, &["no_client_auth"])], &all);
    for m in ["drop_code_verifier", "wrong_code_verifier"] {
        add(m, vec![ok("par"), ok("authorize"), rej("token", 1, &[m])], &all);
    }
    for m in [
        "drop_pkce",
        "response_type_code_id_token",
        "response_type_token",
        "request_uri_in_par_body",
        "drop_redirect_uri",
        "unregistered_redirect_uri",
    ] {
        add(m, vec![rej("par", 1, &[m])], &all);
    }
    add("dpop-jkt-mismatch", vec![rej("par", 1, &["dpop_jkt_mismatch"])], &dpop);
    add("dpop-jkt-only", pat(&["dpop_jkt_only"]), &dpop);
    add("dpop-other-key-at-token", vec![ok("par"), ok("authorize"), rej("token", 1, &["dpop_other_key"])], &dpop);
    add(
        "dpop-iat-minus-10",
        vec![
            with("par", &["dpop_iat_minus_10"]),
            ok("authorize"),
            with("token", &["dpop_iat_minus_10"]),
            with("call_resource", &["dpop_iat_minus_10"]),
        ],
        &dpop,
    );
    add("long-state", pat(&["long_state"]), &all);
    add("no-state", pat(&["drop_state"]), &all);
    add("state-outside-par", pat(&["state_outside_par"]), &all);
    add("nonce-64", pat(&["nonce_64"]), &oidc);
    add("no-nonce", pat(&["drop_nonce"]), &oidc);
    add("nonce-outside-par", pat(&["nonce_outside_par"]), &oidc);
    add("reverse-scope", pat(&["reverse_scope_order"]), &oidc);
    add("reorder-authorize", vec![ok("par"), with("authorize", &["reorder_authorize_params"]), ok("token")], &all);
    let mut swap = pat(&[]);
    swap.push(rej("call_resource", 1, &["swap_certificate"]));
    add("swap-certificate-at-resource", swap, &mtls_sender);
    // With private_key_jwt the certificate only binds the token (RFC 8705 §3), so another
    // certificate is legitimately accepted there; with mTLS authentication it must fail.
    let mtls_auth: Vec<Variant> = all.iter().copied().filter(|v| v.client_auth == ClientAuth::Mtls).collect();
    add("swap-certificate-at-token", vec![ok("par"), ok("authorize"), rej("token", 1, &["swap_certificate"])], &mtls_auth);
    let mut revoke = pat(&[]);
    revoke.push(ok("revoke"));
    revoke.push(rej("refresh", 1, &[]));
    add("revoke-then-refresh", revoke, &all);
    let mut refresh_neg = pat(&[]);
    refresh_neg.push(rej("refresh", 1, &["no_client_auth"]));
    refresh_neg.push(rej("refresh", 1, &["no_sender_constraint"]));
    refresh_neg.push(ok("refresh"));
    refresh_neg.push(ok("call_resource"));
    add("refresh-negatives", refresh_neg, &all);

    let results = run_all(&target, modules).await;
    let bad: Vec<String> = results.iter().filter(|r| r.verdict != Verdict::Passed).map(describe).collect();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(bad.is_empty(), "{} of {} modules did not pass:\n{}", bad.len(), results.len(), bad.join("\n"));
}
