//! The harness tells the truth: for every fault the reference server can inject
//! (`fapilab_server::faults::Fault::ALL`, each removing exactly one protection), a sandbox runs
//! with only that fault, the built-in plan that catches it runs against it through the harness
//! API — the Security Profile plan against workspace default/fapi2 for the Security Profile
//! faults ([`CASES`]), the Message Signing plan against default/fapi2-ms for the signed request
//! object, JARM and signed introspection faults ([`MS_CASES`]), the FAPI-CIBA plan against
//! default/fapi2 for the CIBA faults ([`CIBA_CASES`]), the FAPI 1.0 Advanced plan against
//! default/fapi1-adv for the FAPI 1.0 faults ([`FAPI1_CASES`], in that plan's own variants:
//! request method and response mode), the passkeys plan against default/fapi2 for the
//! WebAuthn faults ([`PASSKEY_CASES`]) — and
//!
//! * every module listed as catching the fault ends with the listed verdict — FAILED, or
//!   WARNING where the broken requirement is a SHOULD (PKJ-04, DP-13) — on the listed
//!   condition, in every variant of the run that the module applies to;
//! * every other module PASSED, except the collateral listed for that fault, with the reason;
//! * a control run without any fault passes every module in every variant the fault runs use.
//!
//! The tables below are the data: fault → variants → catching modules → collateral. A fault
//! the harness could not catch goes in [`NOT_CAUGHT`] with the reason.
//!
//! Fault runs go four at once across every table (each sandbox is idle most of the time its
//! expiry modules wait), with code and `request_uri` lifetimes of 5 s, and share one CA per
//! table (copied from its control sandbox) instead of minting one each.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use fapilab_conformance::model::{ModuleResult, Severity, Verdict};
use fapilab_conformance::plan::{Plan, builtin_plans};
use fapilab_conformance::runner;
use fapilab_conformance::target::Targets;
use fapilab_conformance::variant::{Variant, VariantFilter};
use fapilab_server::faults::Fault;
use tokio::sync::Semaphore;

const PLAN: &str = "fapi2-security-profile";
const MS_PLAN: &str = "fapi2-message-signing";
const CIBA_PLAN: &str = "fapi-ciba";
const FAPI1_PLAN: &str = "fapi1-advanced";
const PASSKEY_PLAN: &str = "passkeys";

/// FAPI 1.0 Advanced, private_key_jwt, request object by value, `code id_token` responses.
const FAPI1_BY_VALUE_HYBRID: &str = "client_auth=private_key_jwt,request_method=by_value,response_mode=hybrid";
/// FAPI 1.0 Advanced, private_key_jwt, request object pushed, `code id_token` responses.
const FAPI1_PUSHED_HYBRID: &str = "client_auth=private_key_jwt,request_method=signed,response_mode=hybrid";

/// private_key_jwt, DPoP, OpenID: the variant most modules apply to.
const PKJWT_DPOP_OIDC: &str = "client_auth=private_key_jwt,sender=dpop,openid=openid_connect";
/// private_key_jwt, mTLS-bound tokens, OpenID (certificate binding at UserInfo).
const PKJWT_MTLS_OIDC: &str = "client_auth=private_key_jwt,sender=mtls,openid=openid_connect";
/// Both client authentications, DPoP, OpenID.
const BOTH_AUTH_DPOP_OIDC: &str = "sender=dpop,openid=openid_connect";
/// private_key_jwt, both sender constraints, OpenID.
const PKJWT_BOTH_SENDERS_OIDC: &str = "client_auth=private_key_jwt,openid=openid_connect";

/// How a catching module shows the fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shows {
    /// FAILED: a MUST is broken.
    Fails,
    /// WARNING: the broken requirement is a SHOULD, so the harness reports it without failing
    /// the run (PKJ-04 client assertion replay, DP-13 DPoP proof replay).
    Warns,
}

/// A module that must catch the fault, and the condition that must fail in it.
#[derive(Debug, Clone, Copy)]
struct Catch {
    module: &'static str,
    condition: &'static str,
    shows: Shows,
}

const fn fails(module: &'static str, condition: &'static str) -> Catch {
    Catch { module, condition, shows: Shows::Fails }
}

const fn warns(module: &'static str, condition: &'static str) -> Catch {
    Catch { module, condition, shows: Shows::Warns }
}

/// Modules that may fail too when the fault is on, and why.
#[derive(Debug, Clone, Copy)]
enum Collateral {
    /// Every module with a step of this name.
    EveryModuleWithStep(&'static str, &'static str),
}

#[derive(Debug, Clone, Copy)]
struct Case {
    fault: Fault,
    /// A `VariantFilter` spec: the variants of the plan it runs in for this fault.
    variants: &'static str,
    catches: &'static [Catch],
    collateral: &'static [Collateral],
}

const fn case(fault: Fault, variants: &'static str, catches: &'static [Catch]) -> Case {
    Case { fault, variants, catches, collateral: &[] }
}

/// Fault → variants → catching modules (with the condition) → collateral.
const CASES: &[Case] = &[
    case(
        Fault::PkceCheck,
        PKJWT_DPOP_OIDC,
        &[fails("pkce-wrong-verifier", "token.rejected"), fails("pkce-verifier-required", "token.rejected")],
    ),
    case(Fault::PkcePlainAllowed, PKJWT_DPOP_OIDC, &[fails("pkce-plain-refused", "par.rejected")]),
    case(Fault::ParPkceRequired, PKJWT_DPOP_OIDC, &[fails("pkce-required", "par.rejected")]),
    case(Fault::RequestUriSingleUse, PKJWT_DPOP_OIDC, &[fails("request-uri-reuse", "authorize.no_code")]),
    case(Fault::RequestUriExpiry, PKJWT_DPOP_OIDC, &[fails("request-uri-expired", "authorize.no_code")]),
    case(Fault::RequestUriClientBinding, PKJWT_DPOP_OIDC, &[fails("request-uri-other-client", "authorize.no_code")]),
    case(Fault::RequestUriInParRefused, PKJWT_DPOP_OIDC, &[fails("request-uri-in-par-body", "par.rejected")]),
    case(Fault::CodeSingleUse, PKJWT_DPOP_OIDC, &[fails("code-reuse-after-one-second", "reuse_code.rejected")]),
    case(Fault::CodeExpiry, PKJWT_DPOP_OIDC, &[fails("expired-code", "token.rejected")]),
    case(Fault::CodeClientBinding, PKJWT_DPOP_OIDC, &[fails("client-id-mismatch-at-token", "token.rejected")]),
    case(Fault::RedirectUriCheckAtToken, PKJWT_DPOP_OIDC, &[fails("redirect-uri-mismatch-at-token", "token.rejected")]),
    Case {
        fault: Fault::IssParameter,
        variants: PKJWT_DPOP_OIDC,
        catches: &[fails("happy-flow", "authorize.iss")],
        collateral: &[Collateral::EveryModuleWithStep(
            "authorize",
            "every authorization response is checked for iss (FAPI2-SP-AZ-07), so every module that authorizes fails with it",
        )],
    },
    case(Fault::AssertionJtiReplay, PKJWT_DPOP_OIDC, &[warns("client-assertion-replay", "token.rejected")]),
    case(
        Fault::AssertionAudIsIssuer,
        PKJWT_DPOP_OIDC,
        &[
            fails("client-assertion-wrong-aud", "token.rejected"),
            fails("par-assertion-aud-array", "par.rejected"),
            fails("par-assertion-aud-par-endpoint", "par.rejected"),
            fails("par-assertion-aud-token-endpoint", "par.rejected"),
        ],
    ),
    case(Fault::AssertionSignature, PKJWT_DPOP_OIDC, &[fails("client-assertion-bad-signature", "par.rejected")]),
    case(Fault::AssertionExpiry, PKJWT_DPOP_OIDC, &[fails("client-assertion-expired", "token.rejected")]),
    case(Fault::AssertionIatWindow, PKJWT_DPOP_OIDC, &[fails("par-assertion-more-than-60-seconds-ahead", "par.rejected")]),
    case(Fault::AssertionSub, PKJWT_DPOP_OIDC, &[fails("client-assertion-no-sub", "token.rejected")]),
    case(
        Fault::ClientAuthenticationRequired,
        BOTH_AUTH_DPOP_OIDC,
        &[fails("client-assertion-missing", "token.rejected"), fails("refresh-token", "refresh.rejected")],
    ),
    case(
        Fault::DpopHtu,
        PKJWT_DPOP_OIDC,
        &[
            fails("dpop-negative-tests-at-par", "par.rejected"),
            fails("dpop-negative-tests-at-token", "token.rejected"),
            fails("dpop-negative-tests-at-userinfo", "userinfo.rejected"),
        ],
    ),
    case(
        Fault::DpopHtm,
        PKJWT_DPOP_OIDC,
        &[
            fails("dpop-negative-tests-at-par", "par.rejected"),
            fails("dpop-negative-tests-at-token", "token.rejected"),
            fails("dpop-negative-tests-at-userinfo", "userinfo.rejected"),
        ],
    ),
    case(
        Fault::DpopJtiReplay,
        PKJWT_DPOP_OIDC,
        &[
            warns("dpop-negative-tests-at-par", "par.rejected"),
            warns("dpop-negative-tests-at-token", "token.rejected"),
            warns("dpop-negative-tests-at-userinfo", "userinfo.rejected"),
        ],
    ),
    case(Fault::DpopAth, PKJWT_DPOP_OIDC, &[fails("dpop-negative-tests-at-userinfo", "userinfo.rejected")]),
    case(
        Fault::DpopCodeBinding,
        PKJWT_DPOP_OIDC,
        &[
            fails("token-with-other-dpop-key-than-par-proof", "token.rejected"),
            fails("token-with-other-dpop-key-than-dpop-jkt", "token.rejected"),
        ],
    ),
    case(Fault::DpopJktParMismatch, PKJWT_DPOP_OIDC, &[fails("dpop-jkt-mismatch-at-par", "par.rejected")]),
    case(
        Fault::SenderConstraintRequired,
        PKJWT_BOTH_SENDERS_OIDC,
        &[fails("holder-of-key-required", "token.rejected"), fails("refresh-token", "refresh.rejected")],
    ),
    case(Fault::CertificateBinding, PKJWT_MTLS_OIDC, &[fails("userinfo-certificate-binding", "userinfo.rejected")]),
    case(
        Fault::ResponseTypeCodeOnly,
        PKJWT_DPOP_OIDC,
        &[fails("response-type-code-id-token", "par.rejected"), fails("response-type-token", "par.rejected")],
    ),
    case(Fault::RedirectUriRequired, PKJWT_DPOP_OIDC, &[fails("redirect-uri-required", "par.rejected")]),
    case(Fault::Hsts, PKJWT_DPOP_OIDC, &[fails("tls-and-browser-headers", "headers.hsts")]),
    case(Fault::CorsOnAuthorize, PKJWT_DPOP_OIDC, &[fails("tls-and-browser-headers", "headers.no_cors")]),
    case(Fault::RefreshTokenClientBinding, PKJWT_DPOP_OIDC, &[fails("refresh-token-bound-to-client", "refresh.rejected")]),
    case(Fault::Revocation, PKJWT_DPOP_OIDC, &[fails("revocation", "refresh.rejected")]),
];

/// Faults no module may catch, with the reason.
const NOT_CAUGHT: &[(Fault, &str)] = &[(
    Fault::RedirectUriRegistration,
    "accepting a redirect_uri the client never registered in an authenticated pushed request is allowed: \
     RFC 9126 §2.4 (PAR-08, a MAY) lets the AS do it and plain FAPI 2.0 keeps that (the OIDF plain-FAPI module \
     tolerate-unregistered-redirect-uri accepts either answer). The sandbox refusing is its policy, not a \
     requirement, so unregistered-redirect-uri (expect = \"either\") must pass both ways. Only an ecosystem \
     profile that forbids it (OIDF ensure-registered-redirect-uri, not plain FAPI) could fail it.",
)];

/// Every JARM response fails its check, so every module that authorizes fails with it.
const EVERY_AUTHORIZATION: &[Collateral] = &[Collateral::EveryModuleWithStep(
    "authorize",
    "every authorization response of the Message Signing plan is a JARM JWT checked for iss, aud and exp (MS-JARM-03, \
     MS-JARM-CL-02), so every module that authorizes fails with it",
)];

/// The Message Signing faults, caught by the `fapi2-message-signing` plan against the sandbox
/// workspace of that profile.
const MS_CASES: &[Case] = &[
    case(Fault::RequestObjectRequired, PKJWT_DPOP_OIDC, &[fails("par-without-request-object", "par.rejected")]),
    case(
        Fault::RequestObjectSignature,
        PKJWT_DPOP_OIDC,
        &[fails("request-object-bad-signature", "par.rejected"), fails("request-object-signed-by-other-client", "par.rejected")],
    ),
    case(
        Fault::RequestObjectAud,
        PKJWT_DPOP_OIDC,
        &[fails("request-object-without-aud", "par.rejected"), fails("request-object-with-bad-aud", "par.rejected")],
    ),
    // A too old nbf with an exp in the future also lives too long (MS-AS-04), which the server
    // still refuses: only the missing nbf shows this fault.
    case(Fault::RequestObjectNbf, PKJWT_DPOP_OIDC, &[fails("request-object-without-nbf", "par.rejected")]),
    case(
        Fault::RequestObjectExp,
        PKJWT_DPOP_OIDC,
        &[
            fails("request-object-without-exp", "par.rejected"),
            fails("request-object-expired", "par.rejected"),
            fails("request-object-exp-over-60-minutes", "par.rejected"),
        ],
    ),
    // With the fault the object's claims are not compared with the client, but the server's
    // PAR-09 check still refuses a pushed client_id of another client (invalid_request), so
    // request-object-client-id-mismatch passes; the iss of another client shows the fault.
    case(Fault::RequestObjectClientId, PKJWT_DPOP_OIDC, &[fails("request-object-iss-mismatch", "par.rejected")]),
    // The outside redirect URI is the client's second, registered one: the same base URL with a
    // query, so the state shows first that the outside parameters won.
    case(Fault::RequestObjectOutsideParams, PKJWT_DPOP_OIDC, &[fails("request-object-params-outside-ignored", "authorize.state")]),
    case(Fault::JarmRequired, PKJWT_DPOP_OIDC, &[fails("jarm-required", "par.rejected")]),
    Case { fault: Fault::JarmIss, variants: PKJWT_DPOP_OIDC, catches: &[fails("happy-flow", "jarm.iss")], collateral: EVERY_AUTHORIZATION },
    Case { fault: Fault::JarmAud, variants: PKJWT_DPOP_OIDC, catches: &[fails("happy-flow", "jarm.aud")], collateral: EVERY_AUTHORIZATION },
    Case { fault: Fault::JarmExp, variants: PKJWT_DPOP_OIDC, catches: &[fails("happy-flow", "jarm.exp")], collateral: EVERY_AUTHORIZATION },
    case(
        Fault::JarmErrorPlain,
        PKJWT_DPOP_OIDC,
        &[
            fails("user-rejects-authentication", "jarm.response"),
            fails("jarm-response-mode-query-jwt", "jarm.response"),
            fails("jarm-response-mode-fragment-jwt", "jarm.response"),
            fails("jarm-response-mode-form-post-jwt", "jarm.response"),
        ],
    ),
    case(Fault::SignedIntrospection, PKJWT_DPOP_OIDC, &[fails("signed-introspection", "introspect.jwt_content_type")]),
];

/// Security Profile faults the Message Signing plan catches too, through the included modules
/// whose mutations now change the parameters inside the signed request object: proof that
/// they still reach the server there.
const SP_CASES_IN_SIGNED_REQUESTS: &[Case] = &[
    case(Fault::PkcePlainAllowed, PKJWT_DPOP_OIDC, &[fails("pkce-plain-refused", "par.rejected")]),
    case(Fault::ParPkceRequired, PKJWT_DPOP_OIDC, &[fails("pkce-required", "par.rejected")]),
    case(Fault::RedirectUriRequired, PKJWT_DPOP_OIDC, &[fails("redirect-uri-required", "par.rejected")]),
    case(
        Fault::ResponseTypeCodeOnly,
        PKJWT_DPOP_OIDC,
        &[fails("response-type-code-id-token", "par.rejected"), fails("response-type-token", "par.rejected")],
    ),
    case(Fault::DpopJktParMismatch, PKJWT_DPOP_OIDC, &[fails("dpop-jkt-mismatch-at-par", "par.rejected")]),
];

/// The CIBA faults, caught by the `fapi-ciba` plan against the sandbox workspace of profile
/// `fapi2-security-profile` (which offers CIBA).
const CIBA_CASES: &[Case] = &[
    case(Fault::CibaSignedRequest, PKJWT_DPOP_OIDC, &[fails("ciba-unsigned-request-refused", "backchannel.rejected")]),
    case(Fault::CibaBindingMessageRequired, PKJWT_DPOP_OIDC, &[fails("ciba-binding-message-required", "backchannel.rejected")]),
    case(Fault::CibaSingleHint, PKJWT_DPOP_OIDC, &[fails("ciba-multiple-hints-refused", "backchannel.rejected")]),
    case(Fault::CibaOpenidScope, PKJWT_DPOP_OIDC, &[fails("ciba-scope-without-openid-refused", "backchannel.rejected")]),
    // Polling at once after authorization_pending is answered authorization_pending again.
    case(Fault::CibaSlowDown, PKJWT_DPOP_OIDC, &[fails("ciba-happy-flow-poll", "ciba_token.error_code")]),
    // The expired request of the pending user is still pending.
    case(Fault::CibaExpiry, PKJWT_DPOP_OIDC, &[fails("ciba-request-expiry", "ciba_token.error_code")]),
    // The request is approved by then, so client 2 gets tokens for it.
    case(Fault::CibaClientBinding, PKJWT_DPOP_OIDC, &[fails("ciba-auth-req-id-other-client", "ciba_token.rejected")]),
    case(Fault::CibaSingleUse, PKJWT_DPOP_OIDC, &[fails("ciba-happy-flow-poll", "ciba_token.rejected")]),
];

/// WebAuthn faults (`shared/spec/passkeys.md`), caught by the passkeys plan.
const PASSKEY_CASES: &[Case] = &[
    // The assertion signed for client 2's challenge completes client 1's sign-in.
    case(Fault::PasskeyInteractionBinding, PKJWT_DPOP_OIDC, &[fails("passkey-assertion-for-another-authorization", "passkey_login.refused")]),
    // A random user handle (and then none) still signs in: the credential id finds the user.
    case(Fault::PasskeyUserHandleBinding, PKJWT_DPOP_OIDC, &[fails("passkey-unknown-user-handle", "passkey_login.refused")]),
    // The other port's registration is kept, and its assertion signs in.
    case(Fault::PasskeyOriginPort, PKJWT_DPOP_OIDC, &[fails("passkey-other-origin-port", "passkey_register.refused")]),
];

/// Message Signing faults the CIBA plan catches too: the server verifies signed authentication
/// requests with the request object verifier (CIBA-02), so its weakened checks show there.
const MS_CASES_IN_CIBA: &[Case] = &[
    case(
        Fault::RequestObjectAud,
        PKJWT_DPOP_OIDC,
        &[fails("ciba-request-without-aud", "backchannel.rejected"), fails("ciba-request-with-bad-aud", "backchannel.rejected")],
    ),
    case(Fault::RequestObjectNbf, PKJWT_DPOP_OIDC, &[fails("ciba-request-without-nbf", "backchannel.rejected")]),
    case(
        Fault::RequestObjectExp,
        PKJWT_DPOP_OIDC,
        &[fails("ciba-request-without-exp", "backchannel.rejected"), fails("ciba-request-exp-70-minutes-ahead", "backchannel.rejected")],
    ),
    case(
        Fault::RequestObjectSignature,
        PKJWT_DPOP_OIDC,
        &[fails("ciba-request-bad-signature", "backchannel.rejected"), fails("ciba-request-signed-by-other-client", "backchannel.rejected")],
    ),
];

/// Every hybrid authorization response carries the front-channel ID token that the fault breaks.
const EVERY_HYBRID_AUTHORIZATION: &[Collateral] = &[Collateral::EveryModuleWithStep(
    "authorize",
    "every hybrid response's ID token is checked as a detached signature (A-IDT-05), so every module that authorizes fails with it",
)];

/// The FAPI 1.0 Advanced faults, caught by the `fapi1-advanced` plan against the sandbox
/// workspace of profile `fapi1-advanced`, in the variants that send the request object by
/// value (where the authorization endpoint reads it) and ask for `code id_token` responses.
const FAPI1_CASES: &[Case] = &[
    Case {
        fault: Fault::HybridCHash,
        variants: FAPI1_BY_VALUE_HYBRID,
        catches: &[fails("happy-flow", "authorize.id_token_c_hash")],
        collateral: EVERY_HYBRID_AUTHORIZATION,
    },
    Case {
        fault: Fault::HybridSHash,
        variants: FAPI1_BY_VALUE_HYBRID,
        catches: &[fails("happy-flow", "authorize.id_token_s_hash")],
        collateral: EVERY_HYBRID_AUTHORIZATION,
    },
    Case {
        fault: Fault::HybridIdTokenNonce,
        variants: FAPI1_BY_VALUE_HYBRID,
        catches: &[fails("happy-flow", "authorize.id_token_nonce")],
        collateral: EVERY_HYBRID_AUTHORIZATION,
    },
    Case {
        fault: Fault::FrontChannelIdTokenAudience,
        variants: FAPI1_BY_VALUE_HYBRID,
        catches: &[fails("happy-flow", "authorize.id_token_aud")],
        collateral: EVERY_HYBRID_AUTHORIZATION,
    },
    // The request object has no nonce and a nonce is only in the URL: the server ignores the
    // outside one as it must (A-AS-10), finds no nonce, and issues a code anyway.
    case(Fault::NonceRequired, FAPI1_BY_VALUE_HYBRID, &[fails("ensure-request-object-without-nonce-fails", "authorize.no_code")]),
    case(Fault::HybridQueryEncoding, FAPI1_BY_VALUE_HYBRID, &[fails("ensure-response-mode-query", "authorize.hybrid_nothing_in_query")]),
    case(
        Fault::AuthorizeRequestObjectRequired,
        FAPI1_BY_VALUE_HYBRID,
        &[fails("ensure-authorization-request-without-request-object-fails", "authorize.no_code")],
    ),
    case(
        Fault::AuthorizeOutsideParams,
        FAPI1_BY_VALUE_HYBRID,
        // The outside scope, nonce or redirect_uri also stands in for one missing inside.
        &[
            fails("ensure-different-nonce-inside-and-outside-request-object", "authorize.id_token_nonce"),
            fails("state-only-outside-request-object-not-used", "authorize.state"),
            fails("ensure-request-object-without-scope-fails", "authorize.no_code"),
            fails("ensure-request-object-without-nonce-fails", "authorize.no_code"),
            fails("ensure-request-object-without-redirect-uri-fails", "authorize.no_code"),
        ],
    ),
    case(
        Fault::RequestObjectRequiredMembers,
        FAPI1_BY_VALUE_HYBRID,
        &[
            fails("ensure-request-object-without-scope-fails", "authorize.no_code"),
            fails("ensure-request-object-without-nonce-fails", "authorize.no_code"),
            fails("ensure-request-object-without-redirect-uri-fails", "authorize.no_code"),
        ],
    ),
    // FAPI 1.0 accepts the token or PAR endpoint URL, or an array with the issuer, as a client
    // assertion's audience; with the fault the server takes FAPI 2.0's issuer string only.
    case(
        Fault::AssertionEndpointAudience,
        FAPI1_PUSHED_HYBRID,
        &[
            fails("par-test-pushed-authorization-url-as-audience-for-client-JWT-assertion", "par.status"),
            fails("par-token-endpoint-url-as-audience-for-client-JWT-assertion", "par.status"),
            fails("test-array-as-audience-for-client-JWT-assertion", "par.status"),
        ],
    ),
];

/// Fault runs at once, over every table.
const PARALLEL_RUNS: usize = 4;
static RUNS: Semaphore = Semaphore::const_new(PARALLEL_RUNS);
/// Modules at once within one run (modules that only wait are not counted).
const MODULES_PER_RUN: usize = 4;
/// Code and request_uri lifetimes of the test sandboxes, in seconds.
const LIFETIME: u64 = 5;

fn unique_dir(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("fapilab-faults-{}-{}-{tag}", std::process::id(), fapilab_jose::random_token(6)))
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// Starts a sandbox with `faults` in `dir` and runs `plans` in `variants` against it.
async fn run_plan(dir: &Path, faults: Vec<Fault>, plans: &[Plan], variants: &[Variant]) -> Result<Vec<ModuleResult>, String> {
    let sandbox = fapilab_sandbox::start(fapilab_sandbox::SandboxOptions {
        data_dir: dir.to_path_buf(),
        port_base: 0,
        bind: std::net::IpAddr::from([127, 0, 0, 1]),
        code_lifetime: Some(LIFETIME),
        request_uri_lifetime: Some(LIFETIME),
        faults,
    })
    .await
    .map_err(|e| format!("the sandbox did not start: {e}"))?;
    // Each module runs against the workspace its plan's [requires] profile names.
    let targets = Targets::load_any(&sandbox.manifest_path).map_err(|e| format!("the sandbox manifest: {e}"))?;
    let results = runner::run(Arc::new(targets), plans, variants, None, MODULES_PER_RUN, |_| {}).await;
    drop(sandbox);
    Ok(results)
}

fn describe_failed(r: &ModuleResult) -> String {
    let mut s = format!("    {} [{}]: {}\n", r.module, r.variant, r.verdict.label());
    if let Verdict::Skipped { reason } = &r.verdict {
        let _ = writeln!(s, "      skipped: {reason}");
    }
    for c in r.conditions.iter().filter(|c| !c.passed) {
        let _ = writeln!(s, "      failed {} ({:?}): expected {}; observed {}", c.id, c.severity, c.expected, c.observed);
    }
    s
}

/// The failed conditions of `r`, and every instance of `condition` (passed or not).
fn describe_with(r: &ModuleResult, condition: &str) -> String {
    let mut s = format!("    {} [{}]: {}\n", r.module, r.variant, r.verdict.label());
    if let Verdict::Skipped { reason } = &r.verdict {
        let _ = writeln!(s, "      skipped: {reason}");
    }
    for c in r.conditions.iter().filter(|c| !c.passed || c.id == condition) {
        let _ = writeln!(
            s,
            "      {} {} ({:?}): expected {}; observed {}",
            if c.passed { "passed" } else { "FAILED" },
            c.id,
            c.severity,
            c.expected,
            c.observed
        );
    }
    if !r.conditions.iter().any(|c| c.id == condition) {
        let _ = writeln!(s, "      (no condition {condition} was checked)");
    }
    s
}

fn plan_module<'a>(plans: &'a [Plan], name: &str) -> Option<&'a fapilab_conformance::scenario::Scenario> {
    plans.iter().flat_map(|p| &p.modules).find(|m| m.module == name)
}

/// The modules a fault may also fail, by name, with the reason.
fn collateral_modules(case: &Case, plans: &[Plan]) -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    for c in case.collateral {
        match c {
            Collateral::EveryModuleWithStep(step, why) => out.extend(
                plans
                    .iter()
                    .flat_map(|p| &p.modules)
                    .filter(|m| m.steps.iter().any(|s| s.step == *step))
                    .map(|m| (m.module.clone(), *why)),
            ),
        }
    }
    out
}

/// What is wrong with a fault run's results (empty: the fault was caught, nothing else moved).
/// The problems of a fault run (empty: caught as the table says), and the collateral modules
/// that did not pass.
fn judge(case: &Case, plans: &[Plan], variants: &[Variant], results: &[ModuleResult]) -> (Vec<String>, BTreeSet<String>) {
    let mut problems = Vec::new();
    let mut collateral_hit = BTreeSet::new();
    let catchers: BTreeSet<&str> = case.catches.iter().map(|c| c.module).collect();
    let collateral = collateral_modules(case, plans);
    for catch in case.catches {
        let Some(scenario) = plan_module(plans, catch.module) else {
            problems.push(format!("  catching module {} is not in the plan", catch.module));
            continue;
        };
        let applies: Vec<Variant> = variants.iter().copied().filter(|v| scenario.applies_to(v)).collect();
        if applies.is_empty() {
            problems.push(format!("  catching module {} applies to none of the variants {}", catch.module, case.variants));
        }
        for v in applies {
            let Some(r) = results.iter().find(|r| r.module == catch.module && r.variant == v) else {
                problems.push(format!("  catching module {} [{v}] did not run", catch.module));
                continue;
            };
            let (verdict, severity) = match catch.shows {
                Shows::Fails => (Verdict::Failed, Severity::Failure),
                Shows::Warns => (Verdict::Warning, Severity::Warning),
            };
            let caught = r.conditions.iter().any(|c| !c.passed && c.id == catch.condition && c.severity == severity);
            if r.verdict != verdict || !caught {
                problems.push(format!(
                    "  NOT CAUGHT by {} [{v}]: expected verdict {} with condition {} failed ({severity:?}); got {}:\n{}",
                    catch.module,
                    verdict.label(),
                    catch.condition,
                    r.verdict.label(),
                    describe_with(r, catch.condition)
                ));
            }
        }
    }
    for r in results {
        if catchers.contains(r.module.as_str()) || r.verdict == Verdict::Passed {
            continue;
        }
        if collateral.iter().any(|(m, _)| *m == r.module) {
            collateral_hit.insert(r.module.clone());
            continue;
        }
        problems.push(format!("  unexpected (not a catcher, not listed as collateral):\n{}", describe_failed(r)));
    }
    (problems, collateral_hit)
}

#[test]
fn the_tables_cover_every_fault_once() {
    let listed: Vec<Fault> = CASES
        .iter()
        .chain(MS_CASES)
        .chain(CIBA_CASES)
        .chain(FAPI1_CASES)
        .chain(PASSKEY_CASES)
        .map(|c| c.fault)
        .chain(NOT_CAUGHT.iter().map(|(f, _)| *f))
        .collect();
    for fault in Fault::ALL {
        let n = listed.iter().filter(|f| **f == fault).count();
        assert_eq!(
            n,
            1,
            "{} ({}) must be listed exactly once in CASES, MS_CASES, CIBA_CASES, FAPI1_CASES, PASSKEY_CASES or NOT_CAUGHT",
            fault.name(),
            fault.requirement()
        );
    }
    // The passkey table holds exactly the passkey faults.
    for fault in Fault::ALL {
        assert_eq!(fault.name().starts_with("passkey_"), PASSKEY_CASES.iter().any(|c| c.fault == fault), "{} and PASSKEY_CASES", fault.name());
    }
    // The FAPI 1.0 table holds the faults that only the FAPI 1.0 plan can show.
    for case in FAPI1_CASES {
        assert!(!CASES.iter().chain(MS_CASES).any(|c| c.fault == case.fault), "{} is a FAPI 1.0 fault", case.fault.name());
    }
    assert!(CASES.len() >= 20, "at least 20 faults must be caught, {} are", CASES.len());
    // The Message Signing table holds exactly the faults of Message Signing requirements.
    let ciba = |f: Fault| f.requirement().starts_with("CIBA-") || f.requirement().starts_with("FCIBA-");
    for case in CASES {
        assert!(!case.fault.requirement().starts_with("MS-"), "{} belongs in MS_CASES", case.fault.name());
        assert!(!ciba(case.fault), "{} belongs in CIBA_CASES", case.fault.name());
    }
    // The CIBA table holds exactly the faults of CIBA requirements.
    for case in CIBA_CASES {
        assert!(ciba(case.fault), "{} belongs in CASES or MS_CASES", case.fault.name());
    }
    for case in MS_CASES_IN_CIBA {
        assert!(MS_CASES.iter().any(|c| c.fault == case.fault), "{} is a Message Signing fault of MS_CASES", case.fault.name());
    }
    for case in MS_CASES {
        assert!(case.fault.requirement().starts_with("MS-"), "{} belongs in CASES", case.fault.name());
    }
    for case in SP_CASES_IN_SIGNED_REQUESTS {
        assert!(CASES.iter().any(|c| c.fault == case.fault), "{} is a Security Profile fault of CASES", case.fault.name());
    }
    let all = builtin_plans().expect("built-in plans");
    check_table(&all, PLAN, CASES);
    check_table(&all, MS_PLAN, MS_CASES);
    check_table(&all, MS_PLAN, SP_CASES_IN_SIGNED_REQUESTS);
    check_table(&all, CIBA_PLAN, CIBA_CASES);
    check_table(&all, CIBA_PLAN, MS_CASES_IN_CIBA);
    check_table(&all, FAPI1_PLAN, FAPI1_CASES);
    check_table(&all, PASSKEY_PLAN, PASSKEY_CASES);
}

/// The variants of `plans` (one plan) that the filter `spec` picks.
fn variants_of(plans: &[Plan], spec: &str) -> Vec<Variant> {
    let filter = VariantFilter::parse(spec).expect("variant filter");
    plans.iter().flat_map(|p| filter.select(&p.variants())).collect()
}

/// Every case of `cases` names modules of `plan` that apply to its variants.
fn check_table(all: &[Plan], plan: &str, cases: &[Case]) {
    let plans: Vec<Plan> = all.iter().filter(|p| p.name == plan).cloned().collect();
    assert_eq!(plans.len(), 1, "the built-in {plan} plan");
    for case in cases {
        assert!(!case.catches.is_empty(), "{}: no catching module", case.fault.name());
        let variants = variants_of(&plans, case.variants);
        assert!(!variants.is_empty(), "{}: no variant", case.fault.name());
        for c in case.catches {
            let m = plan_module(&plans, c.module).unwrap_or_else(|| panic!("{}: no module {}", case.fault.name(), c.module));
            assert!(variants.iter().any(|v| m.applies_to(v)), "{}: {} applies to none of {}", case.fault.name(), c.module, case.variants);
        }
        for Collateral::EveryModuleWithStep(step, _) in case.collateral {
            let n = plans.iter().flat_map(|p| &p.modules).filter(|m| m.steps.iter().any(|s| s.step == *step)).count();
            assert!(n > 0, "{}: no module has a {step} step", case.fault.name());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_fault_is_caught_by_its_modules_and_nothing_else() {
    check_faults(PLAN, CASES.iter().collect(), NOT_CAUGHT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_message_signing_fault_is_caught_by_its_modules_and_nothing_else() {
    check_faults(MS_PLAN, MS_CASES.iter().chain(SP_CASES_IN_SIGNED_REQUESTS).collect(), &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_ciba_fault_is_caught_by_its_modules_and_nothing_else() {
    check_faults(CIBA_PLAN, CIBA_CASES.iter().chain(MS_CASES_IN_CIBA).collect(), &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_fapi1_fault_is_caught_by_its_modules_and_nothing_else() {
    check_faults(FAPI1_PLAN, FAPI1_CASES.iter().collect(), &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_passkey_fault_is_caught_by_its_modules_and_nothing_else() {
    check_faults(PASSKEY_PLAN, PASSKEY_CASES.iter().collect(), &[]).await;
}

/// Runs `plan` against a sandbox with each fault of `cases` and a control sandbox without,
/// and asserts every fault is caught as its case says and the control run passes.
async fn check_faults(plan: &'static str, cases: Vec<&'static Case>, not_caught: &[(Fault, &str)]) {
    let started = Instant::now();
    let plans: Vec<Plan> = builtin_plans().expect("built-in plans").into_iter().filter(|p| p.name == plan).collect();
    assert_eq!(plans.len(), 1, "the built-in {plan} plan");
    let plans = Arc::new(plans);

    // Control: no fault, every variant a fault run uses. Its sandbox's CA is copied for the others.
    let control_variants: Vec<Variant> = {
        let mut all = BTreeSet::new();
        for case in &cases {
            all.extend(variants_of(&plans, case.variants));
        }
        all.into_iter().collect()
    };
    let control_dir = unique_dir("control");
    let control = fapilab_sandbox::start(fapilab_sandbox::SandboxOptions {
        data_dir: control_dir.clone(),
        port_base: 0,
        bind: std::net::IpAddr::from([127, 0, 0, 1]),
        code_lifetime: Some(LIFETIME),
        request_uri_lifetime: Some(LIFETIME),
        faults: Vec::new(),
    })
    .await
    .expect("the control sandbox starts");
    let ca_dir = unique_dir("ca");
    copy_dir(&control_dir.join("ca"), &ca_dir).expect("copying the CA");

    let control_task = {
        let plans = Arc::clone(&plans);
        let variants = control_variants.clone();
        let manifest = control.manifest_path.clone();
        tokio::spawn(async move {
            let _permit = RUNS.acquire().await.expect("semaphore");
            let t = Instant::now();
            let targets = Targets::load_any(&manifest).expect("the control manifest");
            let results = runner::run(Arc::new(targets), &plans, &variants, None, MODULES_PER_RUN, |_| {}).await;
            (results, t.elapsed())
        })
    };

    let mut tasks = Vec::new();
    for case in cases {
        let plans = Arc::clone(&plans);
        let ca_dir = ca_dir.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = RUNS.acquire().await.expect("semaphore");
            let t = Instant::now();
            let variants = variants_of(&plans, case.variants);
            let dir = unique_dir(&case.fault.name());
            let outcome = match copy_dir(&ca_dir, &dir.join("ca")) {
                Err(e) => Err(format!("copying the CA: {e}")),
                Ok(()) => run_plan(&dir, vec![case.fault], &plans, &variants).await,
            };
            let _ = std::fs::remove_dir_all(&dir);
            let (problems, collateral) = match outcome {
                Ok(results) => judge(case, &plans, &variants, &results),
                Err(e) => (vec![format!("  {e}")], BTreeSet::new()),
            };
            (case, problems, collateral, t.elapsed())
        }));
    }

    let mut report = String::new();
    let mut table = String::new();
    let mut failed_faults = 0;
    for task in tasks {
        let (case, problems, collateral, took) = task.await.expect("fault run task");
        let catchers: Vec<String> = case
            .catches
            .iter()
            .map(|c| format!("{}{}", c.module, if c.shows == Shows::Warns { " (warning)" } else { "" }))
            .collect();
        let _ = writeln!(
            table,
            "  {:<32} {:<15} {:<6} [{}] {}  ({:.1} s)",
            case.fault.name(),
            case.fault.requirement(),
            if problems.is_empty() { "ok" } else { "FAILED" },
            case.variants,
            catchers.join(", "),
            took.as_secs_f64()
        );
        if !collateral.is_empty() {
            let _ = writeln!(table, "    collateral ({}): {}", collateral.len(), collateral.into_iter().collect::<Vec<_>>().join(", "));
        }
        if !problems.is_empty() {
            failed_faults += 1;
            let _ = writeln!(
                report,
                "fault {} ({}), variants [{}]:\n{}",
                case.fault.name(),
                case.fault.requirement(),
                case.variants,
                problems.join("\n")
            );
        }
    }
    let (control_results, control_took) = control_task.await.expect("control task");
    drop(control);
    let _ = std::fs::remove_dir_all(&control_dir);
    let _ = std::fs::remove_dir_all(&ca_dir);
    let control_bad: Vec<&ModuleResult> = control_results.iter().filter(|r| r.verdict != Verdict::Passed).collect();
    let _ = writeln!(
        table,
        "  {:<32} {:<15} {:<6} [{} variants] {} module runs  ({:.1} s)",
        "(control: no fault)",
        "",
        if control_bad.is_empty() { "ok" } else { "FAILED" },
        control_variants.len(),
        control_results.len(),
        control_took.as_secs_f64()
    );
    if !control_bad.is_empty() {
        let _ = writeln!(report, "control run without faults: modules that did not pass:");
        for r in &control_bad {
            report.push_str(&describe_failed(r));
        }
    }
    if !not_caught.is_empty() {
        let _ = writeln!(table, "  not caught:");
        for (f, why) in not_caught {
            let _ = writeln!(table, "    {} ({}): {why}", f.name(), f.requirement());
        }
    }
    eprintln!("{plan}: fault → catching modules (took {:.1} s in all):\n{table}", started.elapsed().as_secs_f64());
    assert!(
        report.is_empty(),
        "{failed_faults} fault(s) not caught as the table says{}:\n\n{report}",
        if control_bad.is_empty() { "" } else { ", and the control run did not pass" }
    );
    assert!(control_results.len() >= control_variants.len(), "the control run ran modules");
}
