//! `private_key_jwt` client assertions (RFC 7523 §3, OIDC Core §9), checked sans-IO.
//!
//! The caller looks the client up and keeps the `jti` replay cache; this module decides
//! whether one assertion is acceptable for one client at one endpoint under one policy.

use fapilab_jose::jws::CompactJws;
use fapilab_jose::{Algorithm, Jwks};
use serde_json::{Map, Value};

use crate::faults::{Fault, FaultSet};
use crate::profiles::{AssertionAudience, Policy};

/// PKJ-05: assertions are short-lived; five minutes is generous for any real client, and the
/// `jti` replay cache must remember each accepted assertion until its `exp`.
const MAX_ASSERTION_LIFETIME: i64 = 300;

pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// What the assertion must match.
pub struct AssertionContext<'a> {
    pub issuer: &'a str,
    /// The token endpoint and the endpoint that received the assertion, each as published and
    /// at its mTLS alias: RFC 9126 §2 makes the server accept its token and PAR endpoint URLs,
    /// and a client may name the published one while calling the alias (accepted as `aud`
    /// only where the policy allows endpoint audiences).
    pub endpoint_urls: &'a [&'a str],
    /// PKJ-03: the algorithms accepted for this client — the workspace's
    /// `token_endpoint_auth_signing_alg_values`, or the one the client registered.
    pub algorithms: &'a [Algorithm],
    pub now: i64,
}

#[derive(Debug)]
pub struct VerifiedAssertion {
    pub client_id: String,
    pub jti: String,
    pub exp: i64,
}

/// Why an assertion was refused: fine-grained here, `invalid_client` on the wire.
#[derive(Debug, PartialEq, Eq)]
pub enum AssertionViolation {
    Malformed(String),
    Algorithm { alg: String, allowed: String },
    MissingClaim(&'static str),
    WrongClaimType(&'static str),
    IssuerNotClient,
    SubjectNotClient,
    AudienceArray,
    AudienceNotIssuer(String),
    AudienceNotAccepted(String),
    Expired,
    ExpiryTooFar,
    IssuedInFuture,
    NotYetValid,
    IssuedTooLongAgo,
    NoKey,
    BadSignature,
}

impl std::fmt::Display for AssertionViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AssertionViolation::Malformed(why) => write!(f, "client_assertion is not a well-formed JWS: {why} [PKJ-01]"),
            AssertionViolation::Algorithm { alg, allowed } => write!(
                f,
                "client_assertion alg {alg} is not allowed for this client; use {allowed} [FAPI2-SP-CR-02, PKJ-03]"
            ),
            AssertionViolation::MissingClaim(c) => write!(f, "client_assertion lacks the {c} claim [PKJ-02]"),
            AssertionViolation::WrongClaimType(c) => write!(f, "client_assertion claim {c} has the wrong type [PKJ-02]"),
            AssertionViolation::IssuerNotClient => f.write_str("client_assertion iss must equal the client_id [PKJ-02]"),
            AssertionViolation::SubjectNotClient => f.write_str("client_assertion sub must equal the client_id [PKJ-02]"),
            AssertionViolation::AudienceArray => f.write_str(
                "client_assertion aud must be the issuer as a single string, not an array [FAPI2-SP-AS-08]",
            ),
            AssertionViolation::AudienceNotIssuer(aud) => write!(
                f,
                "client_assertion aud {aud:?} is not the issuer identifier; only the issuer is accepted [FAPI2-SP-AS-08]"
            ),
            AssertionViolation::AudienceNotAccepted(aud) => {
                write!(f, "client_assertion aud {aud:?} identifies neither this server nor this endpoint [PKJ-02]")
            }
            AssertionViolation::Expired => f.write_str("client_assertion has expired (exp is in the past) [PKJ-02]"),
            AssertionViolation::ExpiryTooFar => {
                f.write_str("client_assertion exp is unreasonably far in the future [PKJ-05]")
            }
            AssertionViolation::IssuedInFuture => {
                f.write_str("client_assertion iat is too far in the future [FAPI2-SP-AS-14]")
            }
            AssertionViolation::NotYetValid => f.write_str("client_assertion nbf is too far in the future [FAPI2-SP-AS-14]"),
            AssertionViolation::IssuedTooLongAgo => f.write_str("client_assertion iat is too old [PKJ-05]"),
            AssertionViolation::NoKey => f.write_str(
                "no key registered for the client fits the assertion's kid and alg [PKJ-03]",
            ),
            AssertionViolation::BadSignature => f.write_str("client_assertion signature does not verify [PKJ-03]"),
        }
    }
}

/// The `iss`/`sub` of an assertion, read without verification, to find the client.
pub fn claimed_client_id(assertion: &str) -> Option<String> {
    let jws = CompactJws::parse(assertion).ok()?;
    let claims = jws.claims().ok()?;
    claims.get("sub").and_then(Value::as_str).map(str::to_owned)
}

pub fn verify(
    assertion: &str,
    client_id: &str,
    jwks: &Jwks,
    policy: &Policy,
    ctx: &AssertionContext<'_>,
) -> Result<VerifiedAssertion, AssertionViolation> {
    verify_with_faults(assertion, client_id, jwks, policy, ctx, &FaultSet::none())
}

/// [`verify`], minus the checks the test-only `faults` remove.
pub fn verify_with_faults(
    assertion: &str,
    client_id: &str,
    jwks: &Jwks,
    policy: &Policy,
    ctx: &AssertionContext<'_>,
    faults: &FaultSet,
) -> Result<VerifiedAssertion, AssertionViolation> {
    let jws = CompactJws::parse(assertion).map_err(|e| AssertionViolation::Malformed(e.to_string()))?;
    let alg_name = jws.header().get("alg").and_then(Value::as_str).unwrap_or("(missing)").to_owned();
    let refuse_alg = |alg: String| AssertionViolation::Algorithm {
        alg,
        allowed: ctx.algorithms.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(" or "),
    };
    let alg: Algorithm = jws.algorithm().map_err(|_| refuse_alg(alg_name.clone()))?;
    if !ctx.algorithms.contains(&alg) || !policy.accepts_algorithm(alg) {
        return Err(refuse_alg(alg_name));
    }
    let claims = jws.claims().map_err(|e| AssertionViolation::Malformed(e.to_string()))?;

    let iss = string_claim(&claims, "iss")?;
    let sub = if faults.active(Fault::AssertionSub) { client_id } else { string_claim(&claims, "sub")? };
    if sub != client_id {
        return Err(AssertionViolation::SubjectNotClient);
    }
    if iss != client_id {
        return Err(AssertionViolation::IssuerNotClient);
    }
    if !faults.active(Fault::AssertionAudIsIssuer) {
        // Test-only fault: the FAPI 2.0 rule where the profile asks for the FAPI 1 one.
        let rule = if faults.active(Fault::AssertionEndpointAudience) { AssertionAudience::IssuerStringOnly } else { policy.assertion_audience };
        check_audience(claims.get("aud"), rule, ctx)?;
    }
    let jti = string_claim(&claims, "jti")?;
    let exp = number_claim(&claims, "exp")?.ok_or(AssertionViolation::MissingClaim("exp"))?;
    if exp < ctx.now && !faults.active(Fault::AssertionExpiry) {
        return Err(AssertionViolation::Expired);
    }
    let max_age = policy.max_jwt_age.as_secs() as i64;
    let skew = policy.max_future_skew.as_secs() as i64;
    if exp > ctx.now + MAX_ASSERTION_LIFETIME {
        return Err(AssertionViolation::ExpiryTooFar);
    }
    if let Some(iat) = number_claim(&claims, "iat")? {
        if iat > ctx.now + skew && !faults.active(Fault::AssertionIatWindow) {
            return Err(AssertionViolation::IssuedInFuture);
        }
        if iat < ctx.now - max_age && !faults.active(Fault::AssertionExpiry) {
            return Err(AssertionViolation::IssuedTooLongAgo);
        }
    }
    if let Some(nbf) = number_claim(&claims, "nbf")?
        && nbf > ctx.now + skew && !faults.active(Fault::AssertionIatWindow) {
            return Err(AssertionViolation::NotYetValid);
        }

    if faults.active(Fault::AssertionSignature) {
        return Ok(VerifiedAssertion { client_id: client_id.to_owned(), jti: jti.to_owned(), exp });
    }
    let mut candidates = jwks.candidates(jws.kid(), alg).peekable();
    if candidates.peek().is_none() {
        return Err(AssertionViolation::NoKey);
    }
    // FAPI2-SP-CR-08: several keys may share a kid; any one of them may have signed.
    if !candidates.any(|key| jws.verify(key).is_ok()) {
        return Err(AssertionViolation::BadSignature);
    }
    Ok(VerifiedAssertion { client_id: client_id.to_owned(), jti: jti.to_owned(), exp })
}

fn check_audience(aud: Option<&Value>, rule: AssertionAudience, ctx: &AssertionContext<'_>) -> Result<(), AssertionViolation> {
    let aud = aud.ok_or(AssertionViolation::MissingClaim("aud"))?;
    match rule {
        AssertionAudience::IssuerStringOnly => match aud {
            Value::String(s) if s == ctx.issuer => Ok(()),
            Value::String(s) => Err(AssertionViolation::AudienceNotIssuer(s.clone())),
            Value::Array(_) => Err(AssertionViolation::AudienceArray),
            _ => Err(AssertionViolation::WrongClaimType("aud")),
        },
        AssertionAudience::IssuerOrEndpoint => {
            let accepted = |s: &str| s == ctx.issuer || ctx.endpoint_urls.contains(&s);
            match aud {
                Value::String(s) if accepted(s) => Ok(()),
                Value::String(s) => Err(AssertionViolation::AudienceNotAccepted(s.clone())),
                Value::Array(items) if items.iter().filter_map(Value::as_str).any(accepted) => Ok(()),
                Value::Array(_) => Err(AssertionViolation::AudienceNotAccepted(aud.to_string())),
                _ => Err(AssertionViolation::WrongClaimType("aud")),
            }
        }
    }
}

fn string_claim<'a>(claims: &'a Map<String, Value>, name: &'static str) -> Result<&'a str, AssertionViolation> {
    match claims.get(name) {
        None => Err(AssertionViolation::MissingClaim(name)),
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(_) => Err(AssertionViolation::WrongClaimType(name)),
    }
}

fn number_claim(claims: &Map<String, Value>, name: &'static str) -> Result<Option<i64>, AssertionViolation> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(Some)
            .ok_or(AssertionViolation::WrongClaimType(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profiles::ProfileId;
    use fapilab_jose::SigningKey;
    use proptest::prelude::*;
    use serde_json::json;

    const ISSUER: &str = "https://as.example/t/w";

    fn ctx(now: i64) -> AssertionContext<'static> {
        AssertionContext {
            issuer: ISSUER,
            endpoint_urls: &["https://as.example/t/w/token", "https://as.example/t/w/par", "https://mtls.as.example/t/w/par"],
            algorithms: &[Algorithm::Ps256, Algorithm::Es256],
            now,
        }
    }

    fn key() -> (SigningKey, Jwks) {
        let key = SigningKey::generate(Algorithm::Es256, Some("k1".into())).expect("key");
        let jwks = Jwks::from_value(&json!({ "keys": [key.public_jwk().to_value()] })).expect("jwks");
        (key, jwks)
    }

    fn assertion(key: &SigningKey, claims: Value) -> String {
        fapilab_jose::jws::sign(key, Map::new(), &claims).expect("sign")
    }

    fn good_claims(now: i64) -> Value {
        json!({ "iss": "c1", "sub": "c1", "aud": ISSUER, "jti": "j1", "exp": now + 60, "iat": now })
    }

    fn check(claims: Value) -> Result<VerifiedAssertion, AssertionViolation> {
        let (key, jwks) = key();
        let policy = ProfileId::Fapi2SecurityProfile.policy();
        verify(&assertion(&key, claims), "c1", &jwks, &policy, &ctx(1_000_000))
    }

    #[test]
    fn issuer_string_is_accepted() {
        assert!(check(good_claims(1_000_000)).is_ok());
    }

    #[test]
    fn fapi2_sp_as_08_refuses_array_token_url_and_par_url() {
        let mut c = good_claims(1_000_000);
        c["aud"] = json!([ISSUER]);
        assert_eq!(check(c.clone()).err(), Some(AssertionViolation::AudienceArray));
        c["aud"] = json!("https://as.example/t/w/token");
        assert!(matches!(check(c.clone()), Err(AssertionViolation::AudienceNotIssuer(_))));
        c["aud"] = json!("https://as.example/t/w/par");
        assert!(matches!(check(c), Err(AssertionViolation::AudienceNotIssuer(_))));
    }

    #[test]
    fn fapi1_style_policy_accepts_endpoint_audiences() {
        let (key, jwks) = key();
        let mut policy = ProfileId::Fapi2SecurityProfile.policy();
        policy.assertion_audience = AssertionAudience::IssuerOrEndpoint;
        for aud in [json!(ISSUER), json!([ISSUER]), json!("https://as.example/t/w/token"), json!("https://as.example/t/w/par"), json!("https://mtls.as.example/t/w/par")] {
            let mut c = good_claims(1_000_000);
            c["aud"] = aud.clone();
            assert!(verify(&assertion(&key, c), "c1", &jwks, &policy, &ctx(1_000_000)).is_ok(), "{aud}");
        }
        let mut c = good_claims(1_000_000);
        c["aud"] = json!("https://as.example/t/w/userinfo");
        assert!(verify(&assertion(&key, c), "c1", &jwks, &policy, &ctx(1_000_000)).is_err(), "another endpoint of the server");
    }

    #[test]
    fn time_windows() {
        let now = 1_000_000;
        let mut c = good_claims(now);
        c["exp"] = json!(now - 300);
        assert_eq!(check(c).err(), Some(AssertionViolation::Expired));
        let mut c = good_claims(now);
        c["iat"] = json!(now + 8);
        assert!(check(c).is_ok(), "FAPI2-SP-AS-14: +8 s is accepted");
        let mut c = good_claims(now);
        c["iat"] = json!(now + 61);
        assert_eq!(check(c).err(), Some(AssertionViolation::IssuedInFuture));
        let mut c = good_claims(now);
        c["nbf"] = json!(now + 61);
        assert_eq!(check(c).err(), Some(AssertionViolation::NotYetValid));
    }

    #[test]
    fn missing_claims_and_wrong_subject() {
        for claim in ["sub", "iss", "aud", "jti", "exp"] {
            let mut c = good_claims(1_000_000);
            c.as_object_mut().expect("object").remove(claim);
            assert_eq!(check(c).err(), Some(AssertionViolation::MissingClaim(claim)), "{claim}");
        }
        let mut c = good_claims(1_000_000);
        c["sub"] = json!("c2");
        assert_eq!(check(c).err(), Some(AssertionViolation::SubjectNotClient));
    }

    #[test]
    fn unsigned_and_foreign_keys_are_refused() {
        let header = fapilab_jose::b64::encode(br#"{"alg":"none"}"#);
        let body = fapilab_jose::b64::encode(good_claims(1_000_000).to_string().as_bytes());
        let (_, jwks) = key();
        let policy = ProfileId::Fapi2SecurityProfile.policy();
        let none = format!("{header}.{body}.");
        assert!(matches!(verify(&none, "c1", &jwks, &policy, &ctx(1_000_000)), Err(AssertionViolation::Algorithm { .. })));
        let (other, _) = key();
        let signed = assertion(&other, good_claims(1_000_000));
        assert_eq!(verify(&signed, "c1", &jwks, &policy, &ctx(1_000_000)).err(), Some(AssertionViolation::BadSignature));
    }

    #[test]
    fn pkj_03_only_the_workspace_or_registered_algorithms_are_accepted() {
        let (key, jwks) = key();
        let policy = ProfileId::Fapi2SecurityProfile.policy();
        let signed = assertion(&key, good_claims(1_000_000));
        let ps256_only = AssertionContext { algorithms: &[Algorithm::Ps256], ..ctx(1_000_000) };
        let refused = verify(&signed, "c1", &jwks, &policy, &ps256_only).expect_err("ES256 is not registered");
        assert!(refused.to_string().contains("use PS256"), "{refused}");
        let es256_only = AssertionContext { algorithms: &[Algorithm::Es256], ..ctx(1_000_000) };
        assert!(verify(&signed, "c1", &jwks, &policy, &es256_only).is_ok());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn mutated_assertions_are_never_accepted(pos in 0usize..400, byte in any::<u8>()) {
            let (key, jwks) = key();
            let policy = ProfileId::Fapi2SecurityProfile.policy();
            let good = assertion(&key, good_claims(1_000_000));
            let mut bytes = good.clone().into_bytes();
            let pos = pos % bytes.len();
            prop_assume!(bytes[pos] != byte);
            bytes[pos] = byte;
            let mutated = String::from_utf8_lossy(&bytes).into_owned();
            prop_assume!(mutated != good);
            let verdict = verify(&mutated, "c1", &jwks, &policy, &ctx(1_000_000));
            // A change that only touches base64 padding bits can decode to the same bytes;
            // then the assertion is the same assertion.
            if let Ok(v) = verdict {
                let same = CompactJws::parse(&mutated).ok().map(|j| (j.header().clone(), j.claims().ok()))
                    == CompactJws::parse(&good).ok().map(|j| (j.header().clone(), j.claims().ok()));
                prop_assert!(same, "accepted a different assertion: {v:?}");
            }
        }

        #[test]
        fn arbitrary_input_never_panics(s in ".{0,300}") {
            let (_, jwks) = key();
            let policy = ProfileId::Fapi2SecurityProfile.policy();
            let _ = verify(&s, "c1", &jwks, &policy, &ctx(1_000_000));
            let _ = claimed_client_id(&s);
        }
    }
}
