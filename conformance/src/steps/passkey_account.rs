//! `passkey_account`: the target user signs in to the account page with a password, in a
//! browser of its own, as someone about to add a passkey does. Without a session the account
//! page must ask for a sign-in (a passkey is registered only for an authenticated user,
//! REG-OPT-01); after the password the page must offer the passkey registration form
//! (`form#passkey-register`). The later passkey steps of the module use this browser.

use super::{StepRun, harness_problem};
use crate::conditions::Check;
use crate::context::ModuleContext;
use crate::http::Request;
use crate::login::{parse_forms, resolve};
use crate::passkey::Account;
use crate::passkey::browser::{Browser, form_by_id, input_value};
use crate::scenario::Expect;
use crate::target::{FormScript, Login, Passkeys};

/// The target's passkey settings and its login script (the user's password and the consent
/// form's fields), or the module is skipped.
pub(super) fn prerequisites(ctx: &mut ModuleContext) -> Option<(Passkeys, FormScript)> {
    let Some(passkeys) = ctx.target.passkeys.clone() else {
        ctx.skip("the target offers no passkey sign-in to the harness (`passkeys`)");
        return None;
    };
    let Login::Form(script) = &ctx.target.login else {
        ctx.skip("the passkey steps need the target user's password and form fields: [login] mode = \"form\"");
        return None;
    };
    Some((passkeys, (**script).clone()))
}

/// Whether the step's `expect` fits what it sends: `success` for a valid ceremony, `rejected`
/// when `broken` names what makes it invalid. Otherwise the scenario asks for something the
/// harness cannot judge: a harness problem.
pub(super) fn expectation_fits(ctx: &mut ModuleContext, step: &StepRun<'_>, broken: Option<&str>) -> bool {
    let id = format!("{}.harness", step.spec.step);
    let problem = match (step.expect(), broken) {
        (Expect::Success, None) | (Expect::Rejected, Some(_)) => return true,
        (Expect::Success, Some(why)) => format!("{why} makes the ceremony invalid: write expect = \"rejected\""),
        (Expect::Rejected, None) => "nothing makes this ceremony invalid (no mutation, no removed passkey): write a mutation".to_owned(),
        (Expect::Either, _) => "a passkey ceremony is either valid or not: write expect = \"success\" or \"rejected\"".to_owned(),
    };
    harness_problem(ctx, &id, "run the scenario as written", &format!("line {}: {problem}", step.spec.line));
    false
}

pub async fn run(ctx: &mut ModuleContext, _step: &StepRun<'_>) {
    let Some((passkeys, script)) = prerequisites(ctx) else { return };
    let mut browser = Browser::default();
    let first = browser.open(&mut ctx.http, &passkeys.account_url).await;
    let sign_in = parse_forms(&first.response.body).into_iter().find(|f| f.fields.contains(&script.password_field));
    let shows_account = form_by_id(&first.response.body, &first.url, "passkey-register").is_some();
    ctx.push(
        Check::new("passkey_account.sign_in_first", "without a session the account page asks the user to sign in")
            .req(&["REG-OPT-01"])
            .expected(format!("a sign-in page with a `{}` field, not the passkey registration form", script.password_field))
            .observed(format!(
                "{}{}",
                first.describe(),
                if shows_account {
                    ", the registration form"
                } else if sign_in.is_some() {
                    ", a sign-in form"
                } else {
                    ", no sign-in form"
                }
            ))
            .hint("registering a passkey binds a credential to an account: only its signed-in user may")
            .evidence(&first.evidence)
            .pass(first.is_page() && sign_in.is_some() && !shows_account),
    );
    let Some(form) = sign_in else {
        ctx.aborted = true;
        return;
    };
    let mut fields = form.hidden.clone();
    fields.push((script.username_field.clone(), script.username.clone()));
    fields.push((script.password_field.clone(), script.password.clone()));
    fields.extend(script.extra_fields.iter().map(|(k, v)| (k.clone(), v.clone())));
    let action = resolve(&first.url, form.action.as_deref().unwrap_or_default());
    if form.method != "post" {
        return harness_problem(
            ctx,
            "passkey_account.harness",
            "sign in",
            &format!("the sign-in form's method is {:?}, not post", form.method),
        );
    }
    let landing = browser.submit(&mut ctx.http, Request::post_form(action, fields)).await;
    let page = form_by_id(&landing.response.body, &landing.url, "passkey-register");
    let csrf = page
        .as_ref()
        .and_then(|f| f.form.hidden.iter().find(|(n, _)| n == "csrf_token").map(|(_, v)| v.clone()))
        .or_else(|| input_value(&landing.response.body, "csrf_token"));
    let at = landing.url.split(['?', '#']).next().unwrap_or(&landing.url).to_owned();
    ctx.push(
        Check::new("passkey_account.signed_in", "after the password the account page offers to register a passkey")
            .req(&["REG-OPT-01", "PK-04"])
            .expected(format!("{} with form#passkey-register and a csrf_token", passkeys.account_url))
            .observed(format!(
                "{}{}{}",
                landing.describe(),
                if page.is_some() { ", the registration form" } else { ", no registration form" },
                if csrf.is_some() { "" } else { ", no csrf_token" }
            ))
            .hint("check the target's [login] user and password; the sign-in should send the browser back to the account page")
            .evidence(&landing.evidence)
            .pass(landing.is_page() && page.is_some() && csrf.is_some() && at == passkeys.account_url),
    );
    match (page, csrf) {
        (Some(_), Some(csrf_token)) => ctx.passkeys.account = Some(Account { browser, page_url: landing.url, csrf_token }),
        _ => ctx.aborted = true,
    }
}
