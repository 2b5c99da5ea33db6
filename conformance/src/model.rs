//! The result model: a run holds module results; a module result holds the conditions that
//! were checked and the HTTP exchanges they cite as evidence. Every module ends in a
//! machine-checked verdict — there is no "review by a human".

use serde::{Deserialize, Serialize};

use crate::variant::Variant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Failure,
}

/// One check: what was expected, what was observed, and why it matters.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Condition {
    /// Stable id, e.g. `par.status_201` or `token.error_code`.
    pub id: String,
    /// Requirement ids from `shared/spec/` this condition checks, e.g. `FAPI2-SP-AZ-05`.
    pub requirements: Vec<String>,
    pub severity: Severity,
    pub passed: bool,
    /// One sentence: what was checked.
    pub summary: String,
    pub expected: String,
    pub observed: String,
    /// The usual cause when this fails (e.g. "servers built for FAPI 1 often accept the token
    /// endpoint URL as aud").
    pub hint: Option<String>,
    /// Indexes into the module's `exchanges`.
    pub evidence: Vec<usize>,
}

/// One HTTP exchange, redacted: no private keys; tokens, codes and assertions shortened.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Exchange {
    pub step: String,
    pub method: String,
    pub url: String,
    pub request_headers: Vec<(String, String)>,
    pub request_body: Option<String>,
    pub status: Option<u16>,
    pub response_headers: Vec<(String, String)>,
    pub response_body: Option<String>,
    /// Transport failure (TLS refused, connection reset…) instead of a response.
    pub error: Option<String>,
    pub elapsed_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    Passed,
    Failed,
    Warning,
    Skipped { reason: String },
}

impl Verdict {
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Passed => "PASSED",
            Verdict::Failed => "FAILED",
            Verdict::Warning => "WARNING",
            Verdict::Skipped { .. } => "SKIPPED",
        }
    }
}

/// A failure that the expected-failures file lists for this plan, variant and module.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExpectedFailure {
    pub condition: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModuleResult {
    pub plan: String,
    pub module: String,
    pub title: String,
    pub variant: Variant,
    pub requirements: Vec<String>,
    pub verdict: Verdict,
    pub conditions: Vec<Condition>,
    pub exchanges: Vec<Exchange>,
    pub duration_ms: u64,
    /// Set when the module failed only on conditions the expected-failures file lists.
    pub expected_failures: Vec<ExpectedFailure>,
    /// Expected-failure entries for this module that did not fail: the list has rotted, and
    /// that fails the run.
    pub unmet_expectations: Vec<ExpectedFailure>,
}

impl ModuleResult {
    /// Failed on something nobody listed as expected.
    pub fn failed_unexpectedly(&self) -> bool {
        (self.verdict == Verdict::Failed && self.expected_failures.is_empty()) || !self.unmet_expectations.is_empty()
    }

    /// The verdict from the conditions: any failed `Failure` condition fails the module, any
    /// failed `Warning` condition makes it a warning.
    pub fn verdict_from(conditions: &[Condition]) -> Verdict {
        if conditions.iter().any(|c| !c.passed && c.severity == Severity::Failure) {
            Verdict::Failed
        } else if conditions.iter().any(|c| !c.passed && c.severity == Severity::Warning) {
            Verdict::Warning
        } else {
            Verdict::Passed
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub warning: usize,
    pub skipped: usize,
    pub expected_failures: usize,
    pub unexpected_failures: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunResult {
    /// What was tested: the issuer.
    pub target: String,
    pub plans: Vec<String>,
    pub started_at: String,
    pub duration_ms: u64,
    pub modules: Vec<ModuleResult>,
    pub summary: Summary,
}

impl RunResult {
    pub fn summarize(modules: &[ModuleResult]) -> Summary {
        let mut s = Summary::default();
        for m in modules {
            match m.verdict {
                Verdict::Passed => s.passed += 1,
                Verdict::Failed => s.failed += 1,
                Verdict::Warning => s.warning += 1,
                Verdict::Skipped { .. } => s.skipped += 1,
            }
            if m.verdict == Verdict::Failed && !m.expected_failures.is_empty() && m.unmet_expectations.is_empty() {
                s.expected_failures += 1;
            }
            if m.failed_unexpectedly() {
                s.unexpected_failures += 1;
            }
        }
        s
    }

    /// Exit code 0 only when nothing failed unexpectedly and no expectation rotted.
    pub fn success(&self) -> bool {
        self.summary.unexpected_failures == 0
    }
}
