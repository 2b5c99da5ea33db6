//! A minimal DER reader (ITU-T X.690) for one job: pulling the RSA private
//! key components out of a PKCS#8 `PrivateKeyInfo` (RFC 5208 §5) whose
//! `privateKey` octet string holds an `RSAPrivateKey` (RFC 8017 Appendix
//! A.1.2).
//!
//! aws-lc-rs can build an RSA key from JWK-style components but does not hand
//! them back, and a private RSA JWK (RFC 7518 §6.3.2) needs `d`, `p`, `q`,
//! `dp`, `dq` and `qi`. Only definite lengths and single-byte tags are
//! supported, which is all DER allows for these structures.

use crate::JoseError;

const TAG_INTEGER: u8 = 0x02;
const TAG_OCTET_STRING: u8 = 0x04;
const TAG_SEQUENCE: u8 = 0x30;

/// The components of a two-prime RSA private key, big-endian without
/// leading zero octets.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct RsaPrivateComponents {
    pub n: Vec<u8>,
    pub e: Vec<u8>,
    pub d: Vec<u8>,
    pub p: Vec<u8>,
    pub q: Vec<u8>,
    pub dp: Vec<u8>,
    pub dq: Vec<u8>,
    pub qi: Vec<u8>,
}

struct Reader<'a> {
    data: &'a [u8],
}

fn malformed() -> JoseError {
    JoseError::InvalidPrivateKey("the PKCS#8 structure of the RSA key is malformed".into())
}

impl<'a> Reader<'a> {
    fn new(data: &'a [u8]) -> Self {
        Reader { data }
    }

    fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Reads one element with the given tag and returns its contents.
    fn expect(&mut self, tag: u8) -> Result<&'a [u8], JoseError> {
        let (&found, rest) = self.data.split_first().ok_or_else(malformed)?;
        if found != tag {
            return Err(malformed());
        }
        let (&first, mut rest) = rest.split_first().ok_or_else(malformed)?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 || rest.len() < count {
                return Err(malformed());
            }
            let (len_bytes, after) = rest.split_at(count);
            rest = after;
            let len = len_bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            // DER requires the shortest length form.
            if len < 0x80 || len_bytes.first() == Some(&0) {
                return Err(malformed());
            }
            len
        };
        if rest.len() < len {
            return Err(malformed());
        }
        let (content, after) = rest.split_at(len);
        self.data = after;
        Ok(content)
    }

    /// Reads a non-negative INTEGER and returns it without leading zeros.
    fn unsigned(&mut self) -> Result<Vec<u8>, JoseError> {
        let content = self.expect(TAG_INTEGER)?;
        match content.first() {
            None => Err(malformed()),
            Some(b) if b & 0x80 != 0 => Err(malformed()),
            Some(_) => {
                let start = content
                    .iter()
                    .position(|b| *b != 0)
                    .unwrap_or(content.len());
                let value = &content[start..];
                Ok(if value.is_empty() {
                    vec![0]
                } else {
                    value.to_vec()
                })
            }
        }
    }
}

/// Extracts the RSA components from a PKCS#8 v1 (or v2) `PrivateKeyInfo`.
pub(crate) fn rsa_components_from_pkcs8(pkcs8: &[u8]) -> Result<RsaPrivateComponents, JoseError> {
    let mut outer = Reader::new(pkcs8);
    let mut info = Reader::new(outer.expect(TAG_SEQUENCE)?);
    let version = info.unsigned()?;
    if version != [0] && version != [1] {
        return Err(malformed());
    }
    info.expect(TAG_SEQUENCE)?; // AlgorithmIdentifier, checked by aws-lc-rs.
    let mut key = Reader::new(info.expect(TAG_OCTET_STRING)?);
    let mut rsa = Reader::new(key.expect(TAG_SEQUENCE)?);
    if rsa.unsigned()? != [0] {
        return Err(JoseError::InvalidPrivateKey(
            "multi-prime RSA keys are not supported".into(),
        ));
    }
    let components = RsaPrivateComponents {
        n: rsa.unsigned()?,
        e: rsa.unsigned()?,
        d: rsa.unsigned()?,
        p: rsa.unsigned()?,
        q: rsa.unsigned()?,
        dp: rsa.unsigned()?,
        dq: rsa.unsigned()?,
        qi: rsa.unsigned()?,
    };
    if !rsa.is_empty() {
        return Err(malformed());
    }
    Ok(components)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = content.len();
        if len < 0x80 {
            out.push(len as u8);
        } else if len < 0x100 {
            out.extend_from_slice(&[0x81, len as u8]);
        } else {
            out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
        }
        out.extend_from_slice(content);
        out
    }

    fn toy_pkcs8(ints: &[&[u8]]) -> Vec<u8> {
        let mut rsa = Vec::new();
        for i in ints {
            rsa.extend(tlv(TAG_INTEGER, i));
        }
        let rsa = tlv(TAG_SEQUENCE, &rsa);
        let mut info = tlv(TAG_INTEGER, &[0]);
        info.extend(tlv(TAG_SEQUENCE, &[0x05, 0x00]));
        info.extend(tlv(TAG_OCTET_STRING, &rsa));
        tlv(TAG_SEQUENCE, &info)
    }

    /// A PKCS#8 RSA key with the given version and modulus and small fixed other members.
    fn toy_rsa_key(version: u8, n: &[u8]) -> Vec<u8> {
        toy_pkcs8(&[&[version], n, &[1, 0, 1], &[5], &[7], &[11], &[13], &[17], &[19]])
    }

    #[test]
    fn reads_components_and_strips_sign_octets() {
        let big = [0x00, 0x80, 0x01];
        let doc = toy_rsa_key(0, &big);
        let c = rsa_components_from_pkcs8(&doc).unwrap();
        assert_eq!(c.n, vec![0x80, 0x01]);
        assert_eq!(c.e, vec![1, 0, 1]);
        assert_eq!(
            (c.d, c.p, c.q, c.dp, c.dq, c.qi),
            (vec![5], vec![7], vec![11], vec![13], vec![17], vec![19])
        );
    }

    #[test]
    fn rejects_truncated_and_odd_input() {
        let doc = toy_rsa_key(0, &[3]);
        for cut in 0..doc.len() {
            assert!(rsa_components_from_pkcs8(&doc[..cut]).is_err(), "cut {cut}");
        }
        let multi = toy_rsa_key(1, &[3]);
        assert!(rsa_components_from_pkcs8(&multi).is_err());
        let negative = toy_pkcs8(&[
            &[0],
            &[0x80],
            &[1, 0, 1],
            &[5],
            &[7],
            &[11],
            &[13],
            &[17],
            &[19],
        ]);
        assert!(rsa_components_from_pkcs8(&negative).is_err());
        // Non-minimal long-form length.
        assert!(
            Reader::new(&[TAG_INTEGER, 0x81, 0x01, 0x05])
                .expect(TAG_INTEGER)
                .is_err()
        );
        assert!(rsa_components_from_pkcs8(&[]).is_err());
    }
}
