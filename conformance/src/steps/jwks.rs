//! `jwks`: fetch the server's `jwks_uri` and judge the keys (suite research §3.8).

use super::StepRun;
use crate::conditions::{Check, keys};
use crate::context::ModuleContext;
use crate::http::{Request, Via};

pub async fn run(ctx: &mut ModuleContext, _step: &StepRun<'_>) {
    if !ctx.ensure_discovery().await {
        return;
    }
    let Some(url) = ctx.meta("jwks_uri") else {
        let required = ctx.openid();
        ctx.push(
            Check::new("jwks.uri", "the metadata names jwks_uri")
                .req(&["FAPI2-SP-CR-07", "MD-03"])
                .severity(if required { crate::model::Severity::Failure } else { crate::model::Severity::Info })
                .expected("jwks_uri (required with OpenID Connect)")
                .observed("absent: keys not checked")
                .pass(!required),
        );
        return;
    };
    let resp = ctx.http.send(Via::Plain, Request::get(url)).await;
    let ev = [resp.index];
    ctx.push(
        Check::new("jwks.status", "jwks_uri is served with 200 JSON")
            .req(&["FAPI2-SP-CR-07"])
            .expected("HTTP 200, JSON")
            .observed(format!("{}, Content-Type {}", resp.describe(), resp.header("content-type").unwrap_or("(none)")))
            .evidence(&ev)
            .pass(resp.status == Some(200) && resp.json().is_some()),
    );
    let Some(doc) = resp.json() else { return };
    let (conds, set) = keys::check(&serde_json::Value::Object(doc), &ev);
    ctx.extend(conds);
    ctx.server_jwks = set;
}
