//! Software statements (RFC 7591 §2.3, DCR-05), checked sans-IO.
//!
//! A statement is a JWS from an issuer the workspace trusts; its claims are client metadata
//! that override the same members of the registration request. A statement we cannot verify
//! is `invalid_software_statement`; a verified one from an issuer we do not accept is
//! `unapproved_software_statement`.

use fapilab_jose::jws::CompactJws;
use fapilab_jose::{Algorithm, Jwks};
use serde_json::{Map, Value};

/// How far in the future `iat` may be (clock skew between the directory and us).
const MAX_FUTURE_SKEW: i64 = 60;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatementViolation {
    /// Malformed, badly signed, expired: `invalid_software_statement`.
    Invalid(String),
    /// Verified, but its issuer is not one we accept: `unapproved_software_statement`.
    Unapproved(String),
}

impl std::fmt::Display for StatementViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatementViolation::Invalid(why) => write!(f, "software_statement is invalid: {why} [DCR-05, RFC7591-2.3]"),
            StatementViolation::Unapproved(iss) => {
                write!(f, "software_statement issuer {iss:?} is not approved by this server [DCR-05, RFC7591-3.2.2]")
            }
        }
    }
}

/// The statement's claims, once its signature, algorithm, times and issuer check out.
pub fn verify(statement: &str, trusted: &Jwks, issuers: &[String], now: i64) -> Result<Map<String, Value>, StatementViolation> {
    let invalid = |why: &str| StatementViolation::Invalid(why.to_owned());
    let jws = CompactJws::parse(statement).map_err(|e| StatementViolation::Invalid(e.to_string()))?;
    let alg = jws.algorithm().map_err(|_| invalid("alg must be PS256 or ES256"))?;
    if !matches!(alg, Algorithm::Ps256 | Algorithm::Es256) {
        return Err(invalid("alg must be PS256 or ES256"));
    }
    jws.verify_with_jwks(trusted).map_err(|_| invalid("the signature does not verify with a trusted issuer's key"))?;
    let claims = jws.claims().map_err(|e| StatementViolation::Invalid(e.to_string()))?;
    let iss = claims.get("iss").and_then(Value::as_str).ok_or_else(|| invalid("the iss claim is missing"))?;
    if let Some(exp) = claims.get("exp")
        && exp.as_i64().is_none_or(|e| e <= now)
    {
        return Err(invalid("it has expired"));
    }
    if let Some(iat) = claims.get("iat")
        && iat.as_i64().is_none_or(|i| i > now + MAX_FUTURE_SKEW)
    {
        return Err(invalid("iat is in the future"));
    }
    if !issuers.iter().any(|i| i == iss) {
        return Err(StatementViolation::Unapproved(iss.to_owned()));
    }
    Ok(claims)
}

/// DCR-05: the statement's values win over the request's; JWT bookkeeping claims are not
/// metadata.
pub fn merge(request: &mut Map<String, Value>, statement: Map<String, Value>) {
    for (member, value) in statement {
        if !matches!(member.as_str(), "iss" | "iat" | "exp" | "nbf" | "jti" | "aud") {
            request.insert(member, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fapilab_jose::SigningKey;
    use serde_json::json;

    const NOW: i64 = 1_000_000;

    fn directory() -> (SigningKey, Jwks) {
        let key = SigningKey::generate(Algorithm::Es256, Some("dir".into())).expect("key");
        let jwks = Jwks::from_value(&json!({ "keys": [key.public_jwk().to_value()] })).expect("jwks");
        (key, jwks)
    }

    fn statement(key: &SigningKey, claims: Value) -> String {
        fapilab_jose::jws::sign(key, Map::new(), &claims).expect("sign")
    }

    #[test]
    fn trusted_statement_overrides_the_request() {
        let (key, jwks) = directory();
        let s = statement(&key, json!({ "iss": "dir", "iat": NOW, "redirect_uris": ["https://a.example/cb"], "client_name": "From SSA" }));
        let claims = verify(&s, &jwks, &["dir".into()], NOW).expect("verified");
        let mut request = json!({ "client_name": "From request", "scope": "accounts" }).as_object().expect("object").clone();
        merge(&mut request, claims);
        assert_eq!(request["client_name"], "From SSA");
        assert_eq!(request["scope"], "accounts");
        assert!(!request.contains_key("iss"));
    }

    #[test]
    fn bad_signature_is_invalid_and_unknown_issuer_is_unapproved() {
        let (key, jwks) = directory();
        let (other, _) = directory();
        let forged = statement(&other, json!({ "iss": "dir" }));
        assert!(matches!(verify(&forged, &jwks, &["dir".into()], NOW), Err(StatementViolation::Invalid(_))));
        let foreign = statement(&key, json!({ "iss": "elsewhere" }));
        assert_eq!(verify(&foreign, &jwks, &["dir".into()], NOW), Err(StatementViolation::Unapproved("elsewhere".into())));
        let expired = statement(&key, json!({ "iss": "dir", "exp": NOW - 1 }));
        assert!(matches!(verify(&expired, &jwks, &["dir".into()], NOW), Err(StatementViolation::Invalid(_))));
        assert!(matches!(verify("not a jwt", &jwks, &["dir".into()], NOW), Err(StatementViolation::Invalid(_))));
    }
}
