//! Refusals of signed request objects at the PAR endpoint (FAPI 2.0 Message Signing 5.3.1,
//! RFC 9101 §6, RFC 9126 §3; MS-AS-01…MS-AS-09; suite research §2.2.2 modules 24–38 and 74).
//!
//! RFC 9126 §3 has the PAR endpoint verify the request object as JAR says, so a bad object is
//! refused there, with HTTP 400 and `invalid_request_object` (RFC 9101 §6.3) — `invalid_request`
//! where the request is malformed as a whole: no object at all (MS-AS-01), or one that names
//! another client (MS-AS-07, RFC 9126 §3). The shape of the refusal is judged by
//! [`super::errors::back_channel`]; this table says what each mutation breaks, which errors
//! answer it and the usual cause when a server accepts it.

use crate::mutations::Mutations;

/// What a request-object mutation breaks.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub mutation: &'static str,
    pub requirements: &'static [&'static str],
    /// Error codes allowed in the 400 answer.
    pub errors: &'static [&'static str],
    /// The usual cause when the server accepts.
    pub hint: &'static str,
}

const OBJECT: &[&str] = &["invalid_request_object"];
const OBJECT_OR_REQUEST: &[&str] = &["invalid_request_object", "invalid_request"];

/// Every mutation of the request object that a server must refuse.
pub const RULES: &[Rule] = &[
    Rule {
        mutation: "no_request_object",
        requirements: &["MS-AS-01"],
        errors: OBJECT_OR_REQUEST,
        hint: "FAPI 2.0 Message Signing requires a signed request object at PAR: plain form parameters must be refused",
    },
    Rule {
        mutation: "request_object_no_aud",
        requirements: &["MS-AS-02"],
        errors: OBJECT,
        hint: "the request object's aud must be the issuer identifier (or an array containing it)",
    },
    Rule {
        mutation: "request_object_aud_other",
        requirements: &["MS-AS-02"],
        errors: OBJECT,
        hint: "the request object's aud must be the issuer identifier (or an array containing it)",
    },
    Rule {
        mutation: "request_object_no_nbf",
        requirements: &["MS-AS-03"],
        errors: OBJECT,
        hint: "nbf is required in a FAPI 2.0 request object and may be at most 60 minutes old",
    },
    Rule {
        mutation: "request_object_nbf_70_minutes_ago",
        requirements: &["MS-AS-03"],
        errors: OBJECT,
        hint: "nbf is required in a FAPI 2.0 request object and may be at most 60 minutes old",
    },
    Rule {
        mutation: "request_object_no_exp",
        requirements: &["MS-AS-04"],
        errors: OBJECT,
        hint: "exp is required, must be in the future and at most 60 minutes after nbf",
    },
    Rule {
        mutation: "request_object_expired",
        requirements: &["MS-AS-04"],
        errors: OBJECT,
        hint: "exp is required, must be in the future and at most 60 minutes after nbf",
    },
    Rule {
        mutation: "request_object_exp_over_60_minutes",
        requirements: &["MS-AS-04"],
        errors: OBJECT,
        hint: "exp is required, must be in the future and at most 60 minutes after nbf",
    },
    Rule {
        mutation: "request_object_alg_none",
        requirements: &["MS-AS-06", "FAPI2-SP-CR-02"],
        errors: OBJECT,
        hint: "an unsigned request object proves nothing: only PS256, ES256 and EdDSA signatures are acceptable",
    },
    Rule {
        mutation: "request_object_bad_signature",
        requirements: &["MS-AS-06"],
        errors: OBJECT,
        hint: "verify the request object's signature with a key from the client's registered JWKS",
    },
    Rule {
        mutation: "request_object_other_key",
        requirements: &["MS-AS-06"],
        errors: OBJECT,
        hint: "verify the request object with the keys of the authenticated client only, never another client's",
    },
    Rule {
        mutation: "request_object_rs256",
        requirements: &["MS-AS-06", "FAPI2-SP-CR-02"],
        errors: OBJECT,
        hint: "only PS256, ES256 and EdDSA are allowed for request objects",
    },
    Rule {
        mutation: "request_object_client_id_other",
        requirements: &["MS-AS-07"],
        errors: OBJECT_OR_REQUEST,
        hint: "the request object's client_id must be the client that authenticated the pushed request (RFC 9126 §3)",
    },
    Rule {
        mutation: "request_object_iss_other",
        requirements: &["MS-AS-07"],
        errors: OBJECT_OR_REQUEST,
        hint: "the request object's iss, when present, must be the client's client_id (RFC 9101 §5)",
    },
    Rule {
        mutation: "request_object_with_request_uri",
        requirements: &["MS-AS-09", "PAR-04"],
        errors: OBJECT_OR_REQUEST,
        hint: "request and request_uri must not appear inside a request object (RFC 9101 §4), and a pushed request carries no request_uri",
    },
];

/// The rule of the first request-object mutation in `m`, if any.
pub fn rule(m: &Mutations) -> Option<Rule> {
    RULES.iter().copied().find(|r| m.has(r.mutation))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_is_a_signed_only_par_mutation() {
        for r in RULES {
            assert!(crate::mutations::SIGNED_ONLY.contains(&r.mutation), "{}", r.mutation);
            assert!(crate::mutations::validate("par", r.mutation).is_ok(), "{}", r.mutation);
            assert!(r.requirements.iter().any(|id| id.starts_with("MS-AS-")), "{}", r.mutation);
        }
        assert!(rule(&Mutations(vec!["request_object_no_aud".into()])).is_some_and(|r| r.errors == OBJECT));
        assert!(rule(&Mutations(vec!["request_object_no_typ".into()])).is_none(), "accepted variations have no refusal rule");
    }
}
