//! `device_decide`: the user decides on the simulated authentication device, through the
//! target's device API (`[ciba] device_requests_url`, `device_api_token`): the step lists the
//! pending requests, finds the one of the client's last authentication request by its
//! `binding_message` (what the user is shown, FCIBA-03) and posts the decision. The device API
//! is the target's test hook, not a CIBA interface: a missing one skips the module.
//!
//! Params: `decision` = `approve` (default) | `deny`.

use serde_json::{Value, json};

use super::{StepRun, harness_problem};
use crate::conditions::Check;
use crate::context::ModuleContext;
use crate::http::{Request, Via};

pub async fn run(ctx: &mut ModuleContext, step: &StepRun<'_>) {
    let decision = step.param_str("decision").unwrap_or("approve");
    if decision != "approve" && decision != "deny" {
        return harness_problem(ctx, "device.harness", "tell the decision", &format!("decision = {decision:?}: expected approve or deny"));
    }
    let ciba = ctx.target.ciba.clone().unwrap_or_default();
    let (Some(url), Some(token)) = (ciba.device_requests_url, ciba.device_api_token) else {
        return ctx.skip("the target's [ciba] section names no device_requests_url and device_api_token to decide requests with");
    };
    let Some(binding_message) = ctx.state_ref(step.index).backchannel.as_ref().and_then(|b| b.binding_message.clone()) else {
        return harness_problem(
            ctx,
            "device.harness",
            "find the request to decide",
            "the scenario has no acknowledged `backchannel_authorize` step with a binding_message for this client before `device_decide`",
        );
    };
    let list = ctx.http.send(Via::Plain, Request::get(url.clone()).header("Authorization", format!("Bearer {token}"))).await;
    let device_id = list.json().filter(|_| list.status == Some(200)).and_then(|body| {
        body.get("requests")?
            .as_array()?
            .iter()
            .find(|r| r.get("binding_message").and_then(Value::as_str) == Some(binding_message.as_str()))
            .and_then(|r| r.get("device_id").and_then(Value::as_str).map(str::to_owned))
    });
    ctx.push(
        Check::new("device.request_pending", "the authentication device shows the request with its binding message")
            .req(&["FCIBA-03"])
            .expected(format!("a pending request with binding_message {binding_message:?}"))
            .observed(match &device_id {
                Some(id) => format!("device request {id}"),
                None => list.describe(),
            })
            .hint("the device API of the target must list the request the client just made")
            .evidence(&[list.index])
            .pass(device_id.is_some()),
    );
    let Some(device_id) = device_id else {
        ctx.aborted = true;
        return;
    };
    let decide_url = format!("{}/{device_id}", url.trim_end_matches('/'));
    let resp = ctx
        .http
        .send(Via::Plain, Request::json("POST", decide_url, json!({"decision": decision})).header("Authorization", format!("Bearer {token}")))
        .await;
    ctx.push(
        Check::new("device.decided", format!("the authentication device records the decision {decision:?}"))
            .req(&["CIBA-06"])
            .expected("HTTP 200")
            .observed(resp.describe())
            .evidence(&[resp.index])
            .pass(resp.status == Some(200)),
    );
    if resp.status != Some(200) {
        ctx.aborted = true;
    }
}
