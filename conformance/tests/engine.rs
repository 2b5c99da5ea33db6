//! The engine end to end: the built-in plans load, expected failures apply, and the built-in
//! FAPI2 plan passes against fapilab's own sandbox in every variant.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use fapilab_conformance::certify::{CertifyOptions, certify};
use fapilab_conformance::expected::ExpectedFailures;
use fapilab_conformance::model::{Condition, ModuleResult, RunResult, Severity, Verdict};
use fapilab_conformance::plan::builtin_plans;
use fapilab_conformance::variant::Variant;

const FAPI2: &str = "fapi2-security-profile";

fn unique_dir(tag: &str) -> PathBuf {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    std::env::temp_dir().join(format!("fapilab-engine-{tag}-{}-{nanos}", std::process::id()))
}

/// Every built-in scenario file parses and validates against the step catalog (this is what
/// catches a bad scenario file in CI), and every file on disk is embedded.
#[test]
fn builtin_plans_load() {
    let plans = builtin_plans().unwrap_or_else(|e| panic!("a built-in scenario file is invalid: {e}"));
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    for entry in std::fs::read_dir(&dir).expect("scenarios/") {
        let path = entry.expect("entry").path();
        if !path.is_dir() {
            continue;
        }
        let name = path.file_name().and_then(|n| n.to_str()).expect("plan name").to_string();
        let on_disk = std::fs::read_dir(&path)
            .expect("plan dir")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_str().is_some_and(|n| n.ends_with(".toml") && !n.starts_with('.') && n != "plan.toml"))
            .count();
        let plan = plans.iter().find(|p| p.name == name).unwrap_or_else(|| panic!("plan {name} is not embedded"));
        let own = plan.modules.iter().filter(|m| m.source.starts_with(&format!("scenarios/{name}/"))).count();
        assert_eq!(own, on_disk, "plan {name}: every file is embedded");
        // An included plan's modules are all there, as modules of this plan.
        for included in &plan.includes {
            let other = plans.iter().find(|p| &p.name == included).unwrap_or_else(|| panic!("{name} includes unknown {included}"));
            let theirs = other.modules.iter().filter(|m| m.source.starts_with(&format!("scenarios/{included}/"))).count();
            assert_eq!(plan.modules.len(), own + theirs, "plan {name}: its own modules and those of {included}");
            assert!(plan.modules.iter().all(|m| m.plan == name), "plan {name}: included modules belong to it");
        }
        for m in &plan.modules {
            assert!(!m.requirements.is_empty() && !m.steps.is_empty(), "{}", m.source);
            assert!(plan.variants().iter().any(|v| m.applies_to(v)), "{} applies to no variant", m.source);
        }
    }
    if dir.join(FAPI2).is_dir() {
        assert!(plans.iter().any(|p| p.name == FAPI2 && !p.modules.is_empty()));
    }
    // The listing covers every module.
    let listing = fapilab_conformance::certify::list(&plans);
    for plan in &plans {
        for m in &plan.modules {
            assert!(listing.contains(&m.module), "--list misses {}", m.module);
        }
    }
}

fn condition(id: &str, passed: bool) -> Condition {
    Condition {
        id: id.to_string(),
        requirements: vec!["FAPI2-SP-AZ-05".to_string()],
        severity: Severity::Failure,
        passed,
        summary: String::new(),
        expected: String::new(),
        observed: String::new(),
        hint: None,
        evidence: vec![],
    }
}

fn module(name: &str, variant: Variant, conditions: Vec<Condition>) -> ModuleResult {
    ModuleResult {
        plan: FAPI2.to_string(),
        module: name.to_string(),
        title: name.to_string(),
        variant,
        requirements: vec![],
        verdict: ModuleResult::verdict_from(&conditions),
        conditions,
        exchanges: vec![],
        duration_ms: 1,
        expected_failures: vec![],
        unmet_expectations: vec![],
    }
}

#[test]
fn expected_failures_turn_listed_failures_into_a_passing_run_and_catch_rot() {
    let file = r#"
[[expected]]
plan = "fapi2-security-profile"
variant = "sender=dpop"
module = "pkce-plain-refused"
condition = "par.status"
reason = "BANK-1: plain PKCE still accepted"
"#;
    let expected = ExpectedFailures::parse("expected.toml", file).expect("valid file");
    let dpop = Variant::filter("sender=dpop").expect("filter");
    let mtls = Variant::filter("sender=mtls").expect("filter");

    // Failing exactly on the listed condition in every DPoP variant, passing with mTLS.
    let mut modules: Vec<ModuleResult> = dpop
        .iter()
        .map(|v| module("pkce-plain-refused", *v, vec![condition("par.status", false), condition("par.other", true)]))
        .chain(mtls.iter().map(|v| module("pkce-plain-refused", *v, vec![condition("par.status", true)])))
        .collect();
    expected.apply(&mut modules);
    let summary = RunResult::summarize(&modules);
    assert_eq!(summary.failed, 4);
    assert_eq!(summary.expected_failures, 4);
    assert_eq!(summary.unexpected_failures, 0);

    // Once fixed in one DPoP variant, that entry has rotted and fails the run.
    modules[0] = module("pkce-plain-refused", dpop[0], vec![condition("par.status", true)]);
    expected.apply(&mut modules);
    let summary = RunResult::summarize(&modules);
    assert_eq!(summary.unexpected_failures, 1);
    assert_eq!(modules[0].verdict, Verdict::Passed);
    assert_eq!(modules[0].unmet_expectations[0].condition, "par.status");

    // A second, unlisted failure is unexpected even though the listed one failed too.
    modules[1] =
        module("pkce-plain-refused", dpop[1], vec![condition("par.status", false), condition("par.other", false)]);
    expected.apply(&mut modules);
    assert!(modules[1].failed_unexpectedly());
    assert!(modules[1].expected_failures.is_empty());
}

/// The built-in FAPI2 plan, all eight variants, against fapilab's sandbox started in-process:
/// nothing may fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fapi2_plan_passes_against_the_sandbox() {
    let plans = builtin_plans().expect("built-in plans");
    if !plans.iter().any(|p| p.name == FAPI2) {
        eprintln!("no built-in {FAPI2} plan yet; skipping");
        return;
    }
    let data_dir = unique_dir("sandbox");
    let sandbox = fapilab_sandbox::start(fapilab_sandbox::SandboxOptions {
        data_dir: data_dir.clone(),
        port_base: 0,
        bind: "127.0.0.1".parse().expect("address"),
        code_lifetime: Some(5),
        request_uri_lifetime: Some(5),
        ..Default::default()
    })
    .await
    .expect("sandbox starts");

    let json = data_dir.join("run.json");
    let code = certify(CertifyOptions {
        target: sandbox.manifest_path.clone(),
        plan: Some(FAPI2.to_string()),
        json: Some(json.clone()),
        ..CertifyOptions::default()
    })
    .await;
    let text = std::fs::read_to_string(&json).expect("the JSON report is written");
    let run: RunResult = serde_json::from_str(&text).expect("the JSON report is a RunResult");
    drop(sandbox);

    if code != 0 || !run.success() || run.summary.failed != 0 {
        eprintln!("{}", fapilab_conformance::report::summary_text(&run));
        for m in run.modules.iter().filter(|m| m.verdict == Verdict::Failed) {
            for c in m.conditions.iter().filter(|c| !c.passed) {
                eprintln!("{} [{}] {}: expected {}; observed {}", m.module, m.variant, c.id, c.expected, c.observed);
            }
        }
        panic!("certify exited {code}: {} FAILED, {} unexpected", run.summary.failed, run.summary.unexpected_failures);
    }
    assert_eq!(run.plans, vec![FAPI2.to_string()]);
    let variants: std::collections::BTreeSet<Variant> = run.modules.iter().map(|m| m.variant).collect();
    assert_eq!(variants.len(), 8, "every variant ran");
    std::fs::remove_dir_all(&data_dir).ok();
}
