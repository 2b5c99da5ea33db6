//! Runs one scenario (a module) for one variant: its steps in order in a fresh
//! [`ModuleContext`], then the verdict from the conditions (or Skipped when the target lacks
//! a feature the module requires, or a step found the module cannot be performed — never a
//! silent pass).

use std::sync::Arc;
use std::time::Instant;

use crate::conditions::Check;
use crate::context::ModuleContext;
use crate::model::{ModuleResult, Verdict};
use crate::mutations::{self, Mutations};
use crate::scenario::Scenario;
use crate::steps::{self, StepRun};
use crate::target::Target;
use crate::variant::Variant;

/// A step the scenario files can use.
#[derive(Debug, Clone, Copy)]
pub struct StepInfo {
    pub name: &'static str,
    pub summary: &'static str,
    pub mutations: &'static [&'static str],
    pub params: &'static [&'static str],
}

macro_rules! step_list {
    ($($name:literal => $summary:literal, params: [$($p:literal),*];)*) => {
        const STEP_NAMES: &[(&str, &str, &[&str])] = &[$(($name, $summary, &[$($p),*])),*];
    };
}

step_list! {
    "discover" => "fetch the discovery document and check it (issuer, https endpoints, PAR, S256, iss parameter, auth methods, algorithms, mTLS aliases)", params: [];
    "jwks" => "fetch jwks_uri and check the keys (parse, kid, no private members, algorithms, RSA size)", params: [];
    "par" => "push an authorization request with client authentication, PKCE S256, state, nonce, redirect_uri and (DPoP) a binding proof; in plans with signed requests every parameter in a request object signed by the client, with JARM a response_mode", params: [];
    "authorize" => "open the authorization URL in the module's browser, log in and answer consent; check the redirect (iss, state, code, 303), with JARM first the response JWT (query, fragment or posted form)", params: ["approve", "visit_only"];
    "token" => "redeem the code; check the token response, the binding and (openid) the ID token", params: [];
    "call_resource" => "GET the resource with the bound access token (DPoP proof with ath, or the client certificate)", params: [];
    "userinfo" => "call UserInfo with the bound token (openid variants); with mutations, check that broken DPoP proofs or another certificate are refused", params: [];
    "refresh" => "use the refresh token with a fresh DPoP key; check the response; retry a rotated token after grace_wait", params: ["grace_wait", "same_key"];
    "introspect" => "introspect the access or refresh token when the server advertises introspection; as the target's resource-server client, and signed (RFC 9701) on request", params: ["token", "caller", "signed"];
    "revoke" => "revoke the refresh or access token", params: ["token"];
    "wait" => "sleep N seconds, or until the code or the request_uri has expired", params: ["seconds", "until"];
    "reuse_code" => "redeem the same code again (must fail with invalid_grant); the first access token should stop working", params: ["after"];
    "check_tls" => "TLS 1.2 (ECDHE + AEAD suites only) and TLS 1.3 handshakes with the endpoints", params: ["endpoints"];
    "check_headers" => "HSTS on the authorization endpoint; no CORS on GET or OPTIONS", params: [];
    "http_method" => "call an endpoint with a method it must refuse (PUT to PAR)", params: ["method", "endpoint"];
    "client_credentials" => "a client credentials token request with the variant's authentication and sender constraint; the token is not kept", params: ["scope"];
    "register" => "register a client for the variant's target client (RFC 7591: its redirect URIs, keys or certificate subject, sender constraint; a CIBA delivery mode); the module's client becomes the registered one", params: ["grant_types", "fdx_metadata", "ciba_delivery_mode"];
    "read_registration" => "GET registration_client_uri with the latest registration access token (RFC 7592); keeps a rotated token", params: [];
    "update_registration" => "PUT registration_client_uri with the complete metadata and the changes asked for; later steps use the new redirect URI", params: ["client_name", "change_redirect_uri"];
    "delete_registration" => "DELETE registration_client_uri (204); the server must then refuse the client", params: [];
    "set_fdx_status" => "PUT the FDX status endpoint with the admin client's update_client_status token", params: ["status"];
    "backchannel_authorize" => "a CIBA authentication request signed by the client (scope openid, login_hint of the target's approved, denied, pending or an unknown user, binding_message, requested_expiry) with client authentication; check the acknowledgement", params: ["user", "requested_expiry"];
    "ciba_token" => "the CIBA token request for the client's auth_req_id (own, the other client's, unknown) with client authentication and the sender constraint; with poll, wait the interval until the decision; check the tokens and the ID token", params: ["poll", "auth_req_id"];
    "ping_listener" => "start the module's HTTPS ping notification endpoint with the target's certificate; it answers 204, 401 or a redirect", params: ["answer"];
    "ping_notification" => "wait for the ping notification of the client's last authentication request and check its bearer token and body; with watch, that it is neither retried nor redirected", params: ["seconds", "watch"];
    "device_decide" => "approve or deny the client's pending authentication request on the target's device API, found by its binding message", params: ["decision"];
    "passkey_account" => "sign in to the target's account page with the target user's password, in a browser of its own (the page must ask for it)", params: [];
    "passkey_register" => "on the account page, ask for creation options (checked), answer them with the module's software passkey, post it with a name; check it is listed", params: [];
    "passkey_remove" => "remove the passkey registered last on the account page; check it is gone", params: [];
    "passkey_login" => "in a browser with no cookies, open the pushed request's authorization URL, ask for request options (checked), sign in usernameless with the passkey a valid registration added last; check the 303 and the session, then consent and the redirect with the code", params: [];
    "check_passkey_claims" => "check the ID token of the last token response after a passkey sign-in: amr with user and hwk (swk for a backup-eligible passkey), acr", params: [];
}

fn build_catalog() -> Vec<StepInfo> {
    STEP_NAMES
        .iter()
        .map(|(name, summary, params)| {
            let muts: Vec<&'static str> = mutations::for_step(name);
            StepInfo { name, summary, mutations: Box::leak(muts.into_boxed_slice()), params }
        })
        .collect()
}

/// Every step with the mutations and params it accepts.
pub fn catalog() -> &'static [StepInfo] {
    static CATALOG: std::sync::OnceLock<Vec<StepInfo>> = std::sync::OnceLock::new();
    CATALOG.get_or_init(build_catalog)
}

/// A module result with no conditions yet.
fn empty_result(scenario: &Scenario, variant: Variant, verdict: Verdict) -> ModuleResult {
    ModuleResult {
        plan: scenario.plan.clone(),
        module: scenario.module.clone(),
        title: scenario.title.clone(),
        variant,
        requirements: scenario.requirements.clone(),
        verdict,
        conditions: Vec::new(),
        exchanges: Vec::new(),
        duration_ms: 0,
        expected_failures: Vec::new(),
        unmet_expectations: Vec::new(),
    }
}

/// The result of a module that cannot run against any target of the run, with the reason.
pub fn skipped(scenario: &Scenario, variant: Variant, reason: String) -> ModuleResult {
    empty_result(scenario, variant, Verdict::Skipped { reason })
}

/// Runs `scenario` for `variant` against `target`.
pub async fn execute(target: Arc<Target>, scenario: &Scenario, variant: Variant) -> ModuleResult {
    let started = Instant::now();
    let mut result = empty_result(scenario, variant, Verdict::Passed);
    // A module needing what the target lacks proves nothing either way (e.g. the
    // registration plan against a server without a registration section).
    if let Some(reason) = target.unmet(&scenario.requires.features) {
        result.verdict = Verdict::Skipped { reason };
        return result;
    }
    let mut ctx = match ModuleContext::new(target, variant, scenario.messages.for_variant(&variant)) {
        Ok(c) => c,
        Err(e) => {
            result.verdict = Verdict::Skipped { reason: format!("the harness could not start the module: {e}") };
            return result;
        }
    };
    for (i, spec) in scenario.steps.iter().enumerate() {
        if ctx.aborted {
            let rest: Vec<&str> = scenario.steps[i..].iter().map(|s| s.step.as_str()).collect();
            if ctx.skipped.is_none() {
                ctx.push(
                    Check::new("module.steps_not_run", "every step of the module ran")
                        .info()
                        .expected("all steps run")
                        .observed(format!("stopped before: {}", rest.join(", ")))
                        .pass(true),
                );
            }
            break;
        }
        ctx.http.step = format!("{}#{}", spec.step, i + 1);
        let step = StepRun { spec, mutations: Mutations(spec.mutations.clone()), index: if spec.client == 2 { 2 } else { 1 } };
        if let Some(bad) = spec.mutations.iter().find_map(|m| mutations::validate(&spec.step, m).err()) {
            steps::harness_problem(
                &mut ctx,
                "module.scenario",
                "run the scenario as written",
                &format!("step {} (line {}): {bad}", spec.step, spec.line),
            );
            continue;
        }
        tracing::debug!(module = %scenario.module, step = %spec.step, "running step");
        match spec.step.as_str() {
            "discover" => steps::discover::run(&mut ctx, &step).await,
            "jwks" => steps::jwks::run(&mut ctx, &step).await,
            "par" => steps::par::run(&mut ctx, &step).await,
            "authorize" => steps::authorize::run(&mut ctx, &step).await,
            "token" => steps::token::run(&mut ctx, &step).await,
            "call_resource" => steps::call_resource::run(&mut ctx, &step).await,
            "userinfo" => steps::userinfo::run(&mut ctx, &step).await,
            "refresh" => steps::refresh::run(&mut ctx, &step).await,
            "introspect" => steps::introspect::run(&mut ctx, &step).await,
            "revoke" => steps::revoke::run(&mut ctx, &step).await,
            "wait" => steps::wait::run(&mut ctx, &step).await,
            "reuse_code" => steps::reuse_code::run(&mut ctx, &step).await,
            "check_tls" => steps::check_tls::run(&mut ctx, &step).await,
            "check_headers" => steps::check_headers::run(&mut ctx, &step).await,
            "http_method" => steps::http_method::run(&mut ctx, &step).await,
            "client_credentials" => steps::client_credentials::run(&mut ctx, &step).await,
            "register" => steps::register::run(&mut ctx, &step).await,
            "read_registration" => steps::read_registration::run(&mut ctx, &step).await,
            "update_registration" => steps::update_registration::run(&mut ctx, &step).await,
            "delete_registration" => steps::delete_registration::run(&mut ctx, &step).await,
            "set_fdx_status" => steps::set_fdx_status::run(&mut ctx, &step).await,
            "backchannel_authorize" => steps::backchannel_authorize::run(&mut ctx, &step).await,
            "ciba_token" => steps::ciba_token::run(&mut ctx, &step).await,
            "device_decide" => steps::device_decide::run(&mut ctx, &step).await,
            "ping_listener" => steps::ping_listener::run(&mut ctx, &step).await,
            "ping_notification" => steps::ping_notification::run(&mut ctx, &step).await,
            "passkey_account" => steps::passkey_account::run(&mut ctx, &step).await,
            "passkey_register" => steps::passkey_register::run(&mut ctx, &step).await,
            "passkey_remove" => steps::passkey_remove::run(&mut ctx, &step).await,
            "passkey_login" => steps::passkey_login::run(&mut ctx, &step).await,
            "check_passkey_claims" => steps::check_passkey_claims::run(&mut ctx, &step).await,
            other => steps::harness_problem(
                &mut ctx,
                "module.scenario",
                "run the scenario as written",
                &format!("unknown step {other:?} (line {})", spec.line),
            ),
        }
    }
    // Housekeeping on the target, whatever the verdict: the module's passkeys go again.
    steps::passkey_remove::clean_up(&mut ctx).await;
    // Shared conditions name the FAPI 2.0 rules; cite the module's own profile's instead.
    let profile = ctx.messages.profile;
    for c in &mut ctx.conditions {
        c.requirements = profile.requirements(&c.requirements, &scenario.requirements);
    }
    result.verdict = match &ctx.skipped {
        Some(reason) => Verdict::Skipped { reason: reason.clone() },
        None => ModuleResult::verdict_from(&ctx.conditions),
    };
    result.conditions = ctx.conditions;
    result.exchanges = ctx.http.exchanges;
    result.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    result
}

/// The engine spawns modules on a multi-threaded runtime: the future must be `Send`.
#[allow(dead_code)]
fn assert_send(target: Arc<Target>, scenario: &'static Scenario, variant: Variant) {
    fn is_send<T: Send>(_: T) {}
    is_send(execute(target, scenario, variant));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_lists_every_step_and_every_mutation_belongs_to_one() {
        let names: Vec<&str> = catalog().iter().map(|s| s.name).collect();
        assert!(names.contains(&"par") && names.contains(&"check_tls"));
        for m in mutations::ALL {
            for s in m.steps {
                assert!(names.contains(s), "mutation {} names unknown step {s}", m.name);
            }
        }
        let par = catalog().iter().find(|s| s.name == "par").map(|s| s.mutations.to_vec()).unwrap_or_default();
        assert!(par.contains(&"pkce_plain"));
    }
}
