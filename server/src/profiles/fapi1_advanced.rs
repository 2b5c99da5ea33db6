//! FAPI 1.0 Part 2: Advanced (Final, March 2021) as data.
//!
//! Requirement ids refer to `shared/spec/fapi1.md` (`A-*` for Part 2, `B-*` for the Part 1
//! rules Part 2 keeps). What differs from FAPI 2.0: requests need not be pushed but must be
//! signed request objects (A-AS-01), the response is a hybrid `code id_token` with the ID
//! token as detached signature or a JARM `code` (A-AS-02), PKCE is required only with PAR
//! (A-AS-18), tokens are bound by mTLS only (A-AS-06), and a client assertion may be
//! addressed to the token or PAR endpoint (OIDC §9, RFC 9126 §2).

use std::time::Duration;

use fapilab_jose::Algorithm;

use super::{
    AssertionAudience, ClientAuthMethod, FAPI_ENCRYPTION, JARM_MODES, PkceRule, Policy, ProfileId, RequestObjects, ResponseRule,
    SenderConstraint,
};

pub fn policy() -> Policy {
    Policy {
        profile: ProfileId::Fapi1Advanced,
        // A-AS-11: PAR is offered, not required.
        require_pushed_authorization_requests: false,
        // A-AS-02, A-AS-22: hybrid answers in the fragment only (never the query); `code`
        // only with a JARM mode the request names.
        responses: &[
            ResponseRule { response_type: "code id_token", response_modes: &["fragment"], default_mode: Some("fragment") },
            ResponseRule { response_type: "code", response_modes: &JARM_MODES, default_mode: None },
        ],
        // A-AS-01
        request_objects: RequestObjects::Required,
        // A-AS-18 (Part 2 lifts Part 1's blanket PKCE, B-AS-07)
        pkce: PkceRule::WithPar,
        pkce_methods: &["S256"],
        // B-NS-01, B-NS-02 (Part 1 5.2.2.2 / 5.2.2.3, kept by Part 2)
        nonce_required_with_openid: true,
        state_required_without_openid: true,
        // A-IDT-03, A-ALG-02
        encryption: FAPI_ENCRYPTION,
        // A-AS-14
        client_auth_methods: &[
            ClientAuthMethod::PrivateKeyJwt,
            ClientAuthMethod::TlsClientAuth,
            ClientAuthMethod::SelfSignedTlsClientAuth,
        ],
        // A-ALG-01, A-AS-20: PS256 or ES256, nothing else
        accepted_algorithms: &[Algorithm::Ps256, Algorithm::Es256],
        token_endpoint_auth_signing_algorithms: &[Algorithm::Ps256, Algorithm::Es256],
        // A-IDT-07
        signing_algorithms: &[Algorithm::Es256, Algorithm::Ps256],
        // OIDC §9 / RFC 9126 §2 (fapi1.md §3): the issuer, the token URL or the PAR URL
        assertion_audience: AssertionAudience::IssuerOrEndpoint,
        // A-AS-05, A-AS-06
        sender_constraints: &[SenderConstraint::Mtls],
        require_sender_constraint: true,
        // FAPI 1 sets no ceiling; RFC 6749 §4.1.2 recommends at most 10 minutes (fapi1.md §3).
        max_code_lifetime: Duration::from_secs(600),
        max_request_uri_lifetime: Duration::from_secs(599),
        max_future_skew: Duration::from_secs(30),
        max_jwt_age: Duration::from_secs(300),
        max_dpop_proof_age: Duration::from_secs(60),
        allow_refresh_token_rotation: true,
        // B-AS-20, B-NAT-01: https redirect URIs; `https://localhost` is tolerated in development.
        allow_http_loopback_redirects: false,
        min_supported_nonce_length: 64,
        registration_extension: None,
    }
}
