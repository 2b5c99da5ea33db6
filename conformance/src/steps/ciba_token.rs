//! `ciba_token`: the CIBA token request (OpenID CIBA Core §10.1; CIBA-05): `grant_type`
//! `urn:openid:params:grant-type:ciba` with the `auth_req_id` of the client's last
//! acknowledged authentication request, client authentication and the sender constraint (a
//! DPoP proof, or the client certificate) like the `token` step.
//!
//! Without `poll` the request goes out at once, so a scenario can check `authorization_pending`
//! and `slow_down` (CIBA-06). With `poll = true` the step is the client's polling loop: it waits
//! the interval since the last poll before each request and repeats while the answer is
//! `authorization_pending` or `slow_down` (then 5 s longer, CIBA-06), until the decision or the
//! request's expiry. The final answer is judged against the expectation: a success is a token
//! response with an ID token without `nonce` (CIBA-07), whose tokens the `call_resource`,
//! `userinfo` and `refresh` steps then use; a refusal names the expected error code in `errors`.
//!
//! Params: `poll = true`; `auth_req_id` = `own` (default) | `other_client` (the other client's
//! last `auth_req_id`, sent with this client's credentials: CIBA-06) | `unknown` (one the
//! server never issued).

use std::time::{Duration, Instant};

use super::token::{back_channel_via, judge_success, proof_key};
use super::{StepRun, cert_der, client_auth_params, dpop_form_post, harness_problem, need_client, need_endpoint, other_htu, send_with_nonce_retry};
use crate::conditions::{Check, ciba};
use crate::conditions::errors::{self, Rejection};
use crate::conditions::token::Binding;
use crate::context::ModuleContext;
use crate::http::{Response, Via};
use crate::model::Severity;
use crate::scenario::Expect;

pub const GRANT_TYPE: &str = "urn:openid:params:grant-type:ciba";

/// Answers that mean "ask again later" (CIBA-06).
const PENDING: &[&str] = &["authorization_pending", "slow_down"];

pub async fn run(ctx: &mut ModuleContext, step: &StepRun<'_>) {
    let Some(client) = need_client(ctx, step.index) else { return };
    if !ctx.ensure_discovery().await {
        return;
    }
    let Some(url) = need_endpoint(ctx, &client, "token_endpoint", "FAPI2-SP-AS-01") else { return };
    let other_index = if step.index == 1 { 2 } else { 1 };
    let auth_req_id = match step.param_str("auth_req_id").unwrap_or("own") {
        "own" => ctx.state_ref(step.index).backchannel.as_ref().map(|b| b.auth_req_id.clone()),
        "other_client" => ctx.state_ref(other_index).backchannel.as_ref().map(|b| b.auth_req_id.clone()),
        "unknown" => Some(fapilab_jose::random_token(32)),
        other => {
            return harness_problem(
                ctx,
                "ciba_token.harness",
                "tell which auth_req_id to send",
                &format!("auth_req_id = {other:?}: expected own, other_client or unknown"),
            );
        }
    };
    let Some(auth_req_id) = auth_req_id else {
        return harness_problem(
            ctx,
            "ciba_token.harness",
            "find an auth_req_id",
            "the scenario has no acknowledged `backchannel_authorize` step for that client before `ciba_token`",
        );
    };
    let m = &step.mutations;
    let key = match proof_key(ctx, step.index, m) {
        Ok(k) => k,
        Err(e) => return harness_problem(ctx, "ciba_token.harness", "generate a DPoP key", &e),
    };
    let poll = step.param_bool("poll") == Some(true);
    let deadline = ctx
        .state_ref(step.index)
        .backchannel
        .as_ref()
        .map_or_else(Instant::now, |b| b.acknowledged_at + Duration::from_secs(b.expires_in + 5));
    let wrong_htu = other_htu(ctx, &url);
    let (via, _) = back_channel_via(ctx, &client, None, m);
    let x5t = match via {
        Via::Identity { cert_pem, .. } => cert_der(cert_pem).map(|d| fapilab_jose::sha256_b64url(&d)),
        _ => None,
    };
    // A check of `slow_down` needs a second poll sooner than the interval after the first;
    // on a loaded machine building and sending it may take longer, and then the server is
    // right to answer `authorization_pending`. Such a measurement proves nothing, so the pair
    // of polls is repeated (at most this many times) until the gap is really short.
    let expects_slow_down = !poll && step.errors(&[]).iter().any(|e| e == "slow_down");
    let mut too_slow_attempts = 0;
    let resp = loop {
        if poll {
            wait_interval(ctx, step.index).await;
        }
        let sent_at = Instant::now();
        let previous_sent = ctx.state_ref(step.index).backchannel.as_ref().and_then(|b| b.last_poll_sent.map(|t| (t, b.interval)));
        let mut form = vec![("grant_type".to_owned(), GRANT_TYPE.to_owned()), ("auth_req_id".to_owned(), auth_req_id.clone())];
        match client_auth_params(ctx, &client, m) {
            Ok(a) => form.extend(a),
            Err(e) => return harness_problem(ctx, "ciba_token.harness", "build the client authentication", &e),
        }
        let sent = send_with_nonce_retry(ctx, via, step.index, false, |nonce| {
            dpop_form_post(&url, &form, None, key.as_deref(), m, &wrong_htu, nonce)
        })
        .await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) => return harness_problem(ctx, "ciba_token.harness", "build the token request", &e),
        };
        let error = resp.json_error();
        if let Some(b) = ctx.state(step.index).backchannel.as_mut() {
            b.last_poll = Some(Instant::now());
            b.last_poll_sent = Some(sent_at);
            if error.as_deref() == Some("slow_down") {
                // CIBA-06: the client adds 5 seconds to its interval.
                b.interval += 5;
            }
        }
        if poll && error.as_deref().is_some_and(|e| PENDING.contains(&e)) && Instant::now() < deadline {
            continue;
        }
        let gap_too_long = previous_sent.is_some_and(|(previous, interval)| sent_at.duration_since(previous) >= Duration::from_secs(interval));
        if expects_slow_down && error.as_deref() == Some("authorization_pending") && gap_too_long && too_slow_attempts < 3 {
            too_slow_attempts += 1;
            continue;
        }
        break resp;
    };
    if too_slow_attempts > 0 {
        ctx.push(
            Check::new("ciba_token.fast_poll_repeated", "a poll meant to be too fast left later than the interval, so it was repeated")
                .req(&["CIBA-06"])
                .info()
                .expected("a second poll sooner than the interval")
                .observed(format!("{too_slow_attempts} repetition(s) on this loaded machine before the gap was short enough"))
                .pass(true),
        );
    }
    if resp.status == Some(200) {
        ctx.ensure_jwks().await;
    }
    judge(ctx, step, &client.client_id, &resp, &Binding { sender: ctx.variant.sender, jkt: key.as_ref().map(|k| k.thumbprint()).as_deref(), x5t: x5t.as_deref() });
}

/// Sleeps until the client's interval has passed since its last poll (or the acknowledgement).
async fn wait_interval(ctx: &ModuleContext, index: u8) {
    if let Some(b) = &ctx.state_ref(index).backchannel {
        let since = b.last_poll.unwrap_or(b.acknowledged_at);
        tokio::time::sleep_until(tokio::time::Instant::from_std(since + Duration::from_secs(b.interval))).await;
    }
}

fn judge(ctx: &mut ModuleContext, step: &StepRun<'_>, client_id: &str, resp: &Response, binding: &Binding<'_>) {
    let accepted = resp.status == Some(200);
    let expect = step.expect();
    if expect == Expect::Success || (expect == Expect::Either && accepted) {
        judge_success(ctx, "ciba_token", step.index, client_id, None, resp, binding, None);
        if accepted {
            let claims = ctx.state_ref(step.index).tokens.as_ref().and_then(|t| t.id_token_claims.clone());
            ctx.extend(ciba::id_token(claims.as_ref(), &[resp.index]));
        }
        return;
    }
    let errors_ok = step.errors(&["invalid_grant"]);
    let what = format!(
        "the CIBA token request ({}, auth_req_id {})",
        if step.mutations.is_empty() { "as sent by the client".to_owned() } else { step.mutations.label() },
        step.param_str("auth_req_id").unwrap_or("own")
    );
    ctx.extend(errors::back_channel(
        &Rejection {
            id: "ciba_token",
            what: &what,
            errors: &errors_ok,
            requirements: &["CIBA-06"],
            tls_refusal_ok: false,
            severity: Severity::Failure,
            hint: "the server issued tokens for an authentication request that is pending, denied, expired, redeemed or another client's",
        },
        resp,
    ));
}
