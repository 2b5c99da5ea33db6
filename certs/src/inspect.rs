//! Reading a certificate back: the facts the server, the harness and the
//! `fapilab certs` command show or compare (validity, names, thumbprint).

use std::net::IpAddr;
use std::time::SystemTime;

use x509_parser::extensions::GeneralName;

use crate::dn::{parse_cert, render_name};
use crate::{CertsError, util};

/// What a certificate says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    /// Subject DN, RFC 4514 (see [`crate::dn`]).
    pub subject_dn: String,
    /// Issuer DN, RFC 4514.
    pub issuer_dn: String,
    /// Serial number, lower-case hex.
    pub serial_hex: String,
    /// Start of validity.
    pub not_before: SystemTime,
    /// End of validity.
    pub not_after: SystemTime,
    /// DNS subjectAltNames, in certificate order.
    pub dns_names: Vec<String>,
    /// IP subjectAltNames, in certificate order.
    pub ip_addresses: Vec<IpAddr>,
    /// Whether basicConstraints says `CA:true`.
    pub is_ca: bool,
    /// `x5t#S256`: base64url SHA-256 of the DER (RFC 8705 §3.1).
    pub x5t_s256: String,
}

impl CertificateInfo {
    /// Whether `now` lies within the validity period.
    pub fn is_valid_at(&self, now: SystemTime) -> bool {
        self.not_before <= now && now <= self.not_after
    }
}

/// Read the facts of a DER certificate.
pub fn inspect_der(cert_der: &[u8]) -> Result<CertificateInfo, CertsError> {
    inspect_named(cert_der, "certificate")
}

/// Read the facts of the first certificate in a PEM document.
pub fn inspect_pem(cert_pem: &str) -> Result<CertificateInfo, CertsError> {
    let der = util::cert_der_from_pem(cert_pem, "certificate PEM")?;
    inspect_named(&der, "certificate PEM")
}

/// Decode the first certificate of a PEM document to DER.
pub fn pem_to_der(cert_pem: &str) -> Result<Vec<u8>, CertsError> {
    util::cert_der_from_pem(cert_pem, "certificate PEM")
}

/// `x5t#S256` of a DER certificate: base64url (no padding) SHA-256.
pub fn x5t_s256(cert_der: &[u8]) -> String {
    util::sha256_b64url(cert_der)
}

pub(crate) fn inspect_named(
    cert_der: &[u8],
    source_name: &str,
) -> Result<CertificateInfo, CertsError> {
    let cert = parse_cert(cert_der, source_name)?;
    let mut dns_names = Vec::new();
    let mut ip_addresses = Vec::new();
    let san = cert
        .subject_alternative_name()
        .map_err(|e| CertsError::Certificate {
            source_name: source_name.to_owned(),
            reason: format!("malformed subjectAltName ({e}); regenerate the certificate"),
        })?;
    if let Some(san) = san {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(d) => dns_names.push((*d).to_owned()),
                GeneralName::IPAddress(bytes) => {
                    if let Ok(v4) = <[u8; 4]>::try_from(*bytes) {
                        ip_addresses.push(IpAddr::from(v4));
                    } else if let Ok(v6) = <[u8; 16]>::try_from(*bytes) {
                        ip_addresses.push(IpAddr::from(v6));
                    }
                }
                _ => {}
            }
        }
    }
    Ok(CertificateInfo {
        subject_dn: render_name(cert.subject(), source_name)?,
        issuer_dn: render_name(cert.issuer(), source_name)?,
        serial_hex: util::hex(cert.raw_serial()),
        not_before: util::system_time_from_unix(cert.validity().not_before.timestamp()),
        not_after: util::system_time_from_unix(cert.validity().not_after.timestamp()),
        dns_names,
        ip_addresses,
        is_ca: cert.is_ca(),
        x5t_s256: util::sha256_b64url(cert_der),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CertificateAuthority, Lifetimes};

    #[test]
    fn inspects_a_server_certificate() {
        let ca = CertificateAuthority::generate(&Lifetimes::default()).expect("ca");
        let server = ca.issue_server(&["as.test".to_owned()], 5).expect("server");
        let info = inspect_pem(&server.cert_pem).expect("inspect");
        assert_eq!(info.subject_dn, "CN=as.test,O=fapilab");
        assert_eq!(info.issuer_dn, "CN=fapilab Test Root CA,O=fapilab");
        assert_eq!(info.dns_names, vec!["localhost", "as.test"]);
        assert_eq!(
            info.ip_addresses,
            vec![
                "127.0.0.1".parse::<IpAddr>().expect("ip"),
                "::1".parse().expect("ip")
            ]
        );
        assert!(!info.is_ca);
        assert_eq!(info.x5t_s256, server.x5t_s256());
        assert_eq!(info.x5t_s256.len(), 43);
        assert_eq!(info.not_after, server.not_after());
        assert!(info.is_valid_at(SystemTime::now()));
        assert_eq!(info.serial_hex.len(), 32);
        assert_eq!(pem_to_der(&server.cert_pem).expect("der"), server.cert_der);
        assert!(inspect_der(ca.cert_der()).expect("ca").is_ca);
    }
}
