//! `discover`: fetch the discovery document and judge it (suite research §3.1), with the
//! Message Signing metadata in plans that sign requests or ask for JARM; under FAPI 1.0
//! Advanced the FAPI 1.0 set instead ([`discovery::fapi1_advanced`]).

use super::StepRun;
use crate::conditions::{Check, discovery};
use crate::context::ModuleContext;
use crate::http::{Request, Via};

pub async fn run(ctx: &mut ModuleContext, _step: &StepRun<'_>) {
    let url = ctx.target.discovery_url.clone();
    let resp = ctx.http.send(Via::Plain, Request::get(url.clone())).await;
    let ev = [resp.index];
    ctx.push(
        Check::new("discovery.status", "the discovery document is served with 200")
            .req(&["FAPI2-SP-AS-01", "MD-01"])
            .expected("HTTP 200")
            .observed(resp.describe())
            .evidence(&ev)
            .pass(resp.status == Some(200)),
    );
    ctx.push(
        Check::new("discovery.json", "the discovery document is JSON")
            .req(&["FAPI2-SP-AS-01"])
            .expected("Content-Type application/json with a JSON object")
            .observed(resp.header("content-type").unwrap_or("(none)").to_owned())
            .evidence(&ev)
            .pass(resp.is_json_type() && resp.json().is_some()),
    );
    let Some(doc) = resp.json().filter(|_| resp.status == Some(200)) else {
        ctx.aborted = true;
        return;
    };
    if ctx.fapi1() {
        let conds = discovery::fapi1_advanced(&doc, &ctx.target.issuer, &url, &ctx.variant, &ctx.messages, &ev);
        ctx.extend(conds);
        ctx.discovery = Some(doc);
        return;
    }
    let conds = discovery::check(&doc, &ctx.target.issuer, &url, &ctx.variant, &ev);
    ctx.extend(conds);
    if ctx.signed_requests() || ctx.jarm() {
        let conds = discovery::message_signing(&doc, &ctx.messages, &ctx.variant, &ev);
        ctx.extend(conds);
    }
    ctx.discovery = Some(doc);
}
