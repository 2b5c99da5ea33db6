//! Signed introspection responses (FAPI 2.0 Message Signing 5.5, RFC 9701 §4–§5; MS-JIR-01,
//! MS-JIR-02, MS-JIR-05, MS-JIR-CL-01): asked for with `Accept:
//! application/token-introspection+jwt`, the answer is a JWT of that media type, header `typ`
//! `token-introspection+jwt`, signed with a FAPI algorithm by a key of the server's `jwks_uri`,
//! with `iss` = the issuer, `aud` = the calling resource server, `iat`, and the RFC 7662
//! answer as the `token_introspection` object.

use fapilab_jose::Jwks;
use fapilab_jose::jws::CompactJws;
use serde_json::{Map, Value};

use super::Check;
use crate::http::Response;
use crate::model::Condition;

/// RFC 9701 §5: the media type of a signed introspection response, and `typ` without the
/// `application/` prefix (RFC 7515 §4.1.9).
pub const MEDIA_TYPE: &str = "application/token-introspection+jwt";
pub const TYP: &str = "token-introspection+jwt";

const ALLOWED: &[&str] = &["PS256", "ES256", "EdDSA"];
const SKEW: i64 = 300;

/// What the caller expects.
pub struct Expected<'a> {
    pub issuer: &'a str,
    /// The resource server that asked: the JWT's audience.
    pub caller: &'a str,
    pub jwks: Option<&'a Jwks>,
    /// `introspection_signing_alg_values_supported`, if the metadata has it.
    pub advertised_algs: Option<Vec<String>>,
}

/// Judges a signed introspection response; returns the `token_introspection` object when the
/// JWT carries one.
pub fn signed(resp: &Response, want: &Expected<'_>) -> (Vec<Condition>, Option<Map<String, Value>>) {
    let ev = [resp.index];
    let mut out = Vec::new();
    out.push(
        Check::new("introspect.jwt_status", "the signed introspection request is answered with 200")
            .req(&["MS-JIR-01"])
            .expected("HTTP 200")
            .observed(resp.describe())
            .evidence(&ev)
            .pass(resp.status == Some(200)),
    );
    let content_type = resp.header("content-type").unwrap_or("(none)");
    let media = content_type.split(';').next().unwrap_or_default().trim();
    out.push(
        Check::new("introspect.jwt_content_type", "the answer is a signed JWT, as the Accept header asked")
            .req(&["MS-JIR-01"])
            .expected(format!("Content-Type {MEDIA_TYPE}"))
            .observed(format!("Content-Type {content_type}"))
            .hint("a caller that asks for application/token-introspection+jwt must get a JWT (RFC 9701 §4), not plain JSON")
            .evidence(&ev)
            .pass(media.eq_ignore_ascii_case(MEDIA_TYPE)),
    );
    let jws = match CompactJws::parse(resp.body.trim()) {
        Ok(j) => j,
        Err(e) => {
            out.push(
                Check::new("introspect.jwt_parse", "the answer is a compact JWS")
                    .req(&["MS-JIR-01"])
                    .expected("a signed JWT")
                    .observed(e.to_string())
                    .evidence(&ev)
                    .pass(false),
            );
            return (out, None);
        }
    };
    out.push(
        Check::new("introspect.jwt_typ", "the JWT header typ is token-introspection+jwt")
            .req(&["MS-JIR-01"])
            .expected(TYP)
            .observed(jws.typ().unwrap_or("(absent)").to_owned())
            .hint("RFC 9701 §5 makes the typ explicit so the JWT cannot be mistaken for an access token")
            .evidence(&ev)
            .pass(jws.typ() == Some(TYP) || jws.typ() == Some(MEDIA_TYPE)),
    );
    let alg = jws.header().get("alg").and_then(Value::as_str).unwrap_or("(absent)").to_owned();
    out.push(
        Check::new("introspect.jwt_alg", "the JWT is signed with PS256, ES256 or EdDSA")
            .req(&["MS-JIR-01", "FAPI2-SP-CR-02"])
            .expected(ALLOWED.join(", "))
            .observed(alg.clone())
            .hint("RFC 9701 defaults to RS256; FAPI 2.0 forbids it")
            .evidence(&ev)
            .pass(ALLOWED.contains(&alg.as_str())),
    );
    if let Some(advertised) = &want.advertised_algs {
        out.push(
            Check::new("introspect.jwt_alg_advertised", "the JWT's alg is listed in introspection_signing_alg_values_supported")
                .req(&["MS-JIR-05"])
                .warning()
                .expected(advertised.join(", "))
                .observed(alg.clone())
                .evidence(&ev)
                .pass(advertised.contains(&alg)),
        );
    }
    let verified = want.jwks.map(|set| jws.verify_with_jwks(set));
    out.push(
        Check::new("introspect.jwt_signature", "the JWT signature verifies with the server's published key")
            .req(&["MS-JIR-01", "MS-JIR-CL-01"])
            .expected("a key of jwks_uri verifies it")
            .observed(match &verified {
                Some(Ok(k)) => format!("verified with kid {}", k.kid().unwrap_or("(none)")),
                Some(Err(e)) => e.to_string(),
                None => "the server JWKS could not be fetched; signature not checked".to_owned(),
            })
            .evidence(&ev)
            .pass(verified.is_some_and(|v| v.is_ok())),
    );
    let Ok(claims) = jws.claims() else {
        out.push(
            Check::new("introspect.jwt_claims", "the JWT payload is a JSON object")
                .req(&["MS-JIR-02"])
                .observed("not a JSON object")
                .evidence(&ev)
                .pass(false),
        );
        return (out, None);
    };
    let iss = claims.get("iss").and_then(Value::as_str);
    out.push(
        Check::new("introspect.jwt_iss", "iss equals the issuer")
            .req(&["MS-JIR-02"])
            .expected(want.issuer.to_owned())
            .observed(iss.unwrap_or("(absent)").to_owned())
            .evidence(&ev)
            .pass(iss == Some(want.issuer)),
    );
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == want.caller,
        Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(want.caller)),
        _ => false,
    };
    out.push(
        Check::new("introspect.jwt_aud", "aud is the resource server that asked")
            .req(&["MS-JIR-02"])
            .expected(want.caller.to_owned())
            .observed(claims.get("aud").map(Value::to_string).unwrap_or_else(|| "(absent)".into()))
            .evidence(&ev)
            .pass(aud_ok),
    );
    let now = fapilab_jose::now();
    let iat = claims.get("iat").and_then(Value::as_i64);
    out.push(
        Check::new("introspect.jwt_iat", "iat is present and within 5 minutes of now")
            .req(&["MS-JIR-02"])
            .expected(format!("|iat - now| ≤ {SKEW} (now {now})"))
            .observed(iat.map_or_else(|| "(absent)".to_owned(), |i| i.to_string()))
            .evidence(&ev)
            .pass(iat.is_some_and(|i| (i - now).abs() <= SKEW)),
    );
    let object = claims.get("token_introspection").and_then(Value::as_object).cloned();
    out.push(
        Check::new("introspect.jwt_token_introspection", "token_introspection holds the RFC 7662 answer")
            .req(&["MS-JIR-02"])
            .expected("an object with a boolean active")
            .observed(match claims.get("token_introspection") {
                Some(Value::Object(o)) => format!("members {}", o.keys().cloned().collect::<Vec<_>>().join(", ")),
                Some(other) => format!("a {}", if other.is_null() { "null" } else { "non-object" }),
                None => "(absent)".to_owned(),
            })
            .evidence(&ev)
            .pass(object.as_ref().is_some_and(|o| o.get("active").is_some_and(Value::is_boolean))),
    );
    (out, object)
}
