//! Mutual-TLS client authentication and certificate-bound tokens (RFC 8705).

use rustls_pki_types::{CertificateDer, UnixTime};
use x509_parser::prelude::*;

/// RFC 8705 §3.1: `x5t#S256` = base64url(SHA-256(DER)).
pub fn thumbprint(cert_der: &[u8]) -> String {
    fapilab_jose::sha256_b64url(cert_der)
}

/// RFC 8705 §2.1: the certificate chains to one of `roots` and is fit for client auth.
pub fn chains_to(cert_der: &[u8], roots: &[CertificateDer<'static>], now: std::time::SystemTime) -> Result<(), String> {
    let anchors: Vec<_> = roots
        .iter()
        .filter_map(|root| webpki::anchor_from_trusted_cert(root).ok())
        .collect();
    if anchors.is_empty() {
        return Err("no trusted CA is configured for tls_client_auth".into());
    }
    let leaf = CertificateDer::from(cert_der);
    let end_entity = webpki::EndEntityCert::try_from(&leaf).map_err(|e| format!("unparseable certificate: {e}"))?;
    let since_epoch = now.duration_since(std::time::UNIX_EPOCH).map_err(|e| e.to_string())?;
    let algorithms = rustls::crypto::aws_lc_rs::default_provider().signature_verification_algorithms.all;
    end_entity
        .verify_for_usage(
            algorithms,
            &anchors,
            &[],
            UnixTime::since_unix_epoch(since_epoch),
            webpki::KeyUsage::client_auth(),
            None,
            None,
        )
        .map(|_| ())
        .map_err(|e| format!("certificate does not chain to a trusted CA: {e}"))
}

/// Normalises an RFC 4514 distinguished name for comparison: attribute types case-folded
/// and mapped to one spelling, values trimmed, RDNs in the order given.
pub fn normalize_dn(dn: &str) -> Vec<(String, String)> {
    split_unescaped(dn, ',')
        .into_iter()
        .filter_map(|rdn| {
            let (ty, value) = rdn.split_once('=')?;
            let ty = ty.trim().to_ascii_lowercase();
            let ty = match ty.as_str() {
                "2.5.4.3" => "cn".to_string(),
                "2.5.4.10" => "o".to_string(),
                "2.5.4.11" => "ou".to_string(),
                "2.5.4.6" => "c".to_string(),
                "2.5.4.5" | "serialnumber" => "serialnumber".to_string(),
                "0.9.2342.19200300.100.1.1" | "uid" | "userid" => "uid".to_string(),
                "1.3.6.1.4.1.311.60.2.1.3" | "jurisdictioncountryname" | "jurisdictionc" => "jurisdictionc".to_string(),
                other => other.to_string(),
            };
            Some((ty, value.trim().to_string()))
        })
        .collect()
}

fn split_unescaped(s: &str, sep: char) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut escaped = false;
    for c in s.chars() {
        if escaped {
            current.push(c);
            escaped = false;
        } else if c == '\\' {
            current.push(c);
            escaped = true;
        } else if c == sep {
            parts.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    if !current.trim().is_empty() {
        parts.push(current);
    }
    parts
}

/// RFC 8705 §2.1.2: compares the certificate's subject with the registered DN, DN-wise.
pub fn subject_matches(cert_der: &[u8], registered_dn: &str) -> Result<bool, String> {
    let subject = fapilab_certs::subject_dn_of(cert_der).map_err(|e| e.to_string())?;
    let mut a = normalize_dn(&subject);
    let mut b = normalize_dn(registered_dn);
    a.sort();
    b.sort();
    Ok(!a.is_empty() && a == b)
}

/// RFC 8705 §2.1.2: the certificate carries `dns` as a dNSName SAN.
pub fn san_dns_matches(cert_der: &[u8], dns: &str) -> Result<bool, String> {
    let (_, cert) = X509Certificate::from_der(cert_der).map_err(|e| format!("unparseable certificate: {e}"))?;
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return Ok(false);
    };
    Ok(san.value.general_names.iter().any(|name| match name {
        GeneralName::DNSName(n) => n.eq_ignore_ascii_case(dns),
        _ => false,
    }))
}

/// Whether the certificate is inside its validity period.
pub fn currently_valid(cert_der: &[u8], now: std::time::SystemTime) -> bool {
    let Ok((_, cert)) = X509Certificate::from_der(cert_der) else { return false };
    let Ok(secs) = now.duration_since(std::time::UNIX_EPOCH) else { return false };
    let now = secs.as_secs() as i64;
    cert.validity().not_before.timestamp() <= now && now <= cert.validity().not_after.timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dn_comparison_ignores_type_spelling_and_order() {
        let a = normalize_dn("CN=tpp1, O=Org, 0.9.2342.19200300.100.1.1=abc");
        let b = normalize_dn("UID=abc,o=Org,cn=tpp1");
        let (mut a, mut b) = (a, b);
        a.sort();
        b.sort();
        assert_eq!(a, b);
        assert_ne!(normalize_dn("CN=a\\,b"), normalize_dn("CN=a,CN=b"));
    }
}
