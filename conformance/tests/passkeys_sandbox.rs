//! The `passkeys` plan: its shape, and end to end against fapilab's real sandbox, where its
//! modules run against the workspace of profile `fapi2-security-profile` (which names its
//! passkey settings in sandbox.json) with the harness's software passkey, in the plan's four
//! variants, and every module passes — none skipped.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::describe;
use std::sync::Arc;
use std::time::Instant;

use fapilab_conformance::model::{ModuleResult, Verdict};
use fapilab_conformance::plan::{Plan, builtin_plans};
use fapilab_conformance::runner;
use fapilab_conformance::scenario::Feature;
use fapilab_conformance::target::Targets;
use fapilab_conformance::variant::OpenId;

const PLAN: &str = "passkeys";
const PROFILE: &str = "fapi2-security-profile";

/// Every module, with the condition that shows it checked what it is about.
const MODULES: &[(&str, &[&str])] = &[
    (
        "passkey-happy-flow",
        &["passkey_register.listed", "passkey_login.session", "passkey_claims.amr", "passkey_claims.acr", "resource.status"],
    ),
    (
        "passkey-replayed-assertion",
        &["passkey_login.session", "passkey_login.fresh_challenge", "passkey_login.refused", "passkey_login.no_session"],
    ),
    (
        "passkey-assertion-for-another-authorization",
        &["passkey_login.refused", "passkey_login.no_session", "passkey_login.own_interaction"],
    ),
    ("passkey-tampered-assertion", &["passkey_login.refused", "passkey_login.no_session", "passkey_login.session"]),
    ("passkey-unknown-user-handle", &["passkey_login.refused", "passkey_login.no_session", "passkey_login.session"]),
    (
        "passkey-registration-replayed",
        &["passkey_remove.gone", "passkey_register.refused", "passkey_register.not_listed", "passkey_register.listed"],
    ),
    (
        "passkey-duplicate-credential-id",
        &[
            "passkey_register.hand_built_status",
            "passkey_register.hand_built_listed",
            "passkey_register.refused",
            "passkey_register.refusal_status",
            "passkey_register.not_listed",
        ],
    ),
    (
        "passkey-registration-without-user-verification",
        &["passkey_register.refused", "passkey_register.not_listed", "passkey_register.listed"],
    ),
    ("passkey-sign-in-without-user-verification", &["passkey_login.refused", "passkey_login.no_session", "passkey_login.session"]),
    (
        "passkey-other-origin-port",
        &["passkey_register.refused", "passkey_login.refused", "passkey_login.no_session", "passkey_login.session"],
    ),
    ("passkey-removed", &["passkey_login.session", "passkey_remove.gone", "passkey_login.refused", "passkey_login.no_session"]),
];

fn plan() -> Plan {
    builtin_plans().expect("plans").into_iter().find(|p| p.name == PLAN).expect("the passkeys plan is built in")
}

#[test]
fn the_plan_has_its_modules_and_needs_passkeys() {
    let plan = plan();
    let variants = plan.variants();
    assert_eq!(variants.len(), 4, "client_auth × sender, OpenID Connect only (the ID token's amr and acr)");
    assert!(variants.iter().all(|v| v.openid == OpenId::OpenidConnect));
    let mut names: Vec<&str> = plan.modules.iter().map(|m| m.module.as_str()).collect();
    names.sort_unstable();
    let mut expected: Vec<&str> = MODULES.iter().map(|(m, _)| *m).collect();
    expected.sort_unstable();
    assert_eq!(names, expected);
    for m in &plan.modules {
        assert_eq!(m.requires.profile.as_deref(), Some(PROFILE), "{}", m.module);
        assert!(m.requires.features.contains(&Feature::Passkeys), "{}", m.module);
        assert!(variants.iter().all(|v| m.applies_to(v)), "{} runs in every variant", m.module);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn passkeys_plan_passes_against_the_sandbox() {
    let dir = std::env::temp_dir().join(format!("fapilab-passkeys-{}-{}", std::process::id(), fapilab_jose::random_token(6)));
    let sandbox = fapilab_sandbox::start(fapilab_sandbox::SandboxOptions {
        data_dir: dir.clone(),
        port_base: 0,
        bind: std::net::IpAddr::from([127, 0, 0, 1]),
        ..Default::default()
    })
    .await
    .expect("sandbox starts");
    let targets = Arc::new(Targets::load_any(&sandbox.manifest_path).expect("manifest loads"));
    let fapi2 = targets.entries().iter().find(|e| e.profile.as_deref() == Some(PROFILE)).expect("a FAPI 2.0 workspace");
    let issuer = fapi2.target.issuer.clone();
    let passkeys = fapi2.target.passkeys.clone().expect("the sandbox's FAPI 2.0 workspace offers passkeys");
    assert!(issuer.starts_with(&passkeys.origin), "{issuer} is served at {}", passkeys.origin);
    let plans = vec![plan()];
    let variants = plans[0].variants();

    let started = Instant::now();
    let results = runner::run(Arc::clone(&targets), &plans, &variants, None, 8, |_| {}).await;
    eprintln!("{} module runs in {:.1} s", results.len(), started.elapsed().as_secs_f64());
    let bad: Vec<String> = results.iter().filter(|r| r.verdict != Verdict::Passed).map(describe).collect();
    drop(sandbox);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(bad.is_empty(), "{} of {} modules did not pass:\n{}", bad.len(), results.len(), bad.join("\n"));
    assert_eq!(results.len(), runner::schedule(&plans, &variants, None).len(), "every module ran in every variant");
    // Only the FAPI 2.0 workspace was used (on its TLS or mTLS listener).
    let workspace_path = issuer.split("://").nth(1).and_then(|a| a.find('/').map(|i| a[i..].to_owned())).expect("issuer path");
    assert!(
        results.iter().all(|r| r.exchanges.iter().all(|x| !x.url.contains("/default/") || x.url.contains(&format!("{workspace_path}/"))))
    );

    // Not vacuous: what each module is about was checked and passed, in every variant.
    for (module, ids) in MODULES {
        let runs: Vec<&ModuleResult> = results.iter().filter(|r| r.module == *module).collect();
        assert_eq!(runs.len(), variants.len(), "{module}");
        for id in *ids {
            assert!(runs.iter().all(|r| r.conditions.iter().any(|c| c.id == *id && c.passed)), "{module} lacks a passed {id}");
        }
    }
    let login_posts = |r: &ModuleResult| -> Vec<usize> {
        r.exchanges.iter().enumerate().filter(|(_, x)| x.method == "POST" && x.url.ends_with("/passkey/login")).map(|(i, _)| i).collect()
    };
    let cookie = |r: &ModuleResult, i: usize| {
        r.exchanges[i].request_headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("cookie")).map(|(_, v)| v.clone()).unwrap_or_default()
    };
    for r in &results {
        // A passkey sign-in starts in a browser without cookies: the passkey alone signs in.
        for x in r.exchanges.iter().filter(|x| x.method == "GET" && x.url.contains("/authorize?")) {
            assert!(!x.request_headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("cookie")), "{} [{}]: {}", r.module, r.variant, x.url);
        }
        if r.module == "passkey-replayed-assertion" {
            // The same credential twice; the second time without the session the first opened.
            let posts = login_posts(r);
            assert_eq!(posts.len(), 2, "{}", r.variant);
            assert_eq!(r.exchanges[posts[0]].request_body, r.exchanges[posts[1]].request_body, "the same credential");
            assert_eq!(r.exchanges[posts[0]].status, Some(303));
            assert_eq!(r.exchanges[posts[1]].status, Some(401));
            let set = |i: usize| {
                r.exchanges[i]
                    .response_headers
                    .iter()
                    .any(|(n, v)| n.eq_ignore_ascii_case("set-cookie") && v.starts_with("fapilab_session="))
            };
            assert!(set(posts[0]) && !set(posts[1]), "only the first post opened a session");
            assert!(
                cookie(r, posts[1]).contains("fapilab_ix_") && !cookie(r, posts[1]).contains("fapilab_session"),
                "{}",
                cookie(r, posts[1])
            );
            // Between the two, the replaying browser asked for fresh options: a live challenge.
            let options: Vec<usize> = r
                .exchanges
                .iter()
                .enumerate()
                .filter(|(_, x)| x.method == "POST" && x.url.ends_with("/passkey/options"))
                .map(|(i, _)| i)
                .collect();
            assert_eq!(options.len(), 2, "{}", r.variant);
            assert!(options[0] < posts[0] && posts[0] < options[1] && options[1] < posts[1], "{options:?} {posts:?}");
            assert_eq!(r.exchanges[options[1]].status, Some(200));
            assert!(!cookie(r, options[1]).contains("fapilab_session"));
        }
        if r.module == "passkey-duplicate-credential-id" {
            // Two hand-built registrations with one credential id: the first accepted, the second refused.
            let posts: Vec<&fapilab_conformance::model::Exchange> =
                r.exchanges.iter().filter(|x| x.method == "POST" && x.url.ends_with("/account/passkeys")).collect();
            assert_eq!(posts.iter().map(|x| x.status).collect::<Vec<_>>(), vec![Some(303), Some(400)], "{}", r.variant);
            let raw_id = |x: &fapilab_conformance::model::Exchange| {
                let form: Vec<(String, String)> =
                    form_urlencoded::parse(x.request_body.as_deref().unwrap_or_default().as_bytes()).into_owned().collect();
                let credential = form.iter().find(|(n, _)| n == "credential").map(|(_, v)| v.clone()).expect("a credential");
                serde_json::from_str::<serde_json::Value>(&credential).expect("JSON")["rawId"].as_str().expect("rawId").to_owned()
            };
            assert_eq!(raw_id(posts[0]), raw_id(posts[1]), "the same credential id twice");
        }
        if r.module == "passkey-happy-flow" {
            let claims = r.conditions.iter().find(|c| c.id == "passkey_claims.amr").expect("amr checked");
            assert!(claims.observed.contains("\"user\""), "{}", claims.observed);
        }
    }
}
