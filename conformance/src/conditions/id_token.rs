//! ID token (suite research §3.6; OID-01, FAPI2-SP-CR-02, FAPI2-SP-AZ-14).

use fapilab_jose::Jwks;
use fapilab_jose::jws::CompactJws;
use serde_json::{Map, Value};

use super::{Check, printable_ascii};
use crate::model::Condition;

pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: Option<&'a str>,
}

const ALLOWED: &[&str] = &["PS256", "ES256", "EdDSA"];
const SKEW: i64 = 300;

/// Judges an ID token; returns its claims when it parses.
pub fn check(
    prefix: &str,
    token: &str,
    jwks: Option<&Jwks>,
    want: &Expected<'_>,
    evidence: &[usize],
) -> (Vec<Condition>, Option<Map<String, Value>>) {
    let id = |s: &str| format!("{prefix}.id_token_{s}");
    let mut out = Vec::new();
    let parsed = CompactJws::parse(token);
    let alg = token
        .split('.')
        .next()
        .and_then(|h| fapilab_jose::b64::decode(h).ok())
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|h| h.get("alg").and_then(Value::as_str).map(str::to_owned));
    out.push(
        Check::new(&id("alg"), "the ID token is signed with PS256, ES256 or EdDSA")
            .req(&["FAPI2-SP-CR-02", "OID-01"])
            .expected(ALLOWED.join(", "))
            .observed(alg.clone().unwrap_or_else(|| "(unreadable header)".into()))
            .hint("RS256 is the OIDC default; FAPI 2.0 forbids it")
            .evidence(evidence)
            .pass(alg.as_deref().is_some_and(|a| ALLOWED.contains(&a))),
    );
    let Ok(jws) = parsed else {
        out.push(
            Check::new(&id("parse"), "the ID token is a compact JWS")
                .req(&["OID-01"])
                .observed("does not parse")
                .evidence(evidence)
                .pass(false),
        );
        return (out, None);
    };
    out.push(
        Check::new(&id("kid"), "the ID token header names its key (kid)")
            .req(&["OID-01"])
            .warning()
            .expected("a kid header")
            .observed(jws.kid().unwrap_or("(absent)").to_owned())
            .evidence(evidence)
            .pass(jws.kid().is_some()),
    );
    match jwks {
        Some(set) => {
            let verified = jws.verify_with_jwks(set);
            out.push(
                Check::new(&id("signature"), "the ID token signature verifies with the server's published keys")
                    .req(&["OID-01"])
                    .expected("a key of jwks_uri verifies it")
                    .observed(match &verified {
                        Ok(k) => format!("verified with kid {}", k.kid().unwrap_or("(none)")),
                        Err(e) => e.to_string(),
                    })
                    .evidence(evidence)
                    .pass(verified.is_ok()),
            );
        }
        None => out.push(
            Check::new(&id("signature"), "the ID token signature verifies with the server's published keys")
                .req(&["OID-01"])
                .expected("a key of jwks_uri verifies it")
                .observed("the server JWKS could not be fetched; signature not checked")
                .evidence(evidence)
                .pass(false),
        ),
    }
    let Ok(claims) = jws.claims() else {
        out.push(
            Check::new(&id("claims"), "the ID token payload is a JSON object")
                .req(&["OID-01"])
                .observed("not JSON")
                .evidence(evidence)
                .pass(false),
        );
        return (out, None);
    };
    let s = |k: &str| claims.get(k).and_then(Value::as_str);
    out.push(
        Check::new(&id("iss"), "iss equals the issuer")
            .req(&["OID-01"])
            .expected(want.issuer.to_owned())
            .observed(s("iss").unwrap_or("(absent)").to_owned())
            .evidence(evidence)
            .pass(s("iss") == Some(want.issuer)),
    );
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == want.client_id,
        Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(want.client_id)),
        _ => false,
    };
    out.push(
        Check::new(&id("aud"), "aud is the client_id (or contains it)")
            .req(&["OID-01"])
            .expected(want.client_id.to_owned())
            .observed(claims.get("aud").map(Value::to_string).unwrap_or_else(|| "(absent)".into()))
            .evidence(evidence)
            .pass(aud_ok),
    );
    let now = fapilab_jose::now();
    let exp = claims.get("exp").and_then(Value::as_i64);
    out.push(
        Check::new(&id("exp"), "exp is present and in the future")
            .req(&["OID-01"])
            .expected(format!("exp > now ({now}) - {SKEW}"))
            .observed(exp.map(|e| e.to_string()).unwrap_or_else(|| "(absent)".into()))
            .evidence(evidence)
            .pass(exp.is_some_and(|e| e > now - SKEW)),
    );
    let iat = claims.get("iat").and_then(Value::as_i64);
    out.push(
        Check::new(&id("iat"), "iat is present and within 5 minutes of now")
            .req(&["OID-01"])
            .expected(format!("|iat - now| ≤ {SKEW} (now {now})"))
            .observed(iat.map(|e| e.to_string()).unwrap_or_else(|| "(absent)".into()))
            .evidence(evidence)
            .pass(iat.is_some_and(|i| (i - now).abs() <= SKEW)),
    );
    let sub = s("sub");
    out.push(
        Check::new(&id("sub"), "sub is present, at most 255 printable ASCII characters")
            .req(&["OID-01"])
            .expected("a non-empty sub")
            .observed(sub.map(|x| format!("{} characters", x.len())).unwrap_or_else(|| "(absent)".into()))
            .evidence(evidence)
            .pass(sub.is_some_and(|x| !x.is_empty() && x.len() <= 255 && printable_ascii(x))),
    );
    let nonce = s("nonce");
    out.push(
        Check::new(&id("nonce"), "nonce equals the request's nonce (absent when none was sent)")
            .req(&["OID-01", "FAPI2-SP-AZ-14"])
            .expected(match want.nonce {
                Some(n) => format!("the {}-character nonce sent", n.len()),
                None => "no nonce".into(),
            })
            .observed(match nonce {
                Some(n) if Some(n) == want.nonce => "identical".into(),
                Some(n) => format!("{}-character nonce, different", n.len()),
                None => "no nonce".into(),
            })
            .hint("a truncated nonce fails replay protection; the nonce is the one pushed at PAR, never one added to the authorization URL")
            .evidence(evidence)
            .pass(nonce == want.nonce),
    );
    (out, Some(claims))
}
