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

/// RFC 8705 §2.1.2: compares the certificate's subject with the registered DN, DN-wise.
pub fn subject_matches(cert_der: &[u8], registered_dn: &str) -> Result<bool, String> {
    let subject = fapilab_certs::subject_dn_of(cert_der).map_err(|e| e.to_string())?;
    Ok(fapilab_certs::dn_matches(&subject, registered_dn))
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
    use fapilab_certs::{CertificateAuthority, Lifetimes, TppSubject, self_signed_transport};

    #[test]
    fn ca_issued_certificates_chain_and_match_their_subject() {
        let ca = CertificateAuthority::generate(&Lifetimes::default()).expect("ca");
        let other = CertificateAuthority::generate(&Lifetimes::default()).expect("other ca");
        let subject = TppSubject::for_name("tpp-a");
        let cert = ca.issue_transport(&subject, 1).expect("cert");
        let roots = vec![CertificateDer::from(ca.cert_der().to_vec())];
        let other_roots = vec![CertificateDer::from(other.cert_der().to_vec())];
        let now = std::time::SystemTime::now();
        assert!(chains_to(&cert.cert_der, &roots, now).is_ok());
        assert!(chains_to(&cert.cert_der, &other_roots, now).is_err(), "MT-02: untrusted CA");
        assert!(subject_matches(&cert.cert_der, &subject.rfc4514()).expect("dn"));
        assert!(!subject_matches(&cert.cert_der, &TppSubject::for_name("tpp-b").rfc4514()).expect("dn"));
        assert!(san_dns_matches(&cert.cert_der, &subject.san_dns_name()).expect("san"));
        assert!(currently_valid(&cert.cert_der, now));
        let self_signed = self_signed_transport(&subject, 1).expect("self-signed");
        assert!(chains_to(&self_signed.cert_der, &roots, now).is_err());
        assert_eq!(thumbprint(&cert.cert_der), cert.x5t_s256());
    }
}
