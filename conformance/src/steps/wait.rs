//! `wait`: sleep. Params: `seconds = N`, or `until = "code_expiry"` (the target's code
//! lifetime + 2 s after the code arrived; FAPI2-SP-AS-12) or `until = "request_uri_expiry"`
//! (the PAR `expires_in` + 1 s after the push; FAPI2-SP-AZ-12).

use std::time::{Duration, Instant};

use super::{StepRun, harness_problem};
use crate::conditions::Check;
use crate::context::ModuleContext;

pub async fn run(ctx: &mut ModuleContext, step: &StepRun<'_>) {
    let deadline = match (step.param_u64("seconds"), step.param_str("until")) {
        (Some(s), None) => Instant::now() + Duration::from_secs(s),
        (None, Some("code_expiry")) => {
            let start = ctx.state_ref(step.index).code_received_at.unwrap_or_else(Instant::now);
            start + Duration::from_secs(ctx.target.code_lifetime + 2)
        }
        (None, Some("request_uri_expiry")) => {
            let Some(flow) = ctx.state_ref(step.index).flow.clone() else {
                return harness_problem(
                    ctx,
                    "wait.harness",
                    "find the pushed request",
                    "`until = \"request_uri_expiry\"` needs a `par` step first",
                );
            };
            let Some(expires_in) = flow.expires_in else {
                ctx.push(
                    Check::new("wait.request_uri_expiry", "the PAR response gave expires_in")
                        .req(&["FAPI2-SP-AZ-12"])
                        .observed("no expires_in: cannot wait for expiry")
                        .pass(false),
                );
                ctx.aborted = true;
                return;
            };
            flow.pushed_at + Duration::from_secs(expires_in + 1)
        }
        _ => {
            return harness_problem(
                ctx,
                "wait.harness",
                "tell how long to wait",
                "give `seconds = N` or `until = \"code_expiry\" | \"request_uri_expiry\"`",
            );
        }
    };
    tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)).await;
}
