//! `client_credentials`: a token request with the client credentials grant (RFC 6749 §4.4),
//! with the variant's client authentication and sender constraint. It judges the answer
//! only: the token is not kept, so the flow's tokens stay the module's. Used to show that a
//! registered client the server must no longer serve gets no token by any grant (DCM-05,
//! FDX-ST-02).
//!
//! Params: `scope` (default: the target's plain scope).

use super::token::{back_channel_via, proof_key};
use super::{StepRun, cert_der, client_auth_params, dpop_form_post, harness_problem, need_client, need_endpoint, refusal_rules, send_with_nonce_retry};
use crate::conditions::errors::{self, Rejection};
use crate::conditions::token::{self, Binding};
use crate::context::ModuleContext;
use crate::http::Via;
use crate::model::Severity;
use crate::scenario::Expect;

pub async fn run(ctx: &mut ModuleContext, step: &StepRun<'_>) {
    let Some(client) = need_client(ctx, step.index) else { return };
    if !ctx.ensure_discovery().await {
        return;
    }
    let Some(url) = need_endpoint(ctx, &client, "token_endpoint", "FAPI2-SP-AS-01") else { return };
    let m = &step.mutations;
    let scope = step.param_str("scope").map_or_else(|| ctx.target.scope_plain.clone(), str::to_owned);
    let mut form = vec![("grant_type".to_owned(), "client_credentials".to_owned()), ("scope".to_owned(), scope)];
    match client_auth_params(ctx, &client, m) {
        Ok(a) => form.extend(a),
        Err(e) => return harness_problem(ctx, "client_credentials.harness", "build the client authentication", &e),
    }
    let key = match proof_key(ctx, step.index, m) {
        Ok(k) => k,
        Err(e) => return harness_problem(ctx, "client_credentials.harness", "generate a DPoP key", &e),
    };
    let (via, _) = back_channel_via(ctx, &client, None, m);
    let x5t = match via {
        Via::Identity { cert_pem, .. } => cert_der(cert_pem).map(|d| fapilab_jose::sha256_b64url(&d)),
        _ => None,
    };
    let url2 = url.clone();
    let resp = send_with_nonce_retry(ctx, via, step.index, false, |nonce| dpop_form_post(&url2, &form, None, key.as_deref(), m, &url2, nonce)).await;
    let resp = match resp {
        Ok(r) => r,
        Err(e) => return harness_problem(ctx, "client_credentials.harness", "build the token request", &e),
    };
    let accepted = resp.status == Some(200);
    if step.expect() == Expect::Success || (step.expect() == Expect::Either && accepted) {
        let jkt = key.as_ref().map(|k| k.thumbprint());
        let binding = Binding { sender: ctx.variant.sender, jkt: jkt.as_deref(), x5t: x5t.as_deref() };
        let (conds, _) = token::success("client_credentials", &resp, &binding);
        ctx.extend(conds);
        return;
    }
    let (reqs, defaults) = refusal_rules(ctx, step);
    let errors_ok = step.errors(&defaults);
    let reqs = if reqs.is_empty() { vec!["OA-02"] } else { reqs };
    ctx.extend(errors::back_channel(
        &Rejection {
            id: "client_credentials",
            what: "the client credentials request",
            errors: &errors_ok,
            requirements: &reqs,
            tls_refusal_ok: false,
            severity: Severity::Failure,
            hint: "the server issued a token to a client it must no longer serve",
        },
        &resp,
    ));
}
