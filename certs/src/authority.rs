//! The fapilab test root CA and the certificates it issues.
//!
//! One self-signed ECDSA P-256 root signs every leaf directly: the server's
//! TLS certificate and the TPPs' mutual-TLS transport certificates. There
//! is no intermediate, because nothing here needs one and a flat hierarchy
//! keeps trust-store setup to a single file. Lifetimes are short on
//! purpose (see [`Lifetimes`]) so a forgotten test PKI expires on its own.
//!
//! Leaves never outlive the CA: a leaf's notAfter is cut to the CA's.

use std::net::IpAddr;
use std::time::SystemTime;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose,
    PKCS_ECDSA_P256_SHA256, SanType, SerialNumber,
};
use time::{Duration, OffsetDateTime};
use x509_parser::asn1_rs::Tag;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::ParsedExtension;

use crate::dn::parse_cert;
use crate::subject::{TppSubject, is_dns_label};
use crate::{CertsError, IssuedCertificate, util};

/// Common name of the root CA.
pub const CA_COMMON_NAME: &str = "fapilab Test Root CA";
/// Organisation of the root CA and of the server certificate.
pub const CA_ORGANISATION: &str = "fapilab";

/// How long generated certificates stay valid, in days.
///
/// Both are deliberately short: this is a test PKI and should not linger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    /// Root CA lifetime (default 90 days).
    pub ca_days: u32,
    /// Server and TPP certificate lifetime (default 30 days).
    pub leaf_days: u32,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Lifetimes {
            ca_days: 90,
            leaf_days: 30,
        }
    }
}

/// Backdating of notBefore, to tolerate small clock differences.
const BACKDATE: Duration = Duration::hours(1);

/// The root CA: its certificate and private key.
pub struct CertificateAuthority {
    cert_pem: String,
    cert_der: Vec<u8>,
    not_after: OffsetDateTime,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("subject", &self.subject_dn().unwrap_or_default())
            .field("not_after", &util::format_utc(self.not_after()))
            .field("key", &"[redacted]")
            .finish()
    }
}

impl CertificateAuthority {
    /// Create a new root CA: ECDSA P-256, `CA:true` with path length 0,
    /// key usage keyCertSign and cRLSign, subject
    /// `CN=fapilab Test Root CA,O=fapilab`, valid for `lifetimes.ca_days`.
    pub fn generate(lifetimes: &Lifetimes) -> Result<Self, CertsError> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
            .map_err(|e| CertsError::generate("root CA key", e))?;
        let now = OffsetDateTime::now_utc();
        let mut params = CertificateParams::default();
        params.distinguished_name = ca_distinguished_name();
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = now - BACKDATE;
        params.not_after = now + Duration::days(i64::from(lifetimes.ca_days));
        params.serial_number = Some(random_serial()?);
        params.key_identifier_method = KeyIdMethod::Sha256;
        let cert = params
            .self_signed(&key)
            .map_err(|e| CertsError::generate("root CA certificate", e))?;
        let cert_der = cert.der().to_vec();
        let not_after = params.not_after;
        Ok(CertificateAuthority {
            cert_pem: cert.pem(),
            cert_der,
            not_after,
            issuer: Issuer::new(params, key),
        })
    }

    /// Load a CA from its PEM certificate and PKCS#8 PEM key.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, CertsError> {
        Self::from_pem_named(cert_pem, key_pem, "CA certificate", "CA private key")
    }

    /// [`from_pem`](Self::from_pem) with the names of the inputs (usually
    /// file paths) to use in error messages.
    pub(crate) fn from_pem_named(
        cert_pem: &str,
        key_pem: &str,
        cert_name: &str,
        key_name: &str,
    ) -> Result<Self, CertsError> {
        let cert_der = util::cert_der_from_pem(cert_pem, cert_name)?;
        let pkcs8 = util::pkcs8_from_pem(key_pem, key_name)?;
        let key = KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, &PKCS_ECDSA_P256_SHA256).map_err(
            |e| CertsError::Key {
                source_name: key_name.to_owned(),
                reason: format!(
                    "not an ECDSA P-256 PKCS#8 key ({e}); regenerate the CA with `fapilab certs init --force`"
                ),
            },
        )?;
        let cert = parse_cert(&cert_der, cert_name)?;
        if cert.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
            return Err(CertsError::Key {
                source_name: key_name.to_owned(),
                reason: format!(
                    "this key does not belong to {cert_name}; regenerate the CA with `fapilab certs init --force`"
                ),
            });
        }
        if !cert.is_ca() {
            return Err(CertsError::Certificate {
                source_name: cert_name.to_owned(),
                reason: "not a CA certificate (basicConstraints CA:true missing); regenerate the CA with `fapilab certs init --force`".to_owned(),
            });
        }
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen_name(&cert, cert_name)?;
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.key_identifier_method = match subject_key_id(&cert) {
            Some(ski) => KeyIdMethod::PreSpecified(ski),
            None => KeyIdMethod::Sha256,
        };
        let not_after = OffsetDateTime::from_unix_timestamp(cert.validity().not_after.timestamp())
            .map_err(|_| CertsError::Certificate {
                source_name: cert_name.to_owned(),
                reason: "notAfter is out of range; regenerate the CA".to_owned(),
            })?;
        drop(cert);
        Ok(CertificateAuthority {
            cert_pem: cert_pem.to_owned(),
            cert_der,
            not_after,
            issuer: Issuer::new(params, key),
        })
    }

    /// The CA certificate as PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA private key as PKCS#8 PEM.
    pub fn key_pem(&self) -> String {
        self.issuer.key().serialize_pem()
    }

    /// The CA certificate as DER.
    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// The CA certificate's notAfter.
    pub fn not_after(&self) -> SystemTime {
        SystemTime::from(self.not_after)
    }

    /// The CA's subject DN as an RFC 4514 string.
    pub fn subject_dn(&self) -> Result<String, CertsError> {
        crate::subject_dn_of(&self.cert_der)
    }

    /// Issue the server's TLS certificate.
    ///
    /// The SANs are always `localhost`, `127.0.0.1` and `::1`, followed by
    /// `names` (each an IP address or a DNS name, `*.` wildcards allowed),
    /// without duplicates. The subject is `CN=<first name>,O=fapilab`
    /// (`localhost` when `names` is empty). EKU serverAuth.
    pub fn issue_server(
        &self,
        names: &[String],
        leaf_days: u32,
    ) -> Result<IssuedCertificate, CertsError> {
        let mut sans: Vec<SanType> = Vec::new();
        let defaults = ["localhost", "127.0.0.1", "::1"];
        for name in defaults
            .iter()
            .copied()
            .chain(names.iter().map(String::as_str))
        {
            let san = server_san(name)?;
            if !sans.contains(&san) {
                sans.push(san);
            }
        }
        let common_name = names.first().map(String::as_str).unwrap_or("localhost");
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, CA_ORGANISATION);
        dn.push(DnType::CommonName, common_name);
        let mut params = self.leaf_params(dn, leaf_days)?;
        params.subject_alt_names = sans;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign_leaf(&params, "server certificate")
    }

    /// Issue a TPP's mutual-TLS transport certificate for `subject`.
    ///
    /// EKU clientAuth; SAN DNS `<software_id>.tpp.fapilab.test`; subject
    /// encoded as documented in [`crate::subject`].
    pub fn issue_transport(
        &self,
        subject: &TppSubject,
        leaf_days: u32,
    ) -> Result<IssuedCertificate, CertsError> {
        let mut params = self.leaf_params(subject.distinguished_name()?, leaf_days)?;
        params.subject_alt_names = vec![transport_san(subject)?];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign_leaf(&params, "TPP transport certificate")
    }

    /// Check that `cert_der` was issued by this CA: its issuer DN equals the
    /// CA's subject DN and its signature verifies with the CA's key.
    pub fn verify_issued(&self, cert_der: &[u8], source_name: &str) -> Result<(), CertsError> {
        let ca = parse_cert(&self.cert_der, "CA certificate")?;
        let leaf = parse_cert(cert_der, source_name)?;
        let not_ours = |reason: &str| CertsError::Certificate {
            source_name: source_name.to_owned(),
            reason: format!("{reason}; reissue it from the current CA with --force"),
        };
        if leaf.issuer().as_raw() != ca.subject().as_raw() {
            return Err(not_ours("its issuer is not the fapilab CA's subject"));
        }
        leaf.verify_signature(Some(ca.public_key()))
            .map_err(|_| not_ours("its signature does not verify with the CA's key"))
    }

    fn leaf_params(
        &self,
        dn: DistinguishedName,
        leaf_days: u32,
    ) -> Result<CertificateParams, CertsError> {
        let now = OffsetDateTime::now_utc();
        let mut params = CertificateParams::default();
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        params.not_before = now - BACKDATE;
        params.not_after = (now + Duration::days(i64::from(leaf_days))).min(self.not_after);
        params.serial_number = Some(random_serial()?);
        Ok(params)
    }

    fn sign_leaf(
        &self,
        params: &CertificateParams,
        what: &str,
    ) -> Result<IssuedCertificate, CertsError> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
            .map_err(|e| CertsError::generate(format!("{what} key"), e))?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(|e| CertsError::generate(what, e))?;
        Ok(IssuedCertificate {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_der: cert.der().to_vec(),
        })
    }
}

/// A self-signed transport certificate for `subject`, for RFC 8705 §2.2
/// `self_signed_tls_client_auth`: same subject, SAN and EKU as
/// [`CertificateAuthority::issue_transport`], `CA:false`, signed by its own
/// key.
pub fn self_signed_transport(
    subject: &TppSubject,
    leaf_days: u32,
) -> Result<IssuedCertificate, CertsError> {
    let now = OffsetDateTime::now_utc();
    let mut params = CertificateParams::default();
    params.distinguished_name = subject.distinguished_name()?;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.subject_alt_names = vec![transport_san(subject)?];
    params.not_before = now - BACKDATE;
    params.not_after = now + Duration::days(i64::from(leaf_days));
    params.serial_number = Some(random_serial()?);
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
        .map_err(|e| CertsError::generate("self-signed transport key", e))?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| CertsError::generate("self-signed transport certificate", e))?;
    Ok(IssuedCertificate {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        cert_der: cert.der().to_vec(),
    })
}

fn ca_distinguished_name() -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, CA_ORGANISATION);
    dn.push(DnType::CommonName, CA_COMMON_NAME);
    dn
}

/// A positive 16-byte random serial number.
fn random_serial() -> Result<SerialNumber, CertsError> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| CertsError::Key {
        source_name: "system random number generator".to_owned(),
        reason: "could not produce random bytes for a serial number; retry".to_owned(),
    })?;
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    Ok(SerialNumber::from_slice(&bytes))
}

fn transport_san(subject: &TppSubject) -> Result<SanType, CertsError> {
    subject.validate()?;
    let name = subject.san_dns_name();
    rcgen::string::Ia5String::try_from(name.clone())
        .map(SanType::DnsName)
        .map_err(|_| CertsError::InvalidValue {
            field: "software_id (UID)",
            value: name,
            reason: "cannot be used in a DNS subjectAltName",
        })
}

fn server_san(name: &str) -> Result<SanType, CertsError> {
    if let Ok(ip) = name.parse::<IpAddr>() {
        return Ok(SanType::IpAddress(ip));
    }
    let lower = name.to_ascii_lowercase();
    let rest = lower.strip_prefix("*.").unwrap_or(&lower);
    let valid = !rest.is_empty() && lower.len() <= 253 && rest.split('.').all(is_dns_label);
    let invalid = || CertsError::InvalidValue {
        field: "server name",
        value: name.to_owned(),
        reason: "must be an IP address or a DNS name (labels of a-z, 0-9, '-'; optional leading '*.')",
    };
    if !valid {
        return Err(invalid());
    }
    rcgen::string::Ia5String::try_from(lower)
        .map(SanType::DnsName)
        .map_err(|_| invalid())
}

/// The subject of a parsed certificate as an rcgen name, so a loaded CA
/// writes exactly the same issuer name into new leaves.
fn rcgen_name(
    cert: &X509Certificate<'_>,
    source_name: &str,
) -> Result<DistinguishedName, CertsError> {
    let unsupported = |why: &str| CertsError::Certificate {
        source_name: source_name.to_owned(),
        reason: format!(
            "its subject cannot be reused as an issuer name ({why}); regenerate the CA with `fapilab certs init --force`"
        ),
    };
    let mut dn = DistinguishedName::new();
    for rdn in cert.subject().iter() {
        let mut attrs = rdn.iter();
        let (Some(attr), None) = (attrs.next(), attrs.next()) else {
            return Err(unsupported("multi-valued or empty RDN"));
        };
        let oid: Vec<u64> = attr
            .attr_type()
            .iter()
            .ok_or_else(|| unsupported("attribute type OID too large"))?
            .collect();
        let ty = DnType::from_oid(&oid);
        if dn.get(&ty).is_some() {
            return Err(unsupported("repeated attribute type"));
        }
        let value = attr.attr_value();
        let text = std::str::from_utf8(value.data)
            .map_err(|_| unsupported("attribute value is not text"))?;
        let dn_value = match value.header.tag() {
            Tag::Utf8String => DnValue::Utf8String(text.to_owned()),
            Tag::PrintableString => DnValue::PrintableString(
                text.try_into()
                    .map_err(|_| unsupported("bad PrintableString"))?,
            ),
            Tag::Ia5String => {
                DnValue::Ia5String(text.try_into().map_err(|_| unsupported("bad IA5String"))?)
            }
            _ => return Err(unsupported("unsupported string type")),
        };
        dn.push(ty, dn_value);
    }
    Ok(dn)
}

fn subject_key_id(cert: &X509Certificate<'_>) -> Option<Vec<u8>> {
    cert.extensions()
        .iter()
        .find_map(|ext| match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(kid) => Some(kid.0.to_vec()),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::extensions::GeneralName;

    fn ca() -> CertificateAuthority {
        CertificateAuthority::generate(&Lifetimes::default()).expect("generate CA")
    }

    #[test]
    fn ca_has_expected_shape() {
        let ca = ca();
        let cert = parse_cert(ca.cert_der(), "ca").expect("parse");
        assert!(cert.is_ca());
        let bc = cert.basic_constraints().expect("bc").expect("present");
        assert!(bc.critical);
        let ku = cert.key_usage().expect("ku").expect("present").value;
        assert!(ku.key_cert_sign() && ku.crl_sign());
        assert_eq!(
            ca.subject_dn().expect("dn"),
            "CN=fapilab Test Root CA,O=fapilab"
        );
        cert.verify_signature(None).expect("self-signed");
        let days = ca
            .not_after()
            .duration_since(SystemTime::now())
            .expect("future")
            .as_secs()
            / 86_400;
        assert!((89..=90).contains(&days), "{days}");
    }

    #[test]
    fn server_certificate_chains_to_ca() {
        let ca = ca();
        let names = vec![
            "as.fapilab.test".to_owned(),
            "10.0.0.7".to_owned(),
            "localhost".to_owned(),
        ];
        let server = ca.issue_server(&names, 30).expect("issue");
        let cert = parse_cert(&server.cert_der, "server").expect("parse");
        let ca_cert = parse_cert(ca.cert_der(), "ca").expect("parse");
        assert_eq!(cert.issuer().as_raw(), ca_cert.subject().as_raw());
        cert.verify_signature(Some(ca_cert.public_key()))
            .expect("signature verifies with the CA key");
        ca.verify_issued(&server.cert_der, "server")
            .expect("verify_issued");
        assert!(!cert.is_ca());
        let san = cert
            .subject_alternative_name()
            .expect("san")
            .expect("present")
            .value;
        let mut dns = Vec::new();
        let mut ips = Vec::new();
        for name in &san.general_names {
            match name {
                GeneralName::DNSName(d) => dns.push(d.to_string()),
                GeneralName::IPAddress(ip) => ips.push(ip.to_vec()),
                _ => {}
            }
        }
        assert_eq!(dns, vec!["localhost", "as.fapilab.test"]);
        assert!(ips.contains(&vec![127, 0, 0, 1]));
        assert!(ips.contains(&std::net::Ipv6Addr::LOCALHOST.octets().to_vec()));
        assert!(ips.contains(&vec![10, 0, 0, 7]));
        let eku = cert
            .extended_key_usage()
            .expect("eku")
            .expect("present")
            .value;
        assert!(eku.server_auth && !eku.client_auth);
        assert_eq!(
            server.subject_dn().expect("dn"),
            "CN=as.fapilab.test,O=fapilab"
        );
        // A certificate from another CA is rejected.
        let other = CertificateAuthority::generate(&Lifetimes::default()).expect("other");
        let foreign = other.issue_server(&[], 1).expect("issue");
        assert!(ca.verify_issued(&foreign.cert_der, "foreign").is_err());
    }

    #[test]
    fn server_names_are_validated() {
        let ca = ca();
        assert!(ca.issue_server(&["bad name".to_owned()], 1).is_err());
        assert!(ca.issue_server(&["*.ok.test".to_owned()], 1).is_ok());
        let s = ca.issue_server(&[], 1).expect("issue");
        assert_eq!(s.subject_dn().expect("dn"), "CN=localhost,O=fapilab");
    }

    #[test]
    fn transport_certificate_carries_the_subject() {
        let ca = ca();
        let subject = TppSubject::for_name("acme");
        let issued = ca.issue_transport(&subject, 30).expect("issue");
        let cert = parse_cert(&issued.cert_der, "transport").expect("parse");
        let subject_name = cert.subject();
        assert_eq!(subject_name.iter_attributes().count(), 7);
        let get = |oid: &[u64]| {
            let want = crate::dn::dotted(oid);
            subject_name
                .iter_attributes()
                .find(|a| a.attr_type().to_id_string() == want)
                .map(|a| {
                    (
                        a.attr_value().header.tag(),
                        a.as_str().expect("text").to_owned(),
                    )
                })
        };
        use crate::dn::oid;
        assert_eq!(
            get(oid::COMMON_NAME),
            Some((Tag::Utf8String, subject.common_name.clone()))
        );
        assert_eq!(
            get(oid::ORGANIZATION_NAME),
            Some((Tag::Utf8String, subject.organisation_name.clone()))
        );
        assert_eq!(
            get(oid::ORGANIZATIONAL_UNIT_NAME),
            Some((Tag::Utf8String, subject.organisation_id.clone()))
        );
        assert_eq!(
            get(oid::USER_ID),
            Some((Tag::Utf8String, subject.software_id.clone()))
        );
        assert_eq!(
            get(oid::JURISDICTION_COUNTRY_NAME),
            Some((Tag::PrintableString, "BR".to_owned()))
        );
        assert_eq!(
            get(oid::SERIAL_NUMBER),
            Some((Tag::PrintableString, subject.serial_number.clone()))
        );
        assert_eq!(
            get(oid::COUNTRY_NAME),
            Some((Tag::PrintableString, "BR".to_owned()))
        );
        assert_eq!(
            crate::subject_dn_of(&issued.cert_der).expect("dn"),
            subject.rfc4514()
        );
        assert_eq!(
            crate::issuer_dn_of(&issued.cert_der).expect("dn"),
            "CN=fapilab Test Root CA,O=fapilab"
        );
        let eku = cert
            .extended_key_usage()
            .expect("eku")
            .expect("present")
            .value;
        assert!(eku.client_auth && !eku.server_auth);
        let san = cert
            .subject_alternative_name()
            .expect("san")
            .expect("present")
            .value;
        assert_eq!(
            san.general_names,
            vec![GeneralName::DNSName(&subject.san_dns_name())]
        );
        ca.verify_issued(&issued.cert_der, "transport")
            .expect("chains");
        // Leaves never outlive the CA.
        let long = ca.issue_transport(&subject, 10_000).expect("issue");
        assert!(long.not_after() <= ca.not_after());
    }

    #[test]
    fn rendering_round_trips_for_awkward_subjects() {
        let ca = ca();
        let subject = TppSubject {
            common_name: " Instituição #1 ".into(),
            organisation_name: "Org, Ltd + Co; <\"x\"> \\".into(),
            organisation_id: "#org".into(),
            software_id: "SW-ABC".into(),
            jurisdiction_country: "BR".into(),
            serial_number: "12.345.678/0001-95".into(),
            country: "BR".into(),
        };
        let issued = ca.issue_transport(&subject, 1).expect("issue");
        let read_back = crate::subject_dn_of(&issued.cert_der).expect("dn");
        assert_eq!(read_back, subject.rfc4514());
        assert!(crate::dn_matches(&read_back, &subject.rfc4514()));
        assert!(
            read_back.starts_with("CN=\\ Instituição #1\\ ,UID=SW-ABC,OU=\\#org,"),
            "{read_back}"
        );
        let info = crate::inspect_der(&issued.cert_der).expect("inspect");
        assert_eq!(info.dns_names, vec!["sw-abc.tpp.fapilab.test"]);
    }

    #[test]
    fn self_signed_transport_is_self_signed() {
        let subject = TppSubject::for_name("solo");
        let issued = self_signed_transport(&subject, 7).expect("issue");
        let cert = parse_cert(&issued.cert_der, "self").expect("parse");
        assert_eq!(cert.issuer().as_raw(), cert.subject().as_raw());
        cert.verify_signature(None)
            .expect("verifies with its own key");
        assert!(!cert.is_ca());
        assert_eq!(
            crate::subject_dn_of(&issued.cert_der).expect("dn"),
            subject.rfc4514()
        );
        assert_eq!(
            crate::issuer_dn_of(&issued.cert_der).expect("dn"),
            subject.rfc4514()
        );
    }

    #[test]
    fn from_pem_round_trip_keeps_issuing_compatible_leaves() {
        let ca = ca();
        let loaded = CertificateAuthority::from_pem(ca.cert_pem(), &ca.key_pem()).expect("load");
        assert_eq!(loaded.cert_der(), ca.cert_der());
        assert_eq!(loaded.key_pem(), ca.key_pem());
        let secs = |t: SystemTime| {
            t.duration_since(SystemTime::UNIX_EPOCH)
                .expect("after epoch")
                .as_secs()
        };
        assert_eq!(secs(loaded.not_after()), secs(ca.not_after()));
        let leaf = loaded
            .issue_transport(&TppSubject::for_name("again"), 3)
            .expect("issue");
        ca.verify_issued(&leaf.cert_der, "leaf")
            .expect("chains to original");
        // The authority key identifier of the new leaf equals the CA's SKI.
        let ca_cert = parse_cert(ca.cert_der(), "ca").expect("parse");
        let leaf_cert = parse_cert(&leaf.cert_der, "leaf").expect("parse");
        let aki = leaf_cert
            .extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                ParsedExtension::AuthorityKeyIdentifier(a) => {
                    a.key_identifier.as_ref().map(|k| k.0.to_vec())
                }
                _ => None,
            })
            .expect("aki");
        assert_eq!(Some(aki), subject_key_id(&ca_cert));
    }

    #[test]
    fn from_pem_rejects_mismatched_key_and_garbage() {
        let a = ca();
        let b = ca();
        let err = CertificateAuthority::from_pem(a.cert_pem(), &b.key_pem()).expect_err("mismatch");
        assert!(err.to_string().contains("does not belong"), "{err}");
        let err = CertificateAuthority::from_pem("nonsense", &a.key_pem()).expect_err("garbage");
        assert!(err.to_string().contains("CA certificate"), "{err}");
        let leaf = a.issue_server(&[], 1).expect("leaf");
        let err =
            CertificateAuthority::from_pem(&leaf.cert_pem, &leaf.key_pem).expect_err("not a CA");
        assert!(err.to_string().contains("not a CA"), "{err}");
    }
}
