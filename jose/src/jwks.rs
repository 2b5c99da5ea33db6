//! JWK sets (RFC 7517 §5) such as a client's registered `jwks` or an
//! authorization server's published keys.
//!
//! Parsing is tolerant where RFC 7517 §5 asks for tolerance and strict
//! elsewhere: members with a key type or curve this crate does not
//! implement, and keys marked `"use":"enc"`, are skipped (a JWKS may mix
//! encryption and signing keys), but a key of a supported type that is
//! malformed, or an RSA key under 2048 bits (FAPI2-SP-CR-04), makes the whole
//! set invalid so that a registration with a broken key is refused rather
//! than silently trimmed.
//!
//! [`Jwks::candidates`] implements FAPI2-SP-CR-08: several keys may share a
//! `kid`, so a verifier narrows by `kid` *and* by key type, curve, `alg` and
//! `use`, and then tries every remaining key.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::{Algorithm, JoseError, Jwk};

/// An ordered set of public signature-verification keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Jwks {
    keys: Vec<Jwk>,
}

impl Jwks {
    /// A set holding the given keys.
    pub fn new(keys: Vec<Jwk>) -> Jwks {
        Jwks { keys }
    }

    /// Parses `{"keys": [...]}`, skipping unsupported and encryption keys.
    pub fn from_value(v: &Value) -> Result<Jwks, JoseError> {
        let keys = v
            .as_object()
            .and_then(|obj| obj.get("keys"))
            .and_then(Value::as_array)
            .ok_or_else(|| {
                JoseError::InvalidKey("a JWK set must be an object with a \"keys\" array".into())
            })?;
        let mut parsed = Vec::with_capacity(keys.len());
        for (index, key) in keys.iter().enumerate() {
            if key.get("use").and_then(Value::as_str) == Some("enc") {
                continue;
            }
            match Jwk::from_value(key) {
                Ok(jwk) => parsed.push(jwk),
                Err(JoseError::UnsupportedKeyType(_)) => {}
                Err(JoseError::InvalidKey(reason)) => {
                    return Err(JoseError::InvalidKey(format!(
                        "key {index} of the set: {reason}"
                    )));
                }
                Err(other) => return Err(other),
            }
        }
        Ok(Jwks { keys: parsed })
    }

    /// The usable keys, in document order.
    pub fn keys(&self) -> &[Jwk] {
        &self.keys
    }

    /// Whether no usable key was found.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Keys that may have produced a signature with `alg` and header `kid`
    /// (FAPI2-SP-CR-08): when `kid` is given only keys with exactly that
    /// `kid` qualify, and every candidate must [`Jwk::supports`] `alg`.
    pub fn candidates<'a>(
        &'a self,
        kid: Option<&'a str>,
        alg: Algorithm,
    ) -> impl Iterator<Item = &'a Jwk> + 'a {
        self.keys.iter().filter(move |key| fits(key, kid, alg))
    }

    /// The key whose RFC 7638 thumbprint is `jkt`, if any.
    pub fn find_by_thumbprint(&self, jkt: &str) -> Option<&Jwk> {
        self.keys.iter().find(|key| key.thumbprint() == jkt)
    }

    /// `{"keys": [...]}` with the public form of every key.
    pub fn to_value(&self) -> Value {
        serde_json::json!({ "keys": self.keys.iter().map(Jwk::to_value).collect::<Vec<_>>() })
    }
}

/// The FAPI2-SP-CR-08 candidate rule: same `kid` when one is given, and the
/// key supports `alg`.
pub(crate) fn fits(key: &Jwk, kid: Option<&str>, alg: Algorithm) -> bool {
    kid.is_none_or(|kid| key.kid() == Some(kid)) && key.supports(alg)
}

impl From<Vec<Jwk>> for Jwks {
    fn from(keys: Vec<Jwk>) -> Self {
        Jwks { keys }
    }
}

impl Serialize for Jwks {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Jwks {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Jwks::from_value(&value).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SigningKey;
    use serde_json::json;

    fn ed_key(kid: &str) -> SigningKey {
        SigningKey::generate(Algorithm::EdDsa, Some(kid.into())).unwrap()
    }

    #[test]
    fn skips_unknown_and_enc_keys_but_fails_on_broken_ones() {
        let sig = ed_key("a").public_jwk().to_value();
        let mut enc = ed_key("b").public_jwk().to_value();
        enc["use"] = json!("enc");
        let set = json!({"keys": [
            {"kty": "oct", "k": "AQ"},
            {"kty": "EC", "crv": "P-521", "x": "AQ", "y": "AQ"},
            {"kty": "RSA", "use": "enc", "n": "AQ", "e": "AQAB"},
            enc,
            sig
        ]});
        let jwks = Jwks::from_value(&set).unwrap();
        assert_eq!(jwks.keys().len(), 1);
        assert_eq!(jwks.keys()[0].kid(), Some("a"));

        let broken = json!({"keys": [sig, {"kty": "OKP", "crv": "Ed25519", "x": "AQ"}]});
        let err = Jwks::from_value(&broken).unwrap_err();
        assert!(err.to_string().contains("key 1"), "{err}");

        let weak =
            json!({"keys": [{"kty": "RSA", "n": crate::b64::encode(&[0xC1; 128]), "e": "AQAB"}]});
        assert_eq!(
            Jwks::from_value(&weak),
            Err(JoseError::WeakRsaKey { bits: 1024 })
        );

        assert!(Jwks::from_value(&json!({"keys": {}})).is_err());
        assert!(Jwks::from_value(&json!([])).is_err());
        assert!(Jwks::from_value(&json!({"keys": []})).unwrap().is_empty());
    }

    #[test]
    fn cr08_two_keys_with_the_same_kid() {
        let ec = SigningKey::generate(Algorithm::Es256, Some("k1".into())).unwrap();
        let ed = ed_key("k1");
        let other = ed_key("k2");
        let jwks = Jwks::new(vec![ed.public_jwk(), ec.public_jwk(), other.public_jwk()]);
        let es: Vec<_> = jwks.candidates(Some("k1"), Algorithm::Es256).collect();
        assert_eq!(es.len(), 1);
        assert_eq!(es[0].kty(), "EC");
        let eddsa: Vec<_> = jwks.candidates(Some("k1"), Algorithm::EdDsa).collect();
        assert_eq!(eddsa, vec![&ed.public_jwk()]);
        assert_eq!(jwks.candidates(None, Algorithm::EdDsa).count(), 2);
        assert_eq!(jwks.candidates(Some("k3"), Algorithm::EdDsa).count(), 0);
        assert_eq!(jwks.candidates(Some("k1"), Algorithm::Ps256).count(), 0);
        assert_eq!(
            jwks.find_by_thumbprint(&ec.public_jwk().thumbprint()),
            Some(&ec.public_jwk())
        );
    }

    #[test]
    fn round_trips_through_json() {
        let jwks = Jwks::from(vec![ed_key("a").public_jwk(), ed_key("b").public_jwk()]);
        let value = jwks.to_value();
        assert_eq!(Jwks::from_value(&value).unwrap(), jwks);
        let text = serde_json::to_string(&jwks).unwrap();
        assert_eq!(serde_json::from_str::<Jwks>(&text).unwrap(), jwks);
    }
}
