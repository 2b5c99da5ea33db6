//! `reuse_code`: redeem the already redeemed code again (FAPI2-SP-AZ-09) after `after`
//! seconds (default 1, like the suite): it must be refused with `invalid_grant`. Then the
//! access token from the first redemption should stop working (RFC 6749 §4.1.2: SHOULD
//! revoke), which is a warning when it still does.

use std::time::Duration;

use super::call_resource::simple_call;
use super::{Proof, StepRun, client_auth_params, harness_problem, need_client, need_endpoint, send_with_nonce_retry};
use crate::conditions::errors::{self, Rejection};
use crate::conditions::resource;
use crate::context::ModuleContext;
use crate::http::Request;
use crate::model::Severity;

pub async fn run(ctx: &mut ModuleContext, step: &StepRun<'_>) {
    let Some(client) = need_client(ctx, step.index) else { return };
    if !ctx.ensure_discovery().await {
        return;
    }
    let Some(url) = need_endpoint(ctx, &client, "token_endpoint", "FAPI2-SP-AS-01") else { return };
    let st = ctx.state_ref(step.index);
    let (Some(code), Some(flow)) = (st.redeemed_code.clone(), st.flow.clone()) else {
        return harness_problem(ctx, "reuse_code.harness", "find a redeemed code", "add `authorize` and `token` steps before `reuse_code`");
    };
    let first_tokens = st.tokens.clone();
    tokio::time::sleep(Duration::from_secs(step.param_u64("after").unwrap_or(1))).await;
    let mut form = vec![("grant_type".to_owned(), "authorization_code".to_owned()), ("code".to_owned(), code)];
    if let Some(r) = &flow.redirect_uri {
        form.push(("redirect_uri".into(), r.clone()));
    }
    if let Some(verifier) = &flow.code_verifier {
        form.push(("code_verifier".into(), verifier.clone()));
    }
    match client_auth_params(ctx, &client, &step.mutations) {
        Ok(a) => form.extend(a),
        Err(e) => return harness_problem(ctx, "reuse_code.harness", "build the client authentication", &e),
    }
    let key = ctx.dpop().then(|| ctx.state_ref(step.index).dpop_key.clone());
    let via = ctx.via_for(&client);
    let resp = send_with_nonce_retry(ctx, via, step.index, false, |nonce| {
        let mut req = Request::post_form(url.clone(), form.clone());
        if let Some(k) = &key {
            let mut p = Proof::new(k, "POST", &url);
            p.nonce = nonce;
            req = req.header("DPoP", p.build()?);
        }
        Ok(req)
    })
    .await;
    let resp = match resp {
        Ok(r) => r,
        Err(e) => return harness_problem(ctx, "reuse_code.harness", "build the token request", &e),
    };
    let errors_ok = step.errors(&["invalid_grant"]);
    let conds = errors::back_channel(
        &Rejection {
            id: "reuse_code",
            what: "a second redemption of the same code",
            errors: &errors_ok,
            requirements: &["FAPI2-SP-AZ-09", "FAPI2-SP-SC-04"],
            tls_refusal_ok: false,
            severity: Severity::Failure,
            hint: "codes are single use; the second redemption must fail with invalid_grant",
        },
        &resp,
    );
    ctx.extend(conds);
    let Some(tokens) = first_tokens else { return };
    match simple_call(ctx, step.index, &client, &tokens.access_token).await {
        Ok(r) => ctx.extend(resource::rejected(
            "reuse_code.first_token_revoked",
            "the access token issued for a code that was replayed",
            &["FAPI2-SP-AZ-09"],
            Severity::Warning,
            &r,
        )),
        Err(e) => harness_problem(ctx, "reuse_code.harness", "build the resource call", &e),
    }
}
