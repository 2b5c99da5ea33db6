//! `revoke`: RFC 7009 revocation of the refresh token (`token = "refresh"`, the default when
//! there is one) or the access token (`token = "access"`) (REV-01, REV-03). Without a
//! revocation endpoint the module cannot go on and is skipped. After a 200 the client's tokens
//! are marked revoked: a later `refresh` or `call_resource` expected to be refused then checks
//! REV-06 (the revoked refresh token) or REV-05 (its access token, a SHOULD).

use super::{StepRun, client_auth_params, harness_problem, need_client};
use crate::conditions::Check;
use crate::context::ModuleContext;
use crate::http::Request;
use crate::mutations::Mutations;

pub async fn run(ctx: &mut ModuleContext, step: &StepRun<'_>) {
    let Some(client) = need_client(ctx, step.index) else { return };
    if !ctx.ensure_discovery().await {
        return;
    }
    let Some(url) = ctx.endpoint(&client, "revocation_endpoint") else {
        ctx.skip("the server advertises no revocation_endpoint");
        return;
    };
    let Some(tokens) = ctx.state_ref(step.index).tokens.clone() else {
        return harness_problem(ctx, "revoke.harness", "find tokens", "add a `token` step before `revoke`");
    };
    let which = step.param_str("token").unwrap_or(if tokens.refresh_token.is_some() { "refresh" } else { "access" });
    let token = if which == "refresh" { tokens.refresh_token.clone() } else { Some(tokens.access_token.clone()) };
    let Some(token) = token else {
        ctx.skip("no refresh token to revoke");
        return;
    };
    let mut form = vec![("token".to_owned(), token), ("token_type_hint".to_owned(), format!("{which}_token"))];
    match client_auth_params(ctx, &client, &Mutations::default()) {
        Ok(a) => form.extend(a),
        Err(e) => return harness_problem(ctx, "revoke.harness", "build the client authentication", &e),
    }
    let via = ctx.via_for(&client);
    let resp = ctx.http.send(via, Request::post_form(url, form)).await;
    if resp.status == Some(200)
        && let Some(t) = ctx.state(step.index).tokens.as_mut()
    {
        t.revoked = Some(if which == "refresh" { "refresh" } else { "access" });
    }
    ctx.push(
        Check::new("revoke.status", format!("revoking the {which} token answers 200"))
            .req(&["REV-01", "REV-03"])
            .expected("HTTP 200")
            .observed(resp.describe())
            .evidence(&[resp.index])
            .pass(resp.status == Some(200)),
    );
}
