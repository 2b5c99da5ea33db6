//! The harness as a bank runs it: `fapilab sandbox` started as a separate process, then
//! `fapilab certify --target <its sandbox.json>` as another, over the network, with reports.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::unique_dir;

/// Kills the sandbox process when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port_base() -> u16 {
    // Three consecutive free ports: ask the OS for one and hope the next two are free too;
    // retried by the caller if the sandbox fails to bind.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    if port > 65_000 { 40_000 + port % 1000 } else { port }
}

fn wait_for(path: &Path, child: &mut Child, within: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        if path.is_file() {
            return true;
        }
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[tokio::test]
async fn certify_a_separately_started_sandbox_over_the_network() {
    let bin = env!("CARGO_BIN_EXE_fapilab");
    let dir = unique_dir("certify-remote");
    let manifest = dir.join("sandbox.json");
    let mut sandbox = None;
    for _ in 0..3 {
        let child = Command::new(bin)
            .args(["sandbox", "--data-dir"])
            .arg(&dir)
            .args(["--port-base", &free_port_base().to_string(), "--code-lifetime", "3", "--request-uri-lifetime", "5"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting fapilab sandbox");
        let mut running = Running(child);
        if wait_for(&manifest, &mut running.0, Duration::from_secs(60)) {
            sandbox = Some(running);
            break;
        }
    }
    let _sandbox = sandbox.expect("fapilab sandbox wrote its manifest");

    let junit = dir.join("report.xml");
    let json = dir.join("report.json");
    let html = dir.join("report.html");
    let output = tokio::task::spawn_blocking({
        let (manifest, junit, json, html) = (manifest.clone(), junit.clone(), json.clone(), html.clone());
        move || {
            Command::new(bin)
                .args(["certify", "--target"])
                .arg(&manifest)
                .arg("--junit")
                .arg(&junit)
                .arg("--json")
                .arg(&json)
                .arg("--html")
                .arg(&html)
                .output()
                .expect("running fapilab certify")
        }
    })
    .await
    .expect("certify finished");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "certify against the sandbox process:\n{stdout}\n{stderr}");

    let junit = std::fs::read_to_string(&junit).expect("JUnit report");
    assert!(junit.contains("<testsuite") && junit.matches("<testcase").count() >= 300, "one testcase per module x variant");
    assert!(!junit.contains("<failure"), "no failure in the JUnit report");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).expect("JSON report")).expect("JSON parses");
    assert_eq!(report["summary"]["unexpected_failures"], serde_json::json!(0), "JSON summary");
    let html = std::fs::read_to_string(&html).expect("HTML report");
    assert!(html.starts_with("<!DOCTYPE html>") || html.starts_with("<!doctype html>"), "a self-contained page");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn certify_exit_codes_for_bad_usage() {
    let bin = env!("CARGO_BIN_EXE_fapilab");
    let missing = Command::new(bin).args(["certify", "--target", "/nonexistent/target.toml"]).output().expect("run");
    assert_eq!(missing.status.code(), Some(2), "unreadable target: {}", String::from_utf8_lossy(&missing.stderr));
    let list = Command::new(bin).args(["certify", "--list"]).output().expect("run");
    assert_eq!(list.status.code(), Some(0));
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(text.contains("fapi2-security-profile") && text.contains("FAPI2-SP-AZ-05"), "--list names plans and requirement ids");
}
