//! Helpers shared by the sandbox-backed harness tests.

use std::fmt::Write as _;

use fapilab_conformance::model::ModuleResult;

/// A failed module with its failed conditions and the exchanges they cite, for assertion
/// messages.
pub fn describe(r: &ModuleResult) -> String {
    let mut s = format!("{} [{}]: {:?}\n", r.module, r.variant, r.verdict);
    for c in r.conditions.iter().filter(|c| !c.passed) {
        let _ = writeln!(s, "  FAILED {} ({:?}): expected {} / observed {}", c.id, c.severity, c.expected, c.observed);
        for e in &c.evidence {
            if let Some(x) = r.exchanges.get(*e) {
                let body: String = x.response_body.as_deref().unwrap_or("").chars().take(400).collect();
                let _ = writeln!(s, "     {} {} -> {:?} {:?} {body}", x.method, x.url, x.status, x.error);
            }
        }
    }
    s
}
