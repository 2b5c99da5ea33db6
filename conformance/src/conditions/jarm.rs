//! JARM authorization responses (FAPI 2.0 Message Signing 5.4, JARM 4.1–4.4; MS-JARM-01…07,
//! MS-JARM-CL-02; suite research §3.4).
//!
//! Every authorization response of a plan with JARM responses, success or error, goes through
//! [`decode`] before anything else looks at it, as a JARM client must (JARM 4.4, MS-JARM-CL-02):
//! the `response` JWT is found where the pushed `response_mode` puts it (the query for `jwt`
//! and `query.jwt`, the fragment for `fragment.jwt`, the posted form for `form_post.jwt`),
//! its signature is verified with the server's `jwks_uri` key named by `kid`, its `alg` must be
//! PS256, ES256 or EdDSA, `iss` the issuer, `aud` the client, `exp` present and not passed
//! (at most 10 minutes ahead: recommended, so a warning). The parameters it carries then stand
//! in for the plain ones, so the Security Profile checks (`iss`, `state`, `code`, error
//! codes) judge what the JWT says.

use fapilab_jose::Jwks;
use fapilab_jose::jws::CompactJws;
use serde_json::Value;

use super::Check;
use super::errors::{FrontOutcome, Params, param, url_params, with_query};
use crate::model::Condition;
use crate::scenario::SecurityProfile;

const ALLOWED: &[&str] = &["PS256", "ES256", "EdDSA"];
/// Clock skew tolerated on `exp`.
const SKEW: i64 = 60;
/// JARM 4.1: "the maximum lifetime … is RECOMMENDED to be 10 minutes".
const MAX_LIFETIME: i64 = 600;
/// Authorization response parameters that belong inside the JWT (JARM 4.1, 4.1.1).
const RESPONSE_PARAMETERS: &[&str] = &["code", "state", "error", "error_description", "error_uri", "id_token", "access_token"];

/// What the client expects of the response.
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    /// The `response_mode` pushed: `jwt`, `query.jwt`, `fragment.jwt` or `form_post.jwt`.
    pub mode: &'a str,
    /// The redirect URI pushed: its own query parameters come back and are not response
    /// parameters.
    pub redirect_uri: &'a str,
    /// The server's `jwks_uri` keys, if they could be fetched.
    pub jwks: Option<&'a Jwks>,
    /// `authorization_signing_alg_values_supported`, if the metadata has it.
    pub advertised_algs: Option<Vec<String>>,
    /// FAPI 2.0 Message Signing (MS-JARM-*) or FAPI 1.0 Advanced (A-JARM-01: PS256 or ES256).
    pub profile: SecurityProfile,
}

impl Expected<'_> {
    /// The requirement ids of a check: the Message Signing ones, or A-JARM-01 under FAPI 1.0
    /// Advanced, which takes JARM as a whole (Part 2 5.2.2.2).
    fn reqs(&self, ms: &[&'static str]) -> Vec<&'static str> {
        match self.profile {
            SecurityProfile::Fapi2 => ms.to_vec(),
            SecurityProfile::Fapi1Advanced => vec!["A-JARM-01"],
        }
    }

    fn algs(&self) -> &'static [&'static str] {
        match self.profile {
            SecurityProfile::Fapi2 => ALLOWED,
            SecurityProfile::Fapi1Advanced => super::id_token::FAPI1_ALGS,
        }
    }
}

/// Where a response mode delivers the `response` parameter (JARM 4.3.1–4.3.4: `jwt` is
/// `query.jwt` for `response_type=code`).
fn place_of(mode: &str) -> &'static str {
    match mode {
        "fragment.jwt" => "fragment",
        "form_post.jwt" => "posted form",
        _ => "query",
    }
}

/// Judges the JARM response in `outcome` and decodes it: the conditions, and the outcome with
/// the JWT's parameters in place of `response` (the redirect URI's own query kept). `None`
/// when there is nothing to decode: an error page (never judged here), or a redirect without
/// a `response` JWT, which fails `jarm.response`.
pub fn decode(outcome: &FrontOutcome, want: &Expected<'_>, evidence: &[usize]) -> (Vec<Condition>, Option<FrontOutcome>) {
    let (url, form): (&str, &[(String, String)]) = match outcome {
        FrontOutcome::Redirect { url, .. } => (url, &[]),
        FrontOutcome::FormPost { action, fields, .. } => (action, fields),
        FrontOutcome::ErrorPage { .. } | FrontOutcome::Stuck { .. } => return (Vec::new(), None),
    };
    let (query, fragment) = url_params(url);
    let own: Params = url_params(want.redirect_uri).0;
    let mut out = Vec::new();
    let places: [(&str, &[(String, String)]); 3] = [("query", &query), ("fragment", &fragment), ("posted form", form)];
    let found = places.iter().find_map(|(place, params)| param(params, "response").map(|jwt| (*place, jwt.to_owned())));
    // Parameters delivered next to the JWT, other than the redirect URI's own.
    let outside: Vec<&str> = places
        .iter()
        .flat_map(|(place, params)| params.iter().map(move |(k, v)| (*place, k, v)))
        .filter(|(place, k, v)| k.as_str() != "response" && !(*place == "query" && own.iter().any(|(ok, ov)| ok == *k && ov == *v)))
        .map(|(_, k, _)| k.as_str())
        .collect();
    let expected_place = place_of(want.mode);
    out.push(
        Check::new("jarm.response", "the authorization response is a JWT in a `response` parameter")
            .req(&want.reqs(&["MS-JARM-01", "MS-JARM-03", "MS-JARM-06"]))
            .expected(format!("response=<JWT> in the {expected_place} (response_mode {})", want.mode))
            .observed(match &found {
                Some((place, _)) => format!("response in the {place}"),
                None if outside.is_empty() => "no parameters".to_owned(),
                None => format!("plain parameters: {}", outside.join(", ")),
            })
            .hint("FAPI 2.0 Message Signing requires JARM for every authorization response, errors included")
            .evidence(evidence)
            .pass(found.is_some()),
    );
    let Some((place, jwt)) = found else { return (out, None) };
    out.push(
        Check::new("jarm.response_mode", "the JWT is delivered where the response_mode asks")
            .req(&want.reqs(&["MS-JARM-06"]))
            .expected(format!("the {expected_place} (response_mode {})", want.mode))
            .observed(format!("the {place}"))
            .evidence(evidence)
            .pass(place == expected_place),
    );
    let plain: Vec<&str> = outside.iter().copied().filter(|k| RESPONSE_PARAMETERS.contains(k)).collect();
    out.push(
        Check::new("jarm.no_plain_parameters", "the response parameters are only inside the JWT")
            .req(&want.reqs(&["MS-JARM-03"]))
            .expected(format!("no {} next to response", RESPONSE_PARAMETERS.join(", ")))
            .observed(if plain.is_empty() { "none".to_owned() } else { plain.join(", ") })
            .evidence(evidence)
            .pass(plain.is_empty()),
    );
    let separate_iss = outside.contains(&"iss");
    out.push(
        Check::new("jarm.no_iss_parameter", "iss is only inside the JWT, not a separate parameter")
            .req(&want.reqs(&["MS-JARM-02"]))
            .warning()
            .expected("no iss parameter next to response")
            .observed(if separate_iss { "an iss parameter" } else { "none" })
            .evidence(evidence)
            .pass(!separate_iss),
    );
    let jws = match CompactJws::parse(&jwt) {
        Ok(j) => j,
        Err(e) => {
            out.push(
                Check::new("jarm.parse", "the response is a compact JWS")
                    .req(&want.reqs(&["MS-JARM-04"]))
                    .expected("a signed JWT")
                    .observed(e.to_string())
                    .evidence(evidence)
                    .pass(false),
            );
            return (out, None);
        }
    };
    let alg = jws.header().get("alg").map_or_else(|| "(absent)".to_owned(), |a| a.as_str().map_or_else(|| a.to_string(), str::to_owned));
    out.push(
        Check::new("jarm.alg", format!("the JWT is signed with {}", want.algs().join(" or ")))
            .req(&want.reqs(&["MS-JARM-04", "FAPI2-SP-CR-02"]))
            .expected(want.algs().join(", "))
            .observed(alg.clone())
            .hint("JARM defaults to RS256; FAPI forbids it, and an unsigned response proves nothing")
            .evidence(evidence)
            .pass(want.algs().contains(&alg.as_str())),
    );
    if let Some(advertised) = &want.advertised_algs {
        out.push(
            Check::new("jarm.alg_advertised", "the JWT's alg is listed in authorization_signing_alg_values_supported")
                .req(&want.reqs(&["MS-JARM-07"]))
                .warning()
                .expected(advertised.join(", "))
                .observed(alg.clone())
                .evidence(evidence)
                .pass(advertised.contains(&alg)),
        );
    }
    out.push(
        Check::new("jarm.kid", "the JWT header names its key (kid)")
            .req(&want.reqs(&["MS-JARM-04"]))
            .expected("a kid of the server's jwks_uri")
            .observed(jws.kid().unwrap_or("(absent)").to_owned())
            .evidence(evidence)
            .pass(jws.kid().is_some()),
    );
    let verified = want.jwks.map(|set| jws.verify_with_jwks(set));
    out.push(
        Check::new("jarm.signature", "the JWT signature verifies with the server's published key")
            .req(&want.reqs(&["MS-JARM-04", "MS-JARM-CL-02"]))
            .expected("the jwks_uri key named by kid verifies it")
            .observed(match &verified {
                Some(Ok(k)) => format!("verified with kid {}", k.kid().unwrap_or("(none)")),
                Some(Err(e)) => e.to_string(),
                None => "the server JWKS could not be fetched; signature not checked".to_owned(),
            })
            .evidence(evidence)
            .pass(verified.is_some_and(|v| v.is_ok())),
    );
    let Ok(claims) = jws.claims() else {
        out.push(
            Check::new("jarm.claims", "the JWT payload is a JSON object")
                .req(&want.reqs(&["MS-JARM-03"]))
                .observed("not a JSON object")
                .evidence(evidence)
                .pass(false),
        );
        return (out, None);
    };
    let iss = claims.get("iss").and_then(Value::as_str);
    out.push(
        Check::new("jarm.iss", "iss in the JWT equals the issuer")
            .req(&want.reqs(&["MS-JARM-03", "MS-JARM-CL-02", "FAPI2-SP-AZ-07"]))
            .expected(want.issuer.to_owned())
            .observed(iss.unwrap_or("(absent)").to_owned())
            .hint("mix-up protection moves into the JWT under JARM: every response, success or error, carries iss")
            .evidence(evidence)
            .pass(iss == Some(want.issuer)),
    );
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == want.client_id,
        Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(want.client_id)),
        _ => false,
    };
    out.push(
        Check::new("jarm.aud", "aud in the JWT is the client_id")
            .req(&want.reqs(&["MS-JARM-03", "MS-JARM-CL-02"]))
            .expected(want.client_id.to_owned())
            .observed(claims.get("aud").map(Value::to_string).unwrap_or_else(|| "(absent)".into()))
            .hint("the response is addressed to the client that pushed the request, not to the server itself")
            .evidence(evidence)
            .pass(aud_ok),
    );
    let now = fapilab_jose::now();
    let exp = claims.get("exp").and_then(Value::as_i64);
    out.push(
        Check::new("jarm.exp", "exp is present and not passed")
            .req(&want.reqs(&["MS-JARM-03", "MS-JARM-CL-02"]))
            .expected(format!("exp > now ({now}) - {SKEW}"))
            .observed(exp.map_or_else(|| "(absent)".to_owned(), |e| e.to_string()))
            .evidence(evidence)
            .pass(exp.is_some_and(|e| e > now - SKEW)),
    );
    if let Some(e) = exp {
        out.push(
            Check::new("jarm.exp_lifetime", "exp is at most 10 minutes ahead")
                .req(&want.reqs(&["MS-JARM-03"]))
                .warning()
                .expected(format!("exp ≤ now ({now}) + {MAX_LIFETIME} + {SKEW}"))
                .observed(format!("{} s ahead", e - now))
                .evidence(evidence)
                .pass(e <= now + MAX_LIFETIME + SKEW),
        );
    }
    // The plain response the JWT stands for: the redirect URI's own query, then every string
    // claim but `aud` (code, state, iss, error, error_description, …).
    let carried: Params =
        claims.iter().filter(|(k, _)| k.as_str() != "aud").filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned()))).collect();
    let decoded = match outcome {
        FrontOutcome::Redirect { status, .. } => {
            let base = url.split(['?', '#']).next().unwrap_or(url);
            let mut params = own;
            params.extend(carried);
            FrontOutcome::Redirect { url: with_query(base, &params), status: *status }
        }
        FrontOutcome::FormPost { action, status, .. } => FrontOutcome::FormPost { action: action.clone(), fields: carried, status: *status },
        FrontOutcome::ErrorPage { .. } | FrontOutcome::Stuck { .. } => return (out, None),
    };
    (out, Some(decoded))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use fapilab_jose::{Algorithm, SigningKey};
    use serde_json::{Map, json};

    const ISSUER: &str = "https://as.example/t";
    const REDIRECT: &str = "https://c.example/cb?dummy1=lorem";

    fn key() -> SigningKey {
        SigningKey::generate(Algorithm::Es256, Some("as-1".into())).unwrap()
    }

    fn jwt(key: &SigningKey, claims: Value) -> String {
        fapilab_jose::jws::sign(key, Map::new(), &claims).unwrap()
    }

    fn good_claims() -> Value {
        let now = fapilab_jose::now();
        json!({"iss": ISSUER, "aud": "client-1", "iat": now, "exp": now + 300, "code": "c0de", "state": "s1"})
    }

    fn judge(key: &SigningKey, mode: &str, outcome: &FrontOutcome) -> (Vec<Condition>, Option<FrontOutcome>) {
        let jwks = Jwks::new(vec![key.public_jwk()]);
        let want = Expected {
            issuer: ISSUER,
            client_id: "client-1",
            mode,
            redirect_uri: REDIRECT,
            jwks: Some(&jwks),
            advertised_algs: Some(vec!["ES256".into()]),
            profile: SecurityProfile::Fapi2,
        };
        decode(outcome, &want, &[0])
    }

    fn failed(conds: &[Condition]) -> Vec<&str> {
        conds.iter().filter(|c| !c.passed).map(|c| c.id.as_str()).collect()
    }

    #[test]
    fn a_good_query_response_decodes_to_the_plain_parameters() {
        let k = key();
        let url = format!("{REDIRECT}&response={}", jwt(&k, good_claims()));
        let (conds, decoded) = judge(&k, "jwt", &FrontOutcome::Redirect { url, status: 303 });
        assert!(failed(&conds).is_empty(), "{conds:?}");
        let Some(FrontOutcome::Redirect { url, status: 303 }) = decoded else { panic!("decoded redirect") };
        let (q, _) = url_params(&url);
        assert_eq!(param(&q, "dummy1"), Some("lorem"));
        assert_eq!(param(&q, "code"), Some("c0de"));
        assert_eq!(param(&q, "iss"), Some(ISSUER));
        assert_eq!(param(&q, "aud"), None);
    }

    #[test]
    fn fragment_and_form_post_are_read_where_the_mode_puts_them() {
        let k = key();
        let url = format!("{REDIRECT}#response={}", jwt(&k, good_claims()));
        let (conds, decoded) = judge(&k, "fragment.jwt", &FrontOutcome::Redirect { url: url.clone(), status: 303 });
        assert!(failed(&conds).is_empty(), "{conds:?}");
        assert!(decoded.and_then(|d| d.delivered_url()).is_some_and(|u| u.contains("code=c0de")));
        // The same fragment for a query.jwt request is in the wrong place.
        let (conds, _) = judge(&k, "query.jwt", &FrontOutcome::Redirect { url, status: 303 });
        assert_eq!(failed(&conds), vec!["jarm.response_mode"]);

        let outcome = FrontOutcome::FormPost {
            action: REDIRECT.into(),
            fields: vec![("response".into(), jwt(&k, good_claims()))],
            status: 200,
        };
        let (conds, decoded) = judge(&k, "form_post.jwt", &outcome);
        assert!(failed(&conds).is_empty(), "{conds:?}");
        let Some(FrontOutcome::FormPost { fields, .. }) = decoded else { panic!("decoded form") };
        assert_eq!(param(&fields, "state"), Some("s1"));
    }

    #[test]
    fn each_broken_claim_fails_its_condition() {
        let k = key();
        let now = fapilab_jose::now();
        let cases: Vec<(Value, &str)> = vec![
            (json!({"aud": "client-1", "exp": now + 300, "code": "c"}), "jarm.iss"),
            (json!({"iss": ISSUER, "aud": ISSUER, "exp": now + 300, "code": "c"}), "jarm.aud"),
            (json!({"iss": ISSUER, "aud": "client-1", "code": "c"}), "jarm.exp"),
            (json!({"iss": ISSUER, "aud": "client-1", "exp": now - 3600, "code": "c"}), "jarm.exp"),
        ];
        for (claims, id) in cases {
            let url = format!("{REDIRECT}&response={}", jwt(&k, claims));
            let (conds, _) = judge(&k, "jwt", &FrontOutcome::Redirect { url, status: 303 });
            assert_eq!(failed(&conds), vec![id]);
        }
        // Signed by a key the server does not publish.
        let url = format!("{REDIRECT}&response={}", jwt(&key(), good_claims()));
        let (conds, _) = judge(&k, "jwt", &FrontOutcome::Redirect { url, status: 303 });
        assert_eq!(failed(&conds), vec!["jarm.signature"]);
        // A far exp only warns (JARM recommends 10 minutes).
        let claims = json!({"iss": ISSUER, "aud": "client-1", "exp": now + 7200, "code": "c"});
        let url = format!("{REDIRECT}&response={}", jwt(&k, claims));
        let (conds, _) = judge(&k, "jwt", &FrontOutcome::Redirect { url, status: 303 });
        let c = conds.iter().find(|c| !c.passed).unwrap();
        assert_eq!((c.id.as_str(), c.severity), ("jarm.exp_lifetime", crate::model::Severity::Warning));
    }

    #[test]
    fn plain_parameters_and_a_separate_iss() {
        let k = key();
        let (conds, decoded) =
            judge(&k, "jwt", &FrontOutcome::Redirect { url: format!("{REDIRECT}&error=access_denied&state=s1&iss=x"), status: 303 });
        assert_eq!(failed(&conds), vec!["jarm.response"]);
        assert!(decoded.is_none());
        let url = format!("{REDIRECT}&response={}&iss={ISSUER}", jwt(&k, good_claims()));
        let (conds, _) = judge(&k, "jwt", &FrontOutcome::Redirect { url, status: 303 });
        let c = conds.iter().find(|c| !c.passed).unwrap();
        assert_eq!((c.id.as_str(), c.severity), ("jarm.no_iss_parameter", crate::model::Severity::Warning));
        // An unsigned JWT: alg none fails the algorithm and cannot verify.
        let unsigned = format!(
            "{}.{}.",
            fapilab_jose::b64::encode(br#"{"alg":"none"}"#),
            fapilab_jose::b64::encode(good_claims().to_string().as_bytes())
        );
        let (conds, _) = judge(&k, "jwt", &FrontOutcome::Redirect { url: format!("{REDIRECT}&response={unsigned}"), status: 303 });
        assert_eq!(failed(&conds), vec!["jarm.alg", "jarm.alg_advertised", "jarm.kid", "jarm.signature"]);
    }
}
