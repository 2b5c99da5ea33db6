//! Profiles are data.
//!
//! A [`Policy`] is the complete set of knobs a FAPI profile turns: which response types,
//! client authentication methods, signing algorithms and sender constraints are allowed, what
//! a client assertion's `aud` may be, and the ceilings on every lifetime. Endpoints consult the
//! policy of the workspace they serve; no handler asks which profile it is running. Adding a
//! profile is adding a file here that returns a `Policy`.

pub mod fapi1_advanced;
pub mod fapi1_baseline;
pub mod fapi2_message_signing;
pub mod fapi2_security;
pub mod fdx;

use std::time::Duration;

use fapilab_jose::Algorithm;
use fapilab_jose::jwe::{ContentEncryptionAlgorithm, KeyManagementAlgorithm};
use serde::{Deserialize, Serialize};

/// The profiles a workspace can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProfileId {
    #[serde(rename = "fapi2-security-profile")]
    Fapi2SecurityProfile,
    /// Financial Data Exchange: FAPI 2.0 Security Profile rules plus FDX registration
    /// metadata and offline approval of registered clients (`shared/spec/fdx.md`).
    #[serde(rename = "fdx")]
    Fdx,
    /// FAPI 2.0 Message Signing: the Security Profile plus signed request objects (JAR) inside
    /// PAR, signed authorization responses (JARM) and signed introspection responses.
    #[serde(rename = "fapi2-message-signing")]
    Fapi2MessageSigning,
    /// FAPI 1.0 Part 1 (Baseline): front-channel or pushed requests, PKCE always, signed
    /// request objects optional, hybrid or JARM responses optional.
    #[serde(rename = "fapi1-baseline")]
    Fapi1Baseline,
    /// FAPI 1.0 Part 2 (Advanced): signed request objects by value or pushed, hybrid
    /// `code id_token` or `code` with JARM, mTLS-bound tokens.
    #[serde(rename = "fapi1-advanced")]
    Fapi1Advanced,
}

impl ProfileId {
    pub fn as_str(self) -> &'static str {
        match self {
            ProfileId::Fapi2SecurityProfile => "fapi2-security-profile",
            ProfileId::Fdx => "fdx",
            ProfileId::Fapi2MessageSigning => "fapi2-message-signing",
            ProfileId::Fapi1Baseline => "fapi1-baseline",
            ProfileId::Fapi1Advanced => "fapi1-advanced",
        }
    }

    pub fn policy(self) -> Policy {
        match self {
            ProfileId::Fapi2SecurityProfile => fapi2_security::policy(),
            ProfileId::Fdx => fdx::policy(),
            ProfileId::Fapi2MessageSigning => fapi2_message_signing::policy(),
            ProfileId::Fapi1Baseline => fapi1_baseline::policy(),
            ProfileId::Fapi1Advanced => fapi1_advanced::policy(),
        }
    }
}

/// How a client authenticates at the token-family endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthMethod {
    PrivateKeyJwt,
    TlsClientAuth,
    SelfSignedTlsClientAuth,
}

impl ClientAuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuthMethod::PrivateKeyJwt => "private_key_jwt",
            ClientAuthMethod::TlsClientAuth => "tls_client_auth",
            ClientAuthMethod::SelfSignedTlsClientAuth => "self_signed_tls_client_auth",
        }
    }
    pub fn uses_certificate(self) -> bool {
        !matches!(self, ClientAuthMethod::PrivateKeyJwt)
    }
}

/// How an access token is bound to its holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SenderConstraint {
    Dpop,
    Mtls,
}

impl SenderConstraint {
    pub fn as_str(self) -> &'static str {
        match self {
            SenderConstraint::Dpop => "dpop",
            SenderConstraint::Mtls => "mtls",
        }
    }
}

/// Which `aud` values a `private_key_jwt` assertion may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssertionAudience {
    /// FAPI2-SP-AS-08: only the issuer identifier, as a JSON string.
    IssuerStringOnly,
    /// RFC 7523 / RFC 9126 / FAPI 1: the issuer, the token endpoint URL or the endpoint that
    /// received the assertion, as a string or inside an array.
    IssuerOrEndpoint,
}

/// Whether authorization requests come as signed request objects (RFC 9101), and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestObjects {
    /// Form parameters only; a `request` parameter is refused.
    NotAccepted,
    /// MS-AS-01: a signed request object inside PAR, and nothing else.
    RequiredInPar,
    /// FAPI 1.0 Baseline: a signed request object by value (at the authorization endpoint or
    /// in PAR) is accepted; plain parameters are too.
    Accepted,
    /// A-AS-01: every request is a signed request object, by value at the authorization
    /// endpoint or pushed.
    Required,
}

impl RequestObjects {
    /// Whether a `request` parameter is read at all.
    pub fn accepted(self) -> bool {
        self != RequestObjects::NotAccepted
    }
    /// Whether a request without one is refused.
    pub fn required(self) -> bool {
        matches!(self, RequestObjects::RequiredInPar | RequestObjects::Required)
    }
    /// Whether the authorization endpoint itself takes one (`request` by value, OIDC §6.1).
    pub fn by_value_at_authorization_endpoint(self) -> bool {
        matches!(self, RequestObjects::Accepted | RequestObjects::Required)
    }
}

/// When PKCE is required.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PkceRule {
    /// FAPI2-SP-AZ-05, B-AS-07: every authorization request.
    Always,
    /// A-AS-18: pushed requests; a front-channel request object may carry it and is then
    /// checked the same way.
    WithPar,
}

/// A response type, the response modes it may be delivered in and the default one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseRule {
    pub response_type: &'static str,
    /// Modes ending in `jwt` are JARM (MS-JARM-06, A-JARM-01).
    pub response_modes: &'static [&'static str],
    /// The mode of a request that names none; `None`: the request must name one
    /// (MS-JARM-01, A-AS-02: `code` only together with a JARM mode).
    pub default_mode: Option<&'static str>,
}

impl ResponseRule {
    /// Whether this response type returns an ID token from the authorization endpoint
    /// (OIDC §3.3: hybrid), which also makes `nonce` mandatory (OIDC §3.3.2.11).
    pub fn returns_id_token(&self) -> bool {
        self.response_type.split(' ').any(|t| t == "id_token")
    }
}

/// The JARM response modes (JARM §2.3, MS-JARM-06); `jwt` is `query.jwt` for `code`.
pub const JARM_MODES: [&str; 4] = ["jwt", "query.jwt", "fragment.jwt", "form_post.jwt"];

/// Encryption of ID tokens and JARM responses a client may register (A-IDT-03, JARM §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncryptionRules {
    /// A-ALG-02: key management algorithms; never `RSA1_5`.
    pub algorithms: &'static [KeyManagementAlgorithm],
    pub encodings: &'static [ContentEncryptionAlgorithm],
}

/// What every FAPI profile offers for encrypted responses: RSA-OAEP(-256) with A256GCM or
/// A128CBC-HS256 (A-IDT-03, A-ALG-02).
pub const FAPI_ENCRYPTION: EncryptionRules = EncryptionRules {
    algorithms: &[KeyManagementAlgorithm::RsaOaep256, KeyManagementAlgorithm::RsaOaep],
    encodings: &[ContentEncryptionAlgorithm::A256Gcm, ContentEncryptionAlgorithm::A128CbcHs256],
};

/// What a profile adds to dynamic client registration (RFC 7591) beyond the common metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationExtension {
    /// FDX-DCR-02: FDX metadata (`duration_type`, `registry_references`, …) is accepted and
    /// echoed; FDX-ST-01: registered clients carry an `fdx_client_status` set by the data
    /// provider (offline approval), and only active statuses get tokens.
    Fdx,
}

/// The rules a workspace enforces. Every field cites the requirement that sets it.
#[derive(Debug, Clone)]
pub struct Policy {
    pub profile: ProfileId,
    /// AZ-03 / PAR-01: authorization requests must arrive through PAR.
    pub require_pushed_authorization_requests: bool,
    /// AZ-01 / A-AS-02: the response types a client may ask for, each with its modes.
    pub responses: &'static [ResponseRule],
    /// MS-AS-01 / A-AS-01: signed request objects.
    pub request_objects: RequestObjects,
    /// AZ-05 / B-AS-07 / A-AS-18: when PKCE is required, and the accepted methods.
    pub pkce: PkceRule,
    pub pkce_methods: &'static [&'static str],
    /// B-NS-01: an OpenID request must carry `nonce` (FAPI 2.0 relies on PKCE instead).
    pub nonce_required_with_openid: bool,
    /// B-NS-02: a request without `openid` must carry `state`.
    pub state_required_without_openid: bool,
    /// A-IDT-03: the encryption a client may register for ID tokens and JARM responses.
    pub encryption: EncryptionRules,
    /// AS-06 / AS-03: the only client authentication methods.
    pub client_auth_methods: &'static [ClientAuthMethod],
    /// CR-02: algorithms accepted on client assertions, DPoP proofs and request objects.
    pub accepted_algorithms: &'static [Algorithm],
    /// PKJ-03 / CR-02: the ceiling on `token_endpoint_auth_signing_alg_values`; a workspace
    /// setting outside it is a startup error.
    pub token_endpoint_auth_signing_algorithms: &'static [Algorithm],
    /// CR-02: algorithms the server may sign ID tokens and access tokens with.
    pub signing_algorithms: &'static [Algorithm],
    /// AS-08: the `aud` rule for client assertions.
    pub assertion_audience: AssertionAudience,
    /// AS-04 / AS-05: the sender constraints a client may register.
    pub sender_constraints: &'static [SenderConstraint],
    /// AS-04: every access token must be sender-constrained.
    pub require_sender_constraint: bool,
    /// AS-12: ceiling on the authorization code lifetime.
    pub max_code_lifetime: Duration,
    /// AZ-12: ceiling on the `request_uri` lifetime (strictly below 600 s).
    pub max_request_uri_lifetime: Duration,
    /// AS-14: how far in the future `iat`/`nbf` may be on JWTs we receive.
    pub max_future_skew: Duration,
    /// PKJ-05: how old a client assertion `iat` may be.
    pub max_jwt_age: Duration,
    /// DP-11: how old a DPoP proof `iat` may be. Short, because every accepted proof's `jti`
    /// is remembered for this long (DP-13): the replay cache holds one window of traffic.
    pub max_dpop_proof_age: Duration,
    /// AS-10: refresh tokens are not rotated unless the operator opts in.
    pub allow_refresh_token_rotation: bool,
    /// AZ-08: authorization responses never travel over plain http (loopback excepted).
    pub allow_http_loopback_redirects: bool,
    /// AZ-14: `nonce` values up to this many characters are accepted.
    pub min_supported_nonce_length: usize,
    /// DCR: profile-specific registration metadata and client status model.
    pub registration_extension: Option<RegistrationExtension>,
}

impl Policy {
    pub fn accepts_algorithm(&self, alg: Algorithm) -> bool {
        self.accepted_algorithms.contains(&alg)
    }
    pub fn algorithm_names(&self) -> Vec<&'static str> {
        self.accepted_algorithms.iter().map(|a| a.as_str()).collect()
    }
    /// The rule of a response type, its values in any order (OAuth 2.0 Multiple Response
    /// Types §3).
    pub fn response_rule(&self, response_type: &str) -> Option<&'static ResponseRule> {
        self.responses.iter().find(|r| crate::authorization_request::same_response_type(r.response_type, response_type))
    }
    pub fn response_types(&self) -> Vec<&'static str> {
        self.responses.iter().map(|r| r.response_type).collect()
    }
    /// Every response mode of any response type, in policy order, once.
    pub fn response_modes(&self) -> Vec<&'static str> {
        let mut modes: Vec<&'static str> = Vec::new();
        for mode in self.responses.iter().flat_map(|r| r.response_modes.iter()) {
            if !modes.contains(mode) {
                modes.push(mode);
            }
        }
        modes
    }
    pub fn offers_jarm(&self) -> bool {
        self.response_modes().iter().any(|m| m.ends_with("jwt"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [ProfileId; 5] =
        [ProfileId::Fapi2SecurityProfile, ProfileId::Fdx, ProfileId::Fapi2MessageSigning, ProfileId::Fapi1Baseline, ProfileId::Fapi1Advanced];

    #[test]
    fn every_profile_is_consistent() {
        for profile in ALL {
            let p = profile.policy();
            assert_eq!(p.profile, profile);
            for rule in p.responses {
                if let Some(default) = rule.default_mode {
                    assert!(rule.response_modes.contains(&default), "{profile:?} {}: default mode offered", rule.response_type);
                }
                // A-AS-22: an ID token never travels in the query.
                assert!(!(rule.returns_id_token() && rule.response_modes.contains(&"query")), "{profile:?}");
            }
            // A-ALG-02: never RSA1_5 (the type cannot even name it); something is offered.
            assert!(!p.encryption.algorithms.is_empty() && !p.encryption.encodings.is_empty());
            assert!(!p.sender_constraints.is_empty() && !p.client_auth_methods.is_empty(), "{profile:?}");
        }
    }

    #[test]
    fn fapi1_advanced_differs_from_fapi2_where_the_specs_do() {
        let fapi1 = ProfileId::Fapi1Advanced.policy();
        let fapi2 = ProfileId::Fapi2SecurityProfile.policy();
        assert_eq!(fapi1.assertion_audience, AssertionAudience::IssuerOrEndpoint);
        assert_eq!(fapi2.assertion_audience, AssertionAudience::IssuerStringOnly);
        assert_eq!(fapi1.sender_constraints, &[SenderConstraint::Mtls], "A-AS-06");
        assert_eq!(fapi1.accepted_algorithms, &[Algorithm::Ps256, Algorithm::Es256], "A-ALG-01: no EdDSA");
        assert_eq!(fapi1.pkce, PkceRule::WithPar, "A-AS-18");
        assert_eq!(ProfileId::Fapi1Baseline.policy().pkce, PkceRule::Always, "B-AS-07");
        assert!(fapi1.request_objects.required() && fapi1.request_objects.by_value_at_authorization_endpoint(), "A-AS-01");
        assert!(!fapi1.require_pushed_authorization_requests && fapi2.require_pushed_authorization_requests);
        assert_eq!(fapi1.response_types(), vec!["code id_token", "code"], "A-AS-02");
        assert_eq!(fapi1.response_rule("code").and_then(|r| r.default_mode), None, "A-AS-02: code only with a named JARM mode");
        assert_eq!(fapi2.response_modes(), vec!["query"]);
    }
}
