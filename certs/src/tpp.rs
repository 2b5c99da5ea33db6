//! Everything a simulated TPP (client) needs to talk to the server: a
//! transport certificate for mutual TLS, JWS signing keys for request
//! objects, client assertions and DPoP, and the JWKS documents that publish
//! them.
//!
//! The public JWKS carries, besides the signing keys, one entry for the
//! transport key with the certificate in `x5c`. RFC 8705 §2.2
//! (`self_signed_tls_client_auth`) needs exactly that: the server finds the
//! presented certificate in the client's JWKS. For CA-issued certificates
//! the entry is harmless. It has no `use` and no `alg`, so a verifier
//! looking for a signature key does not pick it.

use std::fmt;

use fapilab_jose::{Algorithm, SigningKey};
use serde_json::{Value, json};
use x509_parser::oid_registry::{OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY};

use crate::dn::parse_cert;
use crate::{CertificateAuthority, CertsError, IssuedCertificate, TppSubject, util};

/// A TPP's credentials.
pub struct TppBundle {
    /// The TPP's name (a DNS label; also its directory name on disk).
    pub name: String,
    /// The subject of its transport certificate.
    pub subject: TppSubject,
    /// Its mutual-TLS transport certificate and key.
    pub transport: IssuedCertificate,
    /// Whether the transport certificate is self-signed (RFC 8705 §2.2)
    /// rather than issued by the fapilab CA (§2.1).
    pub self_signed: bool,
    /// JWS signing keys: ES256 with kid `<name>-es256`, then PS256 with kid
    /// `<name>-ps256`.
    pub signing_keys: Vec<SigningKey>,
}

impl fmt::Debug for TppBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kids: Vec<Option<&str>> = self.signing_keys.iter().map(SigningKey::kid).collect();
        f.debug_struct("TppBundle")
            .field("name", &self.name)
            .field("subject", &self.subject)
            .field("transport", &self.transport)
            .field("self_signed", &self.self_signed)
            .field("signing_kids", &kids)
            .finish()
    }
}

impl TppBundle {
    /// Create a TPP called `name` with the default subject
    /// [`TppSubject::for_name`], a transport certificate (self-signed or
    /// issued by `ca`) valid for `leaf_days`, and fresh ES256 and PS256
    /// signing keys.
    pub fn generate(
        ca: &CertificateAuthority,
        name: &str,
        self_signed: bool,
        leaf_days: u32,
    ) -> Result<Self, CertsError> {
        validate_name(name)?;
        let subject = TppSubject::for_name(name);
        let transport = if self_signed {
            crate::self_signed_transport(&subject, leaf_days)?
        } else {
            ca.issue_transport(&subject, leaf_days)?
        };
        let mut signing_keys = Vec::with_capacity(2);
        for (alg, suffix) in [(Algorithm::Es256, "es256"), (Algorithm::Ps256, "ps256")] {
            let kid = format!("{name}-{suffix}");
            let key = SigningKey::generate(alg, Some(kid.clone()))
                .map_err(|e| CertsError::jose(format!("generate signing key {kid}"), e))?;
            signing_keys.push(key);
        }
        Ok(TppBundle {
            name: name.to_owned(),
            subject,
            transport,
            self_signed,
            signing_keys,
        })
    }

    /// Rebuild a bundle from stored parts; `private_jwks` is a
    /// `{"keys":[...]}` document as written by
    /// [`private_jwks`](Self::private_jwks). `source_name` names it in errors.
    pub fn from_parts(
        name: &str,
        subject: TppSubject,
        transport: IssuedCertificate,
        self_signed: bool,
        private_jwks: &Value,
        source_name: &str,
    ) -> Result<Self, CertsError> {
        validate_name(name)?;
        let keys = private_jwks
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| CertsError::Key {
                source_name: source_name.to_owned(),
                reason: "no \"keys\" array; regenerate the TPP with --force".to_owned(),
            })?;
        let signing_keys = keys
            .iter()
            .map(|jwk| {
                SigningKey::from_private_jwk(jwk).map_err(|e| CertsError::Key {
                    source_name: source_name.to_owned(),
                    reason: format!("unusable private JWK ({e}); regenerate the TPP with --force"),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TppBundle {
            name: name.to_owned(),
            subject,
            transport,
            self_signed,
            signing_keys,
        })
    }

    /// `{"keys":[...]}` with the private signing JWKs (they contain `d`).
    pub fn private_jwks(&self) -> Value {
        let keys: Vec<Value> = self
            .signing_keys
            .iter()
            .map(SigningKey::to_private_jwk)
            .collect();
        json!({ "keys": keys })
    }

    /// `{"keys":[...]}` with the public signing JWKs followed by the
    /// transport key's JWK (see [`transport_jwk`](Self::transport_jwk)).
    pub fn public_jwks(&self) -> Value {
        let mut keys: Vec<Value> = self
            .signing_keys
            .iter()
            .map(|k| k.public_jwk().to_value())
            .collect();
        // The transport certificate was parsed when the bundle was built, so
        // this only fails for a bundle assembled by hand with a broken
        // certificate; leave the entry out rather than publish garbage.
        if let Ok(jwk) = self.transport_jwk() {
            keys.push(jwk);
        }
        json!({ "keys": keys })
    }

    /// The public JWK of the transport key: `kty` EC, `crv` P-256, `x`,
    /// `y`, `kid` `<name>-transport`, `x5c` (standard base64 DER of the
    /// transport certificate, RFC 7517 §4.7) and `x5t#S256`; no `use`, no
    /// `alg`.
    pub fn transport_jwk(&self) -> Result<Value, CertsError> {
        let source_name = format!("transport certificate of TPP {}", self.name);
        let cert = parse_cert(&self.transport.cert_der, &source_name)?;
        let spki = cert.public_key();
        let curve_ok = spki.algorithm.algorithm == OID_KEY_TYPE_EC_PUBLIC_KEY
            && spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .is_some_and(|oid| oid == OID_EC_P256);
        let point = spki.subject_public_key.data.as_ref();
        if !curve_ok || point.len() != 65 || point[0] != 0x04 {
            return Err(CertsError::Certificate {
                source_name,
                reason: "the key is not an uncompressed ECDSA P-256 key; regenerate the TPP with --force".to_owned(),
            });
        }
        Ok(json!({
            "kty": "EC",
            "crv": "P-256",
            "x": util::b64url(&point[1..33]),
            "y": util::b64url(&point[33..65]),
            "kid": format!("{}-transport", self.name),
            "x5c": [util::b64std(&self.transport.cert_der)],
            "x5t#S256": self.transport.x5t_s256(),
        }))
    }
}

/// Check a TPP name: 1 to 63 characters of `a-z`, `0-9` and `-`, not
/// starting or ending with `-` (it becomes a directory name and a DNS
/// label).
pub fn validate_name(name: &str) -> Result<(), CertsError> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > 63 {
        Some("it is longer than 63 characters")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        Some("it contains characters other than a-z, 0-9 and '-'")
    } else if name.starts_with('-') || name.ends_with('-') {
        Some("it starts or ends with '-'")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(CertsError::InvalidName {
            name: name.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Lifetimes;

    #[test]
    fn names_are_validated() {
        for ok in ["a", "tpp-1", &"x".repeat(63)] {
            validate_name(ok).expect(ok);
        }
        for bad in ["", "A", "a_b", "-a", "a-", "a.b", &"x".repeat(64)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn jwks_documents() {
        let ca = CertificateAuthority::generate(&Lifetimes::default()).expect("ca");
        let tpp = TppBundle::generate(&ca, "acme", false, 10).expect("tpp");
        assert_eq!(tpp.signing_keys.len(), 2);

        let private = tpp.private_jwks();
        let private_keys = private["keys"].as_array().expect("keys");
        assert_eq!(private_keys.len(), 2);
        assert!(private_keys.iter().all(|k| k.get("d").is_some()));
        let kids: Vec<&str> = private_keys
            .iter()
            .filter_map(|k| k["kid"].as_str())
            .collect();
        assert_eq!(kids, vec!["acme-es256", "acme-ps256"]);

        let public = tpp.public_jwks();
        let public_keys = public["keys"].as_array().expect("keys");
        assert_eq!(public_keys.len(), 3);
        for k in public_keys {
            for private_member in ["d", "p", "q", "dp", "dq", "qi"] {
                assert!(k.get(private_member).is_none(), "{private_member} in {k}");
            }
        }
        let transport = public_keys
            .iter()
            .find(|k| k["kid"] == "acme-transport")
            .expect("transport entry");
        assert!(transport.get("use").is_none() && transport.get("alg").is_none());
        assert_eq!(transport["kty"], "EC");
        assert_eq!(
            transport["x5c"][0].as_str().expect("x5c"),
            util::b64std(&tpp.transport.cert_der)
        );
        assert_eq!(transport["x5t#S256"], tpp.transport.x5t_s256());

        // The private JWKS loads back into the same keys.
        let again = TppBundle::from_parts(
            "acme",
            tpp.subject.clone(),
            tpp.transport.clone(),
            false,
            &private,
            "test",
        )
        .expect("from parts");
        assert_eq!(again.public_jwks(), public);
    }

    #[test]
    fn self_signed_bundle() {
        let ca = CertificateAuthority::generate(&Lifetimes::default()).expect("ca");
        let tpp = TppBundle::generate(&ca, "solo", true, 10).expect("tpp");
        assert!(tpp.self_signed);
        assert!(ca.verify_issued(&tpp.transport.cert_der, "solo").is_err());
        assert_eq!(
            crate::issuer_dn_of(&tpp.transport.cert_der).expect("issuer"),
            tpp.subject.rfc4514()
        );
    }
}
