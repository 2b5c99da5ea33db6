//! The error types of this crate.
//!
//! JWS, JWK, key and DPoP operations return [`JoseError`]; JWE operations
//! ([`crate::jwe`]) return [`JweError`], which wraps a [`JoseError`] when a
//! key fails the shared JWK checks. The `Display` text of each
//! variant is written so that a server can hand it to a client unchanged (for
//! example in an OAuth `error_description`): it names the problem precisely
//! and, where a profile rule applies, the requirement id from the project's
//! spec digests (e.g. `[FAPI2-SP-CR-04]`), but it never contains key material
//! or internal library diagnostics. Values that came from the untrusted input
//! are passed through a sanitizer (`printable`) before they are stored, so a
//! message never carries control characters, quotes or unbounded lengths.

use crate::alg::Algorithm;
use crate::jwe::{ContentEncryptionAlgorithm, KeyManagementAlgorithm};

/// Errors raised while parsing, signing or verifying JOSE objects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JoseError {
    /// Input was not unpadded base64url (RFC 7515 §2, RFC 4648 §5).
    #[error(
        "invalid base64url: only the unpadded URL-safe alphabet is allowed (RFC 7515 section 2)"
    )]
    Base64,

    /// The `alg` value is not one of PS256, ES256, EdDSA (RFC 8725 §3.1).
    #[error(
        "unsupported JWS algorithm \"{0}\": only PS256, ES256 and EdDSA are accepted [FAPI2-SP-CR-02]"
    )]
    UnsupportedAlgorithm(String),

    /// The JWS header carries no `alg` member (RFC 7515 §4.1.1).
    #[error("JWS header has no \"alg\" member (RFC 7515 section 4.1.1)")]
    MissingAlgorithm,

    /// A JWK uses a key type or curve this crate does not implement.
    #[error("unsupported JWK key type: {0}")]
    UnsupportedKeyType(String),

    /// A JWK of a supported type is malformed (RFC 7517, RFC 7518 §6, RFC 8037 §2).
    #[error("invalid JWK: {0}")]
    InvalidKey(String),

    /// An RSA key with a modulus under 2048 bits.
    #[error(
        "RSA key of {bits} bits is too small: at least 2048 bits are required [FAPI2-SP-CR-04]"
    )]
    WeakRsaKey {
        /// Size of the rejected modulus.
        bits: usize,
    },

    /// A key cannot be used with the requested algorithm: wrong key type or
    /// curve, a different `alg` member, or `use` other than `sig`.
    #[error(
        "the key cannot be used to verify {alg} signatures (key type, \"alg\" or \"use\" do not fit)"
    )]
    KeyNotUsable {
        /// The requested algorithm.
        alg: Algorithm,
    },

    /// A private key could not be loaded or is inconsistent.
    #[error("invalid private key: {0}")]
    InvalidPrivateKey(String),

    /// The PEM text is not a single unencrypted PKCS#8 `PRIVATE KEY` block.
    #[error("invalid PEM: {0}")]
    Pem(String),

    /// The compact JWS serialization is malformed (RFC 7515 §7.1).
    #[error("malformed JWS: {0}")]
    MalformedJws(String),

    /// The JWS exceeds [`crate::jws::MAX_JWS_LEN`].
    #[error("JWS is larger than the {limit}-byte limit")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },

    /// The JWS header has a `crit` member; this crate understands no
    /// extensions, so RFC 7515 §4.1.11 requires rejecting the JWS.
    #[error(
        "JWS header lists critical extensions (\"crit\") that are not understood (RFC 7515 section 4.1.11)"
    )]
    CriticalHeader,

    /// The JWS payload is not a JSON object, so it is not a JWT claims set
    /// (RFC 7519 §7.2).
    #[error("JWT claims set is not a JSON object (RFC 7519 section 7.2)")]
    ClaimsNotObject,

    /// The signature does not verify.
    #[error("JWS signature verification failed")]
    BadSignature,

    /// No key in a JWK set fits the `kid` and `alg` of a JWS.
    #[error("no key in the JWK set matches {} and alg {alg} [FAPI2-SP-CR-08]", describe_kid(.kid.as_deref()))]
    NoMatchingKey {
        /// The `kid` of the JWS header, if any.
        kid: Option<String>,
        /// The `alg` of the JWS header.
        alg: Algorithm,
    },

    /// A cryptographic primitive failed in a way that does not depend on the
    /// input (e.g. key generation). The text names the operation only.
    #[error("cryptographic operation failed: {0}")]
    Crypto(&'static str),
}

/// Errors raised while encrypting or decrypting JWEs (RFC 7516) and while
/// loading the RSA keys they use.
///
/// Every failure to recover or authenticate the content — a wrong key, a
/// modified encrypted key, IV, ciphertext, tag or protected header — is the
/// single [`JweError::DecryptionFailed`], so that the error does not tell an
/// attacker which check failed (RFC 7516 section 11.5).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JweError {
    /// The compact serialization is malformed (RFC 7516 §7.1): not five
    /// parts, a part that is not base64url, or a protected header that is not
    /// a JSON object.
    #[error("malformed JWE: {0}")]
    Malformed(String),

    /// The JWE exceeds [`crate::jwe::MAX_JWE_LEN`].
    #[error("JWE is larger than the {limit}-byte limit")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },

    /// The protected header lacks `alg` or `enc` (RFC 7516 §4.1.1, §4.1.2).
    #[error("JWE header has no \"{0}\" member (RFC 7516 sections 4.1.1 and 4.1.2)")]
    MissingHeader(&'static str),

    /// The `alg` value is not RSA-OAEP or RSA-OAEP-256 (RFC 7518 §4.3);
    /// `RSA1_5` in particular is refused (FAPI 1.0 Advanced §8.6.1).
    #[error(
        "unsupported JWE key management algorithm \"{0}\": only RSA-OAEP and RSA-OAEP-256 are accepted (RFC 7518 section 4.3)"
    )]
    UnsupportedAlgorithm(String),

    /// The `enc` value is not A128CBC-HS256 or A256GCM (RFC 7518 §5.2.3,
    /// §5.3).
    #[error(
        "unsupported JWE content encryption algorithm \"{0}\": only A128CBC-HS256 and A256GCM are accepted (RFC 7518 sections 5.2.3 and 5.3)"
    )]
    UnsupportedEncryption(String),

    /// The header has a `zip` member. Compressing before encrypting leaks
    /// information about the plaintext (RFC 8725 §3.6), so it is refused.
    #[error("compressed JWEs (\"zip\") are not accepted (RFC 8725 section 3.6)")]
    CompressionNotSupported,

    /// The header has a `crit` member; no JWE extension is understood, so
    /// RFC 7516 §4.1.13 requires rejecting the JWE.
    #[error(
        "JWE header lists critical extensions (\"crit\") that are not understood (RFC 7516 section 4.1.13)"
    )]
    CriticalHeader,

    /// The initialization vector or authentication tag has the wrong length
    /// for `enc` (RFC 7518 §5.2.3, §5.3).
    #[error("the JWE {part} must be {expected} bytes for {enc}, found {found}")]
    InvalidLength {
        /// `initialization vector` or `authentication tag`.
        part: &'static str,
        /// The content encryption algorithm of the header.
        enc: ContentEncryptionAlgorithm,
        /// Required length in bytes.
        expected: usize,
        /// Length found.
        found: usize,
    },

    /// A JWK of a supported type is not meant for encryption: `use` other
    /// than `enc` or an `alg` that is not a JWE key management algorithm
    /// (RFC 7517 §4.2, §4.4).
    #[error("the JWK is not an RSA encryption key: {0}")]
    NotAnEncryptionKey(String),

    /// The key's `alg` member names a different key management algorithm.
    #[error("the key cannot be used with {alg}: its \"alg\" member names another algorithm")]
    KeyNotUsable {
        /// The requested algorithm.
        alg: KeyManagementAlgorithm,
    },

    /// The JWE header `kid` names a different key than the decryption key.
    #[error("the JWE is for kid \"{found}\", but the decryption key has kid \"{expected}\"")]
    KidMismatch {
        /// The `kid` of the decryption key.
        expected: String,
        /// The `kid` of the JWE header.
        found: String,
    },

    /// No key in a JWK set is an RSA encryption key for `alg` (and `kid`).
    #[error("no RSA encryption key in the JWK set matches {} and alg {alg}", describe_kid(.kid.as_deref()))]
    NoMatchingKey {
        /// The requested `kid`, if any.
        kid: Option<String>,
        /// The requested algorithm.
        alg: KeyManagementAlgorithm,
    },

    /// The content could not be decrypted and authenticated.
    #[error("JWE decryption failed")]
    DecryptionFailed,

    /// A key failed the shared JWK or private key checks.
    #[error(transparent)]
    Key(#[from] JoseError),

    /// A cryptographic primitive failed in a way that does not depend on the
    /// input (e.g. random number generation). The text names the operation.
    #[error("cryptographic operation failed: {0}")]
    Crypto(&'static str),
}

fn describe_kid(kid: Option<&str>) -> String {
    match kid {
        Some(k) => format!("kid \"{k}\""),
        None => "an absent kid".to_string(),
    }
}

/// Longest excerpt of untrusted input that is echoed in a message.
const ECHO_LIMIT: usize = 64;

/// Makes an untrusted value safe to echo in an error message: visible ASCII
/// other than `"` and `\` is kept, everything else becomes `?`, and the text
/// is cut to 64 characters (an ellipsis marks the cut). This keeps messages
/// usable inside HTTP header quoted-strings such as `WWW-Authenticate`.
pub(crate) fn printable(value: &str) -> String {
    let mut out = String::new();
    for (count, c) in value.chars().enumerate() {
        if count == ECHO_LIMIT {
            out.push_str("...");
            break;
        }
        if (c.is_ascii_graphic() && c != '"' && c != '\\') || c == ' ' {
            out.push(c);
        } else {
            out.push('?');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_strips_controls_quotes_and_long_input() {
        assert_eq!(printable("RS256"), "RS256");
        assert_eq!(printable("a\"b\\c\r\nd\u{e9}"), "a?b?c??d?");
        let long = "x".repeat(200);
        let p = printable(&long);
        assert_eq!(p.len(), ECHO_LIMIT + 3);
        assert!(p.ends_with("..."));
    }

    #[test]
    fn messages_cite_requirements() {
        assert!(
            JoseError::WeakRsaKey { bits: 1024 }
                .to_string()
                .contains("FAPI2-SP-CR-04")
        );
        let e = JoseError::NoMatchingKey {
            kid: Some("k1".into()),
            alg: Algorithm::Es256,
        };
        assert_eq!(
            e.to_string(),
            "no key in the JWK set matches kid \"k1\" and alg ES256 [FAPI2-SP-CR-08]"
        );
        let e = JoseError::NoMatchingKey {
            kid: None,
            alg: Algorithm::EdDsa,
        };
        assert!(e.to_string().contains("an absent kid"));
    }
}
