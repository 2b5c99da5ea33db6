//! `passkey_register`: on the account page of `passkey_account`, what the page's script does to
//! add a passkey — ask `data-options` for creation options (judged: REG-OPT-01…05, PK-01,
//! PK-02), let the module's software passkey answer them, post the credential with a name —
//! then read the account page: the new passkey is listed (REG-16, PK-04).
//!
//! Mutations, at most one (expect `rejected`: a 4xx error page without a redirect, HTTP 400 as
//! the target's form contract says, a `role="alert"` text — a warning if absent — and the
//! account page then lists no passkey of the posted name):
//! - `passkey_uv_discouraged` answers options whose `userVerification` was downgraded to
//!   `discouraged`, so the credential has UV = 0 (REG-09);
//! - `passkey_other_origin_port` signs a `clientDataJSON` whose origin has another port (REG-04);
//! - `passkey_registration_replay` asks for fresh options, then posts the registration the
//!   server accepted earlier in the module (REG-03: its challenge was used). After a
//!   `passkey_remove` of that passkey its credential id is no longer registered, so only the
//!   challenge can refuse it (before, REG-15 may);
//! - `passkey_duplicate_credential_id` builds registrations by hand (`none` attestation, a new
//!   ES256 key each, `passkey::hand_built`): first one with a fresh credential id, which must be
//!   accepted and listed (ATT-NONE, REG-13, REG-16: the recipe is one the server takes), then,
//!   with fresh options, one with that same credential id (REG-15: a credential id already
//!   registered). Only the id differs in what makes the second one wrong. The module's one user
//!   holds the first, so the rule's "for any user" is not tried across users.
//!
//! Every passkey the account page lists after a post is recorded for the module's clean-up,
//! the wrongly accepted ones too. The software passkey, like a CTAP2 authenticator, makes no
//! credential when `excludeCredentials` names one it holds: when that one is a credential the
//! server accepted although it had to refuse it, the earlier acceptance is reported
//! (`passkey_register.earlier_acceptance`), not a harness problem.

use webauthn_rs_proto::{CreationChallengeResponse, RegisterPublicKeyCredential, UserVerificationPolicy};

use super::passkey_account::{expectation_fits, prerequisites};
use super::{StepRun, harness_problem};
use crate::conditions::{Check, passkeys};
use crate::context::ModuleContext;
use crate::http::{Request, Response};
use crate::passkey::authenticator::{FLAG_UV, RegisterError};
use crate::passkey::browser::{Browser, Landing, ListedPasskey, ScriptedForm, alert_text, form_by_id, listed_passkeys};
use crate::passkey::{Account, RegisteredPasskey, WrongAcceptance, hand_built, other_port};
use crate::target::Passkeys;

/// What the step posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attempt {
    Valid,
    NoUserVerification,
    OtherOrigin,
    Replay,
    DuplicateCredentialId,
}

/// The step's mutations and the attempt each makes.
const MUTATIONS: [(&str, Attempt); 4] = [
    ("passkey_uv_discouraged", Attempt::NoUserVerification),
    ("passkey_other_origin_port", Attempt::OtherOrigin),
    ("passkey_registration_replay", Attempt::Replay),
    ("passkey_duplicate_credential_id", Attempt::DuplicateCredentialId),
];

impl Attempt {
    /// The attempt the step's mutations ask for, or why the step cannot run: each mutation is a
    /// whole attempt, so at most one.
    fn of(step: &StepRun<'_>) -> Result<Attempt, String> {
        let listed: Vec<&(&str, Attempt)> = MUTATIONS.iter().filter(|(m, _)| step.has(m)).collect();
        match listed[..] {
            [] => Ok(Attempt::Valid),
            [(_, a)] => Ok(*a),
            _ => Err(format!(
                "line {}: {} each make a registration attempt of their own: list one per passkey_register step",
                step.spec.line,
                listed.iter().map(|(m, _)| *m).collect::<Vec<_>>().join(" and ")
            )),
        }
    }

    /// The rules a refusal enforces, and the broken rule in words.
    fn refusal(self) -> Option<(&'static [&'static str], &'static str)> {
        match self {
            Attempt::Valid => None,
            Attempt::NoUserVerification => Some((&["REG-09"], "a credential made without user verification")),
            Attempt::OtherOrigin => Some((&["REG-04"], "a registration signed for an origin with another port")),
            Attempt::Replay => Some((&["REG-03"], "a registration response it already accepted, for a challenge already used")),
            Attempt::DuplicateCredentialId => Some((&["REG-15"], "a new registration whose credential id is already registered")),
        }
    }

    /// Whether the attempt posts a credential id the account page lists already: its own entry
    /// can then be told only by the new name.
    fn reuses_a_listed_id(self) -> bool {
        matches!(self, Attempt::Replay | Attempt::DuplicateCredentialId)
    }
}

/// The listed passkey that is `credential_id`: listed under that id (base64url), or under the
/// unique `name` it was registered with.
fn find_listed<'a>(listed: &'a [ListedPasskey], credential_id: &[u8], name: &str) -> Option<&'a ListedPasskey> {
    let id = fapilab_jose::b64::encode(credential_id);
    listed.iter().find(|p| p.id == id).or_else(|| listed.iter().find(|p| p.entry.contains(name)))
}

/// The account page's registration form, its options URL and the CSRF token to post.
struct Page {
    form: ScriptedForm,
    options_url: String,
    csrf: String,
}

/// A credential ready to post: its JSON, its id, the flags of its authenticator data and
/// whether the software passkey holds it.
struct Made {
    json: String,
    credential_id: Vec<u8>,
    flags: u8,
    held: bool,
}

/// What a post led to: the answer, the account page after it and the entry of the posted name.
struct Posted {
    resp: Response,
    after: Landing,
    found: Option<ListedPasskey>,
    listed: usize,
    name: String,
}

impl Posted {
    fn evidence(&self) -> Vec<usize> {
        [&[self.resp.index][..], &self.after.evidence].concat()
    }

    fn listed_text(&self) -> String {
        format!("{} passkey(s) listed, {}", self.listed, if self.found.is_some() { "this one among them" } else { "not this one" })
    }
}

pub async fn run(ctx: &mut ModuleContext, step: &StepRun<'_>) {
    let Some((passkeys, script)) = prerequisites(ctx) else { return };
    let attempt = match Attempt::of(step) {
        Ok(a) => a,
        Err(why) => return harness_problem(ctx, "passkey_register.harness", "run the scenario as written", &why),
    };
    if !expectation_fits(ctx, step, attempt.refusal().map(|(_, what)| what)) {
        return;
    }
    let Some(account) = ctx.passkeys.account.clone() else {
        return harness_problem(ctx, "passkey_register.harness", "find the account page", "put a `passkey_account` step first");
    };
    let mut browser = account.browser.clone();
    register(ctx, step, attempt, &passkeys, &script.username, &account, &mut browser).await;
    // Whatever happened, the account browser keeps the cookies it was given.
    if let Some(a) = ctx.passkeys.account.as_mut() {
        a.browser = browser;
    }
}

async fn register(
    ctx: &mut ModuleContext,
    step: &StepRun<'_>,
    attempt: Attempt,
    passkeys: &Passkeys,
    username: &str,
    account: &Account,
    browser: &mut Browser,
) {
    let replayed = match attempt {
        Attempt::Replay => match ctx.passkeys.current() {
            Some(p) => Some((p.response_json.clone(), p.credential_id.clone(), p.flags)),
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
    let Some(page) = open_page(ctx, browser, account).await else { return };

    if attempt == Attempt::DuplicateCredentialId {
        return duplicate_credential_id(ctx, step, passkeys, username, account, browser, &page).await;
    }
    let Some(options) = creation_options(ctx, browser, &page, passkeys, username).await else { return };
    let made = match replayed {
        Some((json, credential_id, flags)) => Made { json, credential_id, flags, held: true },
        None => match make(ctx, step, attempt, passkeys, options) {
            Some(made) => made,
            None => return,
        },
    };
    let posted = post(ctx, browser, account, &page, attempt, &made).await;
    match attempt.refusal() {
        Some((rules, what)) => judge_refused(ctx, step, rules, what, &posted, &made),
        None => {
            if !judge_accepted(ctx, passkeys, &posted, &made, false) {
                ctx.aborted = true;
            }
        }
    }
}

/// The account page and its registration form.
async fn open_page(ctx: &mut ModuleContext, browser: &mut Browser, account: &Account) -> Option<Page> {
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
        return None;
    };
    let csrf = form.form.hidden.iter().find(|(n, _)| n == "csrf_token").map_or(account.csrf_token.clone(), |(_, v)| v.clone());
    Some(Page { form, options_url, csrf })
}

/// The page's script asks for creation options; they are judged.
async fn creation_options(
    ctx: &mut ModuleContext,
    browser: &mut Browser,
    page: &Page,
    passkeys: &Passkeys,
    username: &str,
) -> Option<CreationChallengeResponse> {
    let (resp, _) =
        browser.send(&mut ctx.http, Request::post_form(page.options_url.clone(), vec![("csrf_token".into(), page.csrf.clone())])).await;
    let options = passkeys::parse_options::<CreationChallengeResponse>(
        "passkey_register.options",
        "the server sends creation options",
        "REG-OPT-01",
        "HTTP 200, JSON {\"publicKey\": PublicKeyCredentialCreationOptions}",
        &resp,
    );
    match options {
        Ok(o) => {
            let held: Vec<Vec<u8>> = ctx.passkeys.registered.iter().filter(|p| !p.removed).map(|p| p.credential_id.clone()).collect();
            ctx.extend(passkeys::creation_options(&o, passkeys, username, &held, &[resp.index]));
            Some(o)
        }
        Err(failed) => {
            ctx.push(*failed);
            ctx.aborted = true;
            None
        }
    }
}

/// The software passkey answers the options (changed as the attempt needs).
fn make(
    ctx: &mut ModuleContext,
    step: &StepRun<'_>,
    attempt: Attempt,
    passkeys: &Passkeys,
    options: CreationChallengeResponse,
) -> Option<Made> {
    let mut options = options;
    if attempt == Attempt::NoUserVerification
        && let Some(selection) = options.public_key.authenticator_selection.as_mut()
    {
        selection.user_verification = UserVerificationPolicy::Discouraged_DO_NOT_USE;
    }
    let origin = if attempt == Attempt::OtherOrigin { other_port(&passkeys.origin) } else { passkeys.origin.clone() };
    let (credential, resident) = match ctx.passkeys.authenticator.register(&origin, options) {
        Ok(made) => made,
        Err(RegisterError::Excluded(id)) => {
            excluded(ctx, step, &id);
            return None;
        }
        Err(RegisterError::Refused(e)) => {
            harness_problem(ctx, "passkey_register.harness", "make a credential", &e);
            return None;
        }
    };
    if attempt == Attempt::NoUserVerification && resident.flags & FLAG_UV != 0 {
        harness_problem(
            ctx,
            "passkey_register.harness",
            "make a credential without user verification",
            "the software authenticator set UV although the options discouraged it: the refusal would prove nothing",
        );
        return None;
    }
    match serde_json::to_string(&credential) {
        Ok(json) => Some(Made { json, credential_id: resident.credential_id, flags: resident.flags, held: true }),
        Err(e) => {
            harness_problem(ctx, "passkey_register.harness", "serialise the credential", &e.to_string());
            None
        }
    }
}

/// The software passkey made no credential: `excludeCredentials` names `id`, which it holds.
/// A credential the server listed although it had to refuse it, one the user removed, or one
/// never listed at all is the target's doing; one the module registered on purpose and kept is
/// the scenario's (remove it first).
fn excluded(ctx: &mut ModuleContext, step: &StepRun<'_>, id: &[u8]) {
    let shown = fapilab_jose::b64::encode(id);
    let recorded = ctx.passkeys.registered.iter().rev().find(|p| p.credential_id == id).cloned();
    let (rules, expected, observed): (Vec<String>, String, String) = match recorded {
        Some(RegisteredPasskey { name, wrongly_accepted: None, removed: false, .. }) => {
            return harness_problem(
                ctx,
                "passkey_register.harness",
                "make a new credential",
                &format!(
                    "line {}: excludeCredentials names {shown} ({name:?}), which the software passkey holds for this account: \
                     put a `passkey_remove` step before registering again",
                    step.spec.line
                ),
            );
        }
        Some(RegisteredPasskey { name, wrongly_accepted: Some(wrong), .. }) => (
            wrong.rules,
            format!("the credential refused at line {} ({}) not registered", wrong.line, wrong.what),
            format!("the server accepted and listed it ({name:?}), and names it in excludeCredentials"),
        ),
        Some(RegisteredPasskey { name, .. }) => (
            vec!["REG-OPT-05".into(), "PK-04".into()],
            "excludeCredentials without the passkeys the user removed".into(),
            format!("it names {shown} ({name:?}), which the module removed on the account page"),
        ),
        None => (
            vec!["REG-OPT-05".into()],
            "excludeCredentials with only the user's registered credential ids".into(),
            format!("it names {shown}, a credential the module posted but never saw listed (a registration the server refused)"),
        ),
    };
    let rules: Vec<&str> = rules.iter().map(String::as_str).collect();
    ctx.push(
        Check::new("passkey_register.earlier_acceptance", "no credential the server refused or removed is still registered")
            .req(&rules)
            .expected(expected)
            .observed(format!(
                "{observed}: the software passkey, which holds it, makes no new credential for this account (InvalidStateError)"
            ))
            .hint("an earlier refusal or removal did not hold; this registration could not be tried")
            .pass(false),
    );
    ctx.aborted = true;
}

/// Posts `made` under a new name and reads the account page.
async fn post(ctx: &mut ModuleContext, browser: &mut Browser, account: &Account, page: &Page, attempt: Attempt, made: &Made) -> Posted {
    let name = format!("fapilab harness {}", fapilab_jose::random_token(9));
    let post = Request::post_form(
        page.form.action.clone(),
        vec![("csrf_token".into(), page.csrf.clone()), ("name".into(), name.clone()), ("credential".into(), made.json.clone())],
    );
    let (resp, _) = browser.send(&mut ctx.http, post).await;
    let after = browser.open(&mut ctx.http, &account.page_url).await;
    let listed = listed_passkeys(&after.response.body);
    let found = if attempt.reuses_a_listed_id() {
        listed.iter().find(|p| p.entry.contains(&name))
    } else {
        find_listed(&listed, &made.credential_id, &name)
    }
    .cloned();
    Posted { resp, after, found, listed: listed.len(), name }
}

/// Records a passkey the account page lists after the post (`wrong`: the step expected a refusal).
fn record(ctx: &mut ModuleContext, posted: &Posted, made: &Made, wrong: Option<WrongAcceptance>) {
    if let Some(p) = &posted.found {
        ctx.passkeys.record(RegisteredPasskey {
            credential_id: made.credential_id.clone(),
            name: posted.name.clone(),
            listed_id: p.id.clone(),
            response_json: made.json.clone(),
            flags: made.flags,
            held: made.held,
            wrongly_accepted: wrong,
            removed: false,
        });
    }
}

/// Judges a registration that must be accepted; records it; whether it was.
fn judge_accepted(ctx: &mut ModuleContext, passkeys: &Passkeys, posted: &Posted, made: &Made, by_hand: bool) -> bool {
    let resp = &posted.resp;
    let location = resp.header("location").map(|l| crate::login::resolve(&passkeys.account_url, l));
    let back = location.as_deref().map(|l| l.split(['?', '#']).next().unwrap_or(l));
    let accepted = resp.status == Some(303) && back == Some(passkeys.account_url.as_str());
    let ((status_id, listed_id), reqs, whose): ((&str, &str), &[&str], &str) = if by_hand {
        (
            ("passkey_register.hand_built_status", "passkey_register.hand_built_listed"),
            &["ATT-NONE", "REG-13", "REG-16"],
            "a registration built by hand (none attestation, ES256)",
        )
    } else {
        (("passkey_register.status", "passkey_register.listed"), &["REG-16"], "the registration")
    };
    ctx.push(
        Check::new(status_id, format!("{whose} is accepted and the browser sent back to the account page"))
            .req(reqs)
            .expected(format!("HTTP 303 to {}", passkeys.account_url))
            .observed(match (&location, alert_text(&resp.body)) {
                (Some(l), _) => format!("HTTP {} to {}", resp.status_or_zero(), crate::http::redact_url(l)),
                (None, Some(alert)) => format!("{}: {alert:?}", resp.describe()),
                (None, None) => resp.describe(),
            })
            .hint(if by_hand {
                "this control shows the recipe is one the server takes, so the refusal that follows is about the credential id"
            } else {
                "a refusal here means the server rejects a valid passkey: see the account page's error"
            })
            .evidence(&[resp.index])
            .pass(accepted),
    );
    let reqs_listed: Vec<&str> = reqs.iter().copied().chain(["PK-04"]).collect();
    ctx.push(
        Check::new(listed_id, "the account page lists the new passkey")
            .req(&reqs_listed)
            .expected(format!("an element with data-passkey-id for {:?} (or its credential id)", posted.name))
            .observed(posted.listed_text())
            .evidence(&posted.evidence())
            .pass(posted.found.is_some()),
    );
    record(ctx, posted, made, None);
    accepted && posted.found.is_some()
}

/// Judges a registration that must be refused; records it when it is listed all the same.
fn judge_refused(ctx: &mut ModuleContext, step: &StepRun<'_>, rules: &[&str], what: &str, posted: &Posted, made: &Made) {
    ctx.extend(passkeys::refused("passkey_register", what, &posted.resp, 400, rules, &[posted.resp.index]));
    ctx.push(
        Check::new("passkey_register.not_listed", "the refused passkey is not on the account page")
            .req(rules)
            .expected(format!("no passkey named {:?}", posted.name))
            .observed(posted.listed_text())
            .evidence(&posted.evidence())
            .pass(posted.after.is_page() && posted.found.is_none()),
    );
    let wrong = WrongAcceptance { rules: rules.iter().map(|r| (*r).to_owned()).collect(), what: what.to_owned(), line: step.spec.line };
    record(ctx, posted, made, Some(wrong));
}

/// REG-15: a registration built by hand with a fresh credential id (the control, accepted),
/// then one with fresh options, a new key and that same credential id (refused).
async fn duplicate_credential_id(
    ctx: &mut ModuleContext,
    step: &StepRun<'_>,
    passkeys: &Passkeys,
    username: &str,
    account: &Account,
    browser: &mut Browser,
    page: &Page,
) {
    let attempt = Attempt::DuplicateCredentialId;
    let credential_id = match hand_built::new_credential_id() {
        Ok(id) => id,
        Err(e) => return harness_problem(ctx, "passkey_register.harness", "make a credential id", &e),
    };
    let Some(options) = creation_options(ctx, browser, page, passkeys, username).await else { return };
    let Some(first) = by_hand(ctx, passkeys, &options, &credential_id) else { return };
    let posted = post(ctx, browser, account, page, Attempt::Valid, &first).await;
    if !judge_accepted(ctx, passkeys, &posted, &first, true) {
        ctx.aborted = true;
        return;
    }
    let Some(options) = creation_options(ctx, browser, page, passkeys, username).await else { return };
    let Some(second) = by_hand(ctx, passkeys, &options, &credential_id) else { return };
    let posted = post(ctx, browser, account, page, attempt, &second).await;
    let (rules, what) = attempt.refusal().unwrap_or_default();
    judge_refused(ctx, step, rules, what, &posted, &second);
}

/// A registration built by hand for `options` with `credential_id`, as the page would post it.
fn by_hand(ctx: &mut ModuleContext, passkeys: &Passkeys, options: &CreationChallengeResponse, credential_id: &[u8]) -> Option<Made> {
    let built: Result<RegisterPublicKeyCredential, String> = hand_built::registration(&passkeys.origin, options, credential_id);
    match built.and_then(|c| serde_json::to_string(&c).map_err(|e| e.to_string())) {
        Ok(json) => Some(Made { json, credential_id: credential_id.to_vec(), flags: hand_built::FLAGS, held: false }),
        Err(e) => {
            harness_problem(ctx, "passkey_register.harness", "build a registration by hand", &e);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::mutations::Mutations;
    use crate::scenario::{Expect, StepSpec};

    fn spec(mutations: &[&str]) -> StepSpec {
        StepSpec {
            step: "passkey_register".into(),
            client: 1,
            mutations: mutations.iter().map(|m| (*m).to_owned()).collect(),
            expect: Expect::Rejected,
            errors: Vec::new(),
            params: toml::Table::new(),
            line: 12,
        }
    }

    #[test]
    fn one_mutation_is_one_attempt() {
        let of = |mutations: &[&str]| {
            let spec = spec(mutations);
            Attempt::of(&StepRun { spec: &spec, mutations: Mutations(spec.mutations.clone()), index: 1 })
        };
        assert_eq!(of(&[]), Ok(Attempt::Valid));
        for (m, a) in MUTATIONS {
            assert_eq!(of(&[m]), Ok(a), "{m}");
            assert!(a.refusal().is_some(), "{m} makes a registration the server must refuse");
        }
        let err = of(&["passkey_uv_discouraged", "passkey_registration_replay"]).unwrap_err();
        assert!(err.contains("line 12") && err.contains("passkey_uv_discouraged and passkey_registration_replay"), "{err}");
        assert_eq!(Attempt::DuplicateCredentialId.refusal().unwrap().0, &["REG-15"]);
        assert_eq!(Attempt::Replay.refusal().unwrap().0, &["REG-03"]);
    }
}
