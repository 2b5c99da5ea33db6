//! `fapilab-jose`: the JOSE subset a FAPI 2.0 authorization server and its
//! conformance harness need, built on aws-lc-rs only.
//!
//! * [`b64`] — unpadded base64url (RFC 7515 §2).
//! * [`Algorithm`] — PS256, ES256 and EdDSA, the algorithms FAPI 2.0 allows
//!   (FAPI2-SP-CR-02); `none`, HMAC and RSA PKCS#1 v1.5 cannot be expressed
//!   (RFC 8725 §3.1–§3.2).
//! * [`Jwk`] / [`Jwks`] — public keys and key sets (RFC 7517, RFC 7518 §6,
//!   RFC 8037), RFC 7638 thumbprints, FAPI2-SP-CR-08 key selection.
//! * [`SigningKey`] — private keys from/to PKCS#8 and private JWKs.
//! * [`jws`] — compact JWS signing and verification (RFC 7515).
//! * [`jwe`] — compact JWE encryption and decryption (RFC 7516) with
//!   RSA-OAEP / RSA-OAEP-256 and A128CBC-HS256 / A256GCM (RFC 7518), for
//!   encrypted ID tokens and JARM responses.
//! * [`dpop`] — DPoP proof creation and receiver checks (RFC 9449).
//!
//! Design rules: keys are parsed once into their aws-lc-rs form, every bad
//! input is an error (never a panic), and error messages are safe to show to
//! OAuth clients.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod alg;
pub mod b64;
mod der;
pub mod dpop;
pub mod error;
pub mod jwe;
pub mod jwk;
pub mod jwks;
pub mod jws;
pub mod signing_key;
#[cfg(test)]
mod test_support;

pub use alg::Algorithm;
pub use error::{JoseError, JweError};
pub use jwk::Jwk;
pub use jwks::Jwks;
pub use signing_key::SigningKey;

use aws_lc_rs::digest;

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// BASE64URL(SHA-256(data)): PKCE `S256` challenges (RFC 7636 §4.2), DPoP
/// `ath` (RFC 9449 §4.2) and `x5t#S256` certificate thumbprints (RFC 8705
/// §3.1).
pub fn sha256_b64url(data: &[u8]) -> String {
    b64::encode(&sha256(data))
}

/// An ID token's `c_hash`, `s_hash` or `at_hash` (OIDC Core §3.3.2.11): the base64url of
/// the left-most half of the hash of the ASCII value, with the hash of the JWS `alg` of the
/// ID token — SHA-256 for ES256 and PS256, SHA-512 for EdDSA over Ed25519.
pub fn id_token_hash(alg: Algorithm, value: &str) -> String {
    let algorithm = match alg {
        Algorithm::Es256 | Algorithm::Ps256 => &digest::SHA256,
        Algorithm::EdDsa => &digest::SHA512,
    };
    let digest = digest::digest(algorithm, value.as_bytes());
    let bytes = digest.as_ref();
    b64::encode(&bytes[..bytes.len() / 2])
}

/// `bytes` bytes from the aws-lc-rs CSPRNG, base64url-encoded; for codes,
/// tokens, nonces and `jti` values. 32 bytes give 256 bits of entropy.
///
/// AWS-LC aborts the process itself when its entropy source fails, so the
/// error path of the underlying call is not expected to be reachable; if it
/// ever is, this function aborts too rather than return a guessable value.
/// Use [`try_random_token`] to receive the error instead.
pub fn random_token(bytes: usize) -> String {
    match try_random_token(bytes) {
        Ok(token) => token,
        Err(_) => std::process::abort(),
    }
}

/// Like [`random_token`], but reports a random-generator failure.
pub fn try_random_token(bytes: usize) -> Result<String, JoseError> {
    let mut buf = vec![0u8; bytes];
    aws_lc_rs::rand::fill(&mut buf).map_err(|_| JoseError::Crypto("random number generation"))?;
    Ok(b64::encode(&buf))
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month 1..=12, day 1..=31), after
/// Howard Hinnant's `civil_from_days`: dates for reports, HTTP dates and pages without a
/// calendar crate.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 { shifted_month + 3 } else { shifted_month - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, u32::try_from(month).unwrap_or(1), u32::try_from(day).unwrap_or(1))
}

/// The current time in Unix seconds (negative before 1970).
pub fn now() -> i64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn civil_dates_from_days() {
        assert_eq!(super::civil_from_days(0), (1970, 1, 1));
        assert_eq!(super::civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(super::civil_from_days(-1), (1969, 12, 31));
        assert_eq!(super::civil_from_days(20_786), (2026, 11, 29));
    }

    use super::*;

    #[test]
    fn pkce_s256_vector() {
        // RFC 7636 Appendix B.
        assert_eq!(
            sha256_b64url(b"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn id_token_hashes_match_the_oidc_core_examples() {
        // OIDC Core Appendix A.4 (code id_token) and A.5 (at_hash), SHA-256 family.
        assert_eq!(id_token_hash(Algorithm::Es256, "Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk"), "LDktKdoQak3Pk0cnXxCltA");
        assert_eq!(id_token_hash(Algorithm::Ps256, "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"), "77QmUPtjPfzWtF2AnpK9RQ");
        assert_eq!(b64::decode(&id_token_hash(Algorithm::EdDsa, "x")).unwrap().len(), 32, "half of SHA-512");
    }

    #[test]
    fn sha256_of_abc() {
        let d = sha256(b"abc");
        assert_eq!(d[0], 0xba);
        assert_eq!(d[31], 0xad);
    }

    #[test]
    fn random_tokens_are_distinct_and_sized() {
        let a = random_token(32);
        let b = random_token(32);
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(b64::decode(&a).unwrap().len(), 32);
        assert_eq!(random_token(0), "");
        assert_eq!(try_random_token(16).unwrap().len(), 22);
    }

    #[test]
    fn now_is_recent() {
        assert!(now() > 1_700_000_000);
    }
}
