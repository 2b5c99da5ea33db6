//! Test-only fault injection: switches that each remove exactly one protection, so the
//! conformance harness can be shown to notice its absence.
//!
//! The [`Fault`] names always exist (so configuration files parse the same way in every
//! build), but only a build with the `fault-injection` cargo feature can turn one on:
//! [`crate::Config::validate`] refuses a non-empty `faults` list otherwise, and
//! [`FaultSet::active`] is a constant `false` without the feature, so production builds carry
//! no reachable fault path. Every switch is documented with the requirement it breaks; call
//! sites test `state.faults.active(Fault::…)` right where the protection is.

use serde::{Deserialize, Serialize};

/// One protection to remove. The serde name (snake_case) is what `faults = [...]` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// FAPI2-SP-AZ-05 / PKCE-01: the token endpoint accepts any or no `code_verifier`.
    PkceCheck,
    /// FAPI2-SP-AZ-05: PAR accepts `code_challenge_method=plain` (and the token endpoint then
    /// compares the verifier with the challenge verbatim).
    PkcePlainAllowed,
    /// FAPI2-SP-AZ-05: PAR accepts a request without `code_challenge` (the code is then not
    /// bound to a verifier).
    ParPkceRequired,
    /// FAPI2-SP-AZ-15: a `request_uri` can be used for more than one authorization.
    RequestUriSingleUse,
    /// FAPI2-SP-AZ-12: an expired `request_uri` is still accepted.
    RequestUriExpiry,
    /// FAPI2-SP-AZ-16: a `request_uri` is accepted with another client's `client_id`.
    RequestUriClientBinding,
    /// PAR-04: a `request_uri` parameter in the pushed request is ignored instead of refused.
    RequestUriInParRefused,
    /// FAPI2-SP-AZ-09 / OA-04: an authorization code can be redeemed more than once.
    CodeSingleUse,
    /// FAPI2-SP-AS-12: an expired authorization code is still redeemed.
    CodeExpiry,
    /// OA-04: an authorization code is redeemed by another client than it was issued to.
    CodeClientBinding,
    /// OA-04 (RFC 6749 §4.1.3): the token request's `redirect_uri` is not compared.
    RedirectUriCheckAtToken,
    /// FAPI2-SP-AZ-07 / RFC 9207: authorization responses carry no `iss`.
    IssParameter,
    /// PKJ-04: a client assertion's `jti` may be replayed.
    AssertionJtiReplay,
    /// FAPI2-SP-AS-08: any client assertion `aud` is accepted.
    AssertionAudIsIssuer,
    /// PKJ-03: the client assertion's signature (and key lookup) is not checked.
    AssertionSignature,
    /// PKJ-02 / PKJ-05: stale client assertions are accepted: `exp` in the past and `iat`
    /// older than the maximum age (one freshness protection, checked in two claims).
    AssertionExpiry,
    /// FAPI2-SP-AS-14: client assertion `iat`/`nbf` far in the future are accepted.
    /// (Stands in for "accept RS256", which `fapilab_jose::Algorithm` cannot even express.)
    AssertionIatWindow,
    /// PKJ-02: the client assertion's `sub` may be missing or name another client.
    AssertionSub,
    /// FAPI2-SP-AS-03 / PKJ-01: a `private_key_jwt` client authenticates with `client_id`
    /// alone, an mTLS client without a certificate.
    ClientAuthenticationRequired,
    /// DP-09: the DPoP proof's `htu` is not compared with the request URL.
    DpopHtu,
    /// DP-08: the DPoP proof's `htm` is not compared with the request method.
    DpopHtm,
    /// DP-13: DPoP proof `jti`s may be replayed.
    DpopJtiReplay,
    /// DP-12: the DPoP proof's `ath` is not checked at the protected resource (userinfo).
    DpopAth,
    /// DP-C-02 / FAPI2-SP-AS-13: the code's DPoP binding is not checked at the token endpoint.
    DpopCodeBinding,
    /// DP-C-01: PAR accepts a `dpop_jkt` that differs from the key of its DPoP proof.
    DpopJktParMismatch,
    /// FAPI2-SP-AS-04: a token request without a DPoP proof or client certificate gets an
    /// access token bound to nothing (a plain Bearer token without `cnf`).
    SenderConstraintRequired,
    /// MT-07: userinfo does not compare the connection's certificate with `cnf.x5t#S256`.
    CertificateBinding,
    /// FAPI2-SP-AZ-01: PAR accepts any `response_type`.
    ResponseTypeCodeOnly,
    /// FAPI2-SP-AS-07 / OA-03: PAR accepts a `redirect_uri` the client never registered.
    RedirectUriRegistration,
    /// FAPI2-SP-AZ-06: PAR without `redirect_uri` is accepted (the first registered is used).
    RedirectUriRequired,
    /// FAPI2-SP-NET-09: no `Strict-Transport-Security` header.
    Hsts,
    /// FAPI2-SP-NET-11: `Access-Control-Allow-Origin: *` on the authorization endpoint.
    CorsOnAuthorize,
    /// RFC 6749 §6: a refresh token is accepted from another client than it was issued to.
    RefreshTokenClientBinding,
    /// RFC 7009 / REV-05, REV-06: revocation answers 200 and revokes nothing.
    Revocation,
    /// MS-AS-01: PAR without a request object is accepted as plain form parameters.
    RequestObjectRequired,
    /// MS-AS-06: the request object's signature is not verified.
    RequestObjectSignature,
    /// MS-AS-02: any request object `aud` is accepted.
    RequestObjectAud,
    /// MS-AS-03: a request object without `nbf`, or with an `nbf` older than 60 minutes, is
    /// accepted.
    RequestObjectNbf,
    /// MS-AS-04: a request object without `exp`, expired, or living longer than 60 minutes is
    /// accepted.
    RequestObjectExp,
    /// MS-AS-07: a request object's `client_id` (and `iss`) may name another client.
    RequestObjectClientId,
    /// MS-AS-08: form parameters outside the request object override the object's.
    RequestObjectOutsideParams,
    /// MS-JARM-01: `response_mode=query` (or none) is accepted and answered in plain parameters.
    JarmRequired,
    /// MS-JARM-03: JARM responses carry no `iss`.
    JarmIss,
    /// MS-JARM-03: a JARM response's `aud` is the issuer instead of the client.
    JarmAud,
    /// MS-JARM-03: JARM responses carry no `exp`.
    JarmExp,
    /// MS-JARM-03: error responses are plain query parameters, not a JARM JWT.
    JarmErrorPlain,
    /// MS-JIR-01: introspection answers plain JSON even when a signed response is asked for.
    SignedIntrospection,
    /// FCIBA-08: unsigned backchannel authentication requests are accepted (form parameters).
    CibaSignedRequest,
    /// FCIBA-03: a backchannel request without `binding_message` is accepted.
    CibaBindingMessageRequired,
    /// CIBA-01: several hints are accepted (the first one is used).
    CibaSingleHint,
    /// CIBA-01: a backchannel request whose scope lacks `openid` is accepted.
    CibaOpenidScope,
    /// CIBA-06: polling faster than the interval is answered like any poll (no `slow_down`).
    CibaSlowDown,
    /// CIBA-06: an expired authentication request is still answered (pending, then tokens).
    CibaExpiry,
    /// CIBA-06: another client's `auth_req_id` is redeemed.
    CibaClientBinding,
    /// CIBA-06: a redeemed `auth_req_id` issues tokens again.
    CibaSingleUse,
    /// A-IDT-05: the front-channel ID token of a hybrid response has no `c_hash`.
    HybridCHash,
    /// A-IDT-05: the front-channel ID token has no `s_hash` although `state` was sent.
    HybridSHash,
    /// A-IDT-05: the front-channel ID token has no `nonce`.
    HybridIdTokenNonce,
    /// B-NS-01 / OIDC §3.3.2.11: an OpenID request without `nonce` is accepted.
    NonceRequired,
    /// A-AS-22: `code id_token` with `response_mode=query` is answered in the query.
    HybridQueryEncoding,
    /// A-AS-01: a front-channel authorization request without request object is accepted.
    AuthorizeRequestObjectRequired,
    /// A-AS-10: at the authorization endpoint, parameters outside the request object override
    /// those inside.
    AuthorizeOutsideParams,
    /// A-AS-23: `scope`, `nonce` or `redirect_uri` missing inside the request object is taken
    /// from outside it.
    RequestObjectRequiredMembers,
    /// FAPI 1 (OIDC §9, RFC 9126 §2): a client assertion addressed to the token or PAR
    /// endpoint is refused, as FAPI 2.0 would.
    AssertionEndpointAudience,
    /// A-IDT-05: the front-channel ID token's `aud` is the issuer instead of the client.
    FrontChannelIdTokenAudience,
    /// INT-PK-03: a passkey sign-in answers the workspace's latest challenge, whichever
    /// interaction asked for it.
    PasskeyInteractionBinding,
    /// AUTH-02: a passkey sign-in finds the user by the credential id; the user handle is
    /// not checked (it may name nobody, or be missing).
    PasskeyUserHandleBinding,
    /// REG-04 / AUTH-04: WebAuthn responses from the issuer's host on any port are accepted.
    PasskeyOriginPort,
}

impl Fault {
    /// Every fault, in declaration order.
    pub const ALL: [Fault; 68] = [
        Fault::PkceCheck,
        Fault::PkcePlainAllowed,
        Fault::ParPkceRequired,
        Fault::RequestUriSingleUse,
        Fault::RequestUriExpiry,
        Fault::RequestUriClientBinding,
        Fault::RequestUriInParRefused,
        Fault::CodeSingleUse,
        Fault::CodeExpiry,
        Fault::CodeClientBinding,
        Fault::RedirectUriCheckAtToken,
        Fault::IssParameter,
        Fault::AssertionJtiReplay,
        Fault::AssertionAudIsIssuer,
        Fault::AssertionSignature,
        Fault::AssertionExpiry,
        Fault::AssertionIatWindow,
        Fault::AssertionSub,
        Fault::ClientAuthenticationRequired,
        Fault::DpopHtu,
        Fault::DpopHtm,
        Fault::DpopJtiReplay,
        Fault::DpopAth,
        Fault::DpopCodeBinding,
        Fault::DpopJktParMismatch,
        Fault::SenderConstraintRequired,
        Fault::CertificateBinding,
        Fault::ResponseTypeCodeOnly,
        Fault::RedirectUriRegistration,
        Fault::RedirectUriRequired,
        Fault::Hsts,
        Fault::CorsOnAuthorize,
        Fault::RefreshTokenClientBinding,
        Fault::Revocation,
        Fault::RequestObjectRequired,
        Fault::RequestObjectSignature,
        Fault::RequestObjectAud,
        Fault::RequestObjectNbf,
        Fault::RequestObjectExp,
        Fault::RequestObjectClientId,
        Fault::RequestObjectOutsideParams,
        Fault::JarmRequired,
        Fault::JarmIss,
        Fault::JarmAud,
        Fault::JarmExp,
        Fault::JarmErrorPlain,
        Fault::SignedIntrospection,
        Fault::CibaSignedRequest,
        Fault::CibaBindingMessageRequired,
        Fault::CibaSingleHint,
        Fault::CibaOpenidScope,
        Fault::CibaSlowDown,
        Fault::CibaExpiry,
        Fault::CibaClientBinding,
        Fault::CibaSingleUse,
        Fault::HybridCHash,
        Fault::HybridSHash,
        Fault::HybridIdTokenNonce,
        Fault::NonceRequired,
        Fault::HybridQueryEncoding,
        Fault::AuthorizeRequestObjectRequired,
        Fault::AuthorizeOutsideParams,
        Fault::RequestObjectRequiredMembers,
        Fault::AssertionEndpointAudience,
        Fault::FrontChannelIdTokenAudience,
        Fault::PasskeyInteractionBinding,
        Fault::PasskeyUserHandleBinding,
        Fault::PasskeyOriginPort,
    ];

    /// The configuration name (`faults = ["pkce_check"]`).
    pub fn name(self) -> String {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::String(s)) => s,
            _ => format!("{self:?}"),
        }
    }

    /// The requirement the fault breaks.
    pub fn requirement(self) -> &'static str {
        match self {
            Fault::PkceCheck | Fault::PkcePlainAllowed | Fault::ParPkceRequired => "FAPI2-SP-AZ-05",
            Fault::RequestUriSingleUse => "FAPI2-SP-AZ-15",
            Fault::RequestUriExpiry => "FAPI2-SP-AZ-12",
            Fault::RequestUriClientBinding => "FAPI2-SP-AZ-16",
            Fault::RequestUriInParRefused => "PAR-04",
            Fault::CodeSingleUse => "FAPI2-SP-AZ-09",
            Fault::CodeExpiry => "FAPI2-SP-AS-12",
            Fault::CodeClientBinding | Fault::RedirectUriCheckAtToken => "OA-04",
            Fault::IssParameter => "FAPI2-SP-AZ-07",
            Fault::AssertionJtiReplay => "PKJ-04",
            Fault::AssertionAudIsIssuer => "FAPI2-SP-AS-08",
            Fault::AssertionSignature => "PKJ-03",
            Fault::AssertionExpiry | Fault::AssertionSub => "PKJ-02",
            Fault::AssertionIatWindow => "FAPI2-SP-AS-14",
            Fault::ClientAuthenticationRequired => "FAPI2-SP-AS-03",
            Fault::DpopHtu => "DP-09",
            Fault::DpopHtm => "DP-08",
            Fault::DpopJtiReplay => "DP-13",
            Fault::DpopAth => "DP-12",
            Fault::DpopCodeBinding => "DP-C-02",
            Fault::DpopJktParMismatch => "DP-C-01",
            Fault::SenderConstraintRequired => "FAPI2-SP-AS-04",
            Fault::CertificateBinding => "MT-07",
            Fault::ResponseTypeCodeOnly => "FAPI2-SP-AZ-01",
            Fault::RedirectUriRegistration => "FAPI2-SP-AS-07",
            Fault::RedirectUriRequired => "FAPI2-SP-AZ-06",
            Fault::Hsts => "FAPI2-SP-NET-09",
            Fault::CorsOnAuthorize => "FAPI2-SP-NET-11",
            Fault::RefreshTokenClientBinding => "RFC6749-6",
            Fault::Revocation => "REV-05",
            Fault::RequestObjectRequired => "MS-AS-01",
            Fault::RequestObjectSignature => "MS-AS-06",
            Fault::RequestObjectAud => "MS-AS-02",
            Fault::RequestObjectNbf => "MS-AS-03",
            Fault::RequestObjectExp => "MS-AS-04",
            Fault::RequestObjectClientId => "MS-AS-07",
            Fault::RequestObjectOutsideParams => "MS-AS-08",
            Fault::JarmRequired => "MS-JARM-01",
            Fault::JarmIss | Fault::JarmAud | Fault::JarmExp | Fault::JarmErrorPlain => "MS-JARM-03",
            Fault::SignedIntrospection => "MS-JIR-01",
            Fault::CibaSignedRequest => "FCIBA-08",
            Fault::CibaBindingMessageRequired => "FCIBA-03",
            Fault::CibaSingleHint | Fault::CibaOpenidScope => "CIBA-01",
            Fault::CibaSlowDown | Fault::CibaExpiry | Fault::CibaClientBinding | Fault::CibaSingleUse => "CIBA-06",
            Fault::HybridCHash | Fault::HybridSHash | Fault::HybridIdTokenNonce | Fault::FrontChannelIdTokenAudience => "A-IDT-05",
            Fault::NonceRequired => "B-NS-01",
            Fault::HybridQueryEncoding => "A-AS-22",
            Fault::AuthorizeRequestObjectRequired => "A-AS-01",
            Fault::AuthorizeOutsideParams => "A-AS-10",
            Fault::RequestObjectRequiredMembers => "A-AS-23",
            Fault::AssertionEndpointAudience => "RFC9126-2",
            Fault::PasskeyInteractionBinding => "INT-PK-03",
            Fault::PasskeyUserHandleBinding => "AUTH-02",
            Fault::PasskeyOriginPort => "AUTH-04",
        }
    }
}

/// The faults a server runs with. Without the `fault-injection` feature it is always empty
/// and [`FaultSet::active`] is the constant `false`.
#[derive(Debug, Clone, Default)]
pub struct FaultSet {
    #[cfg(feature = "fault-injection")]
    active: std::collections::BTreeSet<Fault>,
}

impl FaultSet {
    /// No fault: the normal server.
    pub fn none() -> FaultSet {
        FaultSet::default()
    }

    /// The set of `faults`. Without the feature this is [`FaultSet::none`] (configuration
    /// validation has already refused a non-empty list).
    pub fn new(faults: &[Fault]) -> FaultSet {
        #[cfg(feature = "fault-injection")]
        {
            FaultSet { active: faults.iter().copied().collect() }
        }
        #[cfg(not(feature = "fault-injection"))]
        {
            let _ = faults;
            FaultSet {}
        }
    }

    /// Whether the protection `fault` names is removed.
    #[inline(always)]
    pub fn active(&self, fault: Fault) -> bool {
        #[cfg(feature = "fault-injection")]
        {
            self.active.contains(&fault)
        }
        #[cfg(not(feature = "fault-injection"))]
        {
            let _ = fault;
            false
        }
    }

    /// The active faults, in declaration order.
    pub fn list(&self) -> Vec<Fault> {
        Fault::ALL.into_iter().filter(|f| self.active(*f)).collect()
    }

    /// Logs a warning for every active fault; the server is then not a FAPI server.
    pub fn warn(&self) {
        for fault in self.list() {
            tracing::warn!(
                fault = %fault.name(),
                requirement = fault.requirement(),
                "FAULT INJECTION ACTIVE: protection {} is REMOVED; this server is deliberately broken, for testing only",
                fault.requirement()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Holder {
        faults: Vec<Fault>,
    }

    #[test]
    fn names_parse_and_round_trip() {
        for fault in Fault::ALL {
            let name = fault.name();
            assert!(name.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{name}");
            let parsed: Holder = toml::from_str(&format!("faults = [{name:?}]")).expect("parses");
            assert_eq!(parsed.faults, vec![fault]);
            assert!(!fault.requirement().is_empty());
        }
        let mut names: Vec<String> = Fault::ALL.iter().map(|f| f.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Fault::ALL.len(), "ALL lists each fault once");
        assert_eq!(Fault::PkceCheck.name(), "pkce_check");
        assert_eq!(Fault::CorsOnAuthorize.name(), "cors_on_authorize");
        assert!(toml::from_str::<Holder>("faults = [\"no_such_fault\"]").is_err());
    }

    #[cfg(not(feature = "fault-injection"))]
    #[test]
    fn without_the_feature_nothing_is_ever_active() {
        let set = FaultSet::new(&Fault::ALL);
        assert!(Fault::ALL.iter().all(|f| !set.active(*f)));
        assert!(set.list().is_empty());
    }

    #[cfg(feature = "fault-injection")]
    #[test]
    fn with_the_feature_exactly_the_listed_faults_are_active() {
        let set = FaultSet::new(&[Fault::Hsts, Fault::PkceCheck]);
        assert!(set.active(Fault::Hsts) && set.active(Fault::PkceCheck));
        assert!(!set.active(Fault::CodeExpiry));
        assert_eq!(set.list(), vec![Fault::PkceCheck, Fault::Hsts]);
        assert!(Fault::ALL.iter().all(|f| !FaultSet::none().active(*f)));
    }
}

/// With the feature: each switch really removes its protection. The assertion switches are
/// checked on the sans-IO verifier; the endpoint switches on a live server (through the router,
/// without sockets) that runs with every fault and is sent requests that each break one rule.
#[cfg(all(test, feature = "fault-injection"))]
mod removed_protections {
    use super::*;
    use crate::profiles::ProfileId;
    use crate::protocol::client_assertion::{AssertionContext, AssertionViolation, verify, verify_with_faults};
    use fapilab_jose::{Algorithm, Jwks, SigningKey};
    use serde_json::{Map, Value, json};

    const ISSUER: &str = "https://as.example/t/w";
    const NOW: i64 = 1_000_000;

    fn ctx() -> AssertionContext<'static> {
        AssertionContext { issuer: ISSUER, endpoint_urls: &["https://as.example/t/w/token", "https://as.example/t/w/par"], algorithms: &[Algorithm::Ps256, Algorithm::Es256], now: NOW }
    }

    fn key() -> (SigningKey, Jwks) {
        let key = SigningKey::generate(Algorithm::Es256, Some("k1".into())).expect("key");
        let jwks = Jwks::from_value(&json!({ "keys": [key.public_jwk().to_value()] })).expect("jwks");
        (key, jwks)
    }

    /// Refused normally, accepted with only `fault` active.
    fn refused_then_accepted(fault: Fault, change: impl Fn(&mut Value), signer: Option<&SigningKey>) {
        let (key, jwks) = key();
        let mut claims = json!({ "iss": "c1", "sub": "c1", "aud": ISSUER, "jti": "j1", "exp": NOW + 60, "iat": NOW });
        change(&mut claims);
        let assertion = fapilab_jose::jws::sign(signer.unwrap_or(&key), Map::new(), &claims).expect("sign");
        let policy = ProfileId::Fapi2SecurityProfile.policy();
        let normal: Result<_, AssertionViolation> = verify(&assertion, "c1", &jwks, &policy, &ctx());
        assert!(normal.is_err(), "{fault:?}: refused without the fault");
        let others = FaultSet::new(&Fault::ALL.into_iter().filter(|f| *f != fault).collect::<Vec<_>>());
        assert!(verify_with_faults(&assertion, "c1", &jwks, &policy, &ctx(), &others).is_err(), "{fault:?}: no other fault removes it");
        let faulty = verify_with_faults(&assertion, "c1", &jwks, &policy, &ctx(), &FaultSet::new(&[fault]));
        assert!(faulty.is_ok(), "{fault:?}: accepted with the fault: {faulty:?}");
    }

    #[test]
    fn assertion_faults_each_remove_one_check() {
        refused_then_accepted(Fault::AssertionAudIsIssuer, |c| c["aud"] = json!("https://other.example/"), None);
        refused_then_accepted(Fault::AssertionAudIsIssuer, |c| c["aud"] = json!([ISSUER]), None);
        refused_then_accepted(Fault::AssertionSub, |c| { c.as_object_mut().map(|o| o.remove("sub")); }, None);
        refused_then_accepted(Fault::AssertionExpiry, |c| { c["iat"] = json!(NOW - 360); c["exp"] = json!(NOW - 300); }, None);
        refused_then_accepted(Fault::AssertionIatWindow, |c| { c["iat"] = json!(NOW + 61); c["nbf"] = json!(NOW + 61); c["exp"] = json!(NOW + 121); }, None);
        let (foreign, _) = key();
        refused_then_accepted(Fault::AssertionSignature, |_| {}, Some(&foreign));
    }

    mod live {
        use super::super::*;
        use axum::body::Body;
        use axum::http::{Request, StatusCode, header};
        use serde_json::Value;
        use tower::ServiceExt;

        use crate::tls::ConnectionInfo;
        use crate::workspace::Listener;

        const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

        async fn send(state: &crate::state::SharedState, method: &str, uri: &str, form: Option<&str>) -> axum::response::Response {
            let mut builder = Request::builder().method(method).uri(uri).extension(ConnectionInfo {
                listener: Listener::Tls,
                peer: std::net::SocketAddr::from(([127, 0, 0, 1], 1)),
                client_certificate: None,
            });
            if form.is_some() {
                builder = builder.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            }
            let request = builder.body(Body::from(form.unwrap_or_default().to_owned())).expect("request");
            crate::app(state.clone()).oneshot(request).await.expect("infallible")
        }

        async fn par(state: &crate::state::SharedState, params: &[(&str, &str)]) -> (StatusCode, Value) {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.extend_pairs(params);
            let response = send(state, "POST", "/default/fapi2/par", Some(&form.finish())).await;
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body");
            (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
        }

        fn base() -> Vec<(&'static str, &'static str)> {
            vec![
                ("client_id", "pkjwt-dpop-1"),
                ("response_type", "code"),
                ("redirect_uri", "https://client.fapilab.test/callback"),
                ("scope", "openid"),
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
            ]
        }

        fn with(mut params: Vec<(&'static str, &'static str)>, name: &'static str, value: Option<&'static str>) -> Vec<(&'static str, &'static str)> {
            params.retain(|(k, _)| *k != name);
            if let Some(v) = value {
                params.push((name, v));
            }
            params
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn endpoint_faults_remove_their_protections() {
            let dir = std::env::temp_dir().join(format!("fapilab-faults-{}", fapilab_jose::random_token(8)));
            let mut config = crate::Config::default();
            config.server.data_dir = dir.clone();
            config.server.tls_port = 0;
            config.server.mtls_port = 0;
            config.faults = Fault::ALL.to_vec();
            let server = crate::start(config).await.expect("server starts with every fault");
            let state = server.state.clone();

            // client_authentication_required: client_id alone authenticates a private_key_jwt client.
            let (status, body) = par(&state, &base()).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            // Each of these breaks one PAR rule and is accepted.
            for (fault, params) in [
                (Fault::ResponseTypeCodeOnly, with(base(), "response_type", Some("token"))),
                (Fault::RedirectUriRequired, with(base(), "redirect_uri", None)),
                (Fault::RedirectUriRegistration, with(base(), "redirect_uri", Some("https://attacker.example/cb"))),
                (Fault::RequestUriInParRefused, with(base(), "request_uri", Some("urn:ietf:params:oauth:request_uri:x"))),
                (Fault::ParPkceRequired, with(with(base(), "code_challenge", None), "code_challenge_method", None)),
                (Fault::PkcePlainAllowed, with(with(base(), "code_challenge", Some("a-plain-verifier-that-is-long-enough-to-be-a-verifier")), "code_challenge_method", Some("plain"))),
            ] {
                let (status, body) = par(&state, &params).await;
                assert_eq!(status, StatusCode::CREATED, "{fault:?}: {body}");
            }

            // request_uri_client_binding: another client's client_id opens the login page.
            let (_, body) = par(&state, &base()).await;
            let request_uri = body["request_uri"].as_str().expect("request_uri").to_owned();
            let query = form_urlencoded::Serializer::new(String::new()).append_pair("client_id", "pkjwt-dpop-2").append_pair("request_uri", &request_uri).finish();
            let response = send(&state, "GET", &format!("/default/fapi2/authorize?{query}"), None).await;
            assert_eq!(response.status(), StatusCode::OK, "request_uri_client_binding");
            // hsts and cors_on_authorize.
            assert!(response.headers().get(header::STRICT_TRANSPORT_SECURITY).is_none(), "hsts");
            assert_eq!(response.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN).map(|v| v.as_bytes()), Some(&b"*"[..]), "cors_on_authorize");
            let discovery = send(&state, "GET", "/default/fapi2/.well-known/openid-configuration", None).await;
            assert!(discovery.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none(), "CORS only at the authorization endpoint");

            drop(server);
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}
