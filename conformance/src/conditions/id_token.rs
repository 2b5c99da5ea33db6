//! ID token (suite research §3.6; OID-01, FAPI2-SP-CR-02, FAPI2-SP-AZ-14; under FAPI 1.0
//! Advanced B-OID-01, A-IDT-05, A-IDT-07), and the OIDC Core 3.3.2.11 hashes (`c_hash`,
//! `s_hash`, `at_hash`) that bind an ID token to a code, a state or an access token.

use fapilab_jose::Jwks;
use fapilab_jose::jws::CompactJws;
use serde_json::{Map, Value};

use super::{Check, printable_ascii};
use crate::model::Condition;
use crate::scenario::SecurityProfile;

/// What the ID token must say, and under which rules it is judged.
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: Option<&'a str>,
    /// The signing algorithms allowed, and the requirement ids that say so.
    pub algs: &'a [&'a str],
    pub alg_requirements: &'a [&'a str],
    /// The requirement ids of the claim checks (`iss`, `aud`, `exp`, …).
    pub requirements: &'a [&'a str],
    /// The requirement ids of the nonce check.
    pub nonce_requirements: &'a [&'a str],
    /// Also judge `acr` (a non-empty string when present) and `azp` (the client when `aud` has
    /// several members), as the OIDF FAPI 1.0 plan does (OIDC Core 2, 3.1.3.7).
    pub acr_azp: bool,
}

/// FAPI 2.0: PS256, ES256 or EdDSA (FAPI2-SP-CR-02).
const FAPI2_ALGS: &[&str] = &["PS256", "ES256", "EdDSA"];
/// FAPI 1.0 Advanced: PS256 or ES256 (A-IDT-07, A-ALG-01).
pub const FAPI1_ALGS: &[&str] = &["PS256", "ES256"];
const SKEW: i64 = 300;

impl<'a> Expected<'a> {
    /// An ID token from the token endpoint under `profile`.
    pub fn token_endpoint(profile: SecurityProfile, issuer: &'a str, client_id: &'a str, nonce: Option<&'a str>) -> Expected<'a> {
        match profile {
            SecurityProfile::Fapi2 => Expected {
                issuer,
                client_id,
                nonce,
                algs: FAPI2_ALGS,
                alg_requirements: &["FAPI2-SP-CR-02", "OID-01"],
                requirements: &["OID-01"],
                nonce_requirements: &["OID-01", "FAPI2-SP-AZ-14"],
                acr_azp: false,
            },
            SecurityProfile::Fapi1Advanced => Expected {
                issuer,
                client_id,
                nonce,
                algs: FAPI1_ALGS,
                alg_requirements: &["A-IDT-07", "A-ALG-01"],
                requirements: &["B-OID-01"],
                nonce_requirements: &["B-OID-01", "B-NS-01"],
                acr_azp: true,
            },
        }
    }

    /// The ID token of a hybrid authorization response (FAPI 1.0 Advanced, A-IDT-05).
    pub fn front_channel(issuer: &'a str, client_id: &'a str, nonce: Option<&'a str>) -> Expected<'a> {
        Expected {
            issuer,
            client_id,
            nonce,
            algs: FAPI1_ALGS,
            alg_requirements: &["A-IDT-07", "A-ALG-01"],
            requirements: &["A-IDT-05"],
            nonce_requirements: &["A-IDT-05", "B-NS-01"],
            acr_azp: true,
        }
    }
}

/// OIDC Core 3.3.2.11: the base64url of the left half of the hash of `value` — SHA-256 for
/// `…256` algorithms, SHA-384 for `…384`, SHA-512 for `…512` and EdDSA (Ed25519). `None` for
/// an algorithm without a defined hash.
pub fn half_hash(alg: &str, value: &str) -> Option<String> {
    use aws_lc_rs::digest;
    let algorithm = if alg.ends_with("256") {
        &digest::SHA256
    } else if alg.ends_with("384") {
        &digest::SHA384
    } else if alg.ends_with("512") || alg == "EdDSA" {
        &digest::SHA512
    } else {
        return None;
    };
    let d = digest::digest(algorithm, value.as_bytes());
    let bytes = d.as_ref();
    Some(fapilab_jose::b64::encode(&bytes[..bytes.len() / 2]))
}

/// The `alg` of a compact JWS header, if readable.
pub fn header_alg(token: &str) -> Option<String> {
    token
        .split('.')
        .next()
        .and_then(|h| fapilab_jose::b64::decode(h).ok())
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|h| h.get("alg").and_then(Value::as_str).map(str::to_owned))
}

/// How a hash claim must relate to its value.
pub enum HashRule {
    /// Present and correct (`c_hash` in a hybrid response, `s_hash` when a state was sent).
    Required,
    /// Correct when present (`at_hash` and `c_hash` at the token endpoint).
    IfPresent,
    /// Absent (`s_hash` when no state was sent).
    Absent,
}

/// Judges the hash claim `claim` (`c_hash`, `s_hash`, `at_hash`) over `value` (OIDC Core
/// 3.3.2.11, 3.3.2.12); `None` when the claim is optional, absent and nothing is to judge.
#[allow(clippy::too_many_arguments)]
pub fn check_hash(
    id: &str,
    claims: &Map<String, Value>,
    alg: &str,
    claim: &str,
    value: Option<&str>,
    rule: &HashRule,
    requirements: &[&str],
    evidence: &[usize],
) -> Option<Condition> {
    let got = claims.get(claim).and_then(Value::as_str);
    let want = value.and_then(|v| half_hash(alg, v));
    let (expected, pass) = match rule {
        HashRule::Required => (
            format!("{claim} = left half of the hash of the value, base64url ({})", want.as_deref().unwrap_or("no hash for this alg")),
            got.is_some() && got == want.as_deref(),
        ),
        HashRule::IfPresent => {
            got?;
            (format!("{claim} = {}", want.as_deref().unwrap_or("(no hash for this alg)")), got == want.as_deref())
        }
        HashRule::Absent => (format!("no {claim}"), got.is_none()),
    };
    Some(
        Check::new(id, format!("{claim} in the ID token matches what it covers"))
            .req(requirements)
            .expected(expected)
            .observed(match got {
                Some(g) if Some(g) == want.as_deref() => format!("{claim} {g}, matches"),
                Some(g) => format!("{claim} {g}"),
                None => format!("no {claim}"),
            })
            .hint("OIDC Core 3.3.2.11: hash the ASCII value with the hash of the ID token's alg (SHA-256 for PS256 and ES256), keep the left half, base64url-encode it")
            .evidence(evidence)
            .pass(pass),
    )
}

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
    let alg = header_alg(token);
    let reqs = want.requirements;
    out.push(
        Check::new(&id("alg"), format!("the ID token is signed with {}", want.algs.join(" or ")))
            .req(want.alg_requirements)
            .expected(want.algs.join(", "))
            .observed(alg.clone().unwrap_or_else(|| "(unreadable header)".into()))
            .hint("RS256 is the OIDC default; FAPI forbids it")
            .evidence(evidence)
            .pass(alg.as_deref().is_some_and(|a| want.algs.contains(&a))),
    );
    let Ok(jws) = parsed else {
        out.push(
            Check::new(&id("parse"), "the ID token is a compact JWS")
                .req(reqs)
                .observed("does not parse")
                .evidence(evidence)
                .pass(false),
        );
        return (out, None);
    };
    out.push(
        Check::new(&id("kid"), "the ID token header names its key (kid)")
            .req(reqs)
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
                    .req(reqs)
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
                .req(reqs)
                .expected("a key of jwks_uri verifies it")
                .observed("the server JWKS could not be fetched; signature not checked")
                .evidence(evidence)
                .pass(false),
        ),
    }
    let Ok(claims) = jws.claims() else {
        out.push(
            Check::new(&id("claims"), "the ID token payload is a JSON object")
                .req(reqs)
                .observed("not JSON")
                .evidence(evidence)
                .pass(false),
        );
        return (out, None);
    };
    let s = |k: &str| claims.get(k).and_then(Value::as_str);
    out.push(
        Check::new(&id("iss"), "iss equals the issuer")
            .req(reqs)
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
            .req(reqs)
            .expected(want.client_id.to_owned())
            .observed(claims.get("aud").map(Value::to_string).unwrap_or_else(|| "(absent)".into()))
            .evidence(evidence)
            .pass(aud_ok),
    );
    let now = fapilab_jose::now();
    let exp = claims.get("exp").and_then(Value::as_i64);
    out.push(
        Check::new(&id("exp"), "exp is present and in the future")
            .req(reqs)
            .expected(format!("exp > now ({now}) - {SKEW}"))
            .observed(exp.map(|e| e.to_string()).unwrap_or_else(|| "(absent)".into()))
            .evidence(evidence)
            .pass(exp.is_some_and(|e| e > now - SKEW)),
    );
    let iat = claims.get("iat").and_then(Value::as_i64);
    out.push(
        Check::new(&id("iat"), "iat is present and within 5 minutes of now")
            .req(reqs)
            .expected(format!("|iat - now| ≤ {SKEW} (now {now})"))
            .observed(iat.map(|e| e.to_string()).unwrap_or_else(|| "(absent)".into()))
            .evidence(evidence)
            .pass(iat.is_some_and(|i| (i - now).abs() <= SKEW)),
    );
    let sub = s("sub");
    out.push(
        Check::new(&id("sub"), "sub is present, at most 255 printable ASCII characters")
            .req(reqs)
            .expected("a non-empty sub")
            .observed(sub.map(|x| format!("{} characters", x.len())).unwrap_or_else(|| "(absent)".into()))
            .evidence(evidence)
            .pass(sub.is_some_and(|x| !x.is_empty() && x.len() <= 255 && printable_ascii(x))),
    );
    let nonce = s("nonce");
    out.push(
        Check::new(&id("nonce"), "nonce equals the request's nonce (absent when none was sent)")
            .req(want.nonce_requirements)
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
    if want.acr_azp {
        if let Some(acr) = claims.get("acr") {
            out.push(
                Check::new(&id("acr"), "acr, when present, is a non-empty string")
                    .req(reqs)
                    .expected("a non-empty string")
                    .observed(acr.to_string())
                    .evidence(evidence)
                    .pass(acr.as_str().is_some_and(|a| !a.is_empty())),
            );
        }
        if let Some(Value::Array(auds)) = claims.get("aud")
            && auds.len() > 1
        {
            let azp = s("azp");
            out.push(
                Check::new(&id("azp"), "with several audiences, azp names the client")
                    .req(reqs)
                    .expected(want.client_id.to_owned())
                    .observed(azp.unwrap_or("(absent)").to_owned())
                    .evidence(evidence)
                    .pass(azp == Some(want.client_id)),
            );
        }
    }
    (out, Some(claims))
}
