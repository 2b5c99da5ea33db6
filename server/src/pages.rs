//! The server-rendered pages: login, one-time code, change password, consent and errors,
//! rendered from the workspace's theme (`theme.rs`; templates in `server/templates/`). Plain
//! HTML with labels and a natural focus order, no JavaScript. The form field names are a documented contract
//! (README "Login form contract") that the harness and scripts rely on:
//!
//! - login: `POST {issuer}/login` with `interaction_id`, `csrf_token`, `username`, `password`
//! - consent: `POST {issuer}/consent` with `interaction_id`, `csrf_token`, `decision` =
//!   `approve` | `deny`

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

/// Security headers of every page: never cached, never framed, nothing but inline styles.
pub fn secure(status: StatusCode, html: String) -> Response {
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"),
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

/// A themed page with the security headers every page carries.
fn themed(theme: &Theme, status: StatusCode, page: &str, ctx: minijinja::Value) -> Response {
    secure(status, theme.render(page, ctx))
}

/// The login page. With a code offer (the pool prefers one-time codes) that form comes first
/// and the password form second (the preferred mechanism is offered first).
pub fn login(theme: &Theme, action: &str, interaction_id: &str, csrf_token: &str, client_name: &str, error: Option<&str>, code: Option<CodeOffer<'_>>) -> Response {
    let code_offer = code.map(|c| context! { action => c.action, channel => c.channel });
    let status = if error.is_some() { StatusCode::UNAUTHORIZED } else { StatusCode::OK };
    themed(theme, status, "login.html", context! { action, interaction_id, csrf_token, client_name, error, code_offer })
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
