//! The server-rendered pages: login, one-time code, change password, consent, the account
//! page (passkeys) and errors, rendered from the workspace's theme (`theme.rs`; templates in
//! `server/templates/`). Plain HTML with labels and a natural focus order; the only script is
//! the passkey ceremony (`server/assets/passkey.js`), without which every other form still
//! works. The form field names are a documented contract (README "Login form contract") that
//! the harness and scripts rely on:
//!
//! - login: `POST {issuer}/login` with `interaction_id`, `csrf_token`, `username`, `password`
//! - passkey sign-in: `POST {issuer}/passkey/options` (`interaction_id`, `csrf_token`) →
//!   WebAuthn request options as JSON; `POST {issuer}/passkey/login` with the same fields and
//!   `credential` (the WebAuthn response as JSON)
//! - consent: `POST {issuer}/consent` with `interaction_id`, `csrf_token`, `decision` =
//!   `approve` | `deny`
//! - account: `POST {issuer}/account/passkeys/options` (`csrf_token`) → WebAuthn creation
//!   options; `POST {issuer}/account/passkeys` (`csrf_token`, `name`, `credential`);
//!   `POST {issuer}/account/passkeys/remove` (`csrf_token`, `passkey_id`)

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::context;

use crate::theme::Theme;

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Security headers of every page: never cached, never framed, inline styles, and scripts and
/// fetches only from this origin (the passkey script and its option requests).
pub fn secure(status: StatusCode, html: String) -> Response {
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'"),
    );
    response
}

/// The script that submits a `form_post` page; allowed by its hash, nothing else runs.
const AUTO_SUBMIT: &str = "document.forms[0].submit()";

/// JARM `form_post.jwt` (MS-JARM-06, OAuth 2.0 Form Post Response Mode): a page whose form
/// posts `field` = `value` to `action` by itself, or with one button without JavaScript.
pub fn form_post(action: &str, field: &str, value: &str) -> Response {
    use base64::Engine;
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Returning to the application</title></head>\
         <body><form method=\"post\" action=\"{action}\"><input type=\"hidden\" name=\"{field}\" value=\"{value}\">\
         <noscript><button type=\"submit\">Continue</button></noscript></form><script>{AUTO_SUBMIT}</script></body></html>",
        action = escape(action),
        field = escape(field),
        value = escape(value),
    );
    let script_hash = base64::engine::general_purpose::STANDARD.encode(fapilab_jose::sha256(AUTO_SUBMIT.as_bytes()));
    let mut response = (StatusCode::OK, Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if let Ok(csp) = HeaderValue::from_str(&format!("default-src 'none'; script-src 'sha256-{script_hash}'; frame-ancestors 'none'")) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    response
}

/// A one-time code offered on the login page: where to ask for it and where it goes.
pub struct CodeOffer<'a> {
    pub action: &'a str,
    /// "email" or "text message".
    pub channel: &'a str,
}

/// Passkey sign-in offered on the login page: where its options come from, where the
/// response goes, the script, and whether it comes first (the pool prefers passkeys).
pub struct PasskeyOffer {
    pub options: String,
    pub action: String,
    pub script: String,
    pub first: bool,
}

/// A themed page with the security headers every page carries.
fn themed(theme: &Theme, status: StatusCode, page: &str, ctx: minijinja::Value) -> Response {
    secure(status, theme.render(page, ctx))
}

/// What the login page offers besides the password form.
pub struct LoginOffers<'a> {
    pub code: Option<CodeOffer<'a>>,
    pub passkey: Option<PasskeyOffer>,
}

/// The login page. The pool's preferred mechanism comes first: a passkey, or a one-time code
/// before the password form.
/// Who the login page signs in for: a client (shown by name), or the account page.
pub enum SignInFor<'a> {
    Client(&'a str),
    Account,
}

pub fn login(theme: &Theme, action: &str, interaction_id: &str, csrf_token: &str, signing_in_for: SignInFor<'_>, error: Option<&str>, offers: LoginOffers<'_>) -> Response {
    let code_offer = offers.code.map(|c| context! { action => c.action, channel => c.channel });
    let passkey = offers.passkey.map(|p| context! { options => p.options, action => p.action, script => p.script, first => p.first });
    let (client_name, for_account) = match signing_in_for {
        SignInFor::Client(name) => (name, false),
        SignInFor::Account => ("", true),
    };
    let status = if error.is_some() { StatusCode::UNAUTHORIZED } else { StatusCode::OK };
    themed(theme, status, "login.html", context! { action, interaction_id, csrf_token, client_name, for_account, error, code_offer, passkey })
}

/// One passkey as the account page lists it.
pub struct PasskeyLine {
    pub id: String,
    pub name: String,
    pub created: String,
    pub last_used: Option<String>,
    pub synced: bool,
}

/// Registration on the account page: where the options come from, where the response goes;
/// or, when the sign-in is too old to add a passkey, where to sign in again.
pub struct PasskeyRegistration {
    pub options: String,
    pub action: String,
    pub script: String,
    pub sign_in_again: Option<String>,
}

/// The account page: the signed-in user's passkeys, each removable, and the form that adds
/// one (absent where the workspace cannot be a WebAuthn relying party).
pub struct AccountPage<'a> {
    pub username: &'a str,
    pub csrf_token: &'a str,
    pub remove_action: String,
    pub passkeys: Vec<PasskeyLine>,
    pub register: Option<PasskeyRegistration>,
}

pub fn account(theme: &Theme, status: StatusCode, page: AccountPage<'_>, error: Option<&str>) -> Response {
    let passkeys: Vec<minijinja::Value> = page
        .passkeys
        .into_iter()
        .map(|p| context! { id => p.id, name => p.name, created => p.created, last_used => p.last_used, synced => p.synced })
        .collect();
    let register = page.register.map(|r| context! { options => r.options, action => r.action, script => r.script, sign_in_again => r.sign_in_again });
    let ctx = context! {
        username => page.username, csrf_token => page.csrf_token, remove_action => page.remove_action, passkeys, register, error,
    };
    themed(theme, status, "account.html", ctx)
}

/// Where the one-time code is entered.
pub fn enter_code(theme: &Theme, action: &str, interaction_id: &str, csrf_token: &str, client_name: &str, error: Option<&str>) -> Response {
    let status = if error.is_some() { StatusCode::UNAUTHORIZED } else { StatusCode::OK };
    themed(theme, status, "enter_code.html", context! { action, interaction_id, csrf_token, client_name, error })
}

/// The step after a correct but expired password (or a one-time code for a user without a
/// password): a new one, entered twice. `problems` are every unmet rule of the pool's policy
/// (or a mismatch), listed at once.
pub fn change_password(theme: &Theme, action: &str, interaction_id: &str, csrf_token: &str, client_name: &str, problems: &[String]) -> Response {
    let status = if problems.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    themed(theme, status, "change_password.html", context! { action, interaction_id, csrf_token, client_name, problems })
}

/// Plain words for the scopes we know (FAPI2-SP-AZ-13: enough information to decide).
fn describe_scope(scope: &str) -> String {
    match scope {
        "openid" => "Confirm who you are".into(),
        "profile" => "See your name".into(),
        "email" => "See your email address".into(),
        "accounts" => "See your accounts, balances and transactions".into(),
        other => format!("Use the \u{201c}{other}\u{201d} permission"),
    }
}

pub fn consent(theme: &Theme, action: &str, interaction_id: &str, csrf_token: &str, client_name: &str, username: &str, scopes: &[&str]) -> Response {
    let scopes: Vec<String> = scopes.iter().map(|s| describe_scope(s)).collect();
    themed(theme, StatusCode::OK, "consent.html", context! { action, interaction_id, csrf_token, client_name, username, scopes })
}

/// An error the browser sees instead of a redirect (OA-03: no redirect to an unvalidated URI).
/// Always the built-in theme: see `theme`.
pub fn error(status: StatusCode, error_code: &str, description: &str) -> Response {
    tracing::info!(error = error_code, description, "authorization request refused with an error page");
    themed(&crate::theme::builtin(), status, "error.html", context! { error => error_code, error_description => description })
}
