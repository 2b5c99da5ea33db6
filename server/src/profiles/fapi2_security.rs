//! FAPI 2.0 Security Profile (Final, 22 Feb 2025) as data.
//!
//! Requirement ids refer to `shared/spec/fapi2-security-profile.md` (prefix `FAPI2-SP-`).

use std::time::Duration;

use fapilab_jose::Algorithm;

use super::{AssertionAudience, ClientAuthMethod, FAPI_ENCRYPTION, PkceRule, Policy, ProfileId, RequestObjects, ResponseRule, SenderConstraint};

pub fn policy() -> Policy {
    Policy {
        profile: ProfileId::Fapi2SecurityProfile,
        // FAPI2-SP-AZ-02 / AZ-03
        require_pushed_authorization_requests: true,
        // FAPI2-SP-AZ-01
        responses: &[ResponseRule { response_type: "code", response_modes: &["query"], default_mode: Some("query") }],
        request_objects: RequestObjects::NotAccepted,
        // FAPI2-SP-AZ-05
        pkce: PkceRule::Always,
        pkce_methods: &["S256"],
        // FAPI 2.0 protects the code with PKCE; nonce and state stay optional (AZ-14).
        nonce_required_with_openid: false,
        state_required_without_openid: false,
        encryption: FAPI_ENCRYPTION,
        // FAPI2-SP-AS-06
        client_auth_methods: &[
            ClientAuthMethod::PrivateKeyJwt,
            ClientAuthMethod::TlsClientAuth,
            ClientAuthMethod::SelfSignedTlsClientAuth,
        ],
        // FAPI2-SP-CR-02
        accepted_algorithms: &[Algorithm::Ps256, Algorithm::Es256, Algorithm::EdDsa],
        signing_algorithms: &[Algorithm::Es256, Algorithm::Ps256],
        // FAPI2-SP-CR-02 as this project reads it for client assertions: PS256 and ES256
        token_endpoint_auth_signing_algorithms: &[Algorithm::Ps256, Algorithm::Es256],
        // FAPI2-SP-AS-08 (Final): the issuer as a plain string, nothing else
        assertion_audience: AssertionAudience::IssuerStringOnly,
        // FAPI2-SP-AS-05
        sender_constraints: &[SenderConstraint::Dpop, SenderConstraint::Mtls],
        // FAPI2-SP-AS-04
        require_sender_constraint: true,
        // FAPI2-SP-AS-12
        max_code_lifetime: Duration::from_secs(60),
        // FAPI2-SP-AZ-12: expires_in < 600
        max_request_uri_lifetime: Duration::from_secs(599),
        // FAPI2-SP-AS-14: accept at least 10 s in the future (MAY up to 60, MUST refuse beyond);
        // 30 s leaves room for a test suite whose clock runs ahead of ours.
        max_future_skew: Duration::from_secs(30),
        max_jwt_age: Duration::from_secs(300),
        max_dpop_proof_age: Duration::from_secs(60),
        // FAPI2-SP-AS-10
        allow_refresh_token_rotation: true,
        // FAPI2-SP-AZ-08
        allow_http_loopback_redirects: true,
        // FAPI2-SP-AZ-14
        min_supported_nonce_length: 64,
        registration_extension: None,
    }
}
