//! `check_headers`: the authorization endpoint protects against TLS stripping with HSTS
//! (FAPI2-SP-NET-09) and does not support CORS (FAPI2-SP-NET-11): no
//! `Access-Control-Allow-Origin` on a GET or a preflight OPTIONS carrying an `Origin`.

use super::StepRun;
use crate::conditions::Check;
use crate::context::ModuleContext;
use crate::http::{Request, Via};

const ORIGIN: &str = "https://evil.fapilab.invalid";

fn max_age(hsts: &str) -> Option<u64> {
    hsts.split(';').find_map(|p| p.trim().strip_prefix("max-age=").and_then(|v| v.trim_matches('"').parse().ok()))
}

pub async fn run(ctx: &mut ModuleContext, _step: &StepRun<'_>) {
    if !ctx.ensure_discovery().await {
        return;
    }
    let Some(url) = ctx.meta("authorization_endpoint") else { return };
    let get = ctx.http.send(Via::Plain, Request::get(url.clone()).header("Origin", ORIGIN)).await;
    let hsts = get.header("strict-transport-security").map(str::to_owned);
    ctx.push(
        Check::new("headers.hsts", "the authorization endpoint sends HSTS")
            .req(&["FAPI2-SP-NET-09"])
            .expected("Strict-Transport-Security with max-age > 0 (a year or more recommended)")
            .observed(hsts.clone().unwrap_or_else(|| format!("(absent; {})", get.describe())))
            .hint("browser-facing endpoints must protect against TLS stripping")
            .evidence(&[get.index])
            .pass(hsts.as_deref().and_then(max_age).is_some_and(|a| a > 0)),
    );
    let acao_get = get.header("access-control-allow-origin").map(str::to_owned);
    let options = Request {
        method: "OPTIONS".into(),
        url,
        headers: vec![("Origin".into(), ORIGIN.into()), ("Access-Control-Request-Method".into(), "GET".into())],
        form: None,
        json: None,
    };
    let pre = ctx.http.send(Via::Plain, options).await;
    let acao_pre = pre.header("access-control-allow-origin").map(str::to_owned);
    ctx.push(
        Check::new("headers.no_cors", "the authorization endpoint does not support CORS")
            .req(&["FAPI2-SP-NET-11"])
            .expected("no Access-Control-Allow-Origin on GET or OPTIONS with an Origin")
            .observed(format!("GET: {}; OPTIONS: {}", acao_get.as_deref().unwrap_or("none"), acao_pre.as_deref().unwrap_or("none")))
            .hint("a CORS-enabled authorization endpoint lets scripts on other origins read authorization responses")
            .evidence(&[get.index, pre.index])
            .pass(acao_get.is_none() && acao_pre.is_none()),
    );
}
