//! `http_method`: call an endpoint with a method it must not accept (PAR-02: PAR is POST only).
//! Params: `method` (default "PUT"), `endpoint` (a metadata name, default
//! "pushed_authorization_request_endpoint"). Any 4xx or 5xx passes.

use super::{StepRun, need_client, need_endpoint};
use crate::conditions::Check;
use crate::context::ModuleContext;
use crate::http::Request;

pub async fn run(ctx: &mut ModuleContext, step: &StepRun<'_>) {
    let Some(client) = need_client(ctx, step.index) else { return };
    if !ctx.ensure_discovery().await {
        return;
    }
    let name = step.param_str("endpoint").unwrap_or("pushed_authorization_request_endpoint").to_owned();
    let method = step.param_str("method").unwrap_or("PUT").to_ascii_uppercase();
    let Some(url) = need_endpoint(ctx, &client, &name, "PAR-02") else { return };
    let via = ctx.via_for(&client);
    let form = vec![("client_id".to_owned(), client.client_id.clone())];
    let req = Request { method: method.clone(), url, headers: Vec::new(), form: Some(form), json: None };
    let resp = ctx.http.send(via, req).await;
    let status = resp.status_or_zero();
    ctx.push(
        Check::new("http_method.refused", format!("{name} refuses {method}"))
            .req(&["PAR-02"])
            .expected("any 4xx or 5xx (405 is the usual answer)")
            .observed(resp.describe())
            .evidence(&[resp.index])
            .pass(resp.error.is_some() || status >= 400),
    );
}
