//! Distinguished names as RFC 4514 strings.
//!
//! RFC 8705 `tls_client_auth` registers a client by the subject DN of its
//! certificate (`tls_client_auth_subject_dn`), so the server needs a string
//! form of a DN that is the same whether it was computed from a
//! [`TppSubject`](crate::TppSubject) or read back from a certificate. This
//! module owns that rendering, and a DN-wise comparison for strings that
//! came from elsewhere (a directory, a DCR request).
//!
//! # Rendering rules
//!
//! These are the rules of RFC 4514 §2, with the choices it leaves open fixed:
//!
//! * RDNs are written from the last one in the certificate's `SEQUENCE` to
//!   the first (most specific first), separated by `,` with no spaces.
//! * The attribute values of a multi-valued RDN are joined with `+`, in the
//!   order the certificate encodes them.
//! * An attribute type is written as its short name only when RFC 4514 §3
//!   lists one: `CN`, `L`, `ST`, `O`, `OU`, `C`, `STREET`, `DC`, `UID`. Every
//!   other type (`serialNumber` 2.5.4.5, `jurisdictionCountryName`
//!   1.3.6.1.4.1.311.60.2.1.3, `businessCategory`, `emailAddress`, ...) is
//!   written in dotted-decimal form.
//! * A dotted-decimal type always gets the `#` form of its value: `#`
//!   followed by the lower-case hex of the value's complete DER encoding
//!   (tag, length, contents), as RFC 4514 §2.4 prescribes. For example
//!   `jurisdictionCountryName=BR` as a PrintableString renders as
//!   `1.3.6.1.4.1.311.60.2.1.3=#13024252`. This is also what Java's
//!   `X500Principal.getName(RFC2253)` prints, which many FAPI tools use.
//! * A short-name type gets the string form when its value is a
//!   UTF8String, PrintableString, IA5String, NumericString, BMPString or
//!   UniversalString; any other encoding falls back to the `#` form.
//! * In the string form, `"` `+` `,` `;` `<` `>` `\` are escaped with a
//!   backslash, as are a leading `#` or space and a trailing space; NUL
//!   becomes `\00`. Nothing else is escaped; non-ASCII text stays UTF-8.
//!
//! Because the rendering depends on how a value is encoded (the `#` form
//! carries the ASN.1 tag), two DNs that a directory would treat as equal
//! can render differently. [`dn_matches`] compares DN-wise instead.

use x509_parser::asn1_rs::{Any, Class, FromDer, ToDer};
use x509_parser::certificate::X509Certificate;
use x509_parser::x509::X509Name;

use crate::CertsError;

/// ASN.1 universal tags for the string types we handle.
pub(crate) mod tag {
    pub const UTF8_STRING: u32 = 12;
    pub const NUMERIC_STRING: u32 = 18;
    pub const PRINTABLE_STRING: u32 = 19;
    pub const IA5_STRING: u32 = 22;
    pub const UNIVERSAL_STRING: u32 = 28;
    pub const BMP_STRING: u32 = 30;
}

/// Attribute type OIDs used by fapilab certificates.
pub mod oid {
    /// commonName
    pub const COMMON_NAME: &[u64] = &[2, 5, 4, 3];
    /// serialNumber
    pub const SERIAL_NUMBER: &[u64] = &[2, 5, 4, 5];
    /// countryName
    pub const COUNTRY_NAME: &[u64] = &[2, 5, 4, 6];
    /// organizationName
    pub const ORGANIZATION_NAME: &[u64] = &[2, 5, 4, 10];
    /// organizationalUnitName
    pub const ORGANIZATIONAL_UNIT_NAME: &[u64] = &[2, 5, 4, 11];
    /// userId (UID), RFC 4519
    pub const USER_ID: &[u64] = &[0, 9, 2342, 19_200_300, 100, 1, 1];
    /// jurisdictionCountryName (EV guidelines)
    pub const JURISDICTION_COUNTRY_NAME: &[u64] = &[1, 3, 6, 1, 4, 1, 311, 60, 2, 1, 3];
}

/// The short names RFC 4514 §3 defines; the only ones we ever print.
const RFC4514_SHORT_NAMES: &[(&str, &str)] = &[
    ("CN", "2.5.4.3"),
    ("L", "2.5.4.7"),
    ("ST", "2.5.4.8"),
    ("O", "2.5.4.10"),
    ("OU", "2.5.4.11"),
    ("C", "2.5.4.6"),
    ("STREET", "2.5.4.9"),
    ("DC", "0.9.2342.19200300.100.1.25"),
    ("UID", "0.9.2342.19200300.100.1.1"),
];

/// Further names accepted (case-insensitively) when parsing, never printed.
const EXTRA_PARSE_NAMES: &[(&str, &str)] = &[
    ("commonName", "2.5.4.3"),
    ("localityName", "2.5.4.7"),
    ("stateOrProvinceName", "2.5.4.8"),
    ("organizationName", "2.5.4.10"),
    ("organizationalUnitName", "2.5.4.11"),
    ("countryName", "2.5.4.6"),
    ("street", "2.5.4.9"),
    ("domainComponent", "0.9.2342.19200300.100.1.25"),
    ("userId", "0.9.2342.19200300.100.1.1"),
    ("serialNumber", "2.5.4.5"),
    ("jurisdictionCountryName", "1.3.6.1.4.1.311.60.2.1.3"),
    ("jurisdictionC", "1.3.6.1.4.1.311.60.2.1.3"),
    (
        "jurisdictionStateOrProvinceName",
        "1.3.6.1.4.1.311.60.2.1.2",
    ),
    ("jurisdictionST", "1.3.6.1.4.1.311.60.2.1.2"),
    ("jurisdictionLocalityName", "1.3.6.1.4.1.311.60.2.1.1"),
    ("jurisdictionL", "1.3.6.1.4.1.311.60.2.1.1"),
    ("businessCategory", "2.5.4.15"),
    ("emailAddress", "1.2.840.113549.1.9.1"),
    ("title", "2.5.4.12"),
    ("GN", "2.5.4.42"),
    ("givenName", "2.5.4.42"),
    ("SN", "2.5.4.4"),
    ("surname", "2.5.4.4"),
    ("organizationIdentifier", "2.5.4.97"),
];

/// One attribute of an RDN: its type as a dotted OID and its value as DER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ava {
    pub oid: String,
    /// Universal tag number, when the value is a universal primitive.
    pub universal_tag: Option<u32>,
    /// Contents octets of the value.
    pub content: Vec<u8>,
    /// Complete DER encoding of the value (tag, length, contents).
    pub der: Vec<u8>,
}

impl Ava {
    /// An attribute whose value is a universal primitive string type.
    pub(crate) fn string(oid: &[u64], universal_tag: u32, value: &str) -> Self {
        let content = value.as_bytes().to_vec();
        let mut der = Vec::with_capacity(content.len() + 6);
        // All universal tags we build are < 31, so the tag fits one octet.
        der.push(u8::try_from(universal_tag).unwrap_or(0));
        push_der_length(&mut der, content.len());
        der.extend_from_slice(&content);
        Ava {
            oid: dotted(oid),
            universal_tag: Some(universal_tag),
            content,
            der,
        }
    }
}

fn push_der_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let significant = &bytes[skip..];
        out.push(0x80 | significant.len() as u8);
        out.extend_from_slice(significant);
    }
}

pub(crate) fn dotted(oid: &[u64]) -> String {
    oid.iter().map(u64::to_string).collect::<Vec<_>>().join(".")
}

/// Render RDNs (in certificate order) as an RFC 4514 string.
pub(crate) fn render(rdns: &[Vec<Ava>]) -> String {
    rdns.iter()
        .rev()
        .map(|rdn| rdn.iter().map(render_ava).collect::<Vec<_>>().join("+"))
        .collect::<Vec<_>>()
        .join(",")
}

fn render_ava(ava: &Ava) -> String {
    let short = RFC4514_SHORT_NAMES
        .iter()
        .find(|(_, oid)| *oid == ava.oid)
        .map(|(name, _)| *name);
    match short {
        Some(name) => match decode_string(ava.universal_tag, &ava.content) {
            Some(text) => format!("{name}={}", escape_value(&text)),
            None => format!("{name}=#{}", crate::util::hex(&ava.der)),
        },
        None => format!("{}=#{}", ava.oid, crate::util::hex(&ava.der)),
    }
}

/// Decode the contents of a string-typed value to Unicode, if it is one we
/// can decode without guessing a character set.
fn decode_string(universal_tag: Option<u32>, content: &[u8]) -> Option<String> {
    match universal_tag? {
        tag::UTF8_STRING | tag::PRINTABLE_STRING | tag::IA5_STRING | tag::NUMERIC_STRING => {
            String::from_utf8(content.to_vec()).ok()
        }
        tag::BMP_STRING => {
            if !content.len().is_multiple_of(2) {
                return None;
            }
            let units: Vec<u16> = content
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        tag::UNIVERSAL_STRING => {
            if !content.len().is_multiple_of(4) {
                return None;
            }
            content
                .chunks_exact(4)
                .map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
                .collect()
        }
        _ => None,
    }
}

fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 4);
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\0' => out.push_str("\\00"),
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            _ => out.push(c),
        }
    }
    out
}

fn avas_of_name(name: &X509Name<'_>, source_name: &str) -> Result<Vec<Vec<Ava>>, CertsError> {
    let mut rdns = Vec::new();
    for rdn in name.iter() {
        let mut avas = Vec::new();
        for attr in rdn.iter() {
            let value = attr.attr_value();
            let der = value.to_der_vec().map_err(|e| CertsError::Certificate {
                source_name: source_name.to_owned(),
                reason: format!("cannot re-encode a name attribute ({e}); the certificate is malformed, regenerate it"),
            })?;
            let universal_tag = (value.header.class() == Class::Universal
                && !value.header.is_constructed())
            .then_some(value.header.tag().0);
            avas.push(Ava {
                oid: attr.attr_type().to_id_string(),
                universal_tag,
                content: value.data.to_vec(),
                der,
            });
        }
        rdns.push(avas);
    }
    Ok(rdns)
}

pub(crate) fn parse_cert<'a>(
    der: &'a [u8],
    source_name: &str,
) -> Result<X509Certificate<'a>, CertsError> {
    match x509_parser::parse_x509_certificate(der) {
        Ok(([], cert)) => Ok(cert),
        Ok(_) => Err(CertsError::Certificate {
            source_name: source_name.to_owned(),
            reason: "trailing bytes after the certificate; regenerate it".to_owned(),
        }),
        Err(e) => Err(CertsError::Certificate {
            source_name: source_name.to_owned(),
            reason: format!("not a valid X.509 certificate ({e}); regenerate it"),
        }),
    }
}

/// The subject DN of a DER certificate as an RFC 4514 string, rendered by
/// the rules in this module's documentation — the same rules as
/// [`TppSubject::rfc4514`](crate::TppSubject::rfc4514), so the two are equal
/// for every certificate this crate issues.
pub fn subject_dn_of(cert_der: &[u8]) -> Result<String, CertsError> {
    let cert = parse_cert(cert_der, "certificate")?;
    Ok(render(&avas_of_name(cert.subject(), "certificate")?))
}

/// The issuer DN of a DER certificate as an RFC 4514 string (same rules as
/// [`subject_dn_of`]).
pub fn issuer_dn_of(cert_der: &[u8]) -> Result<String, CertsError> {
    let cert = parse_cert(cert_der, "certificate")?;
    Ok(render(&avas_of_name(cert.issuer(), "certificate")?))
}

pub(crate) fn render_name(name: &X509Name<'_>, source_name: &str) -> Result<String, CertsError> {
    Ok(render(&avas_of_name(name, source_name)?))
}

// ---------------------------------------------------------------------------
// Parsing and DN-wise comparison
// ---------------------------------------------------------------------------

/// A parsed attribute value, normalised for comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    /// Text, after whitespace folding and lower-casing (caseIgnoreMatch).
    Text(String),
    /// A value we could not turn into text; compared octet by octet.
    Der(Vec<u8>),
}

type ParsedRdn = Vec<(String, Value)>;

/// Compare two RFC 4514 DN strings DN-wise rather than character-wise.
///
/// Attribute types match by OID, whether written as an RFC 4514 short name,
/// a common long name (`serialNumber`, `jurisdictionCountryName`,
/// `businessCategory`, ... case-insensitively), or dotted decimal with or
/// without an `OID.` prefix. Values written in the `#` form are decoded when
/// they hold a string type, so `2.5.4.5=#13023132` matches
/// `serialNumber=12`. Text values match like LDAP `caseIgnoreMatch`:
/// leading and trailing spaces are dropped, inner runs of spaces count as
/// one, and case is ignored. The order of RDNs matters; the order of values
/// inside a multi-valued RDN does not. Strings that do not parse never
/// match.
pub fn dn_matches(a: &str, b: &str) -> bool {
    match (parse_dn(a), parse_dn(b)) {
        (Some(a), Some(b)) => {
            a.len() == b.len()
                && a.iter()
                    .zip(b.iter())
                    .all(|(x, y)| x.len() == y.len() && x.iter().all(|ava| y.contains(ava)))
        }
        _ => false,
    }
}

fn parse_dn(s: &str) -> Option<Vec<ParsedRdn>> {
    let s = s.trim();
    if s.is_empty() {
        return Some(Vec::new());
    }
    let mut rdns = Vec::new();
    let mut current: ParsedRdn = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    loop {
        // attribute type
        let start = i;
        while i < chars.len() && chars[i] != '=' {
            i += 1;
        }
        if i >= chars.len() {
            return None;
        }
        let attr_type: String = chars[start..i].iter().collect();
        let oid = resolve_type(attr_type.trim())?;
        i += 1; // '='
        // attribute value, up to an unescaped ',' or '+'
        let mut raw = String::new();
        let mut escaped_positions = Vec::new();
        while i < chars.len() && chars[i] != ',' && chars[i] != '+' {
            if chars[i] == '\\' {
                let next = *chars.get(i + 1)?;
                if next.is_ascii_hexdigit() {
                    // \XX hex pair(s): collect bytes until no more pairs follow.
                    let mut bytes = Vec::new();
                    while i < chars.len() && chars[i] == '\\' {
                        let (h, l) = (*chars.get(i + 1)?, *chars.get(i + 2)?);
                        if !(h.is_ascii_hexdigit() && l.is_ascii_hexdigit()) {
                            break;
                        }
                        bytes.push(u8::from_str_radix(&format!("{h}{l}"), 16).ok()?);
                        i += 3;
                    }
                    if bytes.is_empty() {
                        // A backslash before a lone hex digit is not a valid escape.
                        return None;
                    }
                    let text = String::from_utf8(bytes).ok()?;
                    for c in text.chars() {
                        escaped_positions.push(raw.chars().count());
                        raw.push(c);
                    }
                    continue;
                }
                escaped_positions.push(raw.chars().count());
                raw.push(next);
                i += 2;
                continue;
            }
            raw.push(chars[i]);
            i += 1;
        }
        let value = parse_value(&raw, &escaped_positions)?;
        current.push((oid, value));
        match chars.get(i) {
            None => {
                rdns.push(current);
                break;
            }
            Some('+') => {
                i += 1;
            }
            Some(_) => {
                rdns.push(std::mem::take(&mut current));
                i += 1;
            }
        }
    }
    // RFC 4514 writes the most specific RDN first; keep that order.
    Some(rdns)
}

fn resolve_type(name: &str) -> Option<String> {
    let bare = name
        .strip_prefix("OID.")
        .or_else(|| name.strip_prefix("oid."))
        .unwrap_or(name);
    if !bare.is_empty() && bare.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Some(bare.to_owned());
    }
    RFC4514_SHORT_NAMES
        .iter()
        .chain(EXTRA_PARSE_NAMES.iter())
        .find(|(short, _)| short.eq_ignore_ascii_case(bare))
        .map(|(_, oid)| (*oid).to_owned())
}

fn parse_value(raw: &str, escaped_positions: &[usize]) -> Option<Value> {
    if raw.starts_with('#') && !escaped_positions.contains(&0) {
        let hex = &raw[1..];
        if !hex.len().is_multiple_of(2) {
            return None;
        }
        let mut der = Vec::with_capacity(hex.len() / 2);
        for pair in hex.as_bytes().chunks_exact(2) {
            let s = std::str::from_utf8(pair).ok()?;
            der.push(u8::from_str_radix(s, 16).ok()?);
        }
        return Some(value_from_der(der));
    }
    // Unescaped surrounding spaces are insignificant; escaped ones are kept,
    // but caseIgnoreMatch folds them away anyway.
    Some(Value::Text(fold_text(raw)))
}

fn value_from_der(der: Vec<u8>) -> Value {
    if let Ok((rest, any)) = Any::from_der(&der)
        && rest.is_empty()
        && any.header.class() == Class::Universal
        && !any.header.is_constructed()
        && let Some(text) = decode_string(Some(any.header.tag().0), any.data)
    {
        return Value::Text(fold_text(&text));
    }
    Value::Der(der)
}

fn fold_text(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_reverse_order_and_hex_for_dotted_types() {
        let rdns = vec![
            vec![Ava::string(
                oid::JURISDICTION_COUNTRY_NAME,
                tag::PRINTABLE_STRING,
                "BR",
            )],
            vec![Ava::string(oid::COUNTRY_NAME, tag::PRINTABLE_STRING, "BR")],
            vec![Ava::string(
                oid::ORGANIZATION_NAME,
                tag::UTF8_STRING,
                " Acme, Inc;<>\"+\\",
            )],
            vec![Ava::string(oid::COMMON_NAME, tag::UTF8_STRING, "#x é ")],
        ];
        assert_eq!(
            render(&rdns),
            "CN=\\#x é\\ ,O=\\ Acme\\, Inc\\;\\<\\>\\\"\\+\\\\,C=BR,1.3.6.1.4.1.311.60.2.1.3=#13024252"
        );
    }

    #[test]
    fn long_values_use_long_form_length() {
        let long = "a".repeat(200);
        let ava = Ava::string(oid::SERIAL_NUMBER, tag::PRINTABLE_STRING, &long);
        assert_eq!(&ava.der[..3], &[0x13, 0x81, 200]);
        let ava = Ava::string(oid::SERIAL_NUMBER, tag::PRINTABLE_STRING, &"a".repeat(300));
        assert_eq!(&ava.der[..4], &[0x13, 0x82, 0x01, 0x2c]);
    }

    #[test]
    fn dn_matching_is_dn_wise() {
        assert!(dn_matches(
            "CN=a.example,2.5.4.5=#13023132,1.3.6.1.4.1.311.60.2.1.3=#13024252",
            "cn=A.Example, serialNumber=12, jurisdictionCountryName=BR"
        ));
        assert!(dn_matches("CN=x+UID=y,O=z", "UID=y+CN=x,O=z"));
        assert!(dn_matches("O=Acme\\, Inc", "O=acme\\2c inc"));
        assert!(dn_matches("OID.2.5.4.3=x", "CN=x"));
        assert!(!dn_matches("CN=x,O=z", "O=z,CN=x"));
        assert!(!dn_matches("CN=x", "CN=y"));
        assert!(!dn_matches("CN=x", "bogusAttr=x"));
        assert!(!dn_matches("CN=x", "CN=x,O=y"));
        assert!(!dn_matches("CN=\\1x", "CN=\\1x"));
        assert!(!dn_matches("CN=x\\", "CN=x\\"));
        assert!(!dn_matches("CN", "CN"));
        assert!(dn_matches("", " "));
        assert!(dn_matches("CN=caf\\c3\\a9", "cn=CAFÉ"));
    }
}
