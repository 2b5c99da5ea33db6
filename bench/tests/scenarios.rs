//! Every scenario against an in-process sandbox: a small `--requests` run with zero errors
//! and a sane report, plus one short `--duration` run through the signer pool.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fapilab_bench::{BenchOptions, Load, Report, Scenario, run};

fn unique_dir() -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    std::env::temp_dir().join(format!("fapilab-bench-test-{}-{nanos}", std::process::id()))
}

fn options(target: &std::path::Path, scenario: Scenario, load: Load, client: Option<&str>) -> BenchOptions {
    BenchOptions {
        target: target.to_path_buf(),
        scenario,
        concurrency: 4,
        load,
        warmup: Duration::ZERO,
        client: client.map(str::to_owned),
        signers: Some(2),
        browser_reuse: None,
        progress: false,
    }
}

fn sane(r: &Report, total: u64) {
    assert!(!r.has_unexpected_errors(), "{}", r.render());
    assert_eq!(r.total, total, "{}", r.render());
    assert_eq!(r.ok, total);
    assert!(r.per_second > 0.0, "{}", r.render());
    let l = r.latency_us;
    assert!(
        l.min > 0 && l.min <= l.p50 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max,
        "{l:?}"
    );
    assert!(r.http_requests >= r.total);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_scenario_runs_clean_against_the_sandbox() {
    let started = Instant::now();
    let dir = unique_dir();
    let sandbox = fapilab_sandbox::start(fapilab_sandbox::SandboxOptions {
        data_dir: dir.clone(),
        port_base: 0,
        ..Default::default()
    })
    .await
    .expect("sandbox starts");
    let target = sandbox.manifest_path.clone();

    for scenario in Scenario::ALL {
        let n = if scenario == Scenario::CodeFlow {
            12
        } else {
            50
        };
        let r = run(&options(&target, scenario, Load::Requests(n), None))
            .await
            .unwrap_or_else(|e| panic!("{scenario}: {e}"));
        sane(&r, n);
        assert_eq!(r.client_id.as_deref(), Some("pkjwt-dpop-1"));
        let expected_signatures = match scenario {
            Scenario::Discovery => 0,
            Scenario::ClientCredentials | Scenario::Par => 2,
            Scenario::Introspection | Scenario::Resource => 1,
            Scenario::CodeFlow => 4,
        };
        assert_eq!(
            r.signing.signatures_per_unit, expected_signatures,
            "{scenario}"
        );
        if expected_signatures > 0 {
            assert_eq!(r.signing.mode, "presigned");
            assert_eq!(r.signing.units_signed, n);
        }
        eprintln!("{}", r.render());
        if scenario == Scenario::CodeFlow {
            assert_eq!(r.unit, "authorization");
            assert!(
                r.http_requests >= 4 * n,
                "PAR, pages, token: {}",
                r.http_requests
            );
        }
    }

    // A fresh browser (and so a login) for every authorization.
    let mut o = options(&target, Scenario::CodeFlow, Load::Requests(8), None);
    o.browser_reuse = Some(1);
    let r = run(&o).await.expect("code-flow, fresh browsers");
    sane(&r, 8);
    assert!(r.http_requests >= 5 * 8, "PAR, authorize, login, consent, token: {}", r.http_requests);

    // An mTLS client: certificate instead of signatures.
    for scenario in [Scenario::ClientCredentials, Scenario::Resource] {
        let r = run(&options(
            &target,
            scenario,
            Load::Requests(30),
            Some("tls-mtls-1"),
        ))
        .await
        .expect("mtls run");
        sane(&r, 30);
        assert_eq!(r.signing.mode, "none");
    }

    // --duration with a warm-up: the signer pool feeds the workers.
    let mut o = options(
        &target,
        Scenario::ClientCredentials,
        Load::Duration(Duration::from_millis(1500)),
        None,
    );
    o.warmup = Duration::from_millis(300);
    let r = run(&o).await.expect("duration run");
    assert!(!r.has_unexpected_errors(), "{}", r.render());
    assert!(r.total > 0 && r.warmup_discarded > 0, "{}", r.render());
    assert_eq!(r.signing.mode, "pool");
    assert!(r.signing.units_signed >= r.total);
    assert!(
        (1.4..3.0).contains(&r.elapsed_seconds),
        "{}",
        r.elapsed_seconds
    );

    // A refused request is an unexpected error, classified by status and error code: the
    // client signs with another client's keys.
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&target).unwrap()).unwrap();
    let clients = manifest["workspaces"][0]["clients"].as_array_mut().unwrap();
    let other = clients
        .iter()
        .find(|c| c["client_id"] == "pkjwt-dpop-2")
        .unwrap()["private_jwks_file"]
        .clone();
    clients
        .iter_mut()
        .find(|c| c["client_id"] == "pkjwt-dpop-1")
        .unwrap()["private_jwks_file"] = other;
    let wrong = dir.join("wrong-keys.json");
    std::fs::write(&wrong, manifest.to_string()).unwrap();
    let r = run(&options(
        &wrong,
        Scenario::ClientCredentials,
        Load::Requests(5),
        None,
    ))
    .await
    .expect("run");
    assert!(r.has_unexpected_errors());
    assert_eq!((r.ok, r.failed), (0, 5));
    let (class, count) = r.errors.iter().next().unwrap();
    assert!(
        class.starts_with("HTTP 4") && class.ends_with("invalid_client") && *count == 5,
        "{:?}",
        r.errors
    );
    assert!(r.render().contains("UNEXPECTED ERRORS"), "{}", r.render());
    eprintln!("{}", r.render());

    let err = run(&options(
        &target,
        Scenario::Discovery,
        Load::Requests(1),
        Some("nobody"),
    ))
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("pkjwt-dpop-1"), "{err}");

    drop(sandbox);
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("bench scenarios took {:?}", started.elapsed());
}
