//! `passkey_remove`: on the account page, the remove form of the passkey a valid registration
//! of the module added last (the one `passkey_login` signs in with); then the page no longer
//! lists it (PK-04). The software passkey keeps the credential, as a real one would: a later
//! `passkey_login` signs in with it and must be refused (AUTH-03).

use super::passkey_account::prerequisites;
use super::{StepRun, harness_problem};
use crate::conditions::Check;
use crate::context::ModuleContext;
use crate::http::Request;
use crate::passkey::browser::{listed_passkeys, remove_form};

pub async fn run(ctx: &mut ModuleContext, _step: &StepRun<'_>) {
    let Some((passkeys, _)) = prerequisites(ctx) else { return };
    let Some(account) = ctx.passkeys.account.clone() else {
        return harness_problem(ctx, "passkey_remove.harness", "find the account page", "put a `passkey_account` step first");
    };
    let Some(index) = ctx.passkeys.current_index().filter(|i| !ctx.passkeys.registered[*i].removed) else {
        return harness_problem(
            ctx,
            "passkey_remove.harness",
            "find a passkey to remove",
            "put a successful `passkey_register` step (and no `passkey_remove` since) first",
        );
    };
    let target = ctx.passkeys.registered[index].clone();
    let mut browser = account.browser.clone();
    let page = browser.open(&mut ctx.http, &account.page_url).await;
    let Some((action, fields)) = remove_form(&page.response.body, &page.url, &target.listed_id) else {
        ctx.push(
            Check::new("passkey_remove.form", "the account page offers to remove each passkey")
                .req(&["PK-04"])
                .expected(format!("a form with passkey_id = {:?}", target.listed_id))
                .observed(page.describe())
                .evidence(&page.evidence)
                .pass(false),
        );
        ctx.aborted = true;
        return;
    };
    let (resp, _) = browser.send(&mut ctx.http, Request::post_form(action, fields)).await;
    let back = resp.header("location").map(|l| crate::login::resolve(&account.page_url, l));
    ctx.push(
        Check::new("passkey_remove.status", "the removal is accepted and the browser sent back to the account page")
            .req(&["PK-04"])
            .expected(format!("HTTP 303 to {}", passkeys.account_url))
            .observed(match &back {
                Some(l) => format!("HTTP {} to {}", resp.status_or_zero(), crate::http::redact_url(l)),
                None => resp.describe(),
            })
            .evidence(&[resp.index])
            .pass(
                resp.status == Some(303)
                    && back.as_deref().map(|l| l.split(['?', '#']).next().unwrap_or(l)) == Some(passkeys.account_url.as_str()),
            ),
    );
    let after = browser.open(&mut ctx.http, &account.page_url).await;
    let still = listed_passkeys(&after.response.body).iter().any(|p| p.id == target.listed_id);
    ctx.push(
        Check::new("passkey_remove.gone", "the account page no longer lists the removed passkey")
            .req(&["PK-04"])
            .expected(format!("no data-passkey-id {:?}", target.listed_id))
            .observed(format!("{}{}", after.describe(), if still { ", still listed" } else { ", not listed" }))
            .evidence(&after.evidence)
            .pass(after.is_page() && !still),
    );
    ctx.passkeys.registered[index].removed = true;
    if let Some(a) = ctx.passkeys.account.as_mut() {
        a.browser = browser;
    }
}

/// After the module's steps: removes every passkey the module saw listed after one of its
/// registrations (the wrongly accepted ones too) and did not remove, so the target user's
/// account does not fill up — modules run concurrently for one user, and
/// a server may limit the passkeys a user has. Housekeeping, so an info condition: it never
/// decides the verdict.
pub async fn clean_up(ctx: &mut ModuleContext) {
    let Some(account) = ctx.passkeys.account.clone() else { return };
    let left: Vec<usize> = (0..ctx.passkeys.registered.len()).filter(|i| !ctx.passkeys.registered[*i].removed).collect();
    if left.is_empty() {
        return;
    }
    ctx.http.step = "cleanup".into();
    let mut browser = account.browser.clone();
    let mut evidence = Vec::new();
    let mut kept = Vec::new();
    for i in left {
        let listed_id = ctx.passkeys.registered[i].listed_id.clone();
        let page = browser.open(&mut ctx.http, &account.page_url).await;
        evidence.extend_from_slice(&page.evidence);
        let Some((action, fields)) = remove_form(&page.response.body, &page.url, &listed_id) else {
            kept.push(listed_id);
            continue;
        };
        let (resp, _) = browser.send(&mut ctx.http, Request::post_form(action, fields)).await;
        evidence.push(resp.index);
        if resp.status == Some(303) {
            ctx.passkeys.registered[i].removed = true;
        } else {
            kept.push(listed_id);
        }
    }
    ctx.push(
        Check::new("passkey_cleanup", "the passkeys the module registered are removed again")
            .info()
            .expected("each removed through the account page")
            .observed(if kept.is_empty() { "all removed".to_owned() } else { format!("still there: {kept:?}") })
            .evidence(&evidence)
            .pass(kept.is_empty()),
    );
}
