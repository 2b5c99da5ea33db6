//! `check_passkey_claims`: the ID token of the client's last token response, after a
//! `passkey_login`, says how the user signed in: `amr` with `user` and the key kind of the
//! passkey used — `hwk` when its registration's authenticator data had BE = 0 (device-bound),
//! `swk` only when BE = 1 (backup-eligible) — and no password, and an `acr` (INT-PK-01, PK-03).
//! OpenID Connect variants only.

use super::{StepRun, harness_problem};
use crate::conditions::{Check, passkeys};
use crate::context::ModuleContext;
use crate::passkey::authenticator::FLAG_BE;

pub async fn run(ctx: &mut ModuleContext, step: &StepRun<'_>) {
    if !ctx.openid() {
        ctx.skip("check_passkey_claims reads the ID token: openid=openid_connect variants only");
        return;
    }
    let Some(signed_in_with) = ctx.passkeys.signed_in_with.clone() else {
        return harness_problem(
            ctx,
            "check_passkey_claims.harness",
            "find the passkey sign-in",
            "put a successful `passkey_login` (and `token`) step first",
        );
    };
    let tokens = ctx.state_ref(step.index).tokens.clone();
    let evidence: Vec<usize> = tokens.as_ref().map(|t| vec![t.evidence]).unwrap_or_default();
    match tokens.and_then(|t| t.id_token_claims) {
        Some(claims) => ctx.extend(passkeys::sign_in_claims(&claims, signed_in_with.flags & FLAG_BE != 0, &evidence)),
        None => {
            ctx.push(
                Check::new("passkey_claims.id_token", "a verified ID token came with the tokens of the passkey sign-in")
                    .req(&["INT-PK-01", "OID-01"])
                    .expected("a successful `token` step with an ID token before this step")
                    .observed("no ID token")
                    .evidence(&evidence)
                    .pass(false),
            );
            ctx.aborted = true;
        }
    }
}
