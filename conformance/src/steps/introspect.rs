//! `introspect`: RFC 7662 introspection of the access token (or `token = "refresh"`), when
//! the server advertises an introspection endpoint (INT-01…INT-03). `expect = "success"`
//! means `active: true`; `expect = "rejected"` means `active: false` (a revoked token).
//!
//! Params: `caller = "resource_server"` introspects as the target's introspection client (a
//! resource server, MS-JIR-04) instead of the flow's client; `signed = true` asks for a signed
//! answer (`Accept: application/token-introspection+jwt`, MS-JIR-01, MS-JIR-02) and judges the
//! JWT, `signed = false` states that the plain JSON answer is expected without it (MS-JIR-03).

use super::{StepRun, client_auth_params, harness_problem, need_client};
use crate::conditions::Check;
use crate::conditions::introspection;
use crate::context::ModuleContext;
use crate::http::Request;
use crate::mutations::Mutations;
use crate::scenario::Expect;

pub async fn run(ctx: &mut ModuleContext, step: &StepRun<'_>) {
    let Some(client) = need_client(ctx, step.index) else { return };
    if !ctx.ensure_discovery().await {
        return;
    }
    let caller = match step.param_str("caller").unwrap_or("client") {
        "client" => client,
        "resource_server" => match ctx.target.introspection_client.clone() {
            Some(c) => c,
            None => {
                ctx.skip("the target names no resource-server client to introspect with ([introspection_client])");
                return;
            }
        },
        other => {
            return harness_problem(
                ctx,
                "introspect.harness",
                "run the scenario as written",
                &format!("caller = {other:?}; expected \"client\" or \"resource_server\""),
            );
        }
    };
    let signed = step.param_bool("signed");
    let Some(url) = ctx.endpoint(&caller, "introspection_endpoint") else {
        if signed == Some(true) {
            // MS-JIR-01: a server offering signed introspection offers introspection.
            ctx.push(
                Check::new("introspect.endpoint", "introspection is advertised")
                    .req(&["MS-JIR-01"])
                    .expected("introspection_endpoint in the discovery document")
                    .observed("absent")
                    .pass(false),
            );
            ctx.aborted = true;
            return;
        }
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
    match client_auth_params(ctx, &caller, &Mutations::default()) {
        Ok(a) => form.extend(a),
        Err(e) => return harness_problem(ctx, "introspect.harness", "build the client authentication", &e),
    }
    let via = ctx.via_for(&caller);
    let mut request = Request::post_form(url, form);
    if signed == Some(true) {
        request = request.header("Accept", introspection::MEDIA_TYPE);
    }
    let resp = ctx.http.send(via, request).await;
    let ev = [resp.index];
    let answer = if signed == Some(true) {
        ctx.ensure_jwks().await;
        let advertised_algs = ctx.discovery.as_ref().and_then(|d| d.get("introspection_signing_alg_values_supported")).and_then(|v| {
            v.as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
        });
        let want = introspection::Expected {
            issuer: &ctx.target.issuer,
            caller: &caller.client_id,
            jwks: ctx.server_jwks.as_ref(),
            advertised_algs,
        };
        let (conds, object) = introspection::signed(&resp, &want);
        ctx.extend(conds);
        object
    } else {
        ctx.push(
            Check::new("introspect.status", "introspection answers 200 JSON")
                .req(if signed == Some(false) { &["INT-02", "MS-JIR-03"] } else { &["INT-02"] })
                .expected("HTTP 200, application/json")
                .observed(format!("{}, Content-Type {}", resp.describe(), resp.header("content-type").unwrap_or("(none)")))
                .evidence(&ev)
                .pass(resp.status == Some(200) && resp.is_json_type()),
        );
        resp.json()
    };
    let active = answer.as_ref().and_then(|b| b.get("active").and_then(serde_json::Value::as_bool));
    let want = step.expect() != Expect::Rejected;
    ctx.push(
        Check::new("introspect.active", format!("the token is {}", if want { "active" } else { "inactive" }))
            .req(if want { &["INT-02"] } else { &["INT-03", "REV-06"] })
            .expected(format!("active: {want}"))
            .observed(active.map(|a| format!("active: {a}")).unwrap_or_else(|| "no boolean active".into()))
            .evidence(&ev)
            .pass(active == Some(want)),
    );
    if !want && active == Some(false) {
        let extra: Vec<String> = answer.iter().flat_map(|b| b.keys()).filter(|k| k.as_str() != "active").cloned().collect();
        ctx.push(
            Check::new("introspect.inactive_minimal", "an inactive token's answer says nothing but active: false")
                .req(if signed == Some(true) { &["INT-03", "MS-JIR-02"] } else { &["INT-03"] })
                .warning()
                .expected("{\"active\": false} and no other member")
                .observed(if extra.is_empty() { "no other member".to_owned() } else { format!("also {}", extra.join(", ")) })
                .hint("RFC 7662 §2.2: details of an inactive token tell a third party about the server's state")
                .evidence(&ev)
                .pass(extra.is_empty()),
        );
    }
    if want && active == Some(true) {
        let cnf = answer.as_ref().and_then(|b| b.get("cnf").cloned());
        ctx.push(
            Check::new("introspect.cnf", "introspection shows the token's binding (cnf)")
                .req(&["FAPI2-SP-AS-04"])
                .warning()
                .expected("a cnf member (jkt or x5t#S256)")
                .observed(cnf.as_ref().map(ToString::to_string).unwrap_or_else(|| "(absent)".into()))
                .evidence(&ev)
                .pass(cnf.is_some()),
        );
    }
}
