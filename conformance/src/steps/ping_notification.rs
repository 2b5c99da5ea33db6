//! `ping_notification`: waits for the ping notification of the client's last authentication
//! request at the module's endpoint (OpenID CIBA Core §10.2; CIBA-08) and checks it: a `POST`
//! with `Authorization: Bearer <client_notification_token>` and the JSON body
//! `{"auth_req_id": …}`. With `watch`, it then keeps watching: the server must send exactly
//! one notification — a 401 or a redirect is a final answer, never retried — and must not
//! follow a redirect (FCIBA-12).
//!
//! Params: `seconds` = how long to wait for the notification (default 30); `watch` = seconds to
//! keep watching after it (default 0).

use std::time::{Duration, Instant};

use serde_json::Value;

use super::{StepRun, harness_problem};
use crate::conditions::Check;
use crate::context::ModuleContext;
use crate::ping::{Answer, NOTIFY_PATH, REDIRECT_PATH, Received};

/// How often the step looks at what the listener received.
const LOOK_EVERY: Duration = Duration::from_millis(100);

pub async fn run(ctx: &mut ModuleContext, step: &StepRun<'_>) {
    let Some(b) = ctx.state_ref(step.index).backchannel.clone() else {
        return harness_problem(
            ctx,
            "ping.harness",
            "find the authentication request",
            "the scenario has no acknowledged `backchannel_authorize` step for this client before `ping_notification`",
        );
    };
    let Some(token) = b.notification_token.clone() else {
        return harness_problem(
            ctx,
            "ping.harness",
            "find the client_notification_token",
            "the client is not registered for ping delivery (`register` with ciba_delivery_mode = \"ping\")",
        );
    };
    let Some(answer) = ctx.ping.as_ref().map(|p| p.answer) else {
        return harness_problem(ctx, "ping.harness", "find the notification endpoint", "no `ping_listener` step before");
    };
    let deadline = Instant::now() + Duration::from_secs(step.param_u64("seconds").unwrap_or(30));
    let notifications = |ctx: &ModuleContext| -> Vec<Received> {
        ctx.ping.as_ref().map(|p| p.received()).unwrap_or_default().into_iter().filter(|r| r.path == NOTIFY_PATH).collect()
    };
    let first = loop {
        if let Some(n) = notifications(ctx).into_iter().next() {
            break Some(n);
        }
        if Instant::now() >= deadline {
            break None;
        }
        tokio::time::sleep(LOOK_EVERY).await;
    };
    ctx.push(
        Check::new("ping.received", "the server notifies the client's endpoint when the user has decided")
            .req(&["CIBA-08"])
            .expected("a request to the registered backchannel_client_notification_endpoint")
            .observed(if first.is_some() { "received" } else { "none within the time allowed" })
            .pass(first.is_some()),
    );
    let Some(first) = first else {
        ctx.aborted = true;
        return;
    };
    let bearer = format!("Bearer {token}");
    ctx.push(
        Check::new("ping.method", "the notification is a POST")
            .req(&["CIBA-08"])
            .expected("POST")
            .observed(first.method.clone())
            .pass(first.method == "POST"),
    );
    ctx.push(
        Check::new("ping.bearer", "the notification carries the client_notification_token as a bearer token")
            .req(&["CIBA-08"])
            .expected("Authorization: Bearer <the client_notification_token of the request>")
            .observed(match &first.authorization {
                None => "no Authorization header".to_owned(),
                Some(a) if *a == bearer => "the request's token".to_owned(),
                Some(_) => "another value".to_owned(),
            })
            .hint("the token authenticates the server to the client: it must be the one the client sent with the request")
            .pass(first.authorization.as_deref() == Some(bearer.as_str())),
    );
    let id = serde_json::from_str::<Value>(&first.body).ok().and_then(|v| v.get("auth_req_id").and_then(Value::as_str).map(str::to_owned));
    ctx.push(
        Check::new("ping.body", "the notification body is JSON with the auth_req_id")
            .req(&["CIBA-08"])
            .expected("{\"auth_req_id\": <the acknowledged auth_req_id>}")
            .observed(match &id {
                Some(i) if *i == b.auth_req_id => "the acknowledged auth_req_id".to_owned(),
                Some(_) => "another auth_req_id".to_owned(),
                None => format!("no auth_req_id in {} bytes", first.body.len()),
            })
            .pass(id.as_deref() == Some(b.auth_req_id.as_str())),
    );
    let watch = step.param_u64("watch").unwrap_or(0);
    if watch == 0 {
        return;
    }
    tokio::time::sleep(Duration::from_secs(watch)).await;
    let all = ctx.ping.as_ref().map(|p| p.received()).unwrap_or_default();
    let count = all.iter().filter(|r| r.path == NOTIFY_PATH).count();
    let what = match answer {
        Answer::NoContent => "204",
        Answer::Unauthorized => "401, a final answer",
        Answer::Redirect => "a 302 redirect, a final answer",
    };
    ctx.push(
        Check::new("ping.single", format!("the server notifies once and does not retry after {what}"))
            .req(&["CIBA-08", "FCIBA-12"])
            .expected(format!("exactly one notification in the {watch} s after the first"))
            .observed(format!("{count} notification(s)"))
            .hint("only a 5xx or a network error may be retried; 2xx, 3xx and 4xx answers are final")
            .pass(count == 1),
    );
    if answer == Answer::Redirect {
        let followed = all.iter().filter(|r| r.path == REDIRECT_PATH).count();
        ctx.push(
            Check::new("ping.redirect_not_followed", "the server does not follow a redirect from the notification endpoint")
                .req(&["CIBA-08", "FCIBA-12"])
                .expected("no request to the redirect's Location")
                .observed(format!("{followed} request(s) to it"))
                .hint("an HTTP client that follows redirects sends the bearer token wherever the endpoint points")
                .pass(followed == 0),
        );
    }
}
