//! The subject of a TPP (third-party provider) transport certificate.
//!
//! Open-finance ecosystems identify a client by attributes of its transport
//! certificate's subject: Open Finance Brasil, for instance, puts the
//! organisation id in `OU`, the software statement id in `UID` and the
//! company registration number in `serialNumber`, next to
//! `jurisdictionCountryName`. [`TppSubject`] carries those seven attributes,
//! and [`TppSubject::rfc4514`] renders them exactly as
//! [`subject_dn_of`](crate::subject_dn_of) will read them back from the
//! certificate, which is what `tls_client_auth_subject_dn` (RFC 8705 §2.1.2)
//! is compared against.
//!
//! # Encoding
//!
//! The attributes are written into the certificate in this order (first to
//! last in the `SEQUENCE`, one attribute per RDN):
//!
//! | attribute | OID | ASN.1 type |
//! |---|---|---|
//! | jurisdictionCountryName | 1.3.6.1.4.1.311.60.2.1.3 | PrintableString |
//! | serialNumber | 2.5.4.5 | PrintableString |
//! | C | 2.5.4.6 | PrintableString |
//! | O | 2.5.4.10 | UTF8String |
//! | OU | 2.5.4.11 | UTF8String |
//! | UID | 0.9.2342.19200300.100.1.1 | UTF8String |
//! | CN | 2.5.4.3 | UTF8String |
//!
//! so the RFC 4514 string reads
//! `CN=…,UID=…,OU=…,O=…,C=BR,2.5.4.5=#13…,1.3.6.1.4.1.311.60.2.1.3=#13024252`.

use rcgen::{DistinguishedName, DnType, DnValue};
use serde::{Deserialize, Serialize};

use crate::CertsError;
use crate::dn::{self, Ava, oid, tag};

/// Domain under which every TPP gets its names.
pub const TPP_DOMAIN: &str = "tpp.fapilab.test";

/// The seven subject attributes of a TPP transport certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TppSubject {
    /// `CN`: a host-like name, `<name>.tpp.fapilab.test` by default.
    pub common_name: String,
    /// `O`: the organisation's legal name.
    pub organisation_name: String,
    /// `OU`: the organisation id in the ecosystem's directory.
    pub organisation_id: String,
    /// `UID` (0.9.2342.19200300.100.1.1): the software statement id. It is
    /// also the first label of the certificate's DNS SAN, so it must be a
    /// valid DNS label.
    pub software_id: String,
    /// `jurisdictionCountryName` (1.3.6.1.4.1.311.60.2.1.3), PrintableString.
    pub jurisdiction_country: String,
    /// `serialNumber` (2.5.4.5), PrintableString: the company registration
    /// number (a CNPJ in Brazil).
    pub serial_number: String,
    /// `C`: the ISO 3166 country code.
    pub country: String,
}

impl TppSubject {
    /// Deterministic defaults for a TPP called `name`: the same name always
    /// gives the same subject, so a regenerated certificate keeps matching
    /// an earlier registration.
    ///
    /// * `CN` `<name>.tpp.fapilab.test`, `O` `fapilab TPP <name>`
    /// * `OU` and `UID`: UUID-shaped ids (version 8, RFC 9562) hashed from
    ///   the name
    /// * `serialNumber`: 14 digits hashed from the name, with valid CNPJ
    ///   check digits
    /// * `jurisdictionCountryName` and `C`: `BR`
    pub fn for_name(name: &str) -> TppSubject {
        TppSubject {
            common_name: format!("{name}.{TPP_DOMAIN}"),
            organisation_name: format!("fapilab TPP {name}"),
            organisation_id: uuid_from(&format!("fapilab/organisation/{name}")),
            software_id: uuid_from(&format!("fapilab/software/{name}")),
            jurisdiction_country: "BR".to_owned(),
            serial_number: cnpj_from(&format!("fapilab/registration/{name}")),
            country: "BR".to_owned(),
        }
    }

    /// The subject DN as an RFC 4514 string, by the rules documented in the
    /// crate's [`crate::dn`] module: most specific RDN first, short names
    /// only for RFC 4514's own list (`CN`, `O`, `OU`, `C`, `UID` here), and
    /// `serialNumber` / `jurisdictionCountryName` in dotted-decimal form with
    /// a `#`-hex DER value.
    pub fn rfc4514(&self) -> String {
        dn::render(&self.rdns())
    }

    /// The DNS name put in the transport certificate's SAN:
    /// `<software_id>.tpp.fapilab.test`, lower-cased.
    pub fn san_dns_name(&self) -> String {
        format!("{}.{TPP_DOMAIN}", self.software_id.to_ascii_lowercase())
    }

    /// Check that every attribute can be encoded as documented.
    pub fn validate(&self) -> Result<(), CertsError> {
        non_empty_bounded("common_name (CN)", &self.common_name, 64)?;
        non_empty_bounded("organisation_name (O)", &self.organisation_name, 64)?;
        non_empty_bounded("organisation_id (OU)", &self.organisation_id, 64)?;
        non_empty_bounded("software_id (UID)", &self.software_id, 63)?;
        if !is_dns_label(&self.software_id.to_ascii_lowercase()) {
            return Err(CertsError::InvalidValue {
                field: "software_id (UID)",
                value: self.software_id.clone(),
                reason: "it becomes a DNS label of the SAN, so use only letters, digits and '-' (not first or last)",
            });
        }
        country_code("jurisdiction_country", &self.jurisdiction_country)?;
        country_code("country (C)", &self.country)?;
        non_empty_bounded("serial_number", &self.serial_number, 64)?;
        if !self.serial_number.chars().all(is_printable_char) {
            return Err(CertsError::InvalidValue {
                field: "serial_number",
                value: self.serial_number.clone(),
                reason: "must be a PrintableString: letters, digits, space and '()+,-./:=?",
            });
        }
        Ok(())
    }

    /// The attributes in certificate order, one per RDN.
    pub(crate) fn rdns(&self) -> Vec<Vec<Ava>> {
        let p = tag::PRINTABLE_STRING;
        let u = tag::UTF8_STRING;
        [
            Ava::string(
                oid::JURISDICTION_COUNTRY_NAME,
                p,
                &self.jurisdiction_country,
            ),
            Ava::string(oid::SERIAL_NUMBER, p, &self.serial_number),
            Ava::string(oid::COUNTRY_NAME, p, &self.country),
            Ava::string(oid::ORGANIZATION_NAME, u, &self.organisation_name),
            Ava::string(oid::ORGANIZATIONAL_UNIT_NAME, u, &self.organisation_id),
            Ava::string(oid::USER_ID, u, &self.software_id),
            Ava::string(oid::COMMON_NAME, u, &self.common_name),
        ]
        .into_iter()
        .map(|ava| vec![ava])
        .collect()
    }

    /// The same attributes as an rcgen name, in the same order and with the
    /// same ASN.1 string types as [`rdns`](Self::rdns).
    pub(crate) fn distinguished_name(&self) -> Result<DistinguishedName, CertsError> {
        self.validate()?;
        let mut dn = DistinguishedName::new();
        dn.push(
            DnType::CustomDnType(oid::JURISDICTION_COUNTRY_NAME.to_vec()),
            printable("jurisdiction_country", &self.jurisdiction_country)?,
        );
        dn.push(
            DnType::CustomDnType(oid::SERIAL_NUMBER.to_vec()),
            printable("serial_number", &self.serial_number)?,
        );
        dn.push(
            DnType::CountryName,
            printable("country (C)", &self.country)?,
        );
        dn.push(
            DnType::OrganizationName,
            DnValue::Utf8String(self.organisation_name.clone()),
        );
        dn.push(
            DnType::OrganizationalUnitName,
            DnValue::Utf8String(self.organisation_id.clone()),
        );
        dn.push(
            DnType::CustomDnType(oid::USER_ID.to_vec()),
            DnValue::Utf8String(self.software_id.clone()),
        );
        dn.push(
            DnType::CommonName,
            DnValue::Utf8String(self.common_name.clone()),
        );
        Ok(dn)
    }
}

fn printable(field: &'static str, value: &str) -> Result<DnValue, CertsError> {
    rcgen::string::PrintableString::try_from(value)
        .map(DnValue::PrintableString)
        .map_err(|_| CertsError::InvalidValue {
            field,
            value: value.to_owned(),
            reason: "must be a PrintableString: letters, digits, space and '()+,-./:=?",
        })
}

fn non_empty_bounded(field: &'static str, value: &str, max: usize) -> Result<(), CertsError> {
    if value.trim().is_empty() {
        return Err(CertsError::InvalidValue {
            field,
            value: value.to_owned(),
            reason: "must not be empty",
        });
    }
    if value.chars().count() > max {
        return Err(CertsError::InvalidValue {
            field,
            value: value.to_owned(),
            reason: "is too long for an X.520 attribute (64 characters at most)",
        });
    }
    Ok(())
}

fn country_code(field: &'static str, value: &str) -> Result<(), CertsError> {
    if value.len() == 2 && value.chars().all(|c| c.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(CertsError::InvalidValue {
            field,
            value: value.to_owned(),
            reason: "must be a two-letter upper-case ISO 3166 country code such as BR",
        })
    }
}

fn is_printable_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || " '()+,-./:=?".contains(c)
}

/// 1 to 63 characters of `a-z`, `0-9`, `-`, not starting or ending with `-`.
pub(crate) fn is_dns_label(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// A UUID-shaped string (version 8, RFC 9562 variant) hashed from `seed`.
fn uuid_from(seed: &str) -> String {
    let mut b = crate::util::sha256(seed.as_bytes());
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = crate::util::hex(&b[..16]);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Fourteen digits hashed from `seed`, the last two being CNPJ check digits.
fn cnpj_from(seed: &str) -> String {
    let hash = crate::util::sha256(seed.as_bytes());
    let mut digits: Vec<u32> = hash.iter().take(12).map(|b| u32::from(*b) % 10).collect();
    for weights in [
        &[5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2][..],
        &[6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2][..],
    ] {
        let sum: u32 = digits.iter().zip(weights).map(|(d, w)| d * w).sum();
        let rest = sum % 11;
        digits.push(if rest < 2 { 0 } else { 11 - rest });
    }
    digits
        .iter()
        .filter_map(|d| char::from_digit(*d, 10))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn for_name_is_deterministic_and_valid() {
        let a = TppSubject::for_name("alpha");
        assert_eq!(a, TppSubject::for_name("alpha"));
        assert_ne!(a, TppSubject::for_name("beta"));
        assert_eq!(a.common_name, "alpha.tpp.fapilab.test");
        assert_eq!(a.organisation_name, "fapilab TPP alpha");
        assert_eq!(a.organisation_id.len(), 36);
        assert_eq!(&a.organisation_id[14..15], "8");
        assert_ne!(a.organisation_id, a.software_id);
        assert_eq!(a.serial_number.len(), 14);
        assert!(a.serial_number.chars().all(|c| c.is_ascii_digit()));
        assert_eq!(
            a.san_dns_name(),
            format!("{}.tpp.fapilab.test", a.software_id)
        );
        a.validate().expect("defaults are valid");
    }

    #[test]
    fn cnpj_check_digits_follow_the_algorithm() {
        // A well-known valid CNPJ: 11.222.333/0001-81.
        let digits: Vec<u32> = "112223330001"
            .chars()
            .filter_map(|c| c.to_digit(10))
            .collect();
        let mut d = digits.clone();
        for weights in [
            &[5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2][..],
            &[6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2][..],
        ] {
            let sum: u32 = d.iter().zip(weights).map(|(d, w)| d * w).sum();
            let rest = sum % 11;
            d.push(if rest < 2 { 0 } else { 11 - rest });
        }
        assert_eq!(&d[12..], &[8, 1]);
        let s = cnpj_from("x");
        assert_eq!(s.len(), 14);
    }

    #[test]
    fn rfc4514_rendering() {
        let s = TppSubject {
            common_name: "c.example".into(),
            organisation_name: "Org, Ltd".into(),
            organisation_id: "org-1".into(),
            software_id: "sw-1".into(),
            jurisdiction_country: "BR".into(),
            serial_number: "12".into(),
            country: "BR".into(),
        };
        assert_eq!(
            s.rfc4514(),
            "CN=c.example,UID=sw-1,OU=org-1,O=Org\\, Ltd,C=BR,2.5.4.5=#13023132,1.3.6.1.4.1.311.60.2.1.3=#13024252"
        );
        assert!(crate::dn_matches(
            &s.rfc4514(),
            "CN=c.example,UID=sw-1,OU=org-1,O=Org\\, Ltd,C=BR,serialNumber=12,jurisdictionCountryName=BR"
        ));
    }

    #[test]
    fn validation_rejects_bad_values() {
        let mut s = TppSubject::for_name("x");
        s.country = "bra".into();
        assert!(s.validate().is_err());
        let mut s = TppSubject::for_name("x");
        s.serial_number = "12_34".into();
        assert!(s.validate().is_err());
        let mut s = TppSubject::for_name("x");
        s.software_id = "not a label".into();
        assert!(s.validate().is_err());
    }
}
