//! `refresh`: the refresh token grant (suite research §2.2 refresh-token module, §3.5), with
//! a freshly generated DPoP key like the suite (a refreshed access token is bound to the key
//! of the refresh request, RFC 9449 §5). If the server rotates the refresh token, the
//! previous one must keep working for a grace period (FAPI2-SP-AS-10): after `grace_wait`
//! seconds (default 30) it is used once more.
//!
//! Params: `grace_wait = N`, `same_key = true` (keep the DPoP key).

use std::time::Duration;

use super::token::{back_channel_via, judge_success, proof_key};
use super::{
    Proof, StepRun, cert_der, client_auth_params, harness_problem, need_client, need_endpoint, refusal_rules, rejection_severity,
    send_with_nonce_retry, skip_inapplicable,
};
use crate::conditions::Check;
use crate::conditions::errors::{self, Rejection};
use crate::conditions::token::Binding;
use crate::context::{ModuleContext, Standing};
use crate::http::{Request, Response, Via};
use crate::mutations::Mutations;
use crate::scenario::Expect;
use crate::target::TargetClient;

async fn send_refresh(
    ctx: &mut ModuleContext,
    index: u8,
    client: &TargetClient,
    other: Option<&TargetClient>,
    url: &str,
    rt: &str,
    m: &Mutations,
) -> Result<(Response, bool, Option<String>, Option<String>), String> {
    let mut form = vec![("grant_type".to_owned(), "refresh_token".to_owned()), ("refresh_token".to_owned(), rt.to_owned())];
    form.extend(client_auth_params(ctx, client, m)?);
    let key = proof_key(ctx, index, m)?;
    let (via, tls_ok) = back_channel_via(ctx, client, other, m);
    let x5t = match via {
        Via::Identity { cert_pem, .. } => cert_der(cert_pem).map(|d| fapilab_jose::sha256_b64url(&d)),
        _ => None,
    };
    let jkt = key.as_ref().map(|k| k.thumbprint());
    let m2 = m.clone();
    let resp = send_with_nonce_retry(ctx, via, index, false, |nonce| {
        let mut req = Request::post_form(url.to_owned(), form.clone());
        if let Some(k) = &key {
            let mut p = Proof::new(k, "POST", url).with_mutations(&m2);
            p.nonce = nonce;
            req = req.header("DPoP", p.build()?);
        }
        Ok(req)
    })
    .await?;
    Ok((resp, tls_ok, jkt, x5t))
}

pub async fn run(ctx: &mut ModuleContext, step: &StepRun<'_>) {
    let Some(client) = need_client(ctx, step.index) else { return };
    if skip_inapplicable(ctx, step, &client) || !ctx.ensure_discovery().await {
        return;
    }
    let m = &step.mutations;
    let other_index = if step.index == 1 { 2 } else { 1 };
    let other = if m.has("swap_certificate") || m.has("use_client_2") {
        match need_client(ctx, other_index) {
            Some(c) => Some(c),
            None => return,
        }
    } else {
        None
    };
    // use_client_2: the other client's refresh token, with this client's credentials.
    let token_index = if m.has("use_client_2") { other_index } else { step.index };
    let Some(tokens) = ctx.state_ref(token_index).tokens.clone() else {
        return harness_problem(
            ctx,
            "refresh.harness",
            "find tokens",
            &format!("client {token_index} has no tokens yet: add its `token` step before `refresh`"),
        );
    };
    let Some(rt) = tokens.refresh_token.clone() else {
        let advertised = ctx
            .discovery
            .as_ref()
            .and_then(|d| d.get("grant_types_supported"))
            .and_then(|g| g.as_array())
            .is_some_and(|g| g.iter().any(|x| x.as_str() == Some("refresh_token")));
        if advertised {
            ctx.push(
                Check::new("refresh.issued", "a refresh token is issued when the refresh_token grant is advertised")
                    .req(&["FAPI2-SP-AS-10"])
                    .warning()
                    .expected("a refresh_token in the token response")
                    .observed("none issued although grant_types_supported lists refresh_token")
                    .evidence(&[tokens.evidence])
                    .pass(false),
            );
        }
        ctx.skip("the server issued no refresh token");
        return;
    };
    let Some(url) = need_endpoint(ctx, &client, "token_endpoint", "FAPI2-SP-AS-01") else { return };
    if ctx.dpop()
        && step.param_bool("same_key") != Some(true)
        && let Err(e) = ctx.new_dpop_key(step.index)
    {
        return harness_problem(ctx, "refresh.harness", "generate a DPoP key", &e);
    }
    let (resp, tls_ok, jkt, x5t) = match send_refresh(ctx, step.index, &client, other.as_ref(), &url, &rt, m).await {
        Ok(r) => r,
        Err(e) if m.has("assertion_rs256") => return ctx.skip(e),
        Err(e) => return harness_problem(ctx, "refresh.harness", "build the refresh request", &e),
    };
    let accepted = resp.status == Some(200);
    let expect = step.expect();
    if accepted && ctx.openid() {
        ctx.ensure_jwks().await;
    }
    if !(expect == Expect::Success || (expect == Expect::Either && accepted)) {
        let (reqs, defaults) = refusal_rules(ctx, step);
        let defaults = if defaults.is_empty() { vec!["invalid_grant", "invalid_client", "invalid_request"] } else { defaults };
        let errors_ok = step.errors(&defaults);
        let (reqs, hint, what) = if m.has("use_client_2") {
            // RFC 6749 §6: the server ensures the refresh token was issued to the authenticated client.
            (
                vec!["RFC6749-6"],
                "a refresh token is bound to the client it was issued to",
                "client 2's refresh token presented by client 1".to_owned(),
            )
        } else if m.is_empty()
            && let Some(standing) = ctx.standing(step.index)
        {
            let what = match standing {
                Standing::Deleted => "a refresh token of a deleted client".to_owned(),
                Standing::FdxInactive(status) => format!("a refresh token of a client in FDX status {status}"),
            };
            (reqs, "the server must stop serving a client it deleted or deactivated, including its refresh tokens", what)
        } else if tokens.revoked == Some("refresh") && m.is_empty() {
            (vec!["REV-06"], "a revoked refresh token must be unusable at once", "the revoked refresh token".to_owned())
        } else if reqs.is_empty() {
            (vec!["OA-02", "FAPI2-SP-AS-10"], "the refresh token must be unusable here", format!("the refresh request ({})", m.label()))
        } else {
            (reqs, "the refresh token must be unusable here", format!("the refresh request ({})", m.label()))
        };
        let conds = errors::back_channel(
            &Rejection {
                id: "refresh",
                what: &what,
                errors: &errors_ok,
                requirements: &reqs,
                tls_refusal_ok: tls_ok,
                severity: rejection_severity(m),
                hint,
            },
            &resp,
        );
        ctx.extend(conds);
        return;
    }
    let binding = Binding { sender: ctx.variant.sender, jkt: jkt.as_deref(), x5t: x5t.as_deref() };
    judge_success(ctx, "refresh", step.index, &client.client_id, None, &resp, &binding, tokens.id_token_claims.as_ref());
    let new_rt = resp.json().and_then(|b| b.get("refresh_token").and_then(|v| v.as_str()).map(str::to_owned));
    let rotated = new_rt.as_deref().is_some_and(|n| n != rt);
    ctx.push(
        Check::new("refresh.rotation", "the refresh token is not rotated")
            .req(&["FAPI2-SP-AS-10"])
            .info()
            .expected("the same refresh token, or none in the response")
            .observed(if rotated { "rotated: the previous token is tried again after the grace wait" } else { "not rotated" })
            .evidence(&[resp.index])
            .pass(true),
    );
    if !rotated || ctx.aborted {
        return;
    }
    ctx.state(step.index).previous_refresh_token = Some(rt.clone());
    let wait = step.param_u64("grace_wait").unwrap_or(30);
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let plain = Mutations::default();
    match send_refresh(ctx, step.index, &client, None, &url, &rt, &plain).await {
        Ok((again, ..)) => ctx.push(
            Check::new("refresh.previous_refresh_token_still_works", "after rotation, the previous refresh token still works for a while")
                .req(&["FAPI2-SP-AS-10"])
                .expected(format!("HTTP 200 with the previous refresh token {wait} s after the rotation"))
                .observed(again.describe())
                .hint("FAPI 2.0 allows rotation only with a grace period in which the old token keeps working (lost responses)")
                .evidence(&[again.index])
                .pass(again.status == Some(200)),
        ),
        Err(e) => harness_problem(ctx, "refresh.harness", "build the second refresh request", &e),
    }
}
