//! The report layer: snapshots of every format for one hand-built run, plus structural
//! checks (well-formed JUnit XML, no live markup from evidence in the HTML, plain progress
//! lines when not on a terminal).

use std::io::Write;
use std::sync::{Arc, Mutex};

use fapilab_conformance::model::{Condition, Exchange, ExpectedFailure, ModuleResult, RunResult, Severity, Verdict};
use fapilab_conformance::report;
use fapilab_conformance::variant::{ClientAuth, OpenId, Sender, Variant};

const PLAN: &str = "fapi2-security-profile";

fn v(client_auth: ClientAuth, sender: Sender, openid: OpenId) -> Variant {
    Variant::new(client_auth, sender, openid)
}

fn cond(id: &str, reqs: &[&str], severity: Severity, passed: bool, expected: &str, observed: &str) -> Condition {
    Condition {
        id: id.to_owned(),
        requirements: reqs.iter().map(|r| (*r).to_owned()).collect(),
        severity,
        passed,
        summary: format!("checks {id}"),
        expected: expected.to_owned(),
        observed: observed.to_owned(),
        hint: None,
        evidence: Vec::new(),
    }
}

fn module(
    name: &str,
    variant: Variant,
    verdict: Verdict,
    conditions: Vec<Condition>,
    duration_ms: u64,
) -> ModuleResult {
    ModuleResult {
        plan: PLAN.to_owned(),
        module: name.to_owned(),
        title: format!("Title of {name}"),
        variant,
        requirements: vec!["FAPI2-SP-AZ-01".to_owned()],
        verdict,
        conditions,
        exchanges: Vec::new(),
        duration_ms,
        expected_failures: Vec::new(),
        unmet_expectations: Vec::new(),
    }
}

fn fixture() -> RunResult {
    let pkj_dpop = v(ClientAuth::PrivateKeyJwt, Sender::Dpop, OpenId::OpenidConnect);
    let mtls_mtls = v(ClientAuth::Mtls, Sender::Mtls, OpenId::PlainOauth);

    let passed = module(
        "happy-path",
        pkj_dpop,
        Verdict::Passed,
        vec![cond("par.status_201", &["FAPI2-SP-AZ-01"], Severity::Failure, true, "201", "201")],
        123,
    );

    let mut status = cond("par.status_201", &["FAPI2-SP-AZ-05", "RFC9126-2.2"], Severity::Failure, false, "201", "400");
    status.hint = Some("servers built for FAPI 1 often accept the token endpoint URL as aud".to_owned());
    status.evidence = vec![0];
    let mut body = cond(
        "par.error_body",
        &["RFC9126-2.3"],
        Severity::Failure,
        false,
        "a JSON error object",
        "<script>alert(\"x\")</script> & \u{1b}[31mred",
    );
    body.evidence = vec![0, 7];
    let mut failed = module(
        "par-aud-issuer",
        pkj_dpop,
        Verdict::Failed,
        vec![cond("par.reachable", &[], Severity::Failure, true, "a response", "a response"), status, body],
        2_450,
    );
    failed.exchanges = vec![Exchange {
        step: "push authorization request".to_owned(),
        method: "POST".to_owned(),
        url: "https://as.example/par?x=1&y=<2>".to_owned(),
        request_headers: vec![("content-type".to_owned(), "application/x-www-form-urlencoded".to_owned())],
        request_body: Some("client_id=c1&client_assertion=eyJhbGci…".to_owned()),
        status: Some(400),
        response_headers: vec![("content-type".to_owned(), "text/html".to_owned())],
        response_body: Some("<html><script>alert('pwned')</script>&amp; \u{0}\u{1b}[2J\u{7}</html>".to_owned()),
        error: None,
        elapsed_ms: 37,
    }];

    let skipped = module(
        "dpop-nonce",
        mtls_mtls,
        Verdict::Skipped { reason: "sender constraint is mtls, not dpop".to_owned() },
        Vec::new(),
        0,
    );

    let mut warn =
        cond("discovery.cache_control", &["FAPI2-SP-GEN-02"], Severity::Warning, false, "Cache-Control set", "absent");
    warn.hint = Some("set Cache-Control: no-store or max-age".to_owned());
    let warning = module(
        "discovery",
        mtls_mtls,
        Verdict::Warning,
        vec![cond("discovery.status_200", &["OIDC-DISC-4"], Severity::Failure, true, "200", "200"), warn],
        310,
    );

    let mut expected = module(
        "token-reuse",
        mtls_mtls,
        Verdict::Failed,
        vec![cond(
            "token.code_reuse_revokes",
            &["RFC6749-4.1.2"],
            Severity::Failure,
            false,
            "tokens revoked",
            "token still active",
        )],
        1_020,
    );
    expected.expected_failures = vec![ExpectedFailure {
        condition: "token.code_reuse_revokes".to_owned(),
        reason: "revocation on code reuse is tracked in issue #42".to_owned(),
    }];

    let mut stale = module(
        "refresh-rotation",
        pkj_dpop,
        Verdict::Passed,
        vec![cond(
            "refresh.rotated",
            &["FAPI2-SP-AZ-12"],
            Severity::Failure,
            true,
            "new refresh token",
            "new refresh token",
        )],
        640,
    );
    stale.unmet_expectations = vec![ExpectedFailure {
        condition: "refresh.rotated".to_owned(),
        reason: "rotation was not implemented".to_owned(),
    }];

    let modules = vec![passed, failed, skipped, warning, expected, stale];
    let summary = RunResult::summarize(&modules);
    RunResult {
        target: "https://as.example/t1/w1".to_owned(),
        plans: vec![PLAN.to_owned()],
        started_at: "2025-06-01T12:00:00Z".to_owned(),
        duration_ms: 5_432,
        modules,
        summary,
    }
}

#[test]
fn fixture_summary_is_as_intended() {
    let run = fixture();
    let s = &run.summary;
    assert_eq!((s.passed, s.failed, s.warning, s.skipped), (2, 2, 1, 1));
    assert_eq!((s.expected_failures, s.unexpected_failures), (1, 2));
    assert!(!run.success());
}

#[test]
fn json_snapshot_round_trips() {
    let run = fixture();
    let json = report::json(&run);
    let back: RunResult = serde_json::from_str(&json).expect("report JSON parses back into a RunResult");
    assert_eq!(back.modules.len(), run.modules.len());
    insta::assert_snapshot!("json", json);
}

#[test]
fn junit_snapshot() {
    insta::assert_snapshot!("junit", report::junit(&fixture()));
}

#[test]
fn junit_is_well_formed_and_complete() {
    let xml = report::junit(&fixture());
    check_well_formed_xml(&xml).unwrap_or_else(|e| panic!("JUnit is not well-formed: {e}\n{xml}"));
    assert_eq!(xml.matches("<testsuite ").count(), 1);
    assert_eq!(xml.matches("<testcase ").count(), 6);
    // The unexpected failure and the stale expectation fail; the expected failure does not.
    assert_eq!(xml.matches("<failure ").count(), 2);
    assert!(xml.contains("type=\"par.status_201\""));
    assert!(xml.contains("type=\"stale-expected-failure\""));
    assert!(xml.contains("<skipped message=\"sender constraint is mtls, not dpop\"/>"));
    assert!(xml.contains("expected failure: revocation on code reuse is tracked in issue #42"));
    assert!(xml.contains("warning: discovery.cache_control"));
    assert!(xml.contains(
        "classname=\"fapi2-security-profile.client_auth=private_key_jwt,sender=dpop,openid=openid_connect\""
    ));
    assert!(xml.contains("time=\"2.450\""));
}

#[test]
fn junit_escapes_hostile_text_everywhere() {
    let mut run = fixture();
    run.modules[1].module = "a\"b<c>&d'\u{1}e\r\nf".to_owned();
    run.modules[1].conditions[1].id = "id\"<>&\u{0}".to_owned();
    run.plans[0] = "plan]]>\u{b}".to_owned();
    for m in &mut run.modules {
        m.plan = run.plans[0].clone();
    }
    let xml = report::junit(&run);
    check_well_formed_xml(&xml).unwrap_or_else(|e| panic!("JUnit is not well-formed: {e}\n{xml}"));
}

#[test]
fn html_snapshot() {
    insta::assert_snapshot!("html", report::html(&fixture()));
}

#[test]
fn html_has_no_live_markup_from_evidence() {
    let html = report::html(&fixture());
    assert!(!html.to_ascii_lowercase().contains("<script"), "unescaped <script> in the HTML");
    assert!(html.contains("&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;&amp;amp;"));
    assert!(html.contains("https://as.example/par?x=1&amp;y=&lt;2&gt;"));
    assert!(!html.contains('\u{0}') && !html.contains('\u{1b}') && !html.contains('\u{7}'));
    assert!(!html.contains("http://") && !html.contains("src="), "the page must not load anything");
    // Every failed condition and its evidence is there; the missing evidence index is reported.
    for needle in [
        "par.status_201",
        "par.error_body",
        "FAPI2-SP-AZ-05, RFC9126-2.2",
        "Evidence #0",
        "Evidence #7 is missing",
        "discovery.cache_control",
        "stale expected failure",
    ] {
        assert!(html.contains(needle), "missing {needle}");
    }
}

#[test]
fn summary_text_snapshot() {
    let text = report::summary_text(&fixture());
    assert!(!text.contains('\u{1b}'));
    insta::assert_snapshot!("summary_text", text);
}

/// A writer the test can read back.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("buffer lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().expect("buffer lock").clone()).expect("utf-8")
    }
}

#[test]
fn progress_plain_lines_when_not_interactive() {
    let run = fixture();
    let buf = Buffer::default();
    let progress = report::Progress::with_writer(run.modules.len(), false, Box::new(buf.clone()));
    for m in &run.modules {
        progress.module_finished(m);
    }
    progress.finish();
    let text = buf.text();
    assert!(!text.contains('\r') && !text.contains('\u{1b}'), "no redraws or escapes in plain mode: {text:?}");
    assert!(text.starts_with(
        "PASSED  happy-path  [client_auth=private_key_jwt,sender=dpop,openid=openid_connect]  (123 ms)\n"
    ));
    insta::assert_snapshot!("progress_plain", text);
}

#[test]
fn progress_interactive_redraws_the_bar() {
    let run = fixture();
    let buf = Buffer::default();
    let progress = report::Progress::with_writer(run.modules.len(), true, Box::new(buf.clone()));
    for m in &run.modules[..2] {
        progress.module_finished(m);
    }
    let text = buf.text();
    assert!(text.contains("2/6 modules"), "{text:?}");
    assert_eq!(text.matches("\r\u{1b}[2K").count(), 1, "the bar is erased before the second module line: {text:?}");
    progress.finish();
    let text = buf.text();
    assert!(text.ends_with("\r\u{1b}[2K"), "finish clears the bar: {text:?}");
    assert!(text.contains("observed: 400"), "the first failed condition is shown: {text:?}");
}

#[test]
fn progress_is_thread_safe() {
    let run = fixture();
    let buf = Buffer::default();
    let progress = Arc::new(report::Progress::with_writer(60, false, Box::new(buf.clone())));
    let handles: Vec<_> = (0..6)
        .map(|t| {
            let progress = Arc::clone(&progress);
            let m = run.modules[0].clone();
            std::thread::spawn(move || {
                for _ in 0..10 {
                    progress.module_finished(&m);
                }
                t
            })
        })
        .collect();
    for h in handles {
        h.join().expect("thread");
    }
    progress.finish();
    let text = buf.text();
    assert_eq!(text.lines().count(), 60);
    assert!(text.lines().all(|l| l.starts_with("PASSED  happy-path  [")), "{text}");
}

#[test]
fn progress_neutralises_terminal_escapes() {
    let run = fixture();
    let mut m = run.modules[1].clone();
    m.conditions.retain(|c| c.id == "par.error_body");
    let buf = Buffer::default();
    let progress = report::Progress::with_writer(1, false, Box::new(buf.clone()));
    progress.module_finished(&m);
    let text = buf.text();
    assert!(text.contains("observed: <script>alert(\"x\")</script> & \\u{1b}[31mred"), "{text}");
    assert!(!text.contains('\u{1b}'));
}

#[test]
fn xml_checker_rejects_bad_xml() {
    for bad in [
        "<a><b></a></b>",
        "<a>x < y</a>",
        "<a>fish & chips</a>",
        "<a b=\"<\"/>",
        "<a>\u{1b}</a>",
        "<a></a><b/>",
        "<a>",
        "<a b=\"1\" b=\"2\"/>",
    ] {
        assert!(check_well_formed_xml(bad).is_err(), "accepted {bad:?}");
    }
    check_well_formed_xml("<?xml version=\"1.0\"?>\n<a x='1' y=\"&lt;&#10;&#x41;\"><b/>t&amp;u</a>\n")
        .expect("good XML");
}

/// A minimal well-formedness check for the XML we emit (no DTD, comments, CDATA or PIs
/// beyond the declaration): balanced, properly nested tags; one root; quoted, unique
/// attributes; no raw `<` or bare `&` in text or attribute values; only XML 1.0 characters.
fn check_well_formed_xml(xml: &str) -> Result<(), String> {
    fn allowed(c: char) -> bool {
        matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
    }
    fn name_char(c: char) -> bool {
        c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')
    }
    fn check_text(text: &str) -> Result<(), String> {
        if let Some(c) = text.chars().find(|c| !allowed(*c)) {
            return Err(format!("character U+{:04X} not allowed in XML 1.0", u32::from(c)));
        }
        if text.contains('<') {
            return Err(format!("raw '<' in {text:?}"));
        }
        let mut rest = text;
        while let Some(i) = rest.find('&') {
            let after = &rest[i + 1..];
            let end = after.find(';').ok_or_else(|| format!("unterminated reference in {text:?}"))?;
            let entity = &after[..end];
            let ok = matches!(entity, "lt" | "gt" | "amp" | "quot" | "apos")
                || entity.strip_prefix("#x").is_some_and(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit()))
                || entity.strip_prefix('#').is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()));
            if !ok {
                return Err(format!("bad reference &{entity}; in {text:?}"));
            }
            rest = &after[end + 1..];
        }
        Ok(())
    }

    let mut rest = xml;
    if let Some(after) = rest.strip_prefix("<?xml") {
        let end = after.find("?>").ok_or("unterminated XML declaration")?;
        rest = &after[end + 2..];
    }
    let mut stack: Vec<&str> = Vec::new();
    let mut roots = 0;
    while !rest.is_empty() {
        let Some(lt) = rest.find('<') else {
            check_text(rest)?;
            if !stack.is_empty() || !rest.trim().is_empty() {
                return Err(format!("trailing text {rest:?}"));
            }
            break;
        };
        let text = &rest[..lt];
        check_text(text)?;
        if stack.is_empty() && !text.trim().is_empty() {
            return Err(format!("text outside the root element: {text:?}"));
        }
        rest = &rest[lt + 1..];
        if let Some(after) = rest.strip_prefix('/') {
            let gt = after.find('>').ok_or("unterminated end tag")?;
            let name = after[..gt].trim_end();
            match stack.pop() {
                Some(open) if open == name => {}
                other => return Err(format!("</{name}> closes {other:?}")),
            }
            rest = &after[gt + 1..];
            continue;
        }
        // Start tag: name, then attributes up to '>' or '/>'.
        let name_len = rest.find(|c: char| !name_char(c)).ok_or("unterminated start tag")?;
        let name = &rest[..name_len];
        if name.is_empty() {
            return Err(format!("bad tag start near {:?}", &rest[..rest.len().min(20)]));
        }
        if stack.is_empty() {
            roots += 1;
            if roots > 1 {
                return Err(format!("second root element <{name}>"));
            }
        }
        rest = &rest[name_len..];
        let mut seen: Vec<&str> = Vec::new();
        loop {
            let trimmed = rest.trim_start();
            if let Some(after) = trimmed.strip_prefix("/>") {
                rest = after;
                break;
            }
            if let Some(after) = trimmed.strip_prefix('>') {
                stack.push(name);
                rest = after;
                break;
            }
            if trimmed.len() == rest.len() {
                return Err(format!("attributes of <{name}> must be separated by whitespace"));
            }
            let attr_len = trimmed.find(|c: char| !name_char(c)).ok_or("unterminated attribute")?;
            let attr = &trimmed[..attr_len];
            if attr.is_empty() {
                return Err(format!("bad attribute in <{name}> near {:?}", &trimmed[..trimmed.len().min(20)]));
            }
            if seen.contains(&attr) {
                return Err(format!("duplicate attribute {attr} in <{name}>"));
            }
            seen.push(attr);
            let after =
                trimmed[attr_len..].trim_start().strip_prefix('=').ok_or(format!("{attr} without '='"))?.trim_start();
            let quote =
                after.chars().next().filter(|q| *q == '"' || *q == '\'').ok_or(format!("{attr} value unquoted"))?;
            let value_end = after[1..].find(quote).ok_or(format!("{attr} value unterminated"))?;
            check_text(&after[1..1 + value_end])?;
            rest = &after[1 + value_end + 1..];
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!("<{open}> never closed"));
    }
    if roots != 1 {
        return Err("no root element".to_owned());
    }
    Ok(())
}
