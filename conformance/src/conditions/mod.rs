//! Conditions: small functions that turn one observation into [`Condition`]s, each with the
//! requirement ids it checks (`FAPI2-SP-…` from `shared/spec/fapi2-security-profile.md`, the
//! building-block ids from `shared/spec/oauth-building-blocks.md`), what was expected, what
//! was observed, the exchanges that show it and a hint for the usual cause.
//!
//! One file per area: discovery (§3.1 of the suite research), PAR (§3.2), authorization
//! response (§3.3), token (§3.5), ID token (§3.6), error responses (§3.7), keys (§3.8), TLS
//! (§3.9), resource and DPoP (§3.10); client registration and its management, with the FDX
//! client status (`shared/spec/oauth-building-blocks.md` §5, `shared/spec/fdx.md`); passkey
//! options, refusals and sign-in claims (`shared/spec/passkeys.md`).

pub mod authorize;
pub mod ciba;
pub mod discovery;
pub mod errors;
pub mod hybrid;
pub mod id_token;
pub mod introspection;
pub mod jarm;
pub mod keys;
pub mod par;
pub mod passkeys;
pub mod registration;
pub mod request_object;
pub mod resource;
pub mod tls;
pub mod token;

use crate::model::{Condition, Severity};

/// Builds one [`Condition`]; severity defaults to `Failure`.
#[derive(Debug, Clone)]
pub struct Check(Condition);

impl Check {
    pub fn new(id: &str, summary: impl Into<String>) -> Check {
        Check(Condition {
            id: id.to_owned(),
            requirements: Vec::new(),
            severity: Severity::Failure,
            passed: false,
            summary: summary.into(),
            expected: String::new(),
            observed: String::new(),
            hint: None,
            evidence: Vec::new(),
        })
    }

    pub fn req(mut self, ids: &[&str]) -> Check {
        self.0.requirements.extend(ids.iter().map(|s| (*s).to_owned()));
        self
    }

    pub fn warning(mut self) -> Check {
        self.0.severity = Severity::Warning;
        self
    }

    pub fn info(mut self) -> Check {
        self.0.severity = Severity::Info;
        self
    }

    pub fn severity(mut self, s: Severity) -> Check {
        self.0.severity = s;
        self
    }

    pub fn expected(mut self, s: impl Into<String>) -> Check {
        self.0.expected = s.into();
        self
    }

    pub fn observed(mut self, s: impl Into<String>) -> Check {
        self.0.observed = s.into();
        self
    }

    pub fn hint(mut self, s: impl Into<String>) -> Check {
        self.0.hint = Some(s.into());
        self
    }

    pub fn evidence(mut self, indexes: &[usize]) -> Check {
        self.0.evidence.extend_from_slice(indexes);
        self
    }

    /// Finishes the condition with its outcome.
    pub fn pass(mut self, passed: bool) -> Condition {
        self.0.passed = passed;
        self.0
    }
}

/// Estimated entropy in bits: Shannon entropy of the character distribution × length (the
/// suite's estimate, FAPI2-SP-CR-06). A random base64url value of n characters scores a bit
/// under 6n, a value made of one repeated character scores 0.
pub fn estimated_entropy_bits(value: &str) -> f64 {
    let mut counts = std::collections::HashMap::new();
    let mut n = 0usize;
    for c in value.chars() {
        *counts.entry(c).or_insert(0usize) += 1;
        n += 1;
    }
    if n == 0 {
        return 0.0;
    }
    #[allow(clippy::cast_precision_loss)]
    let total = n as f64;
    let per_char: f64 = counts
        .values()
        .map(|&c| {
            #[allow(clippy::cast_precision_loss)]
            let p = c as f64 / total;
            -p * p.log2()
        })
        .sum();
    per_char * total
}

/// A secret value has at least 128 bits of length (22 base64url characters) and more than 96
/// bits of estimated entropy (FAPI2-SP-CR-06; the suite's thresholds).
pub fn check_secret_entropy(id: &str, what: &str, value: &str, evidence: &[usize]) -> Condition {
    let bits = estimated_entropy_bits(value);
    let len = value.chars().count();
    Check::new(id, format!("{what} has at least 128 bits of randomness"))
        .req(&["FAPI2-SP-CR-06"])
        .expected("≥ 22 characters (128 bits as base64url) and > 96 bits of estimated (Shannon) entropy")
        .observed(format!("{len} characters, about {bits:.0} bits estimated"))
        .hint("generate it from a CSPRNG with 32 random bytes, base64url-encoded")
        .evidence(evidence)
        .pass(len >= 22 && bits > 96.0)
}

/// Printable ASCII (%x20-7E) only.
pub fn printable_ascii(s: &str) -> bool {
    s.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_estimates() {
        assert!(estimated_entropy_bits(&fapilab_jose::random_token(32)) > 150.0);
        assert!(estimated_entropy_bits(&"a".repeat(100)) < 1.0);
        assert!(!check_secret_entropy("x", "x", "abc", &[]).passed);
    }
}
