//! Hybrid authorization responses, `response_type=code id_token` (FAPI 1.0 Advanced Part 2
//! 5.2.2.1, OIDC Core 3.3; A-AS-02, A-AS-22, A-IDT-04, A-IDT-05, A-IDT-07).
//!
//! The response comes in the fragment of the redirect (OIDC Core 3.3.2.5) and nothing of it
//! may be in the query (A-AS-22). The ID token is a detached signature (A-IDT-04): the client
//! verifies it before using the code — signature with the `jwks_uri` key named by `kid`, `alg`
//! PS256 or ES256, `iss`, `aud` = the client, `exp`, `iat`, `sub`, `nonce` equal to the
//! request's (required in the hybrid flow), `c_hash` over the code, and `s_hash` over the state
//! when a state was sent (absent when none was: OIDC Core 3.3.2.11; A-IDT-05).

use fapilab_jose::Jwks;
use serde_json::{Map, Value};

use super::errors::{param, url_params};
use super::id_token::{self, HashRule};
use super::{Check, check_secret_entropy};
use crate::model::Condition;

/// What the client sent, to compare the response with.
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    /// The redirect URI of the request: its own query parameters come back and are not part of
    /// the response.
    pub redirect_uri: &'a str,
    pub state: Option<&'a str>,
    pub nonce: Option<&'a str>,
    /// The server's `jwks_uri` keys, if they could be fetched.
    pub jwks: Option<&'a Jwks>,
}

/// What a hybrid response delivered, once judged.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub code: String,
    /// The claims of the front-channel ID token.
    pub id_token: Map<String, Value>,
}

/// Judges a successful hybrid response at `url` (the redirect to the client); returns the
/// code and the ID token claims when both can be used.
pub fn success(want: &Expected<'_>, url: &str, evidence: &[usize]) -> (Vec<Condition>, Option<Delivered>) {
    let (query, fragment) = url_params(url);
    let own = url_params(want.redirect_uri).0;
    let mut out = Vec::new();
    let base = url.split(['?', '#']).next().unwrap_or(url);
    let sent_base = want.redirect_uri.split('?').next().unwrap_or(want.redirect_uri);
    out.push(
        Check::new("authorize.redirect_uri", "the response goes to the redirect URI of the request")
            .req(&["B-AS-10", "OA-03"])
            .expected(sent_base.to_owned())
            .observed(base.to_owned())
            .evidence(evidence)
            .pass(base == sent_base),
    );
    let in_query: Vec<&str> =
        query.iter().filter(|(k, v)| !own.iter().any(|(ok, ov)| ok == k && ov == v)).map(|(k, _)| k.as_str()).collect();
    out.push(
        Check::new("authorize.hybrid_nothing_in_query", "nothing of the response is in the query")
            .req(&["A-AS-22", "A-IDT-04"])
            .expected("only the redirect URI's own query parameters")
            .observed(if in_query.is_empty() { "none".to_owned() } else { in_query.join(", ") })
            .hint("a response carrying an ID token must never use the query encoding: answer in the fragment")
            .evidence(evidence)
            .pass(in_query.is_empty()),
    );
    let error = param(&fragment, "error").or_else(|| param(&query, "error"));
    out.push(
        Check::new("authorize.no_error", "the authorization succeeds")
            .req(&["A-AS-02"])
            .expected("no error parameter")
            .observed(error.map_or_else(|| "no error".to_owned(), |e| format!("error={e}")))
            .evidence(evidence)
            .pass(error.is_none()),
    );
    if let Some(iss) = param(&fragment, "iss") {
        out.push(
            Check::new("authorize.iss", "iss in the authorization response, when sent, equals the issuer (RFC 9207)")
                .req(&["ISS-01"])
                .expected(want.issuer.to_owned())
                .observed(iss.to_owned())
                .evidence(evidence)
                .pass(iss == want.issuer),
        );
    }
    let state = param(&fragment, "state");
    out.push(
        Check::new("authorize.state", "state comes back in the fragment exactly as sent (and not at all when none was sent)")
            .req(&["OA-03"])
            .expected(match want.state {
                Some(s) => format!("{} characters, identical", s.len()),
                None => "no state".into(),
            })
            .observed(match state {
                Some(s) if Some(s) == want.state => "identical".into(),
                Some(s) => format!("{} characters, different", s.len()),
                None => "no state".into(),
            })
            .evidence(evidence)
            .pass(state == want.state),
    );
    let code = param(&fragment, "code");
    out.push(
        Check::new("authorize.code", "an authorization code is returned in the fragment")
            .req(&["A-IDT-04", "A-AS-02"])
            .expected("a code parameter in the fragment")
            .observed(match (code, param(&query, "code")) {
                (Some(_), _) => "in the fragment",
                (None, Some(_)) => "in the query only",
                (None, None) => "absent",
            })
            .evidence(evidence)
            .pass(code.is_some()),
    );
    if let Some(c) = code {
        out.push(check_secret_entropy("authorize.code_entropy", "the authorization code", c, evidence));
    }
    let token = param(&fragment, "id_token");
    out.push(
        Check::new("authorize.id_token", "an ID token is returned in the fragment as a detached signature")
            .req(&["A-IDT-04"])
            .expected("an id_token parameter in the fragment")
            .observed(match (token, param(&query, "id_token")) {
                (Some(_), _) => "in the fragment",
                (None, Some(_)) => "in the query only",
                (None, None) => "absent",
            })
            .evidence(evidence)
            .pass(token.is_some()),
    );
    let access_token = param(&fragment, "access_token").or_else(|| param(&query, "access_token"));
    out.push(
        Check::new("authorize.no_access_token", "no access token in the front channel (response_type code id_token)")
            .req(&["A-AS-02"])
            .expected("no access_token")
            .observed(if access_token.is_some() { "an access_token" } else { "none" })
            .evidence(evidence)
            .pass(access_token.is_none()),
    );
    let Some(token) = token else { return (out, None) };
    let (conds, claims) = id_token::check(
        "authorize",
        token,
        want.jwks,
        &id_token::Expected::front_channel(want.issuer, want.client_id, want.nonce),
        evidence,
    );
    out.extend(conds);
    let Some(claims) = claims else { return (out, None) };
    let alg = id_token::header_alg(token).unwrap_or_default();
    out.extend(id_token::check_hash(
        "authorize.id_token_c_hash",
        &claims,
        &alg,
        "c_hash",
        code,
        &HashRule::Required,
        &["A-IDT-05"],
        evidence,
    ));
    let s_rule = if want.state.is_some() { HashRule::Required } else { HashRule::Absent };
    out.extend(id_token::check_hash(
        "authorize.id_token_s_hash",
        &claims,
        &alg,
        "s_hash",
        want.state,
        &s_rule,
        &["A-IDT-05"],
        evidence,
    ));
    let delivered = code.map(|c| Delivered { code: c.to_owned(), id_token: claims });
    (out, delivered)
}

/// The token endpoint's ID token after a hybrid response: the same `iss` and `sub` as the
/// front-channel one (OIDC Core 3.3.3.6).
pub fn same_subject(front: &Map<String, Value>, back: &Map<String, Value>, evidence: &[usize]) -> Condition {
    let same = ["iss", "sub"].iter().all(|k| front.get(*k).is_some() && front.get(*k) == back.get(*k));
    Check::new("token.id_token_same_subject", "the token endpoint's ID token has the iss and sub of the front-channel one")
        .req(&["B-OID-01", "A-IDT-04"])
        .expected("iss and sub identical in both ID tokens")
        .observed(if same { "identical" } else { "different" })
        .evidence(evidence)
        .pass(same)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use fapilab_jose::{Algorithm, SigningKey};
    use serde_json::json;

    const ISSUER: &str = "https://as.example/t";
    const REDIRECT: &str = "https://c.example/cb?dummy1=lorem";
    const CODE: &str = "SplxlOBeZQQYbYS6WxSbIA-code-value-1234";
    const STATE: &str = "af0ifjsldkj-state";
    const NONCE: &str = "n-0S6_WzA2Mj";

    fn key(alg: Algorithm) -> SigningKey {
        SigningKey::generate(alg, Some("as-1".into())).unwrap()
    }

    fn good_claims(alg: &str) -> Map<String, Value> {
        let now = fapilab_jose::now();
        let c = json!({
            "iss": ISSUER, "aud": "client-1", "sub": "user-1", "iat": now, "exp": now + 300, "nonce": NONCE,
            "c_hash": id_token::half_hash(alg, CODE).unwrap(), "s_hash": id_token::half_hash(alg, STATE).unwrap(),
        });
        c.as_object().unwrap().clone()
    }

    fn sign(key: &SigningKey, claims: &Map<String, Value>) -> String {
        fapilab_jose::jws::sign(key, Map::new(), &Value::Object(claims.clone())).unwrap()
    }

    fn judge(key: &SigningKey, url: &str, state: Option<&str>) -> (Vec<Condition>, Option<Delivered>) {
        let jwks = Jwks::new(vec![key.public_jwk()]);
        let want =
            Expected { issuer: ISSUER, client_id: "client-1", redirect_uri: REDIRECT, state, nonce: Some(NONCE), jwks: Some(&jwks) };
        success(&want, url, &[0])
    }

    fn failed(conds: &[Condition]) -> Vec<&str> {
        conds.iter().filter(|c| !c.passed).map(|c| c.id.as_str()).collect()
    }

    fn fragment_url(id_token: &str) -> String {
        format!("{REDIRECT}#code={CODE}&id_token={id_token}&state={STATE}")
    }

    #[test]
    fn the_hashes_are_the_left_half_of_the_digest() {
        // The left 16 bytes of SHA-256("SplxlOBeZQQYbYS6WxSbIA"), base64url, as Python's hashlib
        // computes them independently.
        assert_eq!(id_token::half_hash("RS256", "SplxlOBeZQQYbYS6WxSbIA").as_deref(), Some("o1uBp9eSe3DsmScN0jYriA"));
        assert_eq!(id_token::half_hash("ES256", "x").map(|h| h.len()), Some(22));
        assert_eq!(id_token::half_hash("PS384", "x").map(|h| h.len()), Some(32));
        assert_eq!(id_token::half_hash("none", "x"), None);
    }

    #[test]
    fn a_good_response_passes_with_ps256_and_es256() {
        for (alg, name) in [(Algorithm::Es256, "ES256"), (Algorithm::Ps256, "PS256")] {
            let k = key(alg);
            let (conds, delivered) = judge(&k, &fragment_url(&sign(&k, &good_claims(name))), Some(STATE));
            assert!(failed(&conds).is_empty(), "{name}: {conds:?}");
            let d = delivered.expect("delivered");
            assert_eq!(d.code, CODE);
            assert_eq!(d.id_token.get("sub").and_then(Value::as_str), Some("user-1"));
        }
    }

    #[test]
    fn each_broken_claim_fails_its_condition() {
        let k = key(Algorithm::Es256);
        let cases: Vec<(&str, Value, &str)> = vec![
            ("c_hash", Value::Null, "authorize.id_token_c_hash"),
            ("c_hash", json!(id_token::half_hash("ES256", "another-code").unwrap()), "authorize.id_token_c_hash"),
            ("s_hash", Value::Null, "authorize.id_token_s_hash"),
            ("s_hash", json!(id_token::half_hash("ES256", "another-state").unwrap()), "authorize.id_token_s_hash"),
            ("nonce", Value::Null, "authorize.id_token_nonce"),
            ("aud", json!(ISSUER), "authorize.id_token_aud"),
            ("iss", json!("https://other.example"), "authorize.id_token_iss"),
            ("exp", json!(fapilab_jose::now() - 3600), "authorize.id_token_exp"),
            ("acr", json!(""), "authorize.id_token_acr"),
        ];
        for (claim, value, id) in cases {
            let mut claims = good_claims("ES256");
            if value.is_null() {
                claims.remove(claim);
            } else {
                claims.insert(claim.into(), value);
            }
            let (conds, _) = judge(&k, &fragment_url(&sign(&k, &claims)), Some(STATE));
            assert_eq!(failed(&conds), vec![id], "{claim}");
        }
        // Several audiences without azp.
        let mut claims = good_claims("ES256");
        claims.insert("aud".into(), json!(["client-1", "other"]));
        let (conds, _) = judge(&k, &fragment_url(&sign(&k, &claims)), Some(STATE));
        assert_eq!(failed(&conds), vec!["authorize.id_token_azp"]);
        // Signed by a key the server does not publish.
        let (conds, _) = judge(&k, &fragment_url(&sign(&key(Algorithm::Es256), &good_claims("ES256"))), Some(STATE));
        assert_eq!(failed(&conds), vec!["authorize.id_token_signature"]);
    }

    #[test]
    fn s_hash_follows_the_state() {
        let k = key(Algorithm::Es256);
        // No state sent: no state back and no s_hash.
        let mut claims = good_claims("ES256");
        claims.remove("s_hash");
        let url = format!("{REDIRECT}#code={CODE}&id_token={}", sign(&k, &claims));
        let (conds, _) = judge(&k, &url, None);
        assert!(failed(&conds).is_empty(), "{conds:?}");
        // An s_hash without a state fails.
        let url = format!("{REDIRECT}#code={CODE}&id_token={}", sign(&k, &good_claims("ES256")));
        let (conds, _) = judge(&k, &url, None);
        assert_eq!(failed(&conds), vec!["authorize.id_token_s_hash"]);
    }

    #[test]
    fn a_query_response_and_a_missing_id_token_fail() {
        let k = key(Algorithm::Es256);
        let token = sign(&k, &good_claims("ES256"));
        let url = format!("{REDIRECT}&code={CODE}&id_token={token}&state={STATE}");
        let (conds, delivered) = judge(&k, &url, Some(STATE));
        assert!(delivered.is_none());
        assert_eq!(failed(&conds), vec!["authorize.hybrid_nothing_in_query", "authorize.state", "authorize.code", "authorize.id_token"]);
        let (conds, _) = judge(&k, &format!("{REDIRECT}#code={CODE}&state={STATE}"), Some(STATE));
        assert_eq!(failed(&conds), vec!["authorize.id_token"]);
        // An RS256 ID token is refused (A-IDT-07).
        let rsa = key(Algorithm::Ps256);
        let rs256 = crate::steps::sign_rs256(&rsa, Map::new(), &Value::Object(good_claims("RS256"))).unwrap();
        let (conds, _) = judge(&rsa, &fragment_url(&rs256), Some(STATE));
        assert!(failed(&conds).contains(&"authorize.id_token_alg"), "{conds:?}");
    }

    #[test]
    fn the_token_endpoint_id_token_names_the_same_subject() {
        let front = good_claims("ES256");
        let mut back = front.clone();
        assert!(same_subject(&front, &back, &[]).passed);
        back.insert("sub".into(), json!("user-2"));
        assert!(!same_subject(&front, &back, &[]).passed);
    }
}
