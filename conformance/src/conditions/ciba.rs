//! CIBA (OpenID CIBA Core 1.0 and FAPI-CIBA; `oauth-building-blocks.md` §11, suite research
//! §2.4): the acknowledgement of an authentication request (CIBA-04), what each broken
//! authentication request breaks (CIBA-01, CIBA-02, CIBA-03, FCIBA-03, FCIBA-08), and the ID
//! token of a CIBA grant (CIBA-07).

use serde_json::{Map, Value};

use super::Check;
use crate::http::Response;
use crate::model::Condition;
use crate::mutations::Mutations;

/// What a mutation of the authentication request breaks.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub mutation: &'static str,
    pub requirements: &'static [&'static str],
    /// Error codes allowed in the 400 answer (CIBA-03).
    pub errors: &'static [&'static str],
    /// The usual cause when the server accepts.
    pub hint: &'static str,
}

const SIGNED: &str = "the server must verify the signed authentication request like a request object: aud = its issuer, \
                      iss = the authenticated client, iat, nbf, exp (at most 60 minutes), jti, a signature by the client's \
                      registered key (CIBA Core §7.1.1)";

/// Every mutation of the authentication request that a server must refuse.
pub const RULES: &[Rule] = &[
    Rule {
        mutation: "bc_unsigned",
        requirements: &["FCIBA-08", "CIBA-02"],
        errors: &["invalid_request"],
        hint: "FAPI-CIBA (ID1) requires signed authentication requests: plain form parameters must be refused",
    },
    Rule {
        mutation: "bc_two_hints",
        requirements: &["CIBA-01", "FCIBA-12"],
        errors: &["invalid_request"],
        hint: "exactly one of login_hint_token, id_token_hint and login_hint: a server that picks the first hint may authenticate another user",
    },
    Rule {
        mutation: "bc_scope_without_openid",
        requirements: &["CIBA-01"],
        errors: &["invalid_scope", "invalid_request"],
        hint: "CIBA is an OpenID Connect flow: the scope must contain openid",
    },
    Rule {
        mutation: "bc_no_binding_message",
        requirements: &["FCIBA-03"],
        errors: &["invalid_request"],
        hint: "without an intent scope, FAPI-CIBA needs binding_message to give the request a unique authorization context",
    },
    Rule { mutation: "bc_no_aud", requirements: &["CIBA-02"], errors: &["invalid_request"], hint: SIGNED },
    Rule { mutation: "bc_aud_other", requirements: &["CIBA-02"], errors: &["invalid_request"], hint: SIGNED },
    Rule { mutation: "bc_iss_other_client", requirements: &["CIBA-02"], errors: &["invalid_request", "invalid_client"], hint: SIGNED },
    Rule { mutation: "bc_no_iat", requirements: &["CIBA-02"], errors: &["invalid_request"], hint: SIGNED },
    Rule { mutation: "bc_no_jti", requirements: &["CIBA-02"], errors: &["invalid_request"], hint: SIGNED },
    Rule { mutation: "bc_no_nbf", requirements: &["CIBA-02"], errors: &["invalid_request"], hint: SIGNED },
    Rule { mutation: "bc_no_exp", requirements: &["CIBA-02"], errors: &["invalid_request"], hint: SIGNED },
    Rule { mutation: "bc_exp_70_minutes_ahead", requirements: &["CIBA-02"], errors: &["invalid_request"], hint: SIGNED },
    Rule { mutation: "bc_nbf_70_minutes_ago", requirements: &["CIBA-02"], errors: &["invalid_request"], hint: SIGNED },
    Rule { mutation: "bc_alg_none", requirements: &["CIBA-02", "FCIBA-09"], errors: &["invalid_request"], hint: SIGNED },
    Rule { mutation: "bc_signed_by_other_client", requirements: &["CIBA-02"], errors: &["invalid_request"], hint: SIGNED },
    Rule { mutation: "bc_bad_signature", requirements: &["CIBA-02"], errors: &["invalid_request"], hint: SIGNED },
];

/// The requirement ids, accepted errors and hint of the mutations in `m` (`None` without one).
pub fn rule(m: &Mutations) -> Option<(Vec<&'static str>, Vec<&'static str>, &'static str)> {
    let hits: Vec<&Rule> = RULES.iter().filter(|r| m.has(r.mutation)).collect();
    let first = hits.first()?;
    let mut reqs = Vec::new();
    let mut errors = Vec::new();
    for r in &hits {
        reqs.extend_from_slice(r.requirements);
        for e in r.errors {
            if !errors.contains(e) {
                errors.push(*e);
            }
        }
    }
    Some((reqs, errors, first.hint))
}

/// The fields of an acknowledgement the token steps need.
pub struct Acknowledgement {
    pub auth_req_id: String,
    pub expires_in: u64,
    /// `None`: the answer had none (the client then assumes 5 s, CIBA-04).
    pub interval: Option<u64>,
}

/// Judges the 200 acknowledgement of an authentication request (CIBA-04): JSON with an
/// opaque `auth_req_id` of at least 128 bits, a positive `expires_in`, an optional `interval`.
pub fn acknowledgement(resp: &Response) -> (Vec<Condition>, Option<Acknowledgement>) {
    let ev = [resp.index];
    let mut out = vec![
        Check::new("backchannel.status", "the authentication request is acknowledged with 200")
            .req(&["CIBA-04"])
            .expected("HTTP 200 with a JSON object")
            .observed(resp.describe())
            .hint("when it is an error, its error_description usually names the rule")
            .evidence(&ev)
            .pass(resp.status == Some(200) && resp.json().is_some()),
    ];
    let Some(body) = resp.json().filter(|_| resp.status == Some(200)) else { return (out, None) };
    let auth_req_id = body.get("auth_req_id").and_then(Value::as_str).unwrap_or_default().to_owned();
    // 128 bits are at least 22 base64url characters; shorter cannot carry them.
    out.push(
        Check::new("backchannel.auth_req_id", "auth_req_id is present and long enough for 128 bits of entropy")
            .req(&["CIBA-04"])
            .expected("a string of at least 22 characters")
            .observed(if auth_req_id.is_empty() { "absent".to_owned() } else { format!("{} characters", auth_req_id.len()) })
            .evidence(&ev)
            .pass(auth_req_id.len() >= 22),
    );
    let expires_in = body.get("expires_in").and_then(Value::as_u64).filter(|e| *e > 0);
    out.push(
        Check::new("backchannel.expires_in", "expires_in is a positive number of seconds")
            .req(&["CIBA-04"])
            .expected("a positive integer")
            .observed(body.get("expires_in").map_or_else(|| "absent".to_owned(), Value::to_string))
            .evidence(&ev)
            .pass(expires_in.is_some()),
    );
    let interval = body.get("interval");
    let interval_ok = interval.is_none_or(|i| i.as_u64().is_some());
    out.push(
        Check::new("backchannel.interval", "interval, when present, is a number of seconds")
            .req(&["CIBA-04"])
            .expected("absent, or a non-negative integer")
            .observed(interval.map_or_else(|| "absent".to_owned(), Value::to_string))
            .evidence(&ev)
            .pass(interval_ok),
    );
    match expires_in {
        Some(expires_in) if auth_req_id.len() >= 22 && interval_ok => {
            (out, Some(Acknowledgement { auth_req_id, expires_in, interval: interval.and_then(Value::as_u64) }))
        }
        _ => (out, None),
    }
}

/// The CIBA rules for the ID token of a CIBA grant (CIBA-07): present, and without `nonce`
/// (a backchannel request has none). `claims` are the verified claims, `None` when the token
/// response carried no ID token.
pub fn id_token(claims: Option<&Map<String, Value>>, ev: &[usize]) -> Vec<Condition> {
    let mut out = vec![
        Check::new("ciba_token.id_token", "the token response of a CIBA grant carries an ID token")
            .req(&["CIBA-07"])
            .expected("an id_token whose signature, iss and aud verify")
            .observed(if claims.is_some() { "present and verified" } else { "absent or not verifiable" })
            .evidence(ev)
            .pass(claims.is_some()),
    ];
    if let Some(c) = claims {
        out.push(
            Check::new("ciba_token.id_token_no_nonce", "the ID token of a CIBA grant has no nonce")
                .req(&["CIBA-07"])
                .expected("no nonce claim (the authentication request sent none)")
                .observed(c.get("nonce").map_or_else(|| "absent".to_owned(), Value::to_string))
                .evidence(ev)
                .pass(!c.contains_key("nonce")),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_backchannel_mutation_has_one_rule() {
        for m in crate::mutations::for_step("backchannel_authorize") {
            assert_eq!(RULES.iter().filter(|r| r.mutation == m).count(), 1, "{m}");
        }
        for r in RULES {
            assert!(crate::mutations::validate("backchannel_authorize", r.mutation).is_ok(), "{}", r.mutation);
        }
    }
}
