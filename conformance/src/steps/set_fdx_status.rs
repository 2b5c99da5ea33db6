//! `set_fdx_status`: `PUT` the FDX status endpoint of client `client` with
//! `{"update_client_status": status}` and the admin client's `update_client_status` token,
//! presented as it is bound (FDX-UPD-01, FDX-UPD-02). 200 with the new status and the
//! activity it implies (FDX-ST-01); from then on the module expects the client to be served
//! or refused accordingly (FDX-ST-02). Any transition is allowed (FDX-UPD-03).
//!
//! Params: `status` (default "Approved"). Mutations: the credential (none, without the scope,
//! the client's own registration token) and the body (unknown client, unknown, lower-case or
//! missing value, the `new_status` alias).

use serde_json::json;

use super::{StepRun, harness_problem};
use crate::conditions::registration::{self as judge, BearerRefusal};
use crate::context::ModuleContext;
use crate::model::Severity;
use crate::mutations::Mutations;
use crate::registration::{
    DCR_MANAGE, UPDATE_CLIENT_STATUS, admin_token, need_admin, need_registered, need_registration, send_with_admin_token,
    send_with_bearer,
};
use crate::scenario::Expect;

/// Requirement ids, statuses and accepted errors of what a mutation breaks.
fn rules(m: &Mutations) -> (&'static [&'static str], &'static [u16], &'static [&'static str]) {
    if m.has("no_token") {
        (&["FDX-UPD-02"], &[401], &["invalid_token"])
    } else if m.has("token_without_status_scope") {
        (&["FDX-UPD-02"], &[403], &["insufficient_scope"])
    } else if m.has("registration_token") {
        (&["FDX-UPD-02"], &[401, 403], &["invalid_token", "insufficient_scope"])
    } else if m.has("unknown_client") {
        (&["FDX-UPD-04"], &[404], &[])
    } else if m.has("unknown_status") || m.has("lowercase_status") {
        // FDX-UPD-04 lists 422 next to 400 for a semantically wrong body.
        (&["FDX-UPD-04", "FDX-ST-06"], &[400, 422], &["invalid_request"])
    } else if m.has("missing_status") {
        (&["FDX-UPD-04"], &[400, 422], &["invalid_request"])
    } else {
        (&["FDX-UPD-02", "FDX-UPD-04"], &[400, 401, 403, 404, 422], &[])
    }
}

pub async fn run(ctx: &mut ModuleContext, step: &StepRun<'_>) {
    let Some(reg) = need_registration(ctx) else { return };
    let Some(fdx) = reg.fdx.clone() else {
        return ctx.skip("the target has no FDX client status endpoint ([registration.fdx])");
    };
    let Some(registered) = need_registered(ctx, step.index, "fdx_status.harness") else { return };
    let m = &step.mutations;
    let status = if m.has("unknown_status") {
        "Suspended".to_owned()
    } else if m.has("lowercase_status") {
        step.param_str("status").unwrap_or("Approved").to_ascii_lowercase()
    } else {
        step.param_str("status").unwrap_or("Approved").to_owned()
    };
    let client_id = if m.has("unknown_client") { format!("unknown-{}", fapilab_jose::random_token(12)) } else { registered.client.client_id.clone() };
    let body = if m.has("missing_status") {
        json!({})
    } else if m.has("new_status_key") {
        json!({"new_status": status})
    } else {
        json!({"update_client_status": status})
    };
    let url = fdx.url_for(&client_id);
    let resp = if m.has("no_token") {
        send_with_bearer(ctx, &registered.client, "PUT", &url, None, Some(body)).await
    } else if m.has("registration_token") {
        let rat = registered.registration_access_token.clone();
        send_with_bearer(ctx, &registered.client, "PUT", &url, rat.as_deref(), Some(body)).await
    } else {
        let scope = if m.has("token_without_status_scope") { DCR_MANAGE } else { UPDATE_CLIENT_STATUS };
        let Some(admin) = need_admin(ctx, &reg, scope) else { return };
        let Some(token) = admin_token(ctx, &admin, scope).await else { return };
        match send_with_admin_token(ctx, &admin, &token, "PUT", &url, Some(body)).await {
            Ok(r) => r,
            Err(e) => return harness_problem(ctx, "fdx_status.harness", "build the status request", &e),
        }
    };
    let ok = resp.status == Some(200);
    if step.expect() == Expect::Success || (step.expect() == Expect::Either && ok) {
        ctx.extend(judge::fdx_status_set(&resp, &client_id, &status));
        if ok && let Some(r) = ctx.state(step.index).registered.as_mut() {
            r.fdx_status = Some(status);
        }
        if !ok {
            ctx.aborted = true;
        }
        return;
    }
    let (reqs, statuses, defaults) = rules(m);
    let errors = step.errors(defaults);
    ctx.extend(judge::bearer_refused(
        &BearerRefusal {
            id: "fdx_status",
            what: &format!("this status change ({})", m.label()),
            statuses,
            errors: &errors,
            requirements: reqs,
            severity: Severity::Failure,
        },
        &resp,
    ));
}
