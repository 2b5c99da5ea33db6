//! Public JSON Web Keys (RFC 7517) of the three key types this crate uses.
//!
//! A [`Jwk`] is parsed once: the JSON members are decoded and checked
//! (RFC 7518 §6.2 for EC P-256, §6.3 for RSA, RFC 8037 §2 for Ed25519) and the
//! key is turned into an aws-lc-rs [`ParsedPublicKey`] bound to the one
//! algorithm the key can serve. [`Jwk::verify`] therefore does no JSON or
//! key-parsing work, and a key can never be used with an algorithm other
//! than the one its type implies (RFC 8725 §3.1: keys are tied to
//! algorithms).
//!
//! Rules applied while parsing:
//! * EC keys must use `crv` `P-256` and carry full-length 32-byte `x`/`y`
//!   coordinates of a point on the curve (RFC 7518 §6.2.1).
//! * RSA `n`/`e` are Base64urlUInt values without leading zero octets
//!   (RFC 7518 §2); a modulus under 2048 bits is refused (FAPI2-SP-CR-04),
//!   one above 8192 bits is refused as unsupported, `e` must be odd and > 1.
//! * OKP keys must use `crv` `Ed25519` with a 32-byte `x`.
//! * Private members (`d`, `p`, …) are ignored; callers that must refuse
//!   them (DPoP, RFC 9449 §4.3 check 5, DP-07) ask
//!   [`Jwk::contains_private_members`] first.
//! * `kid`, `alg`, `use` and `x5c` are kept. `x5c` entries are standard
//!   base64 DER certificates (RFC 7517 §4.7); their encoding is checked, but
//!   matching the certificate key against the JWK is left to the X.509 layer.
//!
//! [`Jwk::thumbprint`] is the RFC 7638 SHA-256 thumbprint used as DPoP `jkt`
//! (RFC 9449 §6.1) and computed from the canonical member values.

use std::fmt;

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ED25519, ParsedPublicKey, RSA_PSS_2048_8192_SHA256,
    RsaPublicKeyComponents,
};
use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::error::printable;
use crate::{Algorithm, JoseError, b64};

/// Members that only appear in private or symmetric JWKs (RFC 7518 §6.2.2,
/// §6.3.2, §6.4; RFC 8037 §2).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Smallest RSA modulus accepted (FAPI2-SP-CR-04).
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted (the aws-lc-rs verification limit).
pub const MAX_RSA_BITS: usize = 8192;

/// Decoded public members of a supported key.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum PublicParams {
    /// P-256 point coordinates, 32 bytes each.
    Ec { x: Vec<u8>, y: Vec<u8> },
    /// Modulus and exponent, big-endian without leading zeros.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// Ed25519 public key, 32 bytes.
    Ed25519 { x: Vec<u8> },
}

impl PublicParams {
    fn algorithm(&self) -> Algorithm {
        match self {
            PublicParams::Ec { .. } => Algorithm::Es256,
            PublicParams::Rsa { .. } => Algorithm::Ps256,
            PublicParams::Ed25519 { .. } => Algorithm::EdDsa,
        }
    }

    fn parse_verifier(&self) -> Result<ParsedPublicKey, JoseError> {
        match self {
            PublicParams::Ec { x, y } => {
                let mut point = Vec::with_capacity(65);
                point.push(0x04);
                point.extend_from_slice(x);
                point.extend_from_slice(y);
                ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point).map_err(|_| {
                    JoseError::InvalidKey("EC \"x\"/\"y\" are not a point on P-256".into())
                })
            }
            PublicParams::Rsa { n, e } => RsaPublicKeyComponents {
                n: n.as_slice(),
                e: e.as_slice(),
            }
            .to_parsed_public_key(&RSA_PSS_2048_8192_SHA256)
            .map_err(|_| {
                JoseError::InvalidKey("RSA \"n\"/\"e\" do not form a usable public key".into())
            }),
            PublicParams::Ed25519 { x } => ParsedPublicKey::new(&ED25519, x).map_err(|_| {
                JoseError::InvalidKey("OKP \"x\" is not an Ed25519 public key".into())
            }),
        }
    }

    /// Required members in the lexicographic order of RFC 7638 §3.2/§3.3.
    fn required_members(&self) -> Vec<(&'static str, String)> {
        match self {
            PublicParams::Ec { x, y } => vec![
                ("crv", "P-256".to_string()),
                ("kty", "EC".to_string()),
                ("x", b64::encode(x)),
                ("y", b64::encode(y)),
            ],
            PublicParams::Rsa { n, e } => vec![
                ("e", b64::encode(e)),
                ("kty", "RSA".to_string()),
                ("n", b64::encode(n)),
            ],
            PublicParams::Ed25519 { x } => vec![
                ("crv", "Ed25519".to_string()),
                ("kty", "OKP".to_string()),
                ("x", b64::encode(x)),
            ],
        }
    }
}

/// A parsed public JWK usable for signature verification.
#[derive(Clone)]
pub struct Jwk {
    params: PublicParams,
    verifier: ParsedPublicKey,
    kid: Option<String>,
    alg: Option<String>,
    key_use: Option<String>,
    x5c: Vec<String>,
}

impl Jwk {
    /// Builds a key from already decoded public parameters.
    pub(crate) fn from_params(
        params: PublicParams,
        kid: Option<String>,
        alg: Option<String>,
        key_use: Option<String>,
    ) -> Result<Jwk, JoseError> {
        let verifier = params.parse_verifier()?;
        Ok(Jwk {
            params,
            verifier,
            kid,
            alg,
            key_use,
            x5c: Vec::new(),
        })
    }

    /// Parses a public JWK (see the module documentation for the rules).
    ///
    /// Unknown key types and curves give [`JoseError::UnsupportedKeyType`],
    /// malformed keys [`JoseError::InvalidKey`], RSA keys under 2048 bits
    /// [`JoseError::WeakRsaKey`].
    pub fn from_value(v: &Value) -> Result<Jwk, JoseError> {
        let obj = v
            .as_object()
            .ok_or_else(|| JoseError::InvalidKey("a JWK must be a JSON object".into()))?;
        let params = parse_public_params(obj)?;
        let kid = optional_string(obj, "kid")?;
        let alg = optional_string(obj, "alg")?;
        let key_use = optional_string(obj, "use")?;
        let x5c = parse_x5c(obj)?;
        let mut jwk = Jwk::from_params(params, kid, alg, key_use)?;
        jwk.x5c = x5c;
        Ok(jwk)
    }

    /// Whether a JWK object carries private or symmetric key material
    /// (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, `k`); RFC 9449 §4.3 check 5
    /// (DP-07) rejects DPoP proofs whose `jwk` does.
    pub fn contains_private_members(v: &Value) -> bool {
        v.as_object()
            .is_some_and(|obj| PRIVATE_MEMBERS.iter().any(|m| obj.contains_key(*m)))
    }

    /// The `kid` member.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The `alg` member, as written (it may name an algorithm this crate
    /// does not accept, in which case [`Jwk::supports`] is always false).
    pub fn alg(&self) -> Option<&str> {
        self.alg.as_deref()
    }

    /// The `use` member.
    pub fn key_use(&self) -> Option<&str> {
        self.key_use.as_deref()
    }

    /// The `x5c` chain: standard base64 DER certificates, leaf first.
    pub fn x5c(&self) -> &[String] {
        &self.x5c
    }

    /// The `x5c` certificates decoded to DER.
    pub fn x5c_der(&self) -> Vec<Vec<u8>> {
        // Every entry was checked to decode while parsing.
        self.x5c
            .iter()
            .filter_map(|c| base64::engine::general_purpose::STANDARD.decode(c).ok())
            .collect()
    }

    /// The `kty` value: `EC`, `RSA` or `OKP`.
    pub fn kty(&self) -> &'static str {
        match self.params {
            PublicParams::Ec { .. } => "EC",
            PublicParams::Rsa { .. } => "RSA",
            PublicParams::Ed25519 { .. } => "OKP",
        }
    }

    /// The `crv` value for EC and OKP keys.
    pub fn crv(&self) -> Option<&'static str> {
        match self.params {
            PublicParams::Ec { .. } => Some("P-256"),
            PublicParams::Rsa { .. } => None,
            PublicParams::Ed25519 { .. } => Some("Ed25519"),
        }
    }

    /// The only algorithm this key's type can verify.
    pub fn key_algorithm(&self) -> Algorithm {
        self.params.algorithm()
    }

    /// RFC 7638 SHA-256 thumbprint, base64url: the hash of the required
    /// members in lexicographic order, serialized without whitespace.
    pub fn thumbprint(&self) -> String {
        crate::sha256_b64url(self.thumbprint_input().as_bytes())
    }

    fn thumbprint_input(&self) -> String {
        // Member values are base64url or fixed names, so none needs JSON
        // escaping; the text is built directly in the canonical form.
        let members: Vec<String> = self
            .params
            .required_members()
            .into_iter()
            .map(|(name, value)| format!("\"{name}\":\"{value}\""))
            .collect();
        format!("{{{}}}", members.join(","))
    }

    /// Size of the RSA modulus in bits; `None` for other key types.
    pub fn rsa_modulus_bits(&self) -> Option<usize> {
        match &self.params {
            PublicParams::Rsa { n, .. } => Some(bit_length(n)),
            _ => None,
        }
    }

    /// Only the members required for the key type (those hashed by the
    /// thumbprint), e.g. for a DPoP `jwk` header.
    pub fn to_minimal_value(&self) -> Value {
        let mut obj = Map::new();
        for (name, value) in self.params.required_members() {
            obj.insert(name.to_string(), Value::String(value));
        }
        Value::Object(obj)
    }

    /// The public JWK: required members plus `kid`, `alg`, `use` and `x5c`
    /// when present. Never contains private members.
    pub fn to_value(&self) -> Value {
        let mut value = self.to_minimal_value();
        if let Value::Object(obj) = &mut value {
            if let Some(kid) = &self.kid {
                obj.insert("kid".into(), Value::String(kid.clone()));
            }
            if let Some(alg) = &self.alg {
                obj.insert("alg".into(), Value::String(alg.clone()));
            }
            if let Some(key_use) = &self.key_use {
                obj.insert("use".into(), Value::String(key_use.clone()));
            }
            if !self.x5c.is_empty() {
                obj.insert(
                    "x5c".into(),
                    Value::Array(self.x5c.iter().cloned().map(Value::String).collect()),
                );
            }
        }
        value
    }

    /// Whether this key may verify `alg` signatures: the key type and curve
    /// fit the algorithm, an `alg` member (if any) names exactly it, and
    /// `use` is absent or `sig` (RFC 7517 §4.2, §4.4).
    pub fn supports(&self, alg: Algorithm) -> bool {
        self.params.algorithm() == alg
            && self.alg.as_deref().is_none_or(|a| a == alg.as_str())
            && self.key_use.as_deref().is_none_or(|u| u == "sig")
    }

    /// Verifies a JWS signature over `signing_input`.
    ///
    /// ES256 signatures are the 64-byte `r || s` form of RFC 7518 §3.4 (not
    /// DER), PS256 is RSASSA-PSS/SHA-256 with a 32-byte salt (§3.5), EdDSA is
    /// Ed25519 (RFC 8037 §3.1). Fails with [`JoseError::KeyNotUsable`] unless
    /// [`Jwk::supports`] holds, and with [`JoseError::BadSignature`] when
    /// the signature does not verify.
    pub fn verify(
        &self,
        alg: Algorithm,
        signing_input: &[u8],
        signature: &[u8],
    ) -> Result<(), JoseError> {
        if !self.supports(alg) {
            return Err(JoseError::KeyNotUsable { alg });
        }
        self.verifier
            .verify_sig(signing_input, signature)
            .map_err(|_| JoseError::BadSignature)
    }
}

impl PartialEq for Jwk {
    /// Two keys are equal when their key material and metadata are equal.
    fn eq(&self, other: &Self) -> bool {
        self.params == other.params
            && self.kid == other.kid
            && self.alg == other.alg
            && self.key_use == other.key_use
            && self.x5c == other.x5c
    }
}

impl Eq for Jwk {}

impl fmt::Debug for Jwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jwk")
            .field("kty", &self.kty())
            .field("crv", &self.crv())
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("use", &self.key_use)
            .field("thumbprint", &self.thumbprint())
            .finish_non_exhaustive()
    }
}

impl Serialize for Jwk {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Jwk {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Jwk::from_value(&value).map_err(serde::de::Error::custom)
    }
}

/// Number of significant bits in a big-endian unsigned integer.
pub(crate) fn bit_length(bytes: &[u8]) -> usize {
    match bytes.iter().position(|b| *b != 0) {
        Some(i) => (bytes.len() - i - 1) * 8 + (8 - bytes[i].leading_zeros() as usize),
        None => 0,
    }
}

/// Reads the `kty`/`crv` and public members of a JWK object.
pub(crate) fn parse_public_params(obj: &Map<String, Value>) -> Result<PublicParams, JoseError> {
    let kty = required_string(obj, "kty")?;
    match kty {
        "EC" => {
            let crv = required_string(obj, "crv")?;
            if crv != "P-256" {
                return Err(JoseError::UnsupportedKeyType(format!(
                    "EC curve \"{}\"",
                    printable(crv)
                )));
            }
            let x = fixed_b64(obj, "x", 32, "EC")?;
            let y = fixed_b64(obj, "y", 32, "EC")?;
            Ok(PublicParams::Ec { x, y })
        }
        "RSA" => {
            let n = uint_b64(obj, "n")?;
            let e = uint_b64(obj, "e")?;
            let bits = bit_length(&n);
            if bits < MIN_RSA_BITS {
                return Err(JoseError::WeakRsaKey { bits });
            }
            if bits > MAX_RSA_BITS {
                return Err(JoseError::InvalidKey(format!(
                    "RSA modulus of {bits} bits is larger than the supported {MAX_RSA_BITS} bits"
                )));
            }
            let e_odd = e.last().is_some_and(|b| b & 1 == 1);
            if !e_odd || e == [1] || e.len() > 8 {
                return Err(JoseError::InvalidKey(
                    "RSA exponent \"e\" must be an odd integer greater than 1".into(),
                ));
            }
            Ok(PublicParams::Rsa { n, e })
        }
        "OKP" => {
            let crv = required_string(obj, "crv")?;
            if crv != "Ed25519" {
                return Err(JoseError::UnsupportedKeyType(format!(
                    "OKP curve \"{}\"",
                    printable(crv)
                )));
            }
            let x = fixed_b64(obj, "x", 32, "Ed25519")?;
            Ok(PublicParams::Ed25519 { x })
        }
        other => Err(JoseError::UnsupportedKeyType(format!(
            "kty \"{}\"",
            printable(other)
        ))),
    }
}

/// A member that must be present and a string.
pub(crate) fn required_string<'a>(
    obj: &'a Map<String, Value>,
    name: &str,
) -> Result<&'a str, JoseError> {
    match obj.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(JoseError::InvalidKey(format!(
            "JWK member \"{name}\" must be a string"
        ))),
        None => Err(JoseError::InvalidKey(format!(
            "JWK member \"{name}\" is missing"
        ))),
    }
}

/// A member that may be absent but must be a string when present.
pub(crate) fn optional_string(
    obj: &Map<String, Value>,
    name: &str,
) -> Result<Option<String>, JoseError> {
    match obj.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(JoseError::InvalidKey(format!(
            "JWK member \"{name}\" must be a string"
        ))),
    }
}

/// A base64url member holding exactly `len` bytes.
pub(crate) fn fixed_b64(
    obj: &Map<String, Value>,
    name: &str,
    len: usize,
    what: &str,
) -> Result<Vec<u8>, JoseError> {
    let bytes = any_b64(obj, name)?;
    if bytes.len() != len {
        return Err(JoseError::InvalidKey(format!(
            "{what} member \"{name}\" must be {len} bytes, found {}",
            bytes.len()
        )));
    }
    Ok(bytes)
}

/// A base64url member of any length.
pub(crate) fn any_b64(obj: &Map<String, Value>, name: &str) -> Result<Vec<u8>, JoseError> {
    let text = required_string(obj, name)?;
    b64::decode(text)
        .map_err(|_| JoseError::InvalidKey(format!("JWK member \"{name}\" is not base64url")))
}

/// A Base64urlUInt member (RFC 7518 §2): non-empty, no leading zero octet.
pub(crate) fn uint_b64(obj: &Map<String, Value>, name: &str) -> Result<Vec<u8>, JoseError> {
    let bytes = any_b64(obj, name)?;
    match bytes.first() {
        None => Err(JoseError::InvalidKey(format!(
            "JWK member \"{name}\" is empty"
        ))),
        Some(0) => Err(JoseError::InvalidKey(format!(
            "JWK member \"{name}\" has a leading zero octet (RFC 7518 section 2 requires the minimal encoding)"
        ))),
        Some(_) => Ok(bytes),
    }
}

fn parse_x5c(obj: &Map<String, Value>) -> Result<Vec<String>, JoseError> {
    let Some(value) = obj.get("x5c") else {
        return Ok(Vec::new());
    };
    let bad = || {
        JoseError::InvalidKey(
            "JWK member \"x5c\" must be an array of base64 DER certificates".into(),
        )
    };
    let items = value.as_array().ok_or_else(bad)?;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let text = item.as_str().ok_or_else(bad)?;
        match base64::engine::general_purpose::STANDARD.decode(text) {
            Ok(der) if !der.is_empty() => out.push(text.to_string()),
            _ => return Err(bad()),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// RFC 7638 §3.1 example key.
    pub(crate) fn rfc7638_key() -> Value {
        json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        })
    }

    #[test]
    fn rfc7638_thumbprint_vector() {
        let jwk = Jwk::from_value(&rfc7638_key()).unwrap();
        assert_eq!(
            jwk.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
        assert_eq!(jwk.rsa_modulus_bits(), Some(2048));
        assert_eq!(jwk.kid(), Some("2011-04-29"));
        assert_eq!(jwk.alg(), Some("RS256"));
        // The key is tied to RS256, which this crate refuses, so it supports nothing.
        assert!(Algorithm::ALL.iter().all(|a| !jwk.supports(*a)));
    }

    #[test]
    fn rfc7638_canonical_input_has_no_whitespace_and_sorted_members() {
        let jwk = Jwk::from_value(&rfc7638_key()).unwrap();
        let input = jwk.thumbprint_input();
        assert!(input.starts_with("{\"e\":\"AQAB\",\"kty\":\"RSA\",\"n\":\"0vx7"));
        assert!(!input.contains(' '));
    }

    #[test]
    fn rfc8037_ed25519_thumbprint_vector() {
        // RFC 8037 Appendix A.3.
        let jwk = Jwk::from_value(&json!({
            "kty": "OKP", "crv": "Ed25519",
            "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
        }))
        .unwrap();
        assert_eq!(
            jwk.thumbprint(),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn rsa_1024_is_refused_with_cr04() {
        let n = b64::encode(&{
            let mut n = vec![0xC5u8; 128];
            n[127] |= 1;
            n
        });
        let err = Jwk::from_value(&json!({"kty": "RSA", "n": n, "e": "AQAB"})).unwrap_err();
        assert_eq!(err, JoseError::WeakRsaKey { bits: 1024 });
        assert!(err.to_string().contains("FAPI2-SP-CR-04"));
    }

    #[test]
    fn rejects_malformed_supported_keys() {
        let cases = [
            json!("not an object"),
            json!({"kty": 1}),
            json!({"crv": "P-256"}),
            json!({"kty": "EC", "crv": "P-256", "x": "AQ", "y": "AQ"}),
            json!({"kty": "EC", "crv": "P-256", "x": b64::encode(&[1; 32])}),
            // 32 bytes each but not a point on the curve.
            json!({"kty": "EC", "crv": "P-256", "x": b64::encode(&[1; 32]), "y": b64::encode(&[1; 32])}),
            json!({"kty": "OKP", "crv": "Ed25519", "x": "AQ"}),
            json!({"kty": "OKP", "crv": "Ed25519", "x": "not base64!"}),
            json!({"kty": "RSA", "e": "AQAB"}),
            json!({"kty": "RSA", "n": b64::encode(&[0xC5; 256]), "e": "AA"}),
            json!({"kty": "RSA", "n": b64::encode(&[0xC5; 256]), "e": "AQAB", "kid": 7}),
            json!({"kty": "OKP", "crv": "Ed25519", "x": b64::encode(&[9; 32]), "x5c": "MIIB"}),
            json!({"kty": "OKP", "crv": "Ed25519", "x": b64::encode(&[9; 32]), "x5c": ["%%%"]}),
        ];
        for case in cases {
            let err = Jwk::from_value(&case).unwrap_err();
            assert!(matches!(err, JoseError::InvalidKey(_)), "{case}: {err:?}");
        }
        let mut n = vec![0u8];
        n.extend_from_slice(&[0xC5; 256]);
        let err =
            Jwk::from_value(&json!({"kty": "RSA", "n": b64::encode(&n), "e": "AQAB"})).unwrap_err();
        assert!(err.to_string().contains("leading zero"), "{err}");
    }

    #[test]
    fn unsupported_types_are_distinguishable() {
        for case in [
            json!({"kty": "oct", "k": "AQ"}),
            json!({"kty": "EC", "crv": "P-384", "x": "AQ", "y": "AQ"}),
            json!({"kty": "OKP", "crv": "X25519", "x": "AQ"}),
        ] {
            assert!(
                matches!(
                    Jwk::from_value(&case),
                    Err(JoseError::UnsupportedKeyType(_))
                ),
                "{case}"
            );
        }
    }

    #[test]
    fn private_members_detected_and_ignored() {
        let mut v = rfc7638_key();
        assert!(!Jwk::contains_private_members(&v));
        v["d"] = json!("AQAB");
        assert!(Jwk::contains_private_members(&v));
        let jwk = Jwk::from_value(&v).unwrap();
        assert!(jwk.to_value().get("d").is_none());
        for m in PRIVATE_MEMBERS {
            assert!(Jwk::contains_private_members(&json!({ m: "x" })), "{m}");
        }
        assert!(!Jwk::contains_private_members(&json!("d")));
    }

    #[test]
    fn to_value_round_trips_and_keeps_metadata() {
        let mut v = rfc7638_key();
        v["use"] = json!("sig");
        v["x5c"] = json!(["MIIBAA=="]);
        let jwk = Jwk::from_value(&v).unwrap();
        assert_eq!(jwk.key_use(), Some("sig"));
        assert_eq!(jwk.x5c(), ["MIIBAA==".to_string()]);
        assert_eq!(jwk.x5c_der(), vec![vec![0x30, 0x82, 0x01, 0x00]]);
        let back = Jwk::from_value(&jwk.to_value()).unwrap();
        assert_eq!(back, jwk);
        assert_eq!(jwk.to_value(), v);
        let serialized = serde_json::to_value(&jwk).unwrap();
        let deserialized: Jwk = serde_json::from_value(serialized).unwrap();
        assert_eq!(deserialized, jwk);
        let minimal = jwk.to_minimal_value();
        assert_eq!(minimal.as_object().unwrap().len(), 3);
    }

    #[test]
    fn supports_checks_type_alg_and_use() {
        let x = b64::encode(&[
            0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64,
            0x07, 0x3a, 0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68,
            0xf7, 0x07, 0x51, 0x1a,
        ]);
        let base = json!({"kty": "OKP", "crv": "Ed25519", "x": x});
        let jwk = Jwk::from_value(&base).unwrap();
        assert!(jwk.supports(Algorithm::EdDsa));
        assert!(!jwk.supports(Algorithm::Es256));
        assert_eq!(jwk.key_algorithm(), Algorithm::EdDsa);
        let mut with_alg = base.clone();
        with_alg["alg"] = json!("EdDSA");
        assert!(
            Jwk::from_value(&with_alg)
                .unwrap()
                .supports(Algorithm::EdDsa)
        );
        with_alg["alg"] = json!("Ed25519");
        assert!(
            !Jwk::from_value(&with_alg)
                .unwrap()
                .supports(Algorithm::EdDsa)
        );
        let mut enc = base.clone();
        enc["use"] = json!("enc");
        let enc = Jwk::from_value(&enc).unwrap();
        assert!(!enc.supports(Algorithm::EdDsa));
        assert_eq!(
            enc.verify(Algorithm::EdDsa, b"x", &[0; 64]),
            Err(JoseError::KeyNotUsable {
                alg: Algorithm::EdDsa
            })
        );
    }

    #[test]
    fn rfc8037_ed25519_signature_vector_verifies() {
        // RFC 8037 Appendix A.4.
        let jwk = Jwk::from_value(&json!({
            "kty": "OKP", "crv": "Ed25519",
            "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
        }))
        .unwrap();
        let input = b"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
        let sig = b64::decode(
            "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg",
        )
        .unwrap();
        jwk.verify(Algorithm::EdDsa, input, &sig).unwrap();
        assert_eq!(
            jwk.verify(Algorithm::EdDsa, b"other", &sig),
            Err(JoseError::BadSignature)
        );
    }

    #[test]
    fn bit_length_counts_significant_bits() {
        assert_eq!(bit_length(&[]), 0);
        assert_eq!(bit_length(&[0, 0]), 0);
        assert_eq!(bit_length(&[1]), 1);
        assert_eq!(bit_length(&[0, 0x80, 0]), 16);
    }
}
