//! `introspect`: RFC 7662 introspection of the access token (or `token = "refresh"`), when
//! the server advertises an introspection endpoint (INT-01…INT-03). `expect = "success"`
//! means `active: true`; `expect = "rejected"` means `active: false` (a revoked token).

use super::{StepRun, client_auth_params, harness_problem, need_client};
use crate::conditions::Check;
use crate::context::ModuleContext;
use crate::http::Request;
use crate::mutations::Mutations;
use crate::scenario::Expect;

pub async fn run(ctx: &mut ModuleContext, step: &StepRun<'_>) {
    let Some(client) = need_client(ctx, step.index) else { return };
    if !ctx.ensure_discovery().await {
        return;
    }
    let Some(url) = ctx.endpoint(&client, "introspection_endpoint") else {
        ctx.push(
            Check::new("introspect.endpoint", "introspection is advertised")
                .info()
                .expected("introspection_endpoint (optional)")
                .observed("not advertised: introspection not checked")
                .pass(true),
        );
        return;
    };
    let Some(tokens) = ctx.state_ref(step.index).tokens.clone() else {
        return harness_problem(ctx, "introspect.harness", "find tokens", "add a `token` step before `introspect`");
    };
    let which = step.param_str("token").unwrap_or("access");
    let token = if which == "refresh" { tokens.refresh_token.clone() } else { Some(tokens.access_token.clone()) };
    let Some(token) = token else {
        ctx.skip("no refresh token to introspect");
        return;
    };
    let mut form = vec![("token".to_owned(), token), ("token_type_hint".to_owned(), format!("{which}_token"))];
    match client_auth_params(ctx, &client, &Mutations::default()) {
        Ok(a) => form.extend(a),
        Err(e) => return harness_problem(ctx, "introspect.harness", "build the client authentication", &e),
    }
    let via = ctx.via_for(&client);
    let resp = ctx.http.send(via, Request::post_form(url, form)).await;
    let ev = [resp.index];
    ctx.push(
        Check::new("introspect.status", "introspection answers 200 JSON")
            .req(&["INT-02"])
            .expected("HTTP 200, application/json")
            .observed(resp.describe())
            .evidence(&ev)
            .pass(resp.status == Some(200) && resp.is_json_type()),
    );
    let active = resp.json().and_then(|b| b.get("active").and_then(serde_json::Value::as_bool));
    let want = step.expect() != Expect::Rejected;
    ctx.push(
        Check::new("introspect.active", format!("the token is {}", if want { "active" } else { "inactive" }))
            .req(if want { &["INT-02"] } else { &["INT-03", "REV-06"] })
            .expected(format!("active: {want}"))
            .observed(active.map(|a| format!("active: {a}")).unwrap_or_else(|| "no boolean active".into()))
            .evidence(&ev)
            .pass(active == Some(want)),
    );
    if want && active == Some(true) {
        let cnf = resp.json().and_then(|b| b.get("cnf").cloned());
        ctx.push(
            Check::new("introspect.cnf", "introspection shows the token's binding (cnf)")
                .req(&["FAPI2-SP-AS-04"])
                .warning()
                .expected("a cnf member (jkt or x5t#S256)")
                .observed(cnf.map(|c| c.to_string()).unwrap_or_else(|| "(absent)".into()))
                .evidence(&ev)
                .pass(resp.json().is_some_and(|b| b.contains_key("cnf"))),
        );
    }
}
