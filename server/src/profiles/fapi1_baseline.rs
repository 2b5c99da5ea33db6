//! FAPI 1.0 Part 1: Baseline (Final, March 2021) as data.
//!
//! Requirement ids refer to `shared/spec/fapi1.md` (`B-*`). Baseline is the read-only tier:
//! authorization requests may travel in the front channel as plain parameters, PKCE with
//! S256 is required of every request (B-AS-07), `nonce` with `openid` and `state` without it
//! (B-NS-01, B-NS-02), and the plain `code` response is allowed. Signed request objects,
//! PAR, the hybrid response and JARM are accepted when a client uses them.
//!
//! Sender-constrained tokens: Baseline permits bearer tokens (B-AS-21) but does not require
//! them; this server binds every access token (mTLS or DPoP) in every profile, so a leaked
//! token is useless without the client's key.

use std::time::Duration;

use super::{JARM_MODES, PkceRule, Policy, ProfileId, RequestObjects, ResponseRule, fapi1_advanced};

pub fn policy() -> Policy {
    Policy {
        profile: ProfileId::Fapi1Baseline,
        require_pushed_authorization_requests: false,
        responses: &[
            ResponseRule { response_type: "code", response_modes: &BASELINE_CODE_MODES, default_mode: Some("query") },
            ResponseRule { response_type: "code id_token", response_modes: &["fragment"], default_mode: Some("fragment") },
        ],
        request_objects: RequestObjects::Accepted,
        // B-AS-07
        pkce: PkceRule::Always,
        sender_constraints: &[super::SenderConstraint::Mtls, super::SenderConstraint::Dpop],
        max_code_lifetime: Duration::from_secs(600),
        ..fapi1_advanced::policy()
    }
}

/// `code` in the query (RFC 6749 §4.1.2) or in any JARM mode.
const BASELINE_CODE_MODES: [&str; 5] = ["query", JARM_MODES[0], JARM_MODES[1], JARM_MODES[2], JARM_MODES[3]];
