//! `read_registration`: `GET registration_client_uri` with the client's latest registration
//! access token (RFC 7592 §2.1, DCM-02): 200 with the metadata registered so far and, for
//! FDX, the status the module expects (FDX-UPD-01, FDX-DCR-04). A rotated token in the answer
//! replaces the old one (DCM-06). Mutations swap the credential (DCM-03), and
//! `other_workspace` asks another tenant about this client with the admin's `dcr_manage`
//! token. After `delete_registration`, `expect = "rejected"` checks the old token stopped
//! working (DCM-05).

use super::StepRun;
use crate::conditions::registration::{self as judge, Expected};
use crate::context::ModuleContext;
use crate::registration::{judge_management_refusal, remember_answer, send_management};
use crate::scenario::Expect;

pub async fn run(ctx: &mut ModuleContext, step: &StepRun<'_>) {
    let Some(managed) = send_management(ctx, step.index, &step.mutations, "GET", None, "read").await else { return };
    let ok = managed.resp.status == Some(200);
    if step.expect() == Expect::Success || (step.expect() == Expect::Either && ok) {
        let Some(r) = ctx.state_ref(step.index).registered.clone() else { return };
        let fdx_reqs: &[&str] = &["FDX-UPD-01", "FDX-DCR-04"];
        let (conds, body) = judge::client_information(
            &Expected {
                prefix: "read",
                what: "reading the registration",
                requirements: &["DCM-02"],
                client_id: &r.client.client_id,
                metadata: &r.metadata,
                fdx_status: r.fdx_status.as_deref().map(|s| (s, fdx_reqs)),
            },
            &managed.resp,
        );
        ctx.extend(conds);
        match body {
            Some(b) => remember_answer(ctx, step.index, &b, managed.with_admin),
            None => ctx.aborted = true,
        }
        return;
    }
    judge_management_refusal(ctx, step, "read", &managed);
}
