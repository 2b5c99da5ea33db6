//! A leaf certificate together with its private key.
//!
//! This is what the CA hands out for the server and for each TPP, and what
//! the layout module writes to and reads from disk.

use std::fmt;
use std::time::SystemTime;

use crate::CertsError;
use crate::util;

/// A leaf certificate and its private key, in the forms callers need.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedCertificate {
    /// The certificate as a PEM `CERTIFICATE` block.
    pub cert_pem: String,
    /// The private key as a PEM PKCS#8 `PRIVATE KEY` block.
    pub key_pem: String,
    /// The certificate's DER encoding.
    pub cert_der: Vec<u8>,
}

impl IssuedCertificate {
    /// Build from PEM text, checking that the certificate parses and that the
    /// key is PKCS#8 for the certificate's public key. `source_name` names
    /// where the PEM came from, for error messages.
    pub fn from_pem(cert_pem: &str, key_pem: &str, source_name: &str) -> Result<Self, CertsError> {
        let cert_der = util::cert_der_from_pem(cert_pem, source_name)?;
        let key_label = format!("private key of {source_name}");
        let pkcs8 = util::pkcs8_from_pem(key_pem, &key_label)?;
        let key = rcgen::KeyPair::try_from(&pkcs8).map_err(|e| CertsError::Key {
            source_name: key_label.clone(),
            reason: format!("unsupported or corrupt PKCS#8 key ({e}); regenerate it with --force"),
        })?;
        let cert = crate::dn::parse_cert(&cert_der, source_name)?;
        if cert.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
            return Err(CertsError::Key {
                source_name: key_label,
                reason: format!(
                    "this key does not belong to the certificate in {source_name}; regenerate both with --force"
                ),
            });
        }
        Ok(IssuedCertificate {
            cert_pem: cert_pem.to_owned(),
            key_pem: key_pem.to_owned(),
            cert_der,
        })
    }

    /// `x5t#S256`: base64url (no padding) SHA-256 of the DER certificate, as
    /// bound into access tokens by RFC 8705 §3.1 (`cnf`).
    pub fn x5t_s256(&self) -> String {
        util::sha256_b64url(&self.cert_der)
    }

    /// The certificate's notAfter. Falls back to the Unix epoch (already
    /// expired) if the stored DER no longer parses, which cannot happen for
    /// values built by this crate.
    pub fn not_after(&self) -> SystemTime {
        crate::dn::parse_cert(&self.cert_der, "certificate")
            .map(|c| util::system_time_from_unix(c.validity().not_after.timestamp()))
            .unwrap_or(SystemTime::UNIX_EPOCH)
    }

    /// The subject DN as an RFC 4514 string (see [`crate::subject_dn_of`]).
    pub fn subject_dn(&self) -> Result<String, CertsError> {
        crate::subject_dn_of(&self.cert_der)
    }
}

impl fmt::Debug for IssuedCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedCertificate")
            .field("x5t#S256", &self.x5t_s256())
            .field("subject", &self.subject_dn().unwrap_or_default())
            .field("key_pem", &"[redacted]")
            .finish()
    }
}
