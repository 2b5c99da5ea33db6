//! Compact JWS (RFC 7515 §7.1) signing, parsing and verification.
//!
//! Parsing is deliberately narrow, following RFC 8725 (JWT best current
//! practice):
//! * exactly three base64url parts separated by dots; the JWS JSON
//!   serialization and JWE (five parts) are refused;
//! * the header must be a JSON object; the payload is kept as bytes and only
//!   interpreted by [`CompactJws::claims`];
//! * a `crit` header is refused, because this crate understands no JWS
//!   extension (RFC 7515 §4.1.11);
//! * tokens above [`MAX_JWS_LEN`] bytes are refused before decoding;
//! * the algorithm comes from `alg` but must be one of PS256, ES256, EdDSA
//!   (FAPI2-SP-CR-02, RFC 8725 §3.1), and verification only uses a key the
//!   caller supplies; `jwk`, `jku`, `x5u` and `x5c` headers are never
//!   trusted implicitly (RFC 8725 §3.10).
//!
//! Duplicate header member names are resolved by keeping the last one, which
//! RFC 7515 §5.2 permits.

use serde_json::{Map, Value};

use crate::{Algorithm, JoseError, Jwk, Jwks, SigningKey, b64};

/// Largest compact JWS accepted by [`CompactJws::parse`] (64 KiB).
pub const MAX_JWS_LEN: usize = 64 * 1024;

/// Signs `claims` as a compact JWS.
///
/// `alg` is always set from the key (replacing any given value) and `kid`
/// is added when the key has one and `header` does not; other header
/// members (`typ`, `jwk`, …) are used as given. `claims` must be a JSON
/// object (a JWT claims set).
pub fn sign(
    key: &SigningKey,
    header: Map<String, Value>,
    claims: &Value,
) -> Result<String, JoseError> {
    let mut header = header;
    if let Some(kid) = key.kid() {
        header
            .entry("kid")
            .or_insert_with(|| Value::String(kid.to_string()));
    }
    sign_exact(key, header, claims)
}

/// Like [`sign`], but never adds `kid`.
pub(crate) fn sign_exact(
    key: &SigningKey,
    header: Map<String, Value>,
    claims: &Value,
) -> Result<String, JoseError> {
    if !claims.is_object() {
        return Err(JoseError::ClaimsNotObject);
    }
    let mut header = header;
    header.insert("alg".into(), Value::String(key.algorithm().as_str().into()));
    let header_json =
        serde_json::to_vec(&header).map_err(|_| JoseError::Crypto("JSON serialization"))?;
    let claims_json =
        serde_json::to_vec(claims).map_err(|_| JoseError::Crypto("JSON serialization"))?;
    let signing_input = format!(
        "{}.{}",
        b64::encode(&header_json),
        b64::encode(&claims_json)
    );
    let signature = key.sign(signing_input.as_bytes())?;
    Ok(format!("{signing_input}.{}", b64::encode(&signature)))
}

/// Decodes the claims of a compact JWS **without verifying it**; for tests
/// and tools that inspect tokens, never for authorization decisions.
pub fn decode_unverified_claims(token: &str) -> Result<Map<String, Value>, JoseError> {
    CompactJws::parse(token)?.claims()
}

/// A parsed, not yet verified, compact JWS.
#[derive(Debug, Clone)]
pub struct CompactJws {
    /// `BASE64URL(header) '.' BASE64URL(payload)`, the bytes that are signed.
    signing_input: String,
    header: Map<String, Value>,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

impl CompactJws {
    /// Splits and decodes a compact JWS (see the module documentation).
    pub fn parse(token: &str) -> Result<CompactJws, JoseError> {
        if token.len() > MAX_JWS_LEN {
            return Err(JoseError::TooLarge { limit: MAX_JWS_LEN });
        }
        let mut parts = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JoseError::MalformedJws(format!(
                "a compact JWS has exactly 3 dot-separated parts, found {}",
                token.split('.').count()
            )));
        };
        let header_bytes = b64::decode(header_b64)
            .map_err(|_| JoseError::MalformedJws("the header is not base64url".into()))?;
        let header = match serde_json::from_slice::<Value>(&header_bytes) {
            Ok(Value::Object(map)) => map,
            _ => {
                return Err(JoseError::MalformedJws(
                    "the header is not a JSON object".into(),
                ));
            }
        };
        if header.contains_key("crit") {
            return Err(JoseError::CriticalHeader);
        }
        let payload = b64::decode(payload_b64)
            .map_err(|_| JoseError::MalformedJws("the payload is not base64url".into()))?;
        let signature = b64::decode(signature_b64)
            .map_err(|_| JoseError::MalformedJws("the signature is not base64url".into()))?;
        let signing_input = token[..header_b64.len() + 1 + payload_b64.len()].to_string();
        Ok(CompactJws {
            signing_input,
            header,
            payload,
            signature,
        })
    }

    /// The JOSE header.
    pub fn header(&self) -> &Map<String, Value> {
        &self.header
    }

    /// The raw payload bytes.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The signature bytes.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The bytes covered by the signature.
    pub fn signing_input(&self) -> &[u8] {
        self.signing_input.as_bytes()
    }

    /// The `alg` header as an accepted [`Algorithm`]. A missing `alg` gives
    /// [`JoseError::MissingAlgorithm`]; `none`, `RS256`, `HS256` and every
    /// other name give [`JoseError::UnsupportedAlgorithm`] naming it.
    pub fn algorithm(&self) -> Result<Algorithm, JoseError> {
        match self.header.get("alg") {
            None => Err(JoseError::MissingAlgorithm),
            Some(Value::String(name)) => name.parse(),
            Some(other) => Err(JoseError::UnsupportedAlgorithm(crate::error::printable(
                &other.to_string(),
            ))),
        }
    }

    /// The `typ` header, when it is a string.
    pub fn typ(&self) -> Option<&str> {
        self.header.get("typ").and_then(Value::as_str)
    }

    /// The `kid` header, when it is a string.
    pub fn kid(&self) -> Option<&str> {
        self.header.get("kid").and_then(Value::as_str)
    }

    /// The payload parsed as a JWT claims set (a JSON object).
    pub fn claims(&self) -> Result<Map<String, Value>, JoseError> {
        match serde_json::from_slice::<Value>(&self.payload) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(JoseError::ClaimsNotObject),
        }
    }

    /// Verifies the signature with `key`, which must support the header's
    /// algorithm ([`Jwk::supports`]).
    pub fn verify(&self, key: &Jwk) -> Result<(), JoseError> {
        let alg = self.algorithm()?;
        key.verify(alg, self.signing_input(), &self.signature)
    }

    /// Verifies with the keys of `jwks` that fit the header's `kid` and
    /// `alg` (FAPI2-SP-CR-08), trying each, and returns the key that
    /// verified. Fails with [`JoseError::NoMatchingKey`] when no key fits and
    /// with [`JoseError::BadSignature`] when none of the fitting keys
    /// verifies.
    pub fn verify_with_jwks<'a>(&self, jwks: &'a Jwks) -> Result<&'a Jwk, JoseError> {
        let alg = self.algorithm()?;
        let kid = match self.header.get("kid") {
            None => None,
            Some(Value::String(kid)) => Some(kid.as_str()),
            Some(_) => {
                return Err(JoseError::MalformedJws(
                    "the \"kid\" header is not a string".into(),
                ));
            }
        };
        let mut tried = false;
        for candidate in jwks
            .keys()
            .iter()
            .filter(|k| crate::jwks::fits(k, kid, alg))
        {
            tried = true;
            if candidate
                .verify(alg, self.signing_input(), &self.signature)
                .is_ok()
            {
                return Ok(candidate);
            }
        }
        if tried {
            Err(JoseError::BadSignature)
        } else {
            Err(JoseError::NoMatchingKey {
                kid: kid.map(crate::error::printable),
                alg,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::key;
    use serde_json::json;

    fn header(typ: &str) -> Map<String, Value> {
        let mut h = Map::new();
        h.insert("typ".into(), json!(typ));
        h
    }

    fn claims() -> Value {
        json!({"iss": "https://as.example", "sub": "alice", "n": 1})
    }

    /// Re-encodes a token with a changed header or payload, keeping the signature.
    fn splice(token: &str, part: usize, json_text: &str) -> String {
        let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
        parts[part] = b64::encode(json_text.as_bytes());
        parts.join(".")
    }

    #[test]
    fn sign_and_verify_all_algorithms() {
        for alg in Algorithm::ALL {
            let k = key(alg);
            let token = sign(k, header("JWT"), &claims()).unwrap();
            let jws = CompactJws::parse(&token).unwrap();
            assert_eq!(jws.algorithm().unwrap(), alg);
            assert_eq!(jws.typ(), Some("JWT"));
            assert_eq!(jws.kid(), k.kid());
            assert_eq!(jws.claims().unwrap(), *claims().as_object().unwrap());
            jws.verify(&k.public_jwk()).unwrap();
            assert_eq!(
                decode_unverified_claims(&token).unwrap()["sub"],
                json!("alice")
            );
        }
    }

    #[test]
    fn header_members_are_respected() {
        let k = key(Algorithm::Es256);
        let mut h = header("JWT");
        h.insert("alg".into(), json!("none"));
        h.insert("kid".into(), json!("explicit"));
        let jws = CompactJws::parse(&sign(k, h, &claims()).unwrap()).unwrap();
        assert_eq!(jws.header()["alg"], json!("ES256"));
        assert_eq!(jws.kid(), Some("explicit"));
        let keyless = SigningKey::generate(Algorithm::EdDsa, None).unwrap();
        let jws = CompactJws::parse(&sign(&keyless, Map::new(), &claims()).unwrap()).unwrap();
        assert_eq!(jws.kid(), None);
        assert_eq!(jws.header().len(), 1);
        assert_eq!(
            sign(k, Map::new(), &json!([1])),
            Err(JoseError::ClaimsNotObject)
        );
    }

    #[test]
    fn tampering_is_rejected() {
        for alg in Algorithm::ALL {
            let k = key(alg);
            let public = k.public_jwk();
            let token = sign(k, header("JWT"), &claims()).unwrap();
            let payload = splice(
                &token,
                1,
                r#"{"iss":"https://as.example","sub":"mallory","n":1}"#,
            );
            assert_eq!(
                CompactJws::parse(&payload).unwrap().verify(&public),
                Err(JoseError::BadSignature)
            );
            let mut parts: Vec<&str> = token.split('.').collect();
            let other = sign(k, header("JWT"), &json!({"sub": "x"})).unwrap();
            let other_sig = other.rsplit('.').next().unwrap();
            parts[2] = other_sig;
            let swapped = parts.join(".");
            assert_eq!(
                CompactJws::parse(&swapped).unwrap().verify(&public),
                Err(JoseError::BadSignature)
            );
            let mut sig = b64::decode(token.rsplit('.').next().unwrap()).unwrap();
            sig[0] ^= 0x80;
            let flipped = format!(
                "{}.{}",
                &token[..token.rfind('.').unwrap()],
                b64::encode(&sig)
            );
            assert_eq!(
                CompactJws::parse(&flipped).unwrap().verify(&public),
                Err(JoseError::BadSignature)
            );
        }
    }

    #[test]
    fn algorithm_downgrades_are_rejected() {
        let k = key(Algorithm::Es256);
        let token = sign(k, header("JWT"), &claims()).unwrap();
        for (alg_header, expected) in [
            (
                r#"{"alg":"none"}"#,
                JoseError::UnsupportedAlgorithm("none".into()),
            ),
            (
                r#"{"alg":"RS256"}"#,
                JoseError::UnsupportedAlgorithm("RS256".into()),
            ),
            (
                r#"{"alg":"HS256"}"#,
                JoseError::UnsupportedAlgorithm("HS256".into()),
            ),
            (r#"{"alg":7}"#, JoseError::UnsupportedAlgorithm("7".into())),
            (r#"{"typ":"JWT"}"#, JoseError::MissingAlgorithm),
        ] {
            let forged = splice(&token, 0, alg_header);
            let jws = CompactJws::parse(&forged).unwrap();
            assert_eq!(jws.algorithm(), Err(expected.clone()));
            assert_eq!(jws.verify(&k.public_jwk()), Err(expected));
        }
        // An unsecured JWT with an empty signature part.
        let unsecured = format!(
            "{}.{}.",
            b64::encode(br#"{"alg":"none"}"#),
            b64::encode(br#"{"sub":"x"}"#)
        );
        let jws = CompactJws::parse(&unsecured).unwrap();
        assert!(jws.signature().is_empty());
        assert!(jws.verify(&k.public_jwk()).is_err());
        // Header claims PS256 but the key is EC.
        let ps = splice(&token, 0, r#"{"alg":"PS256"}"#);
        assert_eq!(
            CompactJws::parse(&ps).unwrap().verify(&k.public_jwk()),
            Err(JoseError::KeyNotUsable {
                alg: Algorithm::Ps256
            })
        );
    }

    #[test]
    fn parse_rejects_malformed_tokens() {
        let ok_header = b64::encode(br#"{"alg":"ES256"}"#);
        let ok_payload = b64::encode(br#"{"a":1}"#);
        let cases = [
            String::new(),
            "a.b".to_string(),
            "a.b.c.d".to_string(),
            format!("{ok_header}.{ok_payload}.sig.x.y"),
            format!("{}.{ok_payload}.AA", b64::encode(b"[1]")),
            format!("{}.{ok_payload}.AA", b64::encode(b"not json")),
            format!("{ok_header}==.{ok_payload}.AA"),
            format!("{ok_header}.{ok_payload}.A+/A"),
            format!("{ok_header}.{ok_payload}!.AA"),
            format!(" {ok_header}.{ok_payload}.AA"),
        ];
        for case in cases {
            assert!(
                matches!(CompactJws::parse(&case), Err(JoseError::MalformedJws(_))),
                "{case}"
            );
        }
        let crit = format!(
            "{}.{ok_payload}.AA",
            b64::encode(br#"{"alg":"ES256","crit":["b64"],"b64":false}"#)
        );
        assert_eq!(
            CompactJws::parse(&crit).unwrap_err(),
            JoseError::CriticalHeader
        );
        let huge = "a".repeat(MAX_JWS_LEN + 1);
        assert_eq!(
            CompactJws::parse(&huge).unwrap_err(),
            JoseError::TooLarge { limit: MAX_JWS_LEN }
        );
        let array_payload = format!("{ok_header}.{}.AA", b64::encode(b"[1,2]"));
        assert_eq!(
            CompactJws::parse(&array_payload).unwrap().claims(),
            Err(JoseError::ClaimsNotObject)
        );
        let empty_payload = format!("{ok_header}..AA");
        assert_eq!(CompactJws::parse(&empty_payload).unwrap().payload(), b"");
    }

    #[test]
    fn verify_with_jwks_follows_cr08() {
        // Two keys share kid "k1": an Ed25519 key and an EC key. An ES256
        // token with kid "k1" must be verified by the EC key.
        let ec = SigningKey::generate(Algorithm::Es256, Some("k1".into())).unwrap();
        let ed = SigningKey::generate(Algorithm::EdDsa, Some("k1".into())).unwrap();
        let ec_impostor = SigningKey::generate(Algorithm::Es256, Some("k1".into())).unwrap();
        let jwks = Jwks::new(vec![
            ed.public_jwk(),
            ec_impostor.public_jwk(),
            ec.public_jwk(),
        ]);
        let token = sign(&ec, Map::new(), &claims()).unwrap();
        let used = CompactJws::parse(&token)
            .unwrap()
            .verify_with_jwks(&jwks)
            .unwrap();
        assert_eq!(used, &ec.public_jwk());

        let stranger = SigningKey::generate(Algorithm::Es256, Some("k1".into())).unwrap();
        let token = sign(&stranger, Map::new(), &claims()).unwrap();
        assert_eq!(
            CompactJws::parse(&token).unwrap().verify_with_jwks(&jwks),
            Err(JoseError::BadSignature)
        );

        let unknown = SigningKey::generate(Algorithm::Es256, Some("k9".into())).unwrap();
        let token = sign(&unknown, Map::new(), &claims()).unwrap();
        let err = CompactJws::parse(&token)
            .unwrap()
            .verify_with_jwks(&jwks)
            .unwrap_err();
        assert_eq!(
            err,
            JoseError::NoMatchingKey {
                kid: Some("k9".into()),
                alg: Algorithm::Es256
            }
        );

        // Without a kid every key that supports the algorithm is tried.
        let mut h = Map::new();
        h.insert("typ".into(), json!("JWT"));
        let no_kid = sign_exact(&ec, h, &claims()).unwrap();
        let jws = CompactJws::parse(&no_kid).unwrap();
        assert_eq!(jws.kid(), None);
        assert_eq!(jws.verify_with_jwks(&jwks).unwrap(), &ec.public_jwk());

        let odd_kid = splice(&token, 0, r#"{"alg":"ES256","kid":5}"#);
        assert!(matches!(
            CompactJws::parse(&odd_kid).unwrap().verify_with_jwks(&jwks),
            Err(JoseError::MalformedJws(_))
        ));
    }
}
