//! `delete_registration`: `DELETE registration_client_uri` (RFC 7592 §2.3, DCM-05): 204 No
//! Content. From then on the server must refuse the client: the flow steps expecting a
//! refusal judge it against DCM-05 (`invalid_client`), and so does a later
//! `read_registration` with the old token. Mutations swap the credential (DCM-03).

use super::StepRun;
use crate::conditions::registration as judge;
use crate::context::ModuleContext;
use crate::registration::{judge_management_refusal, send_management};
use crate::scenario::Expect;

pub async fn run(ctx: &mut ModuleContext, step: &StepRun<'_>) {
    let Some(managed) = send_management(ctx, step.index, &step.mutations, "DELETE", None, "delete").await else { return };
    let ok = managed.resp.status.is_some_and(|s| (200..300).contains(&s));
    if step.expect() == Expect::Success || (step.expect() == Expect::Either && ok) {
        ctx.extend(judge::deleted(&managed.resp));
        if ok && let Some(r) = ctx.state(step.index).registered.as_mut() {
            r.deleted = true;
        }
        return;
    }
    judge_management_refusal(ctx, step, "delete", &managed);
}
