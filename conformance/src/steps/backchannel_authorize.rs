//! `backchannel_authorize`: a CIBA authentication request (OpenID CIBA Core §7.1, §7.1.1;
//! CIBA-01, CIBA-02, FCIBA-08). The parameters — `scope` (openid and the target's resource
//! scope), `login_hint`, `binding_message`, optionally `requested_expiry` — go into a JWT
//! signed with the client's key: header `kid`, claims `iss` = the client, `aud` = the issuer,
//! `iat` = `nbf` = now, `exp` = now + 300, `jti`. The form carries `request` and the client
//! authentication (a `private_key_jwt` assertion, or the client certificate on the
//! `mtls_endpoint_aliases` endpoint). The 200 acknowledgement is judged (CIBA-04) and kept
//! for the token steps.
//!
//! A client registered for ping delivery (`register` with `ciba_delivery_mode = "ping"`) also
//! sends a fresh `client_notification_token` (CIBA-01), which its notification must carry.
//!
//! Params: `user` = `approved` (default) | `denied` | `pending` | `unknown` picks the
//! `login_hint` from the target's `[ciba]` users (`unknown`: a user no server knows);
//! `requested_expiry` = seconds, as a number or as a string (FCIBA-12: both accepted).

use std::time::Instant;

use fapilab_jose::b64;
use serde_json::{Map, Value, json};

use super::{StepRun, client_auth_params, corrupt_signature, harness_problem, need_client, skip_inapplicable};
use crate::conditions::ciba;
use crate::conditions::errors::{self, Rejection};
use crate::context::{BackchannelRequest, ModuleContext, client_signing_key};
use crate::model::Severity;
use crate::scenario::Expect;
use crate::target::TargetClient;

/// Lifetime of the harness's request JWTs: well inside the 60 minutes a verifier allows.
const REQUEST_LIFETIME: i64 = 300;
/// 70 minutes: beyond the 60-minute limits on `exp` and `nbf`.
const SEVENTY_MINUTES: i64 = 70 * 60;
/// An `aud` for another server.
const OTHER_AUDIENCE: &str = "https://other-server.fapilab.invalid/";

/// The `login_hint` for the step's `user`, or why there is none.
fn login_hint(ctx: &ModuleContext, step: &StepRun<'_>) -> Result<String, String> {
    let ciba = ctx.target.ciba.clone().unwrap_or_default();
    let (user, name) = match step.param_str("user").unwrap_or("approved") {
        "approved" => (ciba.approved_user, "approved_user"),
        "denied" => (ciba.denied_user, "denied_user"),
        "pending" => (ciba.pending_user, "pending_user"),
        "unknown" => return Ok(format!("nobody-{}", fapilab_jose::random_token(12))),
        other => return Err(format!("user = {other:?}: expected approved, denied, pending or unknown")),
    };
    user.ok_or_else(|| format!("the target's [ciba] section names no {name}"))
}

/// The endpoint for `client`: the target's, else discovery's (its `mtls_endpoint_aliases`
/// entry for a client using its certificate, FAPI2-SP-NET-08).
fn endpoint(ctx: &ModuleContext, client: &TargetClient) -> Option<String> {
    let configured = ctx.target.ciba.as_ref().and_then(|c| if client.uses_mtls() { c.mtls_endpoint.clone() } else { c.endpoint.clone() });
    configured.or_else(|| ctx.endpoint(client, "backchannel_authentication_endpoint"))
}

pub async fn run(ctx: &mut ModuleContext, step: &StepRun<'_>) {
    let Some(client) = need_client(ctx, step.index) else { return };
    if skip_inapplicable(ctx, step, &client) || !ctx.ensure_discovery().await {
        return;
    }
    let Some(url) = endpoint(ctx, &client) else {
        ctx.push(
            crate::conditions::Check::new("discovery.backchannel_authentication_endpoint", "the metadata names the backchannel authentication endpoint")
                .req(&["CIBA-MD-01"])
                .expected("backchannel_authentication_endpoint in the discovery document")
                .observed("absent")
                .pass(false),
        );
        ctx.aborted = true;
        return;
    };
    let hint = match login_hint(ctx, step) {
        Ok(h) => h,
        Err(e) if e.starts_with("the target") => return ctx.skip(e),
        Err(e) => return harness_problem(ctx, "backchannel.harness", "pick the user", &e),
    };
    let m = &step.mutations;
    let binding_message = (!m.has("bc_no_binding_message")).then(|| format!("fapilab-{}", fapilab_jose::random_token(9)));
    // CIBA-01: a ping client sends the bearer token its notification will carry.
    let ping = ctx.state_ref(step.index).registered.as_ref().is_some_and(|r| {
        r.metadata.get("backchannel_token_delivery_mode").and_then(Value::as_str) == Some("ping")
    });
    let notification_token = ping.then(|| fapilab_jose::random_token(32));
    let mut params: Vec<(String, Value)> = Vec::new();
    let scope = if m.has("bc_scope_without_openid") { ctx.target.scope_plain.clone() } else { ctx.target.scope_openid.clone() };
    params.push(("scope".into(), json!(scope)));
    params.push(("login_hint".into(), json!(hint)));
    if m.has("bc_two_hints") {
        params.push(("login_hint_token".into(), json!(fapilab_jose::random_token(24))));
    }
    if let Some(b) = &binding_message {
        params.push(("binding_message".into(), json!(b)));
    }
    if let Some(t) = &notification_token {
        params.push(("client_notification_token".into(), json!(t)));
    }
    match step.spec.params.get("requested_expiry") {
        Some(toml::Value::Integer(i)) => params.push(("requested_expiry".into(), json!(i))),
        Some(toml::Value::String(s)) => params.push(("requested_expiry".into(), json!(s))),
        Some(other) => {
            return harness_problem(ctx, "backchannel.harness", "read requested_expiry", &format!("{other}: expected a number or a string"));
        }
        None => {}
    }
    let mut form = match client_auth_params(ctx, &client, m) {
        Ok(a) => a,
        Err(e) => return harness_problem(ctx, "backchannel.harness", "build the client authentication", &e),
    };
    if m.has("bc_unsigned") {
        form.extend(params.into_iter().map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_owned))));
    } else {
        let other = ctx.client(if step.index == 1 { 2 } else { 1 });
        let needs_other = m.has("bc_iss_other_client") || m.has("bc_signed_by_other_client");
        if needs_other && other.is_none() {
            return ctx.skip(format!("the target has no second client for {} to stand in for", ctx.variant));
        }
        match request_jwt(ctx, &client, other.as_ref(), params, m) {
            Ok(jwt) => form.push(("request".into(), jwt)),
            Err(e) => return harness_problem(ctx, "backchannel.harness", "build the signed authentication request", &e),
        }
    }
    let via = ctx.via_for(&client);
    let resp = ctx.http.send(via, crate::http::Request::post_form(url, form)).await;
    let accepted = resp.status == Some(200);
    let expect = step.expect();
    if expect == Expect::Success || (expect == Expect::Either && accepted) {
        let (conds, ack) = ciba::acknowledgement(&resp);
        ctx.extend(conds);
        match ack {
            Some(a) => {
                ctx.state(step.index).backchannel = Some(BackchannelRequest {
                    auth_req_id: a.auth_req_id,
                    expires_in: a.expires_in,
                    interval: a.interval.unwrap_or(5),
                    acknowledged_at: Instant::now(),
                    last_poll: None,
                    last_poll_sent: None,
                    binding_message,
                    notification_token,
                });
            }
            None => ctx.aborted = true,
        }
        return;
    }
    let (reqs, defaults, hint) = match ciba::rule(m) {
        Some(r) => r,
        None if step.param_str("user") == Some("unknown") => {
            (vec!["CIBA-03"], vec!["unknown_user_id"], "a login_hint that names no user must be refused with unknown_user_id")
        }
        None => (vec!["CIBA-01"], vec!["invalid_request"], "the server acknowledged a request CIBA requires it to refuse"),
    };
    let errors_ok = step.errors(&defaults);
    let what = format!("the authentication request ({})", m.label());
    ctx.extend(errors::back_channel(
        &Rejection {
            id: "backchannel",
            what: &what,
            errors: &errors_ok,
            requirements: &reqs,
            tls_refusal_ok: false,
            severity: Severity::Failure,
            hint,
        },
        &resp,
    ));
}

/// The signed authentication request (CIBA Core §7.1.1) carrying `params`, with the
/// mutations applied.
fn request_jwt(
    ctx: &ModuleContext,
    client: &TargetClient,
    other: Option<&TargetClient>,
    params: Vec<(String, Value)>,
    m: &crate::mutations::Mutations,
) -> Result<String, String> {
    let now = fapilab_jose::now();
    let mut claims: Map<String, Value> = params.into_iter().collect();
    let iss = match other {
        Some(o) if m.has("bc_iss_other_client") => o.client_id.clone(),
        _ => client.client_id.clone(),
    };
    claims.insert("iss".into(), json!(iss));
    if m.has("bc_aud_other") {
        claims.insert("aud".into(), json!(OTHER_AUDIENCE));
    } else if !m.has("bc_no_aud") {
        claims.insert("aud".into(), json!(ctx.target.issuer));
    }
    let start = if m.has("bc_nbf_70_minutes_ago") { now - SEVENTY_MINUTES } else { now };
    if !m.has("bc_no_iat") {
        claims.insert("iat".into(), json!(start));
    }
    if !m.has("bc_no_nbf") {
        claims.insert("nbf".into(), json!(start));
    }
    if !m.has("bc_no_exp") {
        let exp = if m.has("bc_exp_70_minutes_ahead") { now + SEVENTY_MINUTES } else { now + REQUEST_LIFETIME };
        claims.insert("exp".into(), json!(exp));
    }
    if !m.has("bc_no_jti") {
        claims.insert("jti".into(), json!(fapilab_jose::random_token(24)));
    }
    let claims = Value::Object(claims);
    if m.has("bc_alg_none") {
        // An unsecured JWT (RFC 7519 §6): alg none and an empty signature.
        return Ok(format!("{}.{}.", b64::encode(json!({"alg": "none"}).to_string().as_bytes()), b64::encode(claims.to_string().as_bytes())));
    }
    let signer = match other {
        Some(o) if m.has("bc_signed_by_other_client") => o,
        _ => client,
    };
    let key = client_signing_key(signer)?;
    let jwt = fapilab_jose::jws::sign(&key, Map::new(), &claims).map_err(|e| format!("signing the authentication request: {e}"))?;
    if m.has("bc_bad_signature") { corrupt_signature(&jwt) } else { Ok(jwt) }
}
