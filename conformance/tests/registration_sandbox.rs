//! The registration plans end to end against fapilab's real sandbox: the `dcr` plan runs
//! against workspace default/fapi2 and the `fdx` plan against default/fdx (picked by each
//! module's `[requires] profile` from one sandbox.json), and every module must pass in every
//! variant it applies to — none skipped, since the sandbox offers every feature they need.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::describe;
use std::sync::Arc;
use std::time::Instant;

use fapilab_conformance::model::Verdict;
use fapilab_conformance::plan::builtin_plans;
use fapilab_conformance::runner;
use fapilab_conformance::target::Targets;
use fapilab_conformance::variant::Variant;


#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn registration_plans_pass_against_the_sandbox() {
    let dir = std::env::temp_dir().join(format!("fapilab-dcr-{}-{}", std::process::id(), fapilab_jose::random_token(6)));
    let sandbox = fapilab_sandbox::start(fapilab_sandbox::SandboxOptions {
        data_dir: dir.clone(),
        port_base: 0,
        bind: std::net::IpAddr::from([127, 0, 0, 1]),
        ..Default::default()
    })
    .await
    .expect("sandbox starts");
    let targets = Arc::new(Targets::load_any(&sandbox.manifest_path).expect("manifest loads"));
    let fdx_issuer = targets.entries().iter().find(|e| e.profile.as_deref() == Some("fdx")).expect("an fdx workspace").target.issuer.clone();
    let plans: Vec<_> = builtin_plans().expect("plans").into_iter().filter(|p| p.name == "dcr" || p.name == "fdx").collect();
    assert_eq!(plans.len(), 2, "both registration plans are built in");

    let started = Instant::now();
    let results = runner::run(Arc::clone(&targets), &plans, &Variant::all(), None, 8, |_| {}).await;
    eprintln!("{} module runs in {:.1} s", results.len(), started.elapsed().as_secs_f64());
    let bad: Vec<String> = results.iter().filter(|r| r.verdict != Verdict::Passed).map(describe).collect();
    drop(sandbox);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(bad.is_empty(), "{} of {} modules did not pass:\n{}", bad.len(), results.len(), bad.join("\n"));

    // Every module of both plans ran, in each variant it applies to.
    let scheduled = runner::schedule(&plans, &Variant::all(), None).len();
    assert_eq!(results.len(), scheduled);
    // Not vacuous: the checks the plans are about were made and passed.
    let passed = |module: &str, id: &str| {
        results.iter().filter(|r| r.module == module).all(|r| r.conditions.iter().any(|c| c.id == id && c.passed))
    };
    for (module, id) in [
        ("dcr-happy-flow", "registration.echo.redirect_uris"),
        ("dcr-happy-flow", "registration.no_client_secret"),
        ("dcr-happy-flow", "registration.registration_access_token"),
        ("dcr-happy-flow", "resource.status"),
        ("dcr-read-registration", "read.status"),
        ("dcr-read-registration", "read.rejected"),
        ("dcr-update-registration", "update.echo.client_name"),
        ("dcr-update-registration", "authorize.redirect_uri"),
        ("dcr-delete-registration", "delete.status"),
        ("dcr-delete-registration", "par.error_code"),
        ("dcr-bad-registration-token", "read.www_authenticate"),
        ("dcr-manage-other-client", "delete.status"),
        ("dcr-manage-workspace-isolation", "read.rejected"),
        ("dcr-http-redirect-uri-refused", "registration.error_code"),
        ("fdx-register-metadata", "registration.echo.registry_references"),
        ("fdx-register-metadata", "registration.fdx_client_status"),
        ("fdx-client-lifecycle", "fdx_status.fdx_client_activity"),
        ("fdx-client-lifecycle", "client_credentials.status"),
        ("fdx-client-lifecycle", "refresh.error_code"),
        ("fdx-status-requires-scope", "fdx_status.rejected"),
        ("fdx-client-cannot-set-own-status", "read.fdx_client_status"),
    ] {
        assert!(passed(module, id), "{module} lacks a passed {id}");
    }
    // The fdx plan ran against the fdx workspace: its registrations were answered there.
    let fdx = results.iter().find(|r| r.module == "fdx-register-metadata").expect("fdx-register-metadata ran");
    assert!(fdx.exchanges.iter().any(|x| x.url.starts_with(&fdx_issuer)), "the fdx plan did not use {fdx_issuer}");
}

/// `fapilab certify` with a sandbox manifest: the `fdx` plan runs against the workspace of
/// profile `fdx` (not the first one), and the run names that workspace's issuer.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn certify_runs_the_fdx_plan_against_the_fdx_workspace() {
    use fapilab_conformance::certify::{CertifyOptions, certify};
    use fapilab_conformance::model::RunResult;
    let dir = std::env::temp_dir().join(format!("fapilab-fdx-{}-{}", std::process::id(), fapilab_jose::random_token(6)));
    let sandbox = fapilab_sandbox::start(fapilab_sandbox::SandboxOptions {
        data_dir: dir.clone(),
        port_base: 0,
        bind: std::net::IpAddr::from([127, 0, 0, 1]),
        ..Default::default()
    })
    .await
    .expect("sandbox starts");
    let json = dir.join("run.json");
    let code = certify(CertifyOptions {
        target: sandbox.manifest_path.clone(),
        plan: Some("fdx".into()),
        json: Some(json.clone()),
        ..CertifyOptions::default()
    })
    .await;
    let run: RunResult = serde_json::from_str(&std::fs::read_to_string(&json).expect("the JSON report")).expect("a RunResult");
    let fdx_issuer = Targets::load_any(&sandbox.manifest_path)
        .expect("manifest")
        .entries()
        .iter()
        .find(|e| e.profile.as_deref() == Some("fdx"))
        .expect("an fdx workspace")
        .target
        .issuer
        .clone();
    drop(sandbox);
    let _ = std::fs::remove_dir_all(&dir);
    let bad: Vec<String> = run.modules.iter().filter(|m| m.verdict != Verdict::Passed).map(describe).collect();
    assert!(code == 0 && bad.is_empty(), "certify exited {code}:\n{}", bad.join("\n"));
    assert_eq!(run.target, fdx_issuer);
    assert_eq!(run.plans, vec!["fdx".to_owned()]);
}
