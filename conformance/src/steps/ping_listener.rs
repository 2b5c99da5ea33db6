//! `ping_listener`: starts the module's CIBA ping notification endpoint (CIBA-08; see
//! [`crate::ping`]) with the certificate and key of the target's `[ciba]` section. A later
//! `register` with `ciba_delivery_mode = "ping"` registers its URL.
//!
//! Params: `answer` = `no_content` (default, 204) | `unauthorized` (401) | `redirect` (302 to
//! another path of the listener): how the endpoint answers notifications.

use super::{StepRun, harness_problem};
use crate::context::ModuleContext;
use crate::ping::{Answer, Listener};

pub async fn run(ctx: &mut ModuleContext, step: &StepRun<'_>) {
    let name = step.param_str("answer").unwrap_or("no_content");
    let Some(answer) = Answer::parse(name) else {
        return harness_problem(
            ctx,
            "ping.harness",
            "tell how the notification endpoint answers",
            &format!("answer = {name:?}: expected no_content, unauthorized or redirect"),
        );
    };
    let ciba = ctx.target.ciba.clone().unwrap_or_default();
    let (Some(cert), Some(key)) = (ciba.notification_cert_pem, ciba.notification_key_pem) else {
        return ctx.skip(
            "the target's [ciba] section names no notification_endpoint_cert_file and notification_endpoint_key_file \
             for the harness's ping notification endpoint",
        );
    };
    match Listener::start(&cert, &key, answer).await {
        Ok(l) => ctx.ping = Some(l),
        Err(e) => harness_problem(ctx, "ping.harness", "start the ping notification endpoint", &e),
    }
}
