//! `passkey_register`: on the account page of `passkey_account`, what the page's script does to
//! add a passkey — ask `data-options` for creation options (judged: REG-OPT-01…05, PK-01,
//! PK-02), let the module's software passkey answer them, post the credential with a name —
//! then read the account page: the new passkey is listed (REG-16, PK-04).
//!
//! Mutations (expect `rejected`: HTTP 400, the account page with an error, nothing listed):
//! `passkey_uv_discouraged` answers options whose `userVerification` was downgraded to
//! `discouraged`, so the credential has UV = 0 (REG-09); `passkey_other_origin_port` signs a
//! `clientDataJSON` whose origin has another port (REG-04); `passkey_registration_replay` asks
//! for fresh options, then posts the registration the server accepted earlier in the module
//! (REG-03: its challenge was used; REG-15: its credential id is registered).

use webauthn_rs_proto::{CreationChallengeResponse, UserVerificationPolicy};

use super::passkey_account::{expectation_fits, prerequisites};
use super::{StepRun, harness_problem};
use crate::conditions::{Check, passkeys};
use crate::context::ModuleContext;
use crate::http::Request;
use crate::passkey::authenticator::FLAG_UV;
use crate::passkey::browser::{ListedPasskey, alert_text, form_by_id, listed_passkeys};
use crate::passkey::{RegisteredPasskey, other_port};

/// What the step posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attempt {
    Valid,
    NoUserVerification,
    OtherOrigin,
    Replay,
}

impl Attempt {
    fn of(step: &StepRun<'_>) -> Attempt {
        if step.has("passkey_uv_discouraged") {
            Attempt::NoUserVerification
        } else if step.has("passkey_other_origin_port") {
            Attempt::OtherOrigin
        } else if step.has("passkey_registration_replay") {
            Attempt::Replay
        } else {
            Attempt::Valid
        }
    }

    /// The rules a refusal enforces, and the broken rule in words.
    fn refusal(self) -> Option<(&'static [&'static str], &'static str)> {
        match self {
            Attempt::Valid => None,
            Attempt::NoUserVerification => Some((&["REG-09"], "a credential made without user verification")),
            Attempt::OtherOrigin => Some((&["REG-04"], "a registration signed for an origin with another port")),
            Attempt::Replay => Some((&["REG-03", "REG-15"], "a registration response it already accepted")),
        }
    }
}

/// The listed passkey that is `credential_id`: listed under that id (base64url), or under the
/// unique `name` it was registered with.
fn find_listed<'a>(listed: &'a [ListedPasskey], credential_id: &[u8], name: &str) -> Option<&'a ListedPasskey> {
    let id = fapilab_jose::b64::encode(credential_id);
    listed.iter().find(|p| p.id == id).or_else(|| listed.iter().find(|p| p.entry.contains(name)))
}

pub async fn run(ctx: &mut ModuleContext, step: &StepRun<'_>) {
    let Some((passkeys, script)) = prerequisites(ctx) else { return };
    let attempt = Attempt::of(step);
    if !expectation_fits(ctx, step, attempt.refusal().map(|(_, what)| what)) {
        return;
    }
    let Some(account) = ctx.passkeys.account.clone() else {
        return harness_problem(ctx, "passkey_register.harness", "find the account page", "put a `passkey_account` step first");
    };
    let replayed = match attempt {
        Attempt::Replay => match ctx.passkeys.registered.last() {
            Some(p) => Some(p.response_json.clone()),
            None => {
                return harness_problem(
                    ctx,
                    "passkey_register.harness",
                    "find a registration to replay",
                    "passkey_registration_replay needs a successful `passkey_register` earlier in the module",
                );
            }
        },
        _ => None,
    };
    let mut browser = account.browser.clone();
    let page = browser.open(&mut ctx.http, &account.page_url).await;
    let form = form_by_id(&page.response.body, &page.url, "passkey-register");
    let Some((form, options_url)) = form.and_then(|f| f.options_url.clone().map(|o| (f, o))) else {
        ctx.push(
            Check::new("passkey_register.form", "the account page has the passkey registration form")
                .req(&["PK-04"])
                .expected("form#passkey-register with data-options")
                .observed(page.describe())
                .evidence(&page.evidence)
                .pass(false),
        );
        ctx.aborted = true;
        return;
    };
    let csrf = form.form.hidden.iter().find(|(n, _)| n == "csrf_token").map_or(account.csrf_token.clone(), |(_, v)| v.clone());

    // The page's script: creation options, then the authenticator.
    let (resp, _) = browser.send(&mut ctx.http, Request::post_form(options_url, vec![("csrf_token".into(), csrf.clone())])).await;
    let options =
        (resp.status == Some(200)).then(|| resp.json()).flatten().map(|o| serde_json::from_value::<CreationChallengeResponse>(o.into()));
    let options = match options {
        Some(Ok(o)) => o,
        other => {
            ctx.push(
                Check::new("passkey_register.options", "the server sends creation options")
                    .req(&["REG-OPT-01"])
                    .expected("HTTP 200, JSON {\"publicKey\": PublicKeyCredentialCreationOptions}")
                    .observed(match other {
                        Some(Err(e)) => format!("{}: {e}", resp.describe()),
                        _ => resp.describe(),
                    })
                    .evidence(&[resp.index])
                    .pass(false),
            );
            ctx.aborted = true;
            return;
        }
    };
    let held: Vec<Vec<u8>> = ctx.passkeys.registered.iter().filter(|p| !p.removed).map(|p| p.credential_id.clone()).collect();
    ctx.extend(passkeys::creation_options(&options, &passkeys, &script.username, &held, &[resp.index]));

    let (credential_json, credential_id) = if let Some(json) = replayed {
        let id = ctx.passkeys.registered.last().map(|p| p.credential_id.clone()).unwrap_or_default();
        (json, id)
    } else {
        let mut options = options;
        if attempt == Attempt::NoUserVerification
            && let Some(selection) = options.public_key.authenticator_selection.as_mut()
        {
            selection.user_verification = UserVerificationPolicy::Discouraged_DO_NOT_USE;
        }
        let origin = if attempt == Attempt::OtherOrigin { other_port(&passkeys.origin) } else { passkeys.origin.clone() };
        let made = match ctx.passkeys.authenticator.register(&origin, options) {
            Ok(made) => made,
            Err(e) => return harness_problem(ctx, "passkey_register.harness", "make a credential", &e),
        };
        let (credential, resident) = made;
        if attempt == Attempt::NoUserVerification && resident.flags & FLAG_UV != 0 {
            return harness_problem(
                ctx,
                "passkey_register.harness",
                "make a credential without user verification",
                "the software authenticator set UV although the options discouraged it: the refusal would prove nothing",
            );
        }
        match serde_json::to_string(&credential) {
            Ok(json) => (json, resident.credential_id),
            Err(e) => return harness_problem(ctx, "passkey_register.harness", "serialise the credential", &e.to_string()),
        }
    };
    let name = format!("fapilab harness {}", fapilab_jose::random_token(9));
    let post = Request::post_form(
        form.action.clone(),
        vec![("csrf_token".into(), csrf), ("name".into(), name.clone()), ("credential".into(), credential_json.clone())],
    );
    let (resp, _) = browser.send(&mut ctx.http, post).await;
    let after = browser.open(&mut ctx.http, &account.page_url).await;
    let listed = listed_passkeys(&after.response.body);
    // A replayed credential is listed already (under its first name): only the new name counts.
    let found = if attempt == Attempt::Replay {
        listed.iter().find(|p| p.entry.contains(&name))
    } else {
        find_listed(&listed, &credential_id, &name)
    };
    let evidence = [&[resp.index][..], &after.evidence].concat();
    let listed_text =
        format!("{} passkey(s) listed, {}", listed.len(), if found.is_some() { "this one among them" } else { "not this one" });

    if let Some((rules, what)) = attempt.refusal() {
        ctx.extend(passkeys::refused("passkey_register", what, &resp, 400, rules, &[resp.index]));
        ctx.push(
            Check::new("passkey_register.not_listed", "the refused passkey is not on the account page")
                .req(rules)
                .expected(format!("no passkey named {name:?}"))
                .observed(listed_text)
                .evidence(&evidence)
                .pass(after.is_page() && found.is_none()),
        );
    } else {
        let location = resp.header("location").map(|l| crate::login::resolve(&account.page_url, l));
        let back = location.as_deref().map(|l| l.split(['?', '#']).next().unwrap_or(l));
        ctx.push(
            Check::new("passkey_register.status", "the registration is accepted and the browser sent back to the account page")
                .req(&["REG-16"])
                .expected(format!("HTTP 303 to {}", passkeys.account_url))
                .observed(match (&location, alert_text(&resp.body)) {
                    (Some(l), _) => format!("HTTP {} to {}", resp.status_or_zero(), crate::http::redact_url(l)),
                    (None, Some(alert)) => format!("{}: {alert:?}", resp.describe()),
                    (None, None) => resp.describe(),
                })
                .hint("a refusal here means the server rejects a valid passkey: see the account page's error")
                .evidence(&[resp.index])
                .pass(resp.status == Some(303) && back == Some(passkeys.account_url.as_str())),
        );
        ctx.push(
            Check::new("passkey_register.listed", "the account page lists the new passkey")
                .req(&["REG-16", "PK-04"])
                .expected(format!("an element with data-passkey-id for {name:?} (or its credential id)"))
                .observed(listed_text)
                .evidence(&evidence)
                .pass(found.is_some()),
        );
        match found {
            Some(p) if resp.status == Some(303) => {
                let listed_id = p.id.clone();
                ctx.passkeys.registered.push(RegisteredPasskey {
                    credential_id,
                    name,
                    listed_id,
                    response_json: credential_json,
                    removed: false,
                });
            }
            _ => ctx.aborted = true,
        }
    }
    if let Some(a) = ctx.passkeys.account.as_mut() {
        a.browser = browser;
    }
}
