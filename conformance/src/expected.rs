//! The expected-failures file: known failures of a target, each with a reason, so a run can
//! pass while they are being fixed — and fails again once one is fixed and not removed.
//!
//! ```toml
//! [[expected]]
//! plan = "fapi2-security-profile"
//! variant = "client_auth=mtls,sender=dpop"   # a VariantFilter, or "*" (the default) for all
//! module = "par-plain-pkce-rejected"
//! condition = "par.status"
//! reason = "PKCE plain is still accepted; fix tracked in BANK-123"
//! ```
//!
//! Applied to results ([`ExpectedFailures::apply`]): a FAILED module whose every failed
//! `Failure` condition is listed gets `expected_failures` (it then does not count as an
//! unexpected failure); each listed entry whose module ran in that variant but whose condition
//! did not fail lands in `unmet_expectations`, which fails the run.

use std::path::Path;

use toml::de::{DeTable, DeValue};
use toml::{Spanned, Table, Value};

use crate::load::line_col;
use crate::model::{ExpectedFailure, ModuleResult, Severity, Verdict};
use crate::plan::Plan;
use crate::variant::VariantFilter;

#[derive(Debug, thiserror::Error)]
pub enum ExpectedError {
    #[error("{file}: cannot read: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}:{line}:{column}: invalid TOML: {message}")]
    Syntax { file: String, line: usize, column: usize, message: String },
    #[error("{file}:{line}: {message}")]
    Invalid { file: String, line: usize, message: String },
}

/// One `[[expected]]` entry.
#[derive(Debug, Clone)]
pub struct ExpectedEntry {
    pub plan: String,
    /// As written (`*` when absent).
    pub variant: String,
    /// The variants it matches.
    pub filter: VariantFilter,
    pub module: String,
    pub condition: String,
    pub reason: String,
    /// Where it was written, for messages.
    pub file: String,
    pub line: usize,
}

impl ExpectedEntry {
    fn matches(&self, r: &ModuleResult) -> bool {
        self.plan == r.plan && self.module == r.module && self.filter.matches(&r.variant)
    }
}

#[derive(Debug, Clone, Default)]
pub struct ExpectedFailures {
    pub entries: Vec<ExpectedEntry>,
}

const TOP_KEYS: &[&str] = &["expected"];
const ENTRY_KEYS: &[&str] = &["plan", "variant", "module", "condition", "reason"];

impl ExpectedFailures {
    /// Reads and validates an expected-failures file.
    pub fn load(path: &Path) -> Result<ExpectedFailures, ExpectedError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ExpectedError::Io { file: file.clone(), source })?;
        Self::parse(&file, &text)
    }

    /// Validates an expected-failures file's text; `file` names it in messages.
    pub fn parse(file: &str, text: &str) -> Result<ExpectedFailures, ExpectedError> {
        let syntax = |e: toml::de::Error| {
            let (line, column) = e.span().map_or((1, 1), |s| line_col(text, s.start));
            ExpectedError::Syntax { file: file.to_string(), line, column, message: e.message().trim().to_string() }
        };
        let values: Table = toml::from_str(text).map_err(syntax)?;
        let spans = DeTable::parse(text).map_err(syntax)?;
        let spans = spans.get_ref();
        let err = |span: std::ops::Range<usize>, message: String| ExpectedError::Invalid {
            file: file.to_string(),
            line: line_col(text, span.start).0,
            message,
        };

        for (key, _) in spans.iter() {
            if !TOP_KEYS.contains(&key.get_ref().as_ref()) {
                return Err(err(key.span(), format!("unknown key {:?}; expected [[expected]] entries", key.get_ref())));
            }
        }
        let Some(value) = values.get("expected") else { return Ok(ExpectedFailures::default()) };
        let Value::Array(items) = value else {
            return Err(err(
                spans.get_key_value("expected").map_or(0..0, |(k, _)| k.span()),
                format!("`expected` is a {}; expected [[expected]] tables", value.type_str()),
            ));
        };
        let item_spans: Vec<&Spanned<DeValue<'_>>> = match spans.get("expected").map(Spanned::get_ref) {
            Some(DeValue::Array(a)) => a.iter().collect(),
            _ => Vec::new(),
        };

        let mut entries = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let header = item_spans.get(i).map_or(0..0, |s| s.span());
            let Value::Table(table) = item else {
                return Err(err(
                    header,
                    format!("entry {} is a {}; expected an [[expected]] table", i + 1, item.type_str()),
                ));
            };
            let empty = DeTable::new();
            let sub = match item_spans.get(i).map(|s| s.get_ref()) {
                Some(DeValue::Table(t)) => t,
                _ => &empty,
            };
            let key_span = |key: &str| sub.get_key_value(key).map_or_else(|| header.clone(), |(k, _)| k.span());
            for (key, _) in table {
                if !ENTRY_KEYS.contains(&key.as_str()) {
                    return Err(err(
                        key_span(key),
                        format!("unknown key {key:?} in [[expected]]; expected one of: {}", ENTRY_KEYS.join(", ")),
                    ));
                }
            }
            let field = |key: &str, required: bool, what: &str| -> Result<Option<String>, ExpectedError> {
                match table.get(key) {
                    Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
                    Some(Value::String(_)) => Err(err(key_span(key), format!("`{key}` is empty; expected {what}"))),
                    Some(other) => {
                        Err(err(key_span(key), format!("`{key}` is a {}; expected {what}", other.type_str())))
                    }
                    None if required => {
                        Err(err(header.clone(), format!("[[expected]] entry has no `{key}`; expected {what}")))
                    }
                    None => Ok(None),
                }
            };
            let plan = field("plan", true, "a plan name")?.unwrap_or_default();
            let module = field("module", true, "a module name")?.unwrap_or_default();
            let condition = field("condition", true, "a condition id, e.g. \"par.status\"")?.unwrap_or_default();
            let reason = field("reason", true, "why this failure is expected (e.g. a ticket)")?.unwrap_or_default();
            let variant = field("variant", false, "a variant filter like \"sender=dpop\", or \"*\"")?
                .unwrap_or_else(|| "*".to_string());
            let filter = if variant == "*" {
                VariantFilter::default()
            } else {
                VariantFilter::parse(&variant).map_err(|e| err(key_span("variant"), format!("bad variant {variant:?}: {e}")))?
            };
            entries.push(ExpectedEntry {
                plan,
                variant,
                filter,
                module,
                condition,
                reason,
                file: file.to_string(),
                line: line_col(text, header.start).0,
            });
        }
        Ok(ExpectedFailures { entries })
    }

    /// Checks that every entry names a loaded plan and one of its modules, so a renamed module
    /// does not silently orphan its entries.
    pub fn check_against(&self, plans: &[Plan]) -> Result<(), ExpectedError> {
        for e in &self.entries {
            let invalid = |message: String| ExpectedError::Invalid { file: e.file.clone(), line: e.line, message };
            let Some(plan) = plans.iter().find(|p| p.name == e.plan) else {
                let names: Vec<&str> = plans.iter().map(|p| p.name.as_str()).collect();
                return Err(invalid(format!("unknown plan {:?}; expected one of: {}", e.plan, names.join(", "))));
            };
            if !plan.modules.iter().any(|m| m.module == e.module) {
                return Err(invalid(format!("unknown module {:?} in plan {:?}", e.module, e.plan)));
            }
        }
        Ok(())
    }

    /// Sets `expected_failures` and `unmet_expectations` on every result.
    pub fn apply(&self, results: &mut [ModuleResult]) {
        for r in results {
            self.apply_one(r);
        }
    }

    /// Sets `expected_failures` and `unmet_expectations` on one result (replacing any).
    pub fn apply_one(&self, r: &mut ModuleResult) {
        r.expected_failures.clear();
        r.unmet_expectations.clear();
        // A skipped module did not run: its expectations are neither met nor rotted.
        if matches!(r.verdict, Verdict::Skipped { .. }) {
            return;
        }
        let listed: Vec<&ExpectedEntry> = self.entries.iter().filter(|e| e.matches(r)).collect();
        if listed.is_empty() {
            return;
        }
        let mut failed: Vec<&str> = r
            .conditions
            .iter()
            .filter(|c| !c.passed && c.severity == Severity::Failure)
            .map(|c| c.id.as_str())
            .collect();
        failed.sort_unstable();
        failed.dedup();
        let all_listed = !failed.is_empty() && failed.iter().all(|id| listed.iter().any(|e| e.condition == *id));
        let mut seen: Vec<&str> = Vec::new();
        for e in listed {
            if seen.contains(&e.condition.as_str()) {
                continue;
            }
            seen.push(&e.condition);
            let entry = ExpectedFailure { condition: e.condition.clone(), reason: e.reason.clone() };
            if failed.contains(&e.condition.as_str()) {
                if r.verdict == Verdict::Failed && all_listed {
                    r.expected_failures.push(entry);
                }
            } else {
                r.unmet_expectations.push(entry);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Condition;

    fn cond(id: &str, passed: bool, severity: Severity) -> Condition {
        Condition {
            id: id.to_string(),
            requirements: vec![],
            severity,
            passed,
            summary: String::new(),
            expected: String::new(),
            observed: String::new(),
            hint: None,
            evidence: vec![],
        }
    }

    fn result(module: &str, variant: Variant, conditions: Vec<Condition>) -> ModuleResult {
        ModuleResult {
            plan: "p".to_string(),
            module: module.to_string(),
            title: String::new(),
            variant,
            requirements: vec![],
            verdict: ModuleResult::verdict_from(&conditions),
            conditions,
            exchanges: vec![],
            duration_ms: 0,
            expected_failures: vec![],
            unmet_expectations: vec![],
        }
    }

    const FILE: &str = r#"# known failures
[[expected]]
plan = "p"
variant = "sender=dpop"
module = "m"
condition = "par.status"
reason = "BANK-1"

[[expected]]
plan = "p"
module = "n"
condition = "token.aud"
reason = "BANK-2"
"#;

    use crate::variant::Variant;

    fn variant(spec: &str) -> Variant {
        Variant::filter(spec).expect("filter")[0]
    }

    #[test]
    fn parses_entries() {
        let x = ExpectedFailures::parse("x.toml", FILE).expect("valid");
        assert_eq!(x.entries.len(), 2);
        assert_eq!(x.entries[0].filter.select(&Variant::all()).len(), 4);
        assert_eq!(x.entries[0].line, 2);
        assert_eq!(x.entries[1].variant, "*");
        assert_eq!(x.entries[1].filter.select(&Variant::all()).len(), 8);
        assert!(ExpectedFailures::parse("x.toml", "").expect("empty").entries.is_empty());
    }

    fn message(text: &str) -> String {
        ExpectedFailures::parse("x.toml", text).expect_err("invalid").to_string()
    }

    #[test]
    fn validation_errors_name_file_line_and_key() {
        assert_eq!(
            message(&FILE.replace("reason = \"BANK-2\"\n", "")),
            "x.toml:9: [[expected]] entry has no `reason`; expected why this failure is expected (e.g. a ticket)"
        );
        assert_eq!(
            message(&FILE.replace("reason = \"BANK-1\"", "reason = \"\"")),
            "x.toml:7: `reason` is empty; expected why this failure is expected (e.g. a ticket)"
        );
        let m = message(&FILE.replace("variant = \"sender=dpop\"", "variant = \"sender=bearer\""));
        assert!(m.starts_with("x.toml:4: bad variant \"sender=bearer\""), "{m}");
        let m = message(&FILE.replace("condition = \"token.aud\"", "conditon = \"token.aud\""));
        assert!(m.starts_with("x.toml:12: unknown key \"conditon\" in [[expected]]; expected one of: plan,"), "{m}");
        let m = message("[[expectd]]\nplan = \"p\"\n");
        assert!(m.starts_with("x.toml:1: unknown key \"expectd\""), "{m}");
        let m = message("[[expected]]\nplan = = \"p\"\n");
        assert!(m.starts_with("x.toml:2:8: invalid TOML"), "{m}");
        let m = message(&FILE.replace("module = \"m\"", "module = 3"));
        assert!(m.starts_with("x.toml:5: `module` is a integer"), "{m}");
    }

    #[test]
    fn listed_failure_is_expected() {
        let x = ExpectedFailures::parse("x.toml", FILE).expect("valid");
        let mut r = result(
            "m",
            variant("sender=dpop"),
            vec![cond("par.status", false, Severity::Failure), cond("par.warn", false, Severity::Warning)],
        );
        x.apply_one(&mut r);
        assert_eq!(r.expected_failures.len(), 1);
        assert_eq!(r.expected_failures[0].reason, "BANK-1");
        assert!(r.unmet_expectations.is_empty());
        assert!(!r.failed_unexpectedly());
    }

    #[test]
    fn unlisted_failure_stays_unexpected() {
        let x = ExpectedFailures::parse("x.toml", FILE).expect("valid");
        let mut r = result(
            "m",
            variant("sender=dpop"),
            vec![cond("par.status", false, Severity::Failure), cond("par.other", false, Severity::Failure)],
        );
        x.apply_one(&mut r);
        assert!(r.expected_failures.is_empty());
        assert!(r.unmet_expectations.is_empty());
        assert!(r.failed_unexpectedly());
    }

    #[test]
    fn entry_for_another_variant_does_not_apply() {
        let x = ExpectedFailures::parse("x.toml", FILE).expect("valid");
        let mut r = result("m", variant("sender=mtls"), vec![cond("par.status", false, Severity::Failure)]);
        x.apply_one(&mut r);
        assert!(r.expected_failures.is_empty());
        assert!(r.failed_unexpectedly());
        // …and a passing module in that variant does not rot the entry either.
        let mut r = result("m", variant("sender=mtls"), vec![cond("par.status", true, Severity::Failure)]);
        x.apply_one(&mut r);
        assert!(r.unmet_expectations.is_empty());
    }

    #[test]
    fn fixed_failure_rots_the_entry() {
        let x = ExpectedFailures::parse("x.toml", FILE).expect("valid");
        let mut r = result("n", variant(""), vec![cond("token.aud", true, Severity::Failure)]);
        x.apply_one(&mut r);
        assert_eq!(r.unmet_expectations.len(), 1);
        assert_eq!(r.unmet_expectations[0].condition, "token.aud");
        assert!(r.failed_unexpectedly());
        let summary = crate::model::RunResult::summarize(&[r]);
        assert_eq!(summary.unexpected_failures, 1);
    }

    #[test]
    fn skipped_module_neither_meets_nor_rots() {
        let x = ExpectedFailures::parse("x.toml", FILE).expect("valid");
        let mut r = result("n", variant(""), vec![]);
        r.verdict = Verdict::Skipped { reason: "no second client".to_string() };
        x.apply_one(&mut r);
        assert!(r.unmet_expectations.is_empty() && r.expected_failures.is_empty());
    }

    #[test]
    fn checks_plan_and_module_names() {
        let x = ExpectedFailures::parse("x.toml", FILE).expect("valid");
        let err = x.check_against(&[]).expect_err("no plans");
        assert!(err.to_string().starts_with("x.toml:2: unknown plan \"p\""), "{err}");
    }
}
