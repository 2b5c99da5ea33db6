//! Small helpers shared by the modules: PEM decoding with errors that name
//! their source, digests, and time conversions between the representations
//! used by rcgen (`time`), x509-parser (Unix seconds) and callers
//! (`SystemTime`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use time::OffsetDateTime;

use crate::CertsError;

/// Decode the first `CERTIFICATE` block of `pem` into DER.
pub(crate) fn cert_der_from_pem(pem: &str, source_name: &str) -> Result<Vec<u8>, CertsError> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .map(|der| der.as_ref().to_vec())
        .map_err(|e| CertsError::Pem {
            source_name: source_name.to_owned(),
            expected: "CERTIFICATE block",
            reason: e.to_string(),
        })
}

/// Decode the first `PRIVATE KEY` (PKCS#8) block of `pem`.
pub(crate) fn pkcs8_from_pem(
    pem: &str,
    source_name: &str,
) -> Result<PrivatePkcs8KeyDer<'static>, CertsError> {
    PrivatePkcs8KeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| CertsError::Pem {
        source_name: source_name.to_owned(),
        expected: "PKCS#8 PRIVATE KEY block",
        reason: e.to_string(),
    })
}

/// SHA-256 of `data`, base64url without padding (the `x5t#S256` form).
pub(crate) fn sha256_b64url(data: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// SHA-256 of `data` as raw bytes.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

pub(crate) fn b64url(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

pub(crate) fn b64std(data: &[u8]) -> String {
    STANDARD.encode(data)
}

/// Unix seconds (as x509-parser reports them) to `SystemTime`.
pub(crate) fn system_time_from_unix(secs: i64) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    }
}

/// `SystemTime` as `YYYY-MM-DDTHH:MM:SSZ` (UTC), for messages.
pub(crate) fn format_utc(t: SystemTime) -> String {
    let odt = OffsetDateTime::from(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        odt.year(),
        u8::from(odt.month()),
        odt.day(),
        odt.hour(),
        odt.minute(),
        odt.second()
    )
}

/// Lower-case hex.
pub(crate) fn hex(data: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(data.len() * 2);
    for b in data {
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_epoch() {
        assert_eq!(format_utc(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            format_utc(system_time_from_unix(1_700_000_000)),
            "2023-11-14T22:13:20Z"
        );
    }

    #[test]
    fn sha256_of_empty_input() {
        assert_eq!(
            sha256_b64url(b""),
            "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
        );
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
    }
}
