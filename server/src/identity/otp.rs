//! One-time sign-in codes, sans-IO: six digits, sent to a verified address of the user
//! (`endpoints/otp.rs` delivers them to the sandbox inbox), stored only as a SHA-256, valid
//! for [`CODE_LIFETIME`] seconds, used once, and refused after [`MAX_ATTEMPTS`] wrong tries.

use serde::{Deserialize, Serialize};

use super::attempts::Attempts;

pub const CODE_LIFETIME: i64 = 300;
pub const MAX_ATTEMPTS: u32 = 5;

/// A code waiting to be entered, one per sign-in (interaction).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OneTimeCode {
    /// `None` when the entered identifier named nobody with a verified address: the same
    /// page is shown (no account enumeration) and every code is wrong.
    pub subject: Option<String>,
    pub code_sha256: String,
    pub expires_at: i64,
    pub attempts_left: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeFailure {
    Expired,
    TooManyAttempts,
    Wrong { attempts_left: u32 },
}

impl std::fmt::Display for CodeFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CodeFailure::Expired => f.write_str("The code has expired. Ask for a new one."),
            CodeFailure::TooManyAttempts => f.write_str("Too many wrong codes. Ask for a new one."),
            CodeFailure::Wrong { attempts_left } => write!(f, "The code is not right. {attempts_left} attempt(s) left."),
        }
    }
}

/// Six uniformly random digits (rejection sampling: no modulo bias).
pub fn new_code() -> Result<String, String> {
    const LIMIT: u32 = u32::MAX - (u32::MAX % 1_000_000);
    loop {
        let mut bytes = [0u8; 4];
        aws_lc_rs::rand::fill(&mut bytes).map_err(|_| "the random source failed".to_owned())?;
        let n = u32::from_be_bytes(bytes);
        if n < LIMIT {
            return Ok(format!("{:06}", n % 1_000_000));
        }
    }
}

impl OneTimeCode {
    pub fn new(subject: Option<String>, code: &str, now: i64) -> OneTimeCode {
        OneTimeCode { subject, code_sha256: fapilab_jose::sha256_b64url(code.as_bytes()), expires_at: now + CODE_LIFETIME, attempts_left: MAX_ATTEMPTS }
    }

    /// Checks an entered code. A wrong one spends an attempt (the caller stores the record
    /// again); a right one gives the subject (the caller deletes the record: single use).
    pub fn check(&mut self, entered: &str, now: i64) -> Result<String, CodeFailure> {
        if now >= self.expires_at {
            return Err(CodeFailure::Expired);
        }
        if self.attempts_left == 0 {
            return Err(CodeFailure::TooManyAttempts);
        }
        let digits: String = entered.chars().filter(|c| !c.is_whitespace()).collect();
        let entered = fapilab_jose::sha256_b64url(digits.as_bytes());
        let matches = aws_lc_rs::constant_time::verify_slices_are_equal(entered.as_bytes(), self.code_sha256.as_bytes()).is_ok();
        match (&self.subject, matches) {
            (Some(subject), true) => {
                // Spent in the same update that checked it: a racing second use finds no
                // attempts left.
                self.attempts_left = 0;
                Ok(subject.clone())
            }
            _ => {
                self.attempts_left -= 1;
                if self.attempts_left == 0 { Err(CodeFailure::TooManyAttempts) } else { Err(CodeFailure::Wrong { attempts_left: self.attempts_left }) }
            }
        }
    }
}

/// Per-user limits across sign-ins: each interaction gets a fresh code with fresh attempts, so
/// without these an attacker would open sign-in after sign-in and guess on.
#[derive(Default)]
pub struct Throttle {
    sends: Attempts,
    failures: Attempts,
}

/// At most this many codes per user per [`SEND_WINDOW`] seconds.
pub const MAX_SENDS: usize = 5;
pub const SEND_WINDOW: i64 = 900;
/// At most this many wrong codes per user per [`FAILURE_WINDOW`] seconds; then the user's codes
/// stop working until the window has passed.
pub const MAX_FAILURES: usize = 10;
pub const FAILURE_WINDOW: i64 = 3600;

impl Throttle {
    /// Whether another code may be sent to `subject` now; counts it when so.
    pub fn allow_send(&self, subject: &str, now: i64) -> bool {
        if self.sends.count(subject, SEND_WINDOW, now) >= MAX_SENDS || self.locked(subject, now) {
            return false;
        }
        self.sends.note(subject, SEND_WINDOW, now);
        true
    }

    pub fn record_failure(&self, subject: &str, now: i64) {
        self.failures.note(subject, FAILURE_WINDOW, now);
    }

    /// Too many wrong codes lately: no code of this user is accepted.
    pub fn locked(&self, subject: &str, now: i64) -> bool {
        self.failures.count(subject, FAILURE_WINDOW, now) >= MAX_FAILURES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits() {
        for _ in 0..100 {
            let c = new_code().expect("code");
            assert!(c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit()), "{c}");
        }
    }

    #[test]
    fn right_wrong_expired_and_locked() {
        let mut code = OneTimeCode::new(Some("usr_1".into()), "123456", 1_000);
        assert_eq!(code.check("000000", 1_001), Err(CodeFailure::Wrong { attempts_left: 4 }));
        assert_eq!(code.clone().check("123 456", 1_002), Ok("usr_1".into()), "spaces in a pasted code are fine");
        assert_eq!(code.check(" 123456 ", 1_002), Ok("usr_1".into()));
        assert_eq!(code.check("123456", 1_002), Err(CodeFailure::TooManyAttempts), "a used code is spent");
        let mut code = OneTimeCode::new(Some("usr_1".into()), "123456", 1_000);
        code.check("000000", 1_001).expect_err("wrong");
        assert_eq!(code.clone().check("123456", 1_000 + CODE_LIFETIME), Err(CodeFailure::Expired));
        for left in (1..4).rev() {
            assert_eq!(code.check("999999", 1_003), Err(CodeFailure::Wrong { attempts_left: left }));
        }
        assert_eq!(code.check("999999", 1_003), Err(CodeFailure::TooManyAttempts));
        assert_eq!(code.check("123456", 1_003), Err(CodeFailure::TooManyAttempts), "the right code no longer helps");
        let throttle = Throttle::default();
        for _ in 0..MAX_SENDS {
            assert!(throttle.allow_send("u", 0));
        }
        assert!(!throttle.allow_send("u", 1), "too many codes");
        assert!(throttle.allow_send("u", SEND_WINDOW), "the window moves on");
        for _ in 0..MAX_FAILURES {
            assert!(!throttle.locked("v", 5));
            throttle.record_failure("v", 5);
        }
        assert!(throttle.locked("v", 6) && !throttle.allow_send("v", 6));
        assert!(!throttle.locked("v", 5 + FAILURE_WINDOW));
        let mut nobody = OneTimeCode::new(None, "123456", 1_000);
        assert_eq!(nobody.check("123456", 1_001), Err(CodeFailure::Wrong { attempts_left: 4 }), "nobody signs in with a code sent to nobody");
    }
}
