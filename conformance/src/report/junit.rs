//! JUnit XML: one `<testsuite>` per plan, one `<testcase>` per module × variant.
//!
//! - FAILED → `<failure type="{first failed condition id}">` listing every failed
//!   `Failure`-severity condition (id, requirements, expected, observed, hint);
//! - SKIPPED → `<skipped message="{reason}"/>`;
//! - WARNING → passes, `<system-out>` lists the warnings;
//! - an expected failure → passes, `<system-out>` says `expected failure: {reason}`;
//! - an unmet expectation (a listed failure that no longer happens) →
//!   `<failure type="stale-expected-failure">`.
//!
//! A testcase carries at most one `<failure>` (the Ant/Jenkins schema allows only one): when a
//! module both fails unexpectedly and has stale expectations, the stale entries are listed in
//! the same failure's text. A failed testcase's skip reason, if any, goes to `<system-out>`.

use std::fmt::Write as _;

use super::{
    esc, esc_attr, failed_conditions, is_expected_failure, is_unexpected_failure, plans_in_order, requirement_list,
    seconds, warning_conditions,
};
use crate::model::{Condition, ModuleResult, RunResult, Verdict};

/// Longest `message` attribute; the full text is in the element body.
const MESSAGE_MAX: usize = 240;

struct Failure {
    kind: String,
    message: String,
    text: String,
}

struct Case {
    failure: Option<Failure>,
    skipped: Option<String>,
    system_out: Vec<String>,
}

/// JUnit XML for the whole run.
pub fn junit(run: &RunResult) -> String {
    let mut suites = String::new();
    let (mut tests, mut failures, mut skipped) = (0usize, 0usize, 0usize);
    for plan in plans_in_order(run) {
        let modules: Vec<&ModuleResult> = run.modules.iter().filter(|m| m.plan == plan).collect();
        let cases: Vec<(&ModuleResult, Case)> = modules.iter().map(|m| (*m, case(m))).collect();
        let suite_failures = cases.iter().filter(|(_, c)| c.failure.is_some()).count();
        let suite_skipped = cases.iter().filter(|(_, c)| c.failure.is_none() && c.skipped.is_some()).count();
        let suite_ms: u64 = modules.iter().map(|m| m.duration_ms).sum();
        tests += cases.len();
        failures += suite_failures;
        skipped += suite_skipped;

        let _ = writeln!(
            suites,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{suite_failures}\" errors=\"0\" skipped=\"{suite_skipped}\" time=\"{}\" timestamp=\"{}\">",
            esc_attr(&plan),
            cases.len(),
            seconds(suite_ms),
            esc_attr(&run.started_at),
        );
        suites.push_str("    <properties>\n");
        let _ = writeln!(suites, "      <property name=\"target\" value=\"{}\"/>", esc_attr(&run.target));
        suites.push_str("    </properties>\n");
        for (m, c) in &cases {
            write_case(&mut suites, m, c);
        }
        suites.push_str("  </testsuite>\n");
    }

    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"fapilab conformance\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{}\">",
        seconds(run.duration_ms),
    );
    out.push_str(&suites);
    out.push_str("</testsuites>\n");
    out
}

fn case(m: &ModuleResult) -> Case {
    let mut system_out = Vec::new();
    let mut failure = None;
    let mut skipped = None;

    if is_unexpected_failure(m) {
        let failed: Vec<&Condition> = failed_conditions(m).collect();
        let (kind, message) = match failed.first() {
            Some(c) => (c.id.clone(), condition_message(c)),
            None => ("failed".to_owned(), "the module failed without a failed condition".to_owned()),
        };
        let text = failed.iter().map(|c| condition_block(c)).collect::<Vec<_>>().join("\n");
        failure = Some(Failure { kind, message, text });
    }
    if is_expected_failure(m) {
        for e in &m.expected_failures {
            system_out.push(format!("expected failure: {} (condition {})", e.reason, e.condition));
        }
        for c in failed_conditions(m) {
            system_out.push(condition_block(c));
        }
    }
    if !m.unmet_expectations.is_empty() {
        let stale = m
            .unmet_expectations
            .iter()
            .map(|e| {
                format!(
                    "stale expected failure: {} did not fail; the expected-failures file lists it ({}): remove the entry\n",
                    e.condition, e.reason
                )
            })
            .collect::<String>();
        failure = Some(match failure {
            Some(mut f) => {
                f.text.push('\n');
                f.text.push_str(&stale);
                f
            }
            None => {
                let message = match m.unmet_expectations.as_slice() {
                    [one] => format!("expected failure {} no longer happens", one.condition),
                    many => format!("{} expected failures no longer happen", many.len()),
                };
                Failure { kind: "stale-expected-failure".to_owned(), message, text: stale }
            }
        });
    }
    for c in warning_conditions(m) {
        system_out.push(format!("warning: {}", condition_block(c)));
    }
    if let Verdict::Skipped { reason } = &m.verdict {
        if failure.is_some() {
            system_out.push(format!("skipped: {reason}"));
        } else {
            skipped = Some(reason.clone());
        }
    }
    Case { failure, skipped, system_out }
}

/// One line: `par.status_201: expected 201, observed 400`, cut at [`MESSAGE_MAX`] characters.
fn condition_message(c: &Condition) -> String {
    let line = format!("{}: expected {}, observed {}", c.id, c.expected, c.observed);
    let line = line.replace(['\r', '\n'], " ");
    if line.chars().count() > MESSAGE_MAX {
        let mut cut: String = line.chars().take(MESSAGE_MAX - 1).collect();
        cut.push('…');
        cut
    } else {
        line
    }
}

fn condition_block(c: &Condition) -> String {
    let mut s = format!(
        "{} [{}]: {}\n  expected: {}\n  observed: {}\n",
        c.id,
        requirement_list(&c.requirements),
        c.summary,
        c.expected,
        c.observed
    );
    if let Some(hint) = &c.hint {
        let _ = writeln!(s, "  hint: {hint}");
    }
    s
}

fn write_case(out: &mut String, m: &ModuleResult, c: &Case) {
    let open = format!(
        "    <testcase classname=\"{}\" name=\"{}\" time=\"{}\"",
        esc_attr(&format!("{}.{}", m.plan, m.variant.label())),
        esc_attr(&m.module),
        seconds(m.duration_ms),
    );
    if c.failure.is_none() && c.skipped.is_none() && c.system_out.is_empty() {
        let _ = writeln!(out, "{open}/>");
        return;
    }
    let _ = writeln!(out, "{open}>");
    if let Some(f) = &c.failure {
        let _ = writeln!(
            out,
            "      <failure message=\"{}\" type=\"{}\">{}</failure>",
            esc_attr(&f.message),
            esc_attr(&f.kind),
            esc(&f.text)
        );
    }
    if let Some(reason) = &c.skipped {
        let _ = writeln!(out, "      <skipped message=\"{}\"/>", esc_attr(reason));
    }
    if !c.system_out.is_empty() {
        let _ = writeln!(out, "      <system-out>{}</system-out>", esc(&c.system_out.join("\n")));
    }
    out.push_str("    </testcase>\n");
}
