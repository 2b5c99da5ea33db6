//! `passkey_login`: the client's pushed request is authorized by a user who signs in with the
//! passkey alone. In a browser with no cookies the step opens the authorization URL (`client_id`
//! and `request_uri`), does what the sign-in page's script does — request options from the
//! `data-options` of `form#passkey-login` (judged: AUTH-OPT-01, AUTH-OPT-02), let the module's
//! software passkey answer usernameless with the passkey a valid registration added last, post
//! the assertion — and expects a 303 on the server (to consent) that sets a new cookie, the
//! session (INT-PK-01, INT-PK-02). It then approves consent and judges the redirect to the
//! client like `authorize` (the code is kept for `token`). Plain responses to pushed requests
//! only.
//!
//! Expecting `rejected`, with at most one mutation: the answer must be a 4xx error page without
//! a redirect (the broken rule), HTTP 401 (the target's form contract), with a `role="alert"`
//! text (a warning if absent); and the account page, opened afterwards in the same browser,
//! must be a sign-in page — no session (INT-PK-01). The attempts:
//! - `passkey_replay`: a valid sign-in first (303 and a session), then a browser holding the
//!   interaction's cookies but not that session asks for options again, as the page's script
//!   would — a new challenge, which must differ from the first (AUTH-OPT-01), is then live for
//!   the interaction — and posts the very same `credential` (AUTH-04: its challenge is not the
//!   live one; AUTH-11: a challenge is used once);
//! - `passkey_other_interaction`: the other client's pushed request opens a second interaction;
//!   the assertion made for its challenge is posted to this one, which has asked for its own
//!   (INT-PK-03). The same assertion must then sign in to its own interaction — a 303 with a new
//!   cookie, and the account page in that browser signed in — or the refusal may have had
//!   another cause (`passkey_login.own_interaction`, a failure);
//! - `passkey_tampered_authenticator_data`: the first sign counter byte of `authenticatorData`
//!   flipped — the counter only grows, the flags and RP ID hash stay, so only the signature
//!   can catch it (AUTH-08); `passkey_tampered_signature`: a byte inside the signature's `r`
//!   flipped (AUTH-08);
//! - `passkey_unknown_user_handle`: a `userHandle` of random bytes, naming nobody (AUTH-02: the
//!   handle is not signed); `passkey_no_user_handle`: none, in a usernameless sign-in (AUTH-02).
//!   Another user's handle is not tried: a target gives the harness one user;
//! - `passkey_other_origin_port`: `clientDataJSON` with an origin on another port (AUTH-04);
//! - `passkey_uv_discouraged`: the options' `userVerification` downgraded to `discouraged`, so
//!   the assertion has UV = 0 (AUTH-06);
//! - no mutation, after `passkey_remove` removed the passkey: an unknown credential (AUTH-03).

use std::time::Instant;

use webauthn_rs_proto::{PublicKeyCredential, RequestChallengeResponse, UserVerificationPolicy};

use super::passkey_account::{expectation_fits, prerequisites};
use super::{StepRun, harness_problem, need_client};
use crate::conditions::authorize::{self, Sent};
use crate::conditions::{Check, passkeys};
use crate::context::ModuleContext;
use crate::http::{Request, Response};
use crate::login::{parse_forms, resolve};
use crate::passkey::authenticator::{AuthenticatorData, FLAG_UV};
use crate::passkey::browser::{Browser, ScriptedForm, alert_text, form_by_id, is_sign_in_page};
use crate::passkey::other_port;
use crate::target::{FormScript, Passkeys};

/// What the step posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attempt {
    Valid,
    Removed,
    Replay,
    OtherInteraction,
    TamperedAuthenticatorData,
    TamperedSignature,
    UnknownUserHandle,
    NoUserHandle,
    OtherOrigin,
    NoUserVerification,
}

/// The step's mutations and the attempt each makes.
const MUTATIONS: [(&str, Attempt); 8] = [
    ("passkey_replay", Attempt::Replay),
    ("passkey_other_interaction", Attempt::OtherInteraction),
    ("passkey_tampered_authenticator_data", Attempt::TamperedAuthenticatorData),
    ("passkey_tampered_signature", Attempt::TamperedSignature),
    ("passkey_unknown_user_handle", Attempt::UnknownUserHandle),
    ("passkey_no_user_handle", Attempt::NoUserHandle),
    ("passkey_other_origin_port", Attempt::OtherOrigin),
    ("passkey_uv_discouraged", Attempt::NoUserVerification),
];

impl Attempt {
    /// The attempt the step's mutations ask for (`removed`: the current passkey was removed),
    /// or why the step cannot run: each mutation is a whole attempt, so at most one.
    fn of(step: &StepRun<'_>, removed: bool) -> Result<Attempt, String> {
        let listed: Vec<&(&str, Attempt)> = MUTATIONS.iter().filter(|(m, _)| step.has(m)).collect();
        match listed[..] {
            [] if removed => Ok(Attempt::Removed),
            [] => Ok(Attempt::Valid),
            [(_, a)] => Ok(*a),
            _ => Err(format!(
                "line {}: {} each make a sign-in attempt of their own: list one per passkey_login step",
                step.spec.line,
                listed.iter().map(|(m, _)| *m).collect::<Vec<_>>().join(" and ")
            )),
        }
    }

    /// The rules a refusal enforces, and the broken rule in words.
    fn refusal(self) -> Option<(&'static [&'static str], &'static str)> {
        Some(match self {
            Attempt::Valid => return None,
            Attempt::Removed => (&["AUTH-03", "PK-04"], "a sign-in with a passkey the user removed"),
            Attempt::Replay => (&["AUTH-04", "AUTH-11", "AUTH-OPT-01"], "the same assertion a second time"),
            Attempt::OtherInteraction => (&["INT-PK-03", "AUTH-04"], "an assertion made for another authorization's challenge"),
            Attempt::TamperedAuthenticatorData => (&["AUTH-08"], "an assertion whose authenticatorData was changed after signing"),
            Attempt::TamperedSignature => (&["AUTH-08"], "an assertion with a broken signature"),
            Attempt::UnknownUserHandle => (&["AUTH-02", "PK-02"], "an assertion whose userHandle names nobody"),
            Attempt::NoUserHandle => (&["AUTH-02"], "a usernameless assertion without userHandle"),
            Attempt::OtherOrigin => (&["AUTH-04"], "an assertion signed for an origin with another port"),
            Attempt::NoUserVerification => (&["AUTH-06", "INT-PK-01"], "an assertion without user verification"),
        })
    }
}

/// One authorization's sign-in page in a browser.
#[derive(Clone)]
struct Interaction {
    browser: Browser,
    form: ScriptedForm,
    options_url: String,
    /// `interaction_id` and `csrf_token` (the hidden inputs of the passkey form).
    hidden: Vec<(String, String)>,
    /// The sign-in page's URL.
    url: String,
}

impl Interaction {
    fn fields(&self) -> Vec<(String, String)> {
        self.hidden.iter().filter(|(n, _)| n == "interaction_id" || n == "csrf_token").cloned().collect()
    }

    fn post(&self, credential: &str) -> Request {
        let mut fields = self.fields();
        fields.push(("credential".into(), credential.to_owned()));
        Request::post_form(self.form.action.clone(), fields)
    }
}

/// Opens the authorization URL of client `index`'s pushed request in a browser with no cookies
/// and finds the passkey sign-in form.
async fn open(ctx: &mut ModuleContext, index: u8) -> Option<Interaction> {
    let client = need_client(ctx, index)?;
    let Some(flow) = ctx.state_ref(index).flow.clone() else {
        harness_problem(
            ctx,
            "passkey_login.harness",
            "find a pushed request",
            &format!("put a successful `par` step for client {index} first"),
        );
        return None;
    };
    let Some(request_uri) = flow.request_uri else {
        harness_problem(ctx, "passkey_login.harness", "find a request_uri", "the PAR response had no request_uri");
        return None;
    };
    if !ctx.ensure_discovery().await {
        return None;
    }
    let Some(endpoint) = ctx.meta("authorization_endpoint") else {
        harness_problem(ctx, "passkey_login.harness", "find the authorization endpoint", "the discovery document names none");
        return None;
    };
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", &client.client_id)
        .append_pair("request_uri", &request_uri)
        .finish();
    let sep = if endpoint.contains('?') { '&' } else { '?' };
    let mut browser = Browser::default();
    let page = browser.open(&mut ctx.http, &format!("{endpoint}{sep}{query}")).await;
    let form = form_by_id(&page.response.body, &page.url, "passkey-login");
    let hidden: Vec<(String, String)> = form.as_ref().map(|f| f.form.hidden.clone()).unwrap_or_default();
    let has = |name: &str| hidden.iter().any(|(n, v)| n == name && !v.is_empty());
    let ok = page.is_page() && form.as_ref().is_some_and(|f| f.options_url.is_some()) && has("interaction_id") && has("csrf_token");
    ctx.push(
        Check::new("passkey_login.page", "the sign-in page offers a usernameless passkey sign-in")
            .req(&["AUTH-OPT-02"])
            .expected("HTTP 200 with form#passkey-login (data-options, interaction_id, csrf_token)")
            .observed(format!("{}{}", page.describe(), if form.is_some() { ", form#passkey-login" } else { ", no form#passkey-login" }))
            .evidence(&page.evidence)
            .pass(ok),
    );
    match form {
        Some(form) if ok => {
            let options_url = form.options_url.clone().unwrap_or_default();
            Some(Interaction { browser, form, options_url, hidden, url: page.url })
        }
        _ => {
            ctx.aborted = true;
            None
        }
    }
}

/// Asks the interaction's `data-options` for request options and judges them; the options and
/// the exchange they came in.
async fn request_options(ctx: &mut ModuleContext, ix: &mut Interaction, want: &Passkeys) -> Option<(RequestChallengeResponse, usize)> {
    let (resp, _) = ix.browser.send(&mut ctx.http, Request::post_form(ix.options_url.clone(), ix.fields())).await;
    let parsed = passkeys::parse_options::<RequestChallengeResponse>(
        "passkey_login.options",
        "the server sends request options for the interaction",
        "AUTH-OPT-01",
        "HTTP 200, JSON {\"publicKey\": PublicKeyCredentialRequestOptions}",
        &resp,
    );
    match parsed {
        Ok(options) => {
            ctx.extend(passkeys::request_options(&options, want, &[resp.index]));
            Some((options, resp.index))
        }
        Err(failed) => {
            ctx.push(*failed);
            ctx.aborted = true;
            None
        }
    }
}

/// The software passkey's answer, as the JSON the page posts.
fn assert_with(
    ctx: &mut ModuleContext,
    origin: &str,
    options: RequestChallengeResponse,
    credential_id: &[u8],
) -> Option<PublicKeyCredential> {
    match ctx.passkeys.authenticator.authenticate(origin, options, Some(credential_id)) {
        Ok(a) => Some(a),
        Err(e) => {
            harness_problem(ctx, "passkey_login.harness", "sign the challenge", &e);
            None
        }
    }
}

fn to_json(ctx: &mut ModuleContext, credential: &PublicKeyCredential) -> Option<String> {
    match serde_json::to_string(credential) {
        Ok(j) => Some(j),
        Err(e) => {
            harness_problem(ctx, "passkey_login.harness", "serialise the assertion", &e.to_string());
            None
        }
    }
}

/// Judges the answer to a valid assertion: a 303 on the server (consent) that sets a new
/// cookie (the session). Returns where it points when it is one.
fn judge_signed_in(
    ctx: &mut ModuleContext,
    ix: &Interaction,
    resp: &Response,
    cookies_before: &[String],
    set: &[String],
) -> Option<String> {
    let location = resp.header("location").map(|l| resolve(&ix.url, l));
    let same_origin = location.as_deref().and_then(crate::login::origin) == crate::login::origin(&ix.url);
    ctx.push(
        Check::new("passkey_login.status", "the verified passkey sign-in goes on to consent with a 303")
            .req(&["INT-PK-01", "INT-PK-02"])
            .expected("HTTP 303 to the consent page on the authorization server")
            .observed(match (&location, alert_text(&resp.body)) {
                (Some(l), _) => format!("HTTP {} to {}", resp.status_or_zero(), crate::http::redact_url(l)),
                (None, Some(alert)) => format!("{}: {alert:?}", resp.describe()),
                (None, None) => resp.describe(),
            })
            .hint("a 401 page here means the server refused a valid assertion: its error says why")
            .evidence(&[resp.index])
            .pass(resp.status == Some(303) && same_origin),
    );
    let new: Vec<&String> = set.iter().filter(|n| !cookies_before.contains(n)).collect();
    ctx.push(
        Check::new("passkey_login.session", "the passkey sign-in opens a session")
            .req(&["INT-PK-01"])
            .expected("a new cookie (the session) set with the redirect")
            .observed(if new.is_empty() { "no new cookie".to_owned() } else { format!("new cookie(s): {new:?}") })
            .evidence(&[resp.index])
            .pass(!new.is_empty()),
    );
    location.filter(|_| resp.status == Some(303) && same_origin && !new.is_empty())
}

/// Judges a refused assertion: the error page, then the account page in the same browser.
async fn judge_refusal(
    ctx: &mut ModuleContext,
    browser: &mut Browser,
    resp: &Response,
    attempt: Attempt,
    want: &Passkeys,
    script: &FormScript,
) {
    let (rules, what) = attempt.refusal().unwrap_or_default();
    ctx.extend(passkeys::refused("passkey_login", what, resp, 401, rules, &[resp.index]));
    let account = browser.open(&mut ctx.http, &want.account_url).await;
    ctx.push(passkeys::no_session("passkey_login", &account, &script.password_field, rules));
}

/// After the 303 to consent: approves it (when the server asks) and judges the redirect to the
/// client; keeps the code.
async fn consent(ctx: &mut ModuleContext, ix: &mut Interaction, index: u8, consent_url: &str, script: &FormScript) {
    let Some(client) = need_client(ctx, index) else { return };
    let Some(flow) = ctx.state_ref(index).flow.clone() else { return };
    let page = ix.browser.open(&mut ctx.http, consent_url).await;
    let mut evidence = page.evidence.clone();
    let landing = if page.left_to.is_some() {
        page
    } else {
        let forms = parse_forms(&page.response.body);
        let Some(form) = forms.iter().find(|f| f.fields.iter().any(|n| n == &script.approve.field)) else {
            ctx.push(
                Check::new("passkey_login.consent", "after the passkey sign-in the server asks for consent")
                    .req(&["INT-PK-01"])
                    .expected(format!("a consent form with a `{}` field, or the redirect to the client", script.approve.field))
                    .observed(page.describe())
                    .evidence(&page.evidence)
                    .pass(false),
            );
            ctx.aborted = true;
            return;
        };
        let mut fields = form.hidden.clone();
        fields.push((script.approve.field.clone(), script.approve.value.clone()));
        fields.extend(script.extra_fields.iter().map(|(k, v)| (k.clone(), v.clone())));
        let action = resolve(&page.url, form.action.as_deref().unwrap_or_default());
        let landing = ix.browser.submit(&mut ctx.http, Request::post_form(action, fields)).await;
        evidence.extend_from_slice(&landing.evidence);
        landing
    };
    let Some((to, status)) = landing.left_to.clone() else {
        ctx.push(
            Check::new("authorize.redirect", "the authorization completes with a redirect to the client")
                .req(&["FAPI2-SP-AZ-02"])
                .expected("a redirect to the redirect URI with a code")
                .observed(landing.describe())
                .evidence(&evidence)
                .pass(false),
        );
        ctx.aborted = true;
        return;
    };
    let redirect_uri = flow.redirect_uri.clone().unwrap_or_else(|| client.redirect_uri.clone());
    let sent = Sent { issuer: &ctx.target.issuer, redirect_uri: &redirect_uri, state: flow.state.as_deref() };
    let (conds, code) = authorize::success(&sent, &to, Some(status), &evidence);
    ctx.extend(conds);
    match code {
        Some(c) => {
            let st = ctx.state(index);
            st.code = Some(c);
            st.code_received_at = Some(Instant::now());
        }
        None => ctx.aborted = true,
    }
}

/// Changes the assertion the way the attempt breaks it.
fn break_assertion(attempt: Attempt, assertion: &mut PublicKeyCredential) {
    match attempt {
        // Byte 33 is the first (most significant) byte of the big-endian sign counter.
        Attempt::TamperedAuthenticatorData => {
            if let Some(b) = assertion.response.authenticator_data.get_mut(33) {
                *b ^= 0x01;
            }
        }
        // DER: 0x30 len 0x02 rlen r…; byte 8 lies inside r.
        Attempt::TamperedSignature => {
            if let Some(b) = assertion.response.signature.get_mut(8) {
                *b ^= 0x01;
            }
        }
        Attempt::UnknownUserHandle => {
            // Random bytes as long as the real handle: a handle the server never issued.
            let len = assertion.response.user_handle.as_ref().map_or(32, Vec::len).max(16);
            assertion.response.user_handle = fapilab_jose::b64::decode(&fapilab_jose::random_token(len)).ok();
        }
        Attempt::NoUserHandle => assertion.response.user_handle = None,
        _ => {}
    }
}

pub async fn run(ctx: &mut ModuleContext, step: &StepRun<'_>) {
    let Some((want, script)) = prerequisites(ctx) else { return };
    if ctx.jarm() || ctx.hybrid() || ctx.by_value() {
        ctx.skip("passkey_login reads plain (query) responses to pushed requests only");
        return;
    }
    let Some(current) = ctx.passkeys.current().cloned() else {
        return harness_problem(ctx, "passkey_login.harness", "find a passkey", "put a successful `passkey_register` step first");
    };
    let attempt = match Attempt::of(step, current.removed) {
        Ok(a) => a,
        Err(why) => return harness_problem(ctx, "passkey_login.harness", "run the scenario as written", &why),
    };
    if !expectation_fits(ctx, step, attempt.refusal().map(|(_, what)| what)) {
        return;
    }
    let index = step.index;
    let other = if index == 1 { 2 } else { 1 };
    if attempt == Attempt::OtherInteraction && ctx.state_ref(other).flow.is_none() {
        return harness_problem(
            ctx,
            "passkey_login.harness",
            "open a second authorization",
            &format!("passkey_other_interaction needs a successful `par` step for client {other} first"),
        );
    }
    let Some(mut ix) = open(ctx, index).await else { return };
    let Some((mut options, _)) = request_options(ctx, &mut ix, &want).await else { return };

    match attempt {
        Attempt::Valid | Attempt::Replay => {
            let first_challenge = options.public_key.challenge.clone();
            let Some(assertion) = assert_with(ctx, &want.origin, options, &current.credential_id) else { return };
            let Some(json) = to_json(ctx, &assertion) else { return };
            let before = ix.browser.cookies.clone();
            let (resp, set) = ix.browser.send(&mut ctx.http, ix.post(&json)).await;
            let Some(consent_url) = judge_signed_in(ctx, &ix, &resp, &before.names(), &set) else {
                ctx.aborted = true;
                return;
            };
            if attempt == Attempt::Valid {
                ctx.passkeys.signed_in_with = Some(current);
                return consent(ctx, &mut ix, index, &consent_url, &script).await;
            }
            // The interaction's cookies, not the session the first post opened. Like the page's
            // script it asks for options first: a fresh challenge is then live for the
            // interaction, so only comparing challenges can refuse the replay (AUTH-04).
            let mut replayer = Interaction { browser: Browser::with(before), ..ix.clone() };
            let Some((fresh, fresh_index)) = request_options(ctx, &mut replayer, &want).await else { return };
            let renewed = fresh.public_key.challenge != first_challenge;
            ctx.push(
                Check::new("passkey_login.fresh_challenge", "asking for options again gives a new challenge")
                    .req(&["AUTH-OPT-01"])
                    .expected("a challenge other than the one the replayed assertion signed")
                    .observed(if renewed { "a new challenge" } else { "the same challenge again" })
                    .hint("a challenge is random and single-use: each request for options gets its own")
                    .evidence(&[fresh_index])
                    .pass(renewed),
            );
            let (resp, _) = replayer.browser.send(&mut ctx.http, replayer.post(&json)).await;
            judge_refusal(ctx, &mut replayer.browser, &resp, attempt, &want, &script).await;
        }
        Attempt::OtherInteraction => {
            let Some(mut theirs) = open(ctx, other).await else { return };
            let Some((their_options, _)) = request_options(ctx, &mut theirs, &want).await else { return };
            let Some(assertion) = assert_with(ctx, &want.origin, their_options, &current.credential_id) else { return };
            let Some(json) = to_json(ctx, &assertion) else { return };
            let (resp, _) = ix.browser.send(&mut ctx.http, ix.post(&json)).await;
            judge_refusal(ctx, &mut ix.browser, &resp, attempt, &want, &script).await;
            own_interaction(ctx, &mut theirs, &json, &want, &script).await;
        }
        _ => {
            if attempt == Attempt::NoUserVerification {
                options.public_key.user_verification = UserVerificationPolicy::Discouraged_DO_NOT_USE;
            }
            let origin = if attempt == Attempt::OtherOrigin { other_port(&want.origin) } else { want.origin.clone() };
            let Some(mut assertion) = assert_with(ctx, &origin, options, &current.credential_id) else { return };
            if attempt == Attempt::NoUserVerification
                && AuthenticatorData::parse(&assertion.response.authenticator_data).is_ok_and(|d| d.flags & FLAG_UV != 0)
            {
                return harness_problem(
                    ctx,
                    "passkey_login.harness",
                    "sign without user verification",
                    "the software authenticator set UV although the options discouraged it: the refusal would prove nothing",
                );
            }
            break_assertion(attempt, &mut assertion);
            let Some(json) = to_json(ctx, &assertion) else { return };
            let (resp, _) = ix.browser.send(&mut ctx.http, ix.post(&json)).await;
            judge_refusal(ctx, &mut ix.browser, &resp, attempt, &want, &script).await;
        }
    }
}

/// The positive control of `passkey_other_interaction`: the assertion the other interaction's
/// challenge was signed for signs in there — a 303 on the server with a new cookie, after
/// which the account page in that browser is not a sign-in page — so the refusal was about
/// the binding (INT-PK-03), not the assertion.
async fn own_interaction(ctx: &mut ModuleContext, theirs: &mut Interaction, json: &str, want: &Passkeys, script: &FormScript) {
    let before = theirs.browser.cookies.names();
    let (control, set) = theirs.browser.send(&mut ctx.http, theirs.post(json)).await;
    let location = control.header("location").map(|l| resolve(&theirs.url, l));
    let same_origin = location.as_deref().and_then(crate::login::origin) == crate::login::origin(&theirs.url);
    let new: Vec<&String> = set.iter().filter(|n| !before.contains(n)).collect();
    let signed_in = control.status == Some(303) && same_origin && !new.is_empty();
    let mut evidence = vec![control.index];
    let mut observed = match (&location, alert_text(&control.body)) {
        (Some(l), _) => format!("HTTP {} to {}", control.status_or_zero(), crate::http::redact_url(l)),
        (None, Some(alert)) => format!("{}: {alert:?}", control.describe()),
        (None, None) => control.describe(),
    };
    observed.push_str(&if new.is_empty() { ", no new cookie".to_owned() } else { format!(", new cookie(s) {new:?}") });
    let session = if signed_in {
        let account = theirs.browser.open(&mut ctx.http, &want.account_url).await;
        evidence.extend_from_slice(&account.evidence);
        let session = account.is_page() && !is_sign_in_page(&account.response.body, &account.url, &script.password_field);
        observed.push_str(&format!(
            "; the account page: {}{}",
            account.describe(),
            if session { ", signed in" } else { ", not signed in" }
        ));
        session
    } else {
        false
    };
    ctx.push(
        Check::new("passkey_login.own_interaction", "the same assertion signs in to the authorization it was made for")
            .req(&["INT-PK-03", "INT-PK-01"])
            .expected("HTTP 303 on to consent with a new cookie, and then the account page signed in (so the refusal above was about the other authorization)")
            .observed(observed)
            .hint("if the assertion does not work where it belongs either, the refusal above does not show the binding")
            .evidence(&evidence)
            .pass(signed_in && session),
    );
    if !(signed_in && session) {
        ctx.aborted = true;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::passkey::authenticator::SoftAuthenticator;
    use aws_lc_rs::digest::{SHA256, digest};
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};
    use serde_json::json;

    /// What a verifier sees of an assertion: whether its signature holds (AUTH-08) and the
    /// user handle and counter it names.
    fn verify(public_key: &[u8], a: &PublicKeyCredential) -> bool {
        let signed = [a.response.authenticator_data.as_slice(), digest(&SHA256, &a.response.client_data_json).as_ref()].concat();
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, public_key).verify(&signed, &a.response.signature).is_ok()
    }

    #[test]
    fn one_mutation_is_one_attempt() {
        use crate::mutations::Mutations;
        use crate::scenario::{Expect, StepSpec};
        let of = |mutations: &[&str], removed: bool| {
            let spec = StepSpec {
                step: "passkey_login".into(),
                client: 1,
                mutations: mutations.iter().map(|m| (*m).to_owned()).collect(),
                expect: Expect::Rejected,
                errors: Vec::new(),
                params: toml::Table::new(),
                line: 30,
            };
            Attempt::of(&StepRun { spec: &spec, mutations: Mutations(spec.mutations.clone()), index: 1 }, removed)
        };
        assert_eq!(of(&[], false), Ok(Attempt::Valid));
        assert_eq!(of(&[], true), Ok(Attempt::Removed));
        for (m, a) in MUTATIONS {
            assert_eq!(of(&[m], true), Ok(a), "{m}");
            assert!(a.refusal().is_some(), "{m}");
        }
        let err = of(&["passkey_tampered_signature", "passkey_replay"], false).unwrap_err();
        assert!(err.contains("line 30") && err.contains("passkey_replay and passkey_tampered_signature"), "{err}");
    }

    /// Each mutation breaks exactly what it claims: the tampered ones fail the signature, the
    /// user handle ones keep it valid (the handle is not signed) and change only the handle.
    #[test]
    fn each_mutation_breaks_what_it_says() {
        let mut a = SoftAuthenticator::new();
        let creation = json!({"publicKey": {
            "rp": {"name": "x", "id": "localhost"}, "user": {"id": fapilab_jose::b64::encode(&[5; 16]), "name": "alice", "displayName": "alice"},
            "challenge": fapilab_jose::b64::encode(&[1; 32]), "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
            "authenticatorSelection": {"residentKey": "required", "requireResidentKey": true, "userVerification": "required"}}});
        let (_, resident) = a.register("https://localhost:8443", serde_json::from_value(creation).unwrap()).unwrap();
        let request = json!({"publicKey": {"challenge": fapilab_jose::b64::encode(&[2; 32]), "rpId": "localhost", "allowCredentials": [], "userVerification": "required"}});
        let valid = a.authenticate("https://localhost:8443", serde_json::from_value(request).unwrap(), None).unwrap();
        assert!(verify(&resident.public_key, &valid));
        let counter = |x: &PublicKeyCredential| AuthenticatorData::parse(&x.response.authenticator_data).unwrap();
        for attempt in [Attempt::TamperedAuthenticatorData, Attempt::TamperedSignature] {
            let mut broken = valid.clone();
            break_assertion(attempt, &mut broken);
            assert!(!verify(&resident.public_key, &broken), "{attempt:?} must break the signature");
            assert_eq!(broken.response.user_handle, valid.response.user_handle);
        }
        let mut tampered = valid.clone();
        break_assertion(Attempt::TamperedAuthenticatorData, &mut tampered);
        let (before, after) = (counter(&valid), counter(&tampered));
        assert!(after.sign_count > before.sign_count, "only the signature can catch it, not AUTH-09");
        assert_eq!((after.flags, after.rp_id_hash), (before.flags, before.rp_id_hash));
        let mut nobody = valid.clone();
        break_assertion(Attempt::UnknownUserHandle, &mut nobody);
        assert!(verify(&resident.public_key, &nobody), "the user handle is not signed");
        let handle = nobody.response.user_handle.clone().unwrap();
        assert_eq!(handle.len(), 16);
        assert_ne!(handle, resident.user_handle);
        let mut none = valid.clone();
        break_assertion(Attempt::NoUserHandle, &mut none);
        assert!(verify(&resident.public_key, &none) && none.response.user_handle.is_none());
        let mut same = valid.clone();
        break_assertion(Attempt::Replay, &mut same);
        assert_eq!(serde_json::to_value(&same).unwrap(), serde_json::to_value(&valid).unwrap());
    }
}
