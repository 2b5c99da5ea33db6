//! Property tests: parsers never panic on hostile input, and no single-byte
//! change to a signed JWT or DPoP proof is ever accepted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::OnceLock;

use fapilab_jose::dpop::{self, ProofRequirements};
use fapilab_jose::jws::{self, CompactJws};
use fapilab_jose::{Algorithm, Jwk, Jwks, SigningKey, b64};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const NOW: i64 = 1_750_000_000;
const URL: &str = "https://as.example.com/token";
const ACCESS_TOKEN: &str = "access-token-1";
const NONCE: &str = "nonce-1";

struct Fixture {
    key: SigningKey,
    jwt: String,
    proof: String,
}

/// One key, JWT and proof per algorithm, made once (RSA generation is slow
/// in debug builds).
fn fixture(alg: Algorithm) -> &'static Fixture {
    static CELLS: [OnceLock<Fixture>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let index = Algorithm::ALL.iter().position(|a| *a == alg).unwrap();
    CELLS[index].get_or_init(|| {
        let key = SigningKey::generate(alg, Some(format!("kid-{alg}"))).unwrap();
        let mut header = Map::new();
        header.insert("typ".into(), json!("JWT"));
        let jwt = jws::sign(
            &key,
            header,
            &json!({"iss": "https://as.example.com", "sub": "alice", "exp": NOW + 60}),
        )
        .unwrap();
        let proof = dpop::create_proof(
            &key,
            "POST",
            URL,
            Some(ACCESS_TOKEN),
            Some(NONCE),
            NOW,
            "jti-1",
        )
        .unwrap();
        Fixture { key, jwt, proof }
    })
}

fn requirements() -> ProofRequirements<'static> {
    ProofRequirements {
        access_token: Some(ACCESS_TOKEN),
        nonce: Some(NONCE),
        ..ProofRequirements::new("POST", URL, NOW)
    }
}

fn any_alg() -> impl Strategy<Value = Algorithm> {
    prop::sample::select(Algorithm::ALL.to_vec())
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,24}".prop_map(Value::from),
        prop::collection::vec(any::<u8>(), 0..80).prop_map(|b| Value::from(b64::encode(&b))),
    ];
    leaf.prop_recursive(3, 48, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// JWK-shaped objects: real member names with random values, so parsing
/// gets past the first checks.
fn jwk_like() -> impl Strategy<Value = Value> {
    let kty = prop::sample::select(vec!["EC", "RSA", "OKP", "oct", "", "ec"]);
    let crv = prop::sample::select(vec!["P-256", "Ed25519", "P-384", "X25519", "secp256k1"]);
    let bytes = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..40),
        prop::collection::vec(any::<u8>(), 250..260),
        prop::collection::vec(any::<u8>(), 120..130),
    ];
    (
        kty,
        crv,
        bytes.clone(),
        bytes.clone(),
        bytes,
        arb_json(),
        any::<u8>(),
    )
        .prop_map(|(kty, crv, a, b, c, extra, mask)| {
            let mut obj = Map::new();
            obj.insert("kty".into(), json!(kty));
            let members = [
                ("crv", json!(crv)),
                ("x", json!(b64::encode(&a))),
                ("y", json!(b64::encode(&b))),
                ("n", json!(b64::encode(&c))),
                ("e", json!(b64::encode(&a))),
                ("d", json!(b64::encode(&b))),
                ("alg", extra.clone()),
                ("x5c", extra),
            ];
            for (bit, (name, value)) in members.into_iter().enumerate() {
                if mask & (1 << bit) != 0 {
                    obj.insert(name.into(), value);
                }
            }
            Value::Object(obj)
        })
}

fn mutate(token: &str, index: usize, byte: u8) -> Option<String> {
    let mut bytes = token.as_bytes().to_vec();
    let i = index % bytes.len();
    if bytes[i] == byte {
        return None;
    }
    bytes[i] = byte;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn parse_never_panics_on_strings(s in ".{0,300}") {
        if let Ok(jws) = CompactJws::parse(&s) {
            let _ = jws.algorithm();
            let _ = jws.claims();
        }
        let _ = dpop::verify_proof(&s, &requirements());
        let _ = jws::decode_unverified_claims(&s);
    }

    #[test]
    fn parse_never_panics_on_jws_shaped_input(s in "[A-Za-z0-9_\\-.=]{0,300}") {
        let _ = CompactJws::parse(&s);
        let _ = dpop::verify_proof(&s, &requirements());
    }

    #[test]
    fn tokens_with_arbitrary_json_never_panic(header in arb_json(), payload in arb_json(), sig in prop::collection::vec(any::<u8>(), 0..300), alg in any_alg()) {
        let token = format!("{}.{}.{}", b64::encode(header.to_string().as_bytes()), b64::encode(payload.to_string().as_bytes()), b64::encode(&sig));
        if let Ok(jws) = CompactJws::parse(&token) {
            let _ = jws.claims();
            prop_assert!(jws.verify(&fixture(alg).key.public_jwk()).is_err());
            prop_assert!(jws.verify_with_jwks(&Jwks::new(vec![fixture(alg).key.public_jwk()])).is_err());
        }
        prop_assert!(dpop::verify_proof(&token, &requirements()).is_err());
    }

    #[test]
    fn jwk_parsing_never_panics(v in arb_json()) {
        let _ = Jwk::from_value(&v);
        let _ = Jwks::from_value(&json!({"keys": [v.clone()]}));
        let _ = Jwks::from_value(&v);
        let _ = SigningKey::from_private_jwk(&v);
        let _ = Jwk::contains_private_members(&v);
    }

    #[test]
    fn jwk_shaped_parsing_never_panics(v in jwk_like()) {
        if let Ok(jwk) = Jwk::from_value(&v) {
            let _ = jwk.thumbprint();
            prop_assert_eq!(Jwk::from_value(&jwk.to_value()).unwrap(), jwk.clone());
            for alg in Algorithm::ALL {
                prop_assert!(jwk.verify(alg, b"x", &[0u8; 64]).is_err());
            }
        }
        let _ = SigningKey::from_private_jwk(&v);
        let _ = Jwks::from_value(&json!({"keys": [v]}));
    }

    #[test]
    fn normalize_htu_never_panics(s in ".{0,120}") {
        let _ = dpop::normalize_htu(&s);
    }

    #[test]
    fn normalize_htu_is_idempotent(scheme in "(?i)https?", host in "[A-Za-z0-9.\\-]{1,20}", port in prop::option::of(0u32..70000), path in "[A-Za-z0-9/%.~:@!$&'()*+,;=_\\-]{0,40}", tail in "[?#]?.{0,10}") {
        let port = port.map(|p| format!(":{p}")).unwrap_or_default();
        let url = format!("{scheme}://{host}{port}/{path}{tail}");
        if let Some(normal) = dpop::normalize_htu(&url) {
            prop_assert_eq!(dpop::normalize_htu(&normal), Some(normal.clone()));
            prop_assert!(!normal.contains('?') && !normal.contains('#'));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn single_byte_mutation_of_a_dpop_proof_is_rejected(alg in any_alg(), index in any::<usize>(), byte in any::<u8>()) {
        let f = fixture(alg);
        prop_assert!(dpop::verify_proof(&f.proof, &requirements()).is_ok());
        if let Some(mutated) = mutate(&f.proof, index, byte) {
            prop_assert!(dpop::verify_proof(&mutated, &requirements()).is_err(), "accepted {}", mutated);
        }
    }

    #[test]
    fn single_byte_mutation_of_a_jwt_is_rejected(alg in any_alg(), index in any::<usize>(), byte in any::<u8>()) {
        let f = fixture(alg);
        let jwks = Jwks::new(vec![f.key.public_jwk()]);
        prop_assert!(CompactJws::parse(&f.jwt).unwrap().verify(&f.key.public_jwk()).is_ok());
        if let Some(mutated) = mutate(&f.jwt, index, byte)
            && let Ok(jws) = CompactJws::parse(&mutated)
        {
            prop_assert!(jws.verify(&f.key.public_jwk()).is_err(), "accepted {}", mutated);
            prop_assert!(jws.verify_with_jwks(&jwks).is_err(), "accepted {}", mutated);
        }
    }

    #[test]
    fn mutating_base64_characters_is_rejected(alg in any_alg(), index in any::<usize>(), replacement in "[A-Za-z0-9_\\-]") {
        // Replacements from the base64url alphabet keep the token parseable
        // more often, so the signature check itself is exercised.
        let f = fixture(alg);
        let byte = replacement.as_bytes()[0];
        if let Some(mutated) = mutate(&f.proof, index, byte) {
            prop_assert!(dpop::verify_proof(&mutated, &requirements()).is_err(), "accepted {}", mutated);
        }
        if let Some(mutated) = mutate(&f.jwt, index, byte)
            && let Ok(jws) = CompactJws::parse(&mutated)
        {
            prop_assert!(jws.verify(&f.key.public_jwk()).is_err(), "accepted {}", mutated);
        }
    }
}
