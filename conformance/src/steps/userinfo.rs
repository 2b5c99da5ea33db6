//! `userinfo` (openid variants): call the UserInfo endpoint with the bound access token and
//! check the answer names the ID token's subject (OIDC Core §5.3; FAPI2-SP-RS-01, RS-05).

use super::{Proof, StepRun, harness_problem, need_client, send_with_nonce_retry};
use crate::conditions::Check;
use crate::context::ModuleContext;
use crate::http::Request;
use crate::variant::Sender;

pub async fn run(ctx: &mut ModuleContext, step: &StepRun<'_>) {
    if !ctx.openid() {
        ctx.push(
            Check::new("userinfo.applies", "UserInfo is checked in openid variants only")
                .info()
                .observed("plain OAuth variant: not applicable")
                .pass(true),
        );
        return;
    }
    let Some(client) = need_client(ctx, step.index) else { return };
    if !ctx.ensure_discovery().await {
        return;
    }
    let Some(url) = ctx.endpoint(&client, "userinfo_endpoint") else {
        ctx.push(
            Check::new("userinfo.endpoint", "the server advertises a UserInfo endpoint")
                .req(&["OID-01"])
                .info()
                .expected("userinfo_endpoint in the metadata")
                .observed("absent: UserInfo not checked")
                .pass(true),
        );
        return;
    };
    let Some(tokens) = ctx.state_ref(step.index).tokens.clone() else {
        return harness_problem(ctx, "userinfo.harness", "find an access token", "add a `token` step before `userinfo`");
    };
    let dpop = ctx.variant.sender == Sender::Dpop;
    let key = ctx.state(step.index).dpop_key.clone();
    let via = if dpop { crate::http::Via::Plain } else { ctx.via_for(&client) };
    let at = tokens.access_token.clone();
    let url2 = url.clone();
    let resp = send_with_nonce_retry(ctx, via, step.index, false, |nonce| {
        let scheme = if dpop { "DPoP" } else { "Bearer" };
        let mut req = Request::get(url2.clone()).header("Authorization", format!("{scheme} {at}"));
        if dpop {
            let mut p = Proof::new(&key, "GET", &url2);
            p.access_token = Some(&at);
            p.nonce = nonce;
            req = req.header("DPoP", p.build()?);
        }
        Ok(req)
    })
    .await;
    let resp = match resp {
        Ok(r) => r,
        Err(e) => return harness_problem(ctx, "userinfo.harness", "build the UserInfo request", &e),
    };
    let ev = [resp.index];
    ctx.push(
        Check::new("userinfo.status", "UserInfo answers 200 for the bound token")
            .req(&["FAPI2-SP-RS-01", "FAPI2-SP-RS-05"])
            .expected("HTTP 200")
            .observed(resp.describe())
            .evidence(&ev)
            .pass(resp.status == Some(200)),
    );
    if resp.status != Some(200) {
        return;
    }
    let body = resp.json();
    let sub = body.as_ref().and_then(|b| b.get("sub")).and_then(|s| s.as_str()).map(str::to_owned);
    let id_sub = tokens.id_token_claims.as_ref().and_then(|c| c.get("sub")).and_then(|s| s.as_str()).map(str::to_owned);
    ctx.push(
        Check::new("userinfo.sub", "UserInfo's sub equals the ID token's sub")
            .req(&["OID-01"])
            .expected(id_sub.clone().unwrap_or_else(|| "the ID token's sub".into()))
            .observed(sub.clone().unwrap_or_else(|| "(absent or not JSON)".into()))
            .evidence(&ev)
            .pass(sub.is_some() && (id_sub.is_none() || sub == id_sub)),
    );
}
