//! Password policies of identity pools, checked sans-IO. A refused password gets every unmet
//! rule at once, so a user (or an import script) fixes it in one go.

use serde::{Deserialize, Serialize};

/// What a pool requires of a password. Counts are minimums; lengths count characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordPolicy {
    pub min_length: usize,
    pub max_length: usize,
    pub min_lowercase: usize,
    pub min_uppercase: usize,
    pub min_digits: usize,
    /// Characters that are neither letters nor digits.
    pub min_special: usize,
    /// The password may not equal one of the user's identifiers (case-insensitively).
    pub differ_from_identifiers: bool,
}

impl Default for PasswordPolicy {
    /// NIST SP 800-63B §5.1.1.2: at least 8 characters, at least 64 allowed; this server
    /// asks for 12 by default and allows 128 (argon2id hashes any length, the cap bounds work).
    fn default() -> Self {
        PasswordPolicy {
            min_length: 12,
            max_length: 128,
            min_lowercase: 0,
            min_uppercase: 0,
            min_digits: 0,
            min_special: 0,
            differ_from_identifiers: true,
        }
    }
}

/// One unmet rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyViolation {
    TooShort { min: usize },
    TooLong { max: usize },
    Lowercase { min: usize },
    Uppercase { min: usize },
    Digits { min: usize },
    Special { min: usize },
    EqualsIdentifier,
}

impl std::fmt::Display for PolicyViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PolicyViolation::TooShort { min } => write!(f, "at least {min} characters"),
            PolicyViolation::TooLong { max } => write!(f, "at most {max} characters"),
            PolicyViolation::Lowercase { min } => write!(f, "at least {min} lowercase letter(s)"),
            PolicyViolation::Uppercase { min } => write!(f, "at least {min} uppercase letter(s)"),
            PolicyViolation::Digits { min } => write!(f, "at least {min} digit(s)"),
            PolicyViolation::Special { min } => write!(f, "at least {min} character(s) that are neither letters nor digits"),
            PolicyViolation::EqualsIdentifier => f.write_str("not equal to one of the user's identifiers"),
        }
    }
}

impl PasswordPolicy {
    /// A policy that no password can meet is a configuration error, named here.
    pub fn validate(&self) -> Result<(), String> {
        // NIST SP 800-63B §5.1.1.2: at least 8 characters.
        if self.min_length < 8 {
            return Err(format!("min_length {} is below 8", self.min_length));
        }
        let required = [self.min_lowercase, self.min_uppercase, self.min_digits, self.min_special]
            .iter()
            .try_fold(0usize, |sum, n| sum.checked_add(*n))
            .unwrap_or(usize::MAX);
        if self.max_length == 0 || self.min_length > self.max_length {
            return Err(format!("min_length {} exceeds max_length {}", self.min_length, self.max_length));
        }
        if required > self.max_length {
            return Err(format!("the required character counts ({required}) exceed max_length {}", self.max_length));
        }
        if self.max_length > 1024 {
            return Err("max_length may be at most 1024".into());
        }
        Ok(())
    }

    /// Every rule `password` breaks, in the order above; empty when it is acceptable.
    pub fn check<'a>(&self, password: &str, identifiers: impl IntoIterator<Item = &'a str>) -> Vec<PolicyViolation> {
        let mut unmet = Vec::new();
        let length = password.chars().count();
        if length < self.min_length {
            unmet.push(PolicyViolation::TooShort { min: self.min_length });
        }
        if length > self.max_length {
            unmet.push(PolicyViolation::TooLong { max: self.max_length });
        }
        let count = |f: fn(&char) -> bool| password.chars().filter(f).count();
        if count(|c| c.is_lowercase()) < self.min_lowercase {
            unmet.push(PolicyViolation::Lowercase { min: self.min_lowercase });
        }
        if count(|c| c.is_uppercase()) < self.min_uppercase {
            unmet.push(PolicyViolation::Uppercase { min: self.min_uppercase });
        }
        if count(|c| c.is_numeric()) < self.min_digits {
            unmet.push(PolicyViolation::Digits { min: self.min_digits });
        }
        if count(|c| !c.is_alphanumeric()) < self.min_special {
            unmet.push(PolicyViolation::Special { min: self.min_special });
        }
        if self.differ_from_identifiers && identifiers.into_iter().any(|i| i.to_lowercase() == password.to_lowercase()) {
            unmet.push(PolicyViolation::EqualsIdentifier);
        }
        unmet
    }
}

/// `password must have: a; b; c`, for an error description.
pub fn describe(unmet: &[PolicyViolation]) -> String {
    let rules: Vec<String> = unmet.iter().map(ToString::to_string).collect();
    format!("the password does not meet the pool's policy; it needs {}", rules.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn strict() -> PasswordPolicy {
        PasswordPolicy { min_length: 10, max_length: 20, min_lowercase: 2, min_uppercase: 1, min_digits: 2, min_special: 1, differ_from_identifiers: true }
    }

    #[test]
    fn every_unmet_rule_is_listed() {
        assert_eq!(
            strict().check("abc", ["x"]),
            vec![
                PolicyViolation::TooShort { min: 10 },
                PolicyViolation::Uppercase { min: 1 },
                PolicyViolation::Digits { min: 2 },
                PolicyViolation::Special { min: 1 },
            ]
        );
        assert!(strict().check("abC12!xyzw", ["alice@example.com"]).is_empty());
        assert_eq!(strict().check("Alice@Ex4mple.com1", ["alice@ex4mple.com1"]), vec![PolicyViolation::EqualsIdentifier]);
        assert_eq!(strict().check(&"aB1!2".repeat(5), []), vec![PolicyViolation::TooLong { max: 20 }]);
        let text = describe(&strict().check("abc", []));
        assert!(text.contains("at least 10 characters") && text.contains("digit"), "{text}");
    }

    #[test]
    fn lengths_count_characters_not_bytes() {
        let p = PasswordPolicy { min_length: 4, ..PasswordPolicy::default() };
        assert!(p.check("ééé€", []).is_empty());
    }

    #[test]
    fn impossible_policies_are_refused() {
        assert!(PasswordPolicy { min_length: 30, max_length: 20, ..PasswordPolicy::default() }.validate().is_err());
        assert!(PasswordPolicy { max_length: 4, min_length: 1, min_digits: 5, ..PasswordPolicy::default() }.validate().is_err());
        assert!(PasswordPolicy::default().validate().is_ok());
        assert!(PasswordPolicy { min_length: 0, ..PasswordPolicy::default() }.validate().is_err(), "empty passwords");
        assert!(PasswordPolicy { min_lowercase: usize::MAX, min_uppercase: 1, ..PasswordPolicy::default() }.validate().is_err(), "no overflow");
    }

    proptest! {
        #[test]
        fn a_password_passes_exactly_when_no_rule_is_unmet(p in ".{0,40}") {
            let unmet = strict().check(&p, ["someone"]);
            let n = p.chars().count();
            let ok = (10..=20).contains(&n)
                && p.chars().filter(|c| c.is_lowercase()).count() >= 2
                && p.chars().filter(|c| c.is_uppercase()).count() >= 1
                && p.chars().filter(|c| c.is_numeric()).count() >= 2
                && p.chars().filter(|c| !c.is_alphanumeric()).count() >= 1
                && p.to_lowercase() != "someone";
            prop_assert_eq!(unmet.is_empty(), ok);
        }
    }
}
