//! Signed request objects (RFC 9101 JAR) pushed to PAR under FAPI 2.0 Message Signing
//! (MS-AS-01..MS-AS-09), checked sans-IO.
//!
//! [`verify`] decides whether one request object is acceptable from one client; the caller
//! then takes the authorization parameters from [`parameters`] only — never from the form
//! around the object (MS-AS-08) — and checks them like any pushed request.

use fapilab_jose::Jwks;
use fapilab_jose::jws::CompactJws;
use serde_json::{Map, Value};

use crate::faults::{Fault, FaultSet};
use crate::profiles::Policy;

/// MS-AS-03 / MS-AS-04: `nbf` at most 60 minutes old, `exp − nbf` at most 60 minutes.
const MAX_AGE: i64 = 3600;

/// JWT bookkeeping claims that are not authorization parameters.
const JWT_CLAIMS: [&str; 6] = ["iss", "aud", "exp", "nbf", "iat", "jti"];

/// Which kind of signed request: they differ in the claims they must carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// A JAR request object pushed to PAR: `client_id` required (RFC 9101 §5, MS-AS-07).
    Authorization,
    /// A signed CIBA authentication request (CIBA §7.1.1, FCIBA-08): `iss`, `iat` and `jti`
    /// required as well.
    Backchannel,
}

pub struct RequestObjectContext<'a> {
    pub kind: RequestKind,
    pub issuer: &'a str,
    /// The authenticated client.
    pub client_id: &'a str,
    pub client_keys: &'a Jwks,
    /// The algorithm the client registered for these requests; `None`: any the policy allows.
    pub registered_alg: Option<fapilab_jose::Algorithm>,
    pub policy: &'a Policy,
    pub now: i64,
}

/// Why a request object was refused: `invalid_request_object` on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestObjectViolation {
    Malformed(String),
    Algorithm(String),
    Type(String),
    Signature,
    MissingClaim(&'static str),
    WrongClaimType(&'static str),
    Audience,
    NotBeforeTooOld,
    NotBeforeInFuture,
    Expired,
    LifetimeTooLong,
    ClientIdMismatch,
    IssuerMismatch,
    Nested(&'static str),
}

impl std::fmt::Display for RequestObjectViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use RequestObjectViolation::*;
        match self {
            Malformed(why) => write!(f, "the request object is not a well-formed JWS: {why} [MS-AS-06, RFC9101-6.1]"),
            Algorithm(alg) => write!(f, "request object alg {alg} is not allowed; use one of request_object_signing_alg_values_supported, or the algorithm the client registered [MS-AS-06, A-AS-20, FAPI2-SP-CR-02]"),
            Type(typ) => write!(f, "request object typ {typ:?} is not oauth-authz-req+jwt [MS-AS-05, RFC9101-4]"),
            Signature => f.write_str("the request object's signature does not verify with the client's registered keys [MS-AS-06]"),
            MissingClaim(c) => write!(f, "the request object lacks the {c} claim [MS-AS-02, MS-AS-03, MS-AS-04, MS-AS-07, FCIBA-08]"),
            WrongClaimType(c) => write!(f, "the request object's {c} claim has the wrong type [RFC9101-4]"),
            Audience => f.write_str("the request object's aud is not this server's issuer identifier [MS-AS-02]"),
            NotBeforeTooOld => f.write_str("the request object's nbf is more than 60 minutes in the past [MS-AS-03]"),
            NotBeforeInFuture => f.write_str("the request object's nbf is in the future [MS-AS-03, FAPI2-SP-AS-14]"),
            Expired => f.write_str("the request object has expired [MS-AS-04]"),
            LifetimeTooLong => f.write_str("the request object's exp is more than 60 minutes after its nbf [MS-AS-04]"),
            ClientIdMismatch => f.write_str("the request object's client_id is not the authenticated client [MS-AS-07, RFC9101-5]"),
            IssuerMismatch => f.write_str("the request object's iss is not the client_id [MS-AS-07, RFC9101-5]"),
            Nested(c) => write!(f, "a request object must not contain {c} [RFC9101-4, MS-AS-09]"),
        }
    }
}

pub fn verify(jwt: &str, ctx: &RequestObjectContext<'_>, faults: &FaultSet) -> Result<Map<String, Value>, RequestObjectViolation> {
    use RequestObjectViolation as V;
    let jws = CompactJws::parse(jwt).map_err(|e| V::Malformed(e.to_string()))?;
    let alg_name = jws.header().get("alg").and_then(Value::as_str).unwrap_or("(missing)").to_owned();
    let alg = jws.algorithm().map_err(|_| V::Algorithm(alg_name.clone()))?;
    if !ctx.policy.accepts_algorithm(alg) || ctx.registered_alg.is_some_and(|registered| registered != alg) {
        return Err(V::Algorithm(alg_name));
    }
    // MS-AS-05: oauth-authz-req+jwt is what the spec names; its absence (RFC 9101 makes it
    // RECOMMENDED) and the generic JWT are accepted; any other type is another kind of JWT.
    // RFC 7515 §4.1.9: a `typ` without "/" stands for "application/" + it.
    if let Some(typ) = jws.typ() {
        // `get`, not indexing: byte 12 of a hostile header may fall inside a character.
        let short = match (typ.get(..12), typ.get(12..)) {
            (Some(prefix), Some(rest)) if !rest.is_empty() && prefix.eq_ignore_ascii_case("application/") => rest,
            _ => typ,
        };
        if !short.eq_ignore_ascii_case("oauth-authz-req+jwt") && !short.eq_ignore_ascii_case("JWT") {
            return Err(V::Type(typ.to_owned()));
        }
    }
    if !faults.active(Fault::RequestObjectSignature) {
        jws.verify_with_jwks(ctx.client_keys).map_err(|_| V::Signature)?;
    }
    let claims = jws.claims().map_err(|e| V::Malformed(e.to_string()))?;
    for nested in ["request", "request_uri"] {
        if claims.contains_key(nested) {
            return Err(V::Nested(if nested == "request" { "request" } else { "request_uri" }));
        }
    }
    if !faults.active(Fault::RequestObjectAud) {
        let aud_ok = match claims.get("aud") {
            None => return Err(V::MissingClaim("aud")),
            Some(Value::String(a)) => a == ctx.issuer,
            Some(Value::Array(items)) => items.iter().any(|a| a.as_str() == Some(ctx.issuer)),
            Some(_) => return Err(V::WrongClaimType("aud")),
        };
        if !aud_ok {
            return Err(V::Audience);
        }
    }
    let number = |name: &'static str| match claims.get(name) {
        None => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or(V::WrongClaimType(name)),
    };
    let nbf = number("nbf")?;
    let exp = number("exp")?;
    let skew = ctx.policy.max_future_skew.as_secs() as i64;
    if !faults.active(Fault::RequestObjectNbf) {
        let nbf = nbf.ok_or(V::MissingClaim("nbf"))?;
        if nbf < ctx.now - MAX_AGE {
            return Err(V::NotBeforeTooOld);
        }
        if nbf > ctx.now + skew {
            return Err(V::NotBeforeInFuture);
        }
    }
    if !faults.active(Fault::RequestObjectExp) {
        let exp = exp.ok_or(V::MissingClaim("exp"))?;
        if exp <= ctx.now {
            return Err(V::Expired);
        }
        if exp - nbf.unwrap_or(ctx.now) > MAX_AGE {
            return Err(V::LifetimeTooLong);
        }
    }
    if ctx.kind == RequestKind::Backchannel {
        for required in ["iss", "iat", "jti"] {
            if !claims.contains_key(required) {
                return Err(V::MissingClaim(match required {
                    "iss" => "iss",
                    "iat" => "iat",
                    _ => "jti",
                }));
            }
        }
    }
    if !faults.active(Fault::RequestObjectClientId) {
        match claims.get("client_id") {
            None if ctx.kind == RequestKind::Backchannel => {}
            None => return Err(V::MissingClaim("client_id")),
            Some(Value::String(id)) if id == ctx.client_id => {}
            Some(_) => return Err(V::ClientIdMismatch),
        }
        if let Some(iss) = claims.get("iss")
            && iss.as_str() != Some(ctx.client_id)
        {
            return Err(V::IssuerMismatch);
        }
    }
    Ok(claims)
}

/// The authorization parameters of a verified request object, as form parameters: strings as
/// they are, anything else (a `claims` object, a numeric `max_age`) as its JSON text.
pub fn parameters(claims: &Map<String, Value>) -> Vec<(String, String)> {
    claims
        .iter()
        .filter(|(name, _)| !JWT_CLAIMS.contains(&name.as_str()))
        .map(|(name, value)| {
            let text = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (name.clone(), text)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profiles::ProfileId;
    use fapilab_jose::{Algorithm, SigningKey};
    use proptest::prelude::*;
    use serde_json::json;

    const ISSUER: &str = "https://as.example/t/w";
    const NOW: i64 = 1_000_000;

    fn client() -> (SigningKey, Jwks) {
        let key = SigningKey::generate(Algorithm::Es256, Some("c1".into())).expect("key");
        let jwks = Jwks::from_value(&json!({ "keys": [key.public_jwk().to_value()] })).expect("jwks");
        (key, jwks)
    }

    fn good() -> Value {
        json!({
            "iss": "c1", "client_id": "c1", "aud": ISSUER, "nbf": NOW, "exp": NOW + 300, "jti": "j",
            "response_type": "code", "redirect_uri": "https://c.example/cb", "scope": "openid",
            "code_challenge": "x", "code_challenge_method": "S256", "response_mode": "jwt", "max_age": 60,
        })
    }

    fn sign(key: &SigningKey, typ: Option<&str>, claims: &Value) -> String {
        let mut header = Map::new();
        if let Some(t) = typ {
            header.insert("typ".into(), json!(t));
        }
        fapilab_jose::jws::sign(key, header, claims).expect("sign")
    }

    fn check_signed(jwt: &str, jwks: &Jwks) -> Result<Map<String, Value>, RequestObjectViolation> {
        let policy = ProfileId::Fapi2MessageSigning.policy();
        let ctx = RequestObjectContext { kind: RequestKind::Authorization, issuer: ISSUER, client_id: "c1", client_keys: jwks, registered_alg: None, policy: &policy, now: NOW };
        verify(jwt, &ctx, &FaultSet::none())
    }

    fn check(claims: Value) -> Result<Map<String, Value>, RequestObjectViolation> {
        let (key, jwks) = client();
        check_signed(&sign(&key, Some("oauth-authz-req+jwt"), &claims), &jwks)
    }

    #[test]
    fn a_good_object_gives_its_parameters_only() {
        let claims = check(good()).expect("valid");
        let params = parameters(&claims);
        assert!(params.contains(&("max_age".into(), "60".into())));
        assert!(params.contains(&("client_id".into(), "c1".into())));
        assert!(!params.iter().any(|(k, _)| k == "aud" || k == "exp" || k == "nbf" || k == "iss" || k == "jti"));
    }

    #[test]
    fn ms_as_02_to_04_and_07_each_refusal() {
        use RequestObjectViolation as V;
        let edit = |f: &dyn Fn(&mut Value)| {
            let mut c = good();
            f(&mut c);
            check(c).err()
        };
        assert_eq!(edit(&|c| { c.as_object_mut().expect("o").remove("aud"); }), Some(V::MissingClaim("aud")));
        assert_eq!(edit(&|c| c["aud"] = json!("https://other.example")), Some(V::Audience));
        assert_eq!(edit(&|c| c["aud"] = json!([ISSUER, "x"])), None, "an array containing the issuer");
        assert_eq!(edit(&|c| { c.as_object_mut().expect("o").remove("nbf"); }), Some(V::MissingClaim("nbf")));
        assert_eq!(edit(&|c| { c["nbf"] = json!(NOW - 3601); c["exp"] = json!(NOW + 10); }), Some(V::NotBeforeTooOld));
        assert_eq!(edit(&|c| c["nbf"] = json!(NOW - 60)), None);
        assert_eq!(edit(&|c| { c.as_object_mut().expect("o").remove("exp"); }), Some(V::MissingClaim("exp")));
        assert_eq!(edit(&|c| c["exp"] = json!(NOW - 1)), Some(V::Expired));
        assert_eq!(edit(&|c| c["exp"] = json!(NOW + 3601)), Some(V::LifetimeTooLong));
        assert_eq!(edit(&|c| c["client_id"] = json!("c2")), Some(V::ClientIdMismatch));
        assert_eq!(edit(&|c| c["iss"] = json!("c2")), Some(V::IssuerMismatch));
        assert_eq!(edit(&|c| c["request_uri"] = json!("urn:x")), Some(V::Nested("request_uri")));
    }

    #[test]
    fn ms_as_05_and_06_type_algorithm_and_signature() {
        let (key, jwks) = client();
        assert!(check_signed(&sign(&key, None, &good()), &jwks).is_ok(), "typ absent");
        assert!(check_signed(&sign(&key, Some("application/oauth-authz-req+jwt"), &good()), &jwks).is_ok(), "RFC 7515 full media type");
        assert!(matches!(check_signed(&sign(&key, Some("dpop+jwt"), &good()), &jwks), Err(RequestObjectViolation::Type(_))));
        let (other, _) = client();
        assert_eq!(check_signed(&sign(&other, None, &good()), &jwks).err(), Some(RequestObjectViolation::Signature));
        let unsigned = format!("{}.{}.", fapilab_jose::b64::encode(br#"{"alg":"none"}"#), fapilab_jose::b64::encode(good().to_string().as_bytes()));
        assert!(matches!(check_signed(&unsigned, &jwks), Err(RequestObjectViolation::Algorithm(_))));
    }

    #[test]
    fn fciba_08_backchannel_requests_need_iss_iat_and_jti_but_no_client_id() {
        let (key, jwks) = client();
        let policy = ProfileId::Fapi2SecurityProfile.policy();
        let ctx = RequestObjectContext { kind: RequestKind::Backchannel, issuer: ISSUER, client_id: "c1", client_keys: &jwks, registered_alg: None, policy: &policy, now: NOW };
        let mut claims = json!({ "iss": "c1", "aud": ISSUER, "nbf": NOW, "exp": NOW + 300, "iat": NOW, "jti": "j", "scope": "openid", "login_hint": "alice" });
        assert!(verify(&sign(&key, None, &claims), &ctx, &FaultSet::none()).is_ok());
        for missing in ["iss", "iat", "jti"] {
            let mut c = claims.clone();
            c.as_object_mut().expect("o").remove(missing);
            assert_eq!(verify(&sign(&key, None, &c), &ctx, &FaultSet::none()).err(), Some(RequestObjectViolation::MissingClaim(missing)), "{missing}");
        }
        claims["iss"] = json!("c2");
        assert_eq!(verify(&sign(&key, None, &claims), &ctx, &FaultSet::none()).err(), Some(RequestObjectViolation::IssuerMismatch));
    }

    #[test]
    fn ms_as_06_a_registered_algorithm_is_the_only_one() {
        let (key, jwks) = client();
        let policy = ProfileId::Fapi2MessageSigning.policy();
        let ctx = |alg| RequestObjectContext { kind: RequestKind::Authorization, issuer: ISSUER, client_id: "c1", client_keys: &jwks, registered_alg: Some(alg), policy: &policy, now: NOW };
        let signed = sign(&key, None, &good());
        assert!(verify(&signed, &ctx(Algorithm::Es256), &FaultSet::none()).is_ok());
        assert!(matches!(verify(&signed, &ctx(Algorithm::Ps256), &FaultSet::none()), Err(RequestObjectViolation::Algorithm(_))));
    }

    #[test]
    fn a_typ_with_a_multibyte_character_at_byte_12_is_refused_not_a_panic() {
        let (key, jwks) = client();
        let jwt = sign(&key, Some("applicatio\u{20ac}x"), &good());
        assert!(matches!(check_signed(&jwt, &jwks), Err(RequestObjectViolation::Type(_))));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn arbitrary_input_never_panics(s in ".{0,300}") {
            let (_, jwks) = client();
            let _ = check_signed(&s, &jwks);
        }
    }
}
