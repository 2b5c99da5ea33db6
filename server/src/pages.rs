//! The server-rendered pages: login, consent and errors. Plain HTML with labels and a
//! natural focus order, no JavaScript. The form field names are a documented contract
//! (README "Login form contract") that the harness and scripts rely on:
//!
//! - login: `POST {issuer}/login` with `interaction_id`, `csrf_token`, `username`, `password`
//! - consent: `POST {issuer}/consent` with `interaction_id`, `csrf_token`, `decision` =
//!   `approve` | `deny`

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

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

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#1b1b1b}\
label{display:block;margin-top:1rem;font-weight:600}input{font-size:1rem;padding:.4rem;width:100%;box-sizing:border-box}\
button{font-size:1rem;margin-top:1.2rem;margin-right:.6rem;padding:.5rem 1.2rem}\
.error{color:#a40000;border-left:4px solid #a40000;padding-left:.6rem}ul{line-height:1.6}";

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>",
        title = escape(title)
    );
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

/// The login page. With a code offer (the pool prefers one-time codes) that form comes first
/// and the password form second (issue 6: the preferred mechanism is offered first).
pub fn login(action: &str, interaction_id: &str, csrf_token: &str, client_name: &str, error: Option<&str>, code: Option<CodeOffer<'_>>) -> Response {
    let error_html = error.map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e))).unwrap_or_default();
    let code_form = code
        .map(|c| {
            format!(
                "<form method=\"post\" action=\"{code_action}\">\
                 <input type=\"hidden\" name=\"interaction_id\" value=\"{iid}\"><input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
                 <label for=\"code_username\">Email, mobile number or customer id</label><input id=\"code_username\" name=\"username\" autocomplete=\"username\" required autofocus>\
                 <button type=\"submit\">Send me a code by {channel}</button></form><p>Or sign in with your password:</p>",
                code_action = escape(c.action),
                iid = escape(interaction_id),
                csrf = escape(csrf_token),
                channel = escape(c.channel),
            )
        })
        .unwrap_or_default();
    let body = format!(
        "<h1>Sign in</h1><p><strong>{client}</strong> asks to access your account.</p>{error_html}{code_form}\
         <form method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"interaction_id\" value=\"{iid}\"><input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
         <label for=\"username\">Username</label><input id=\"username\" name=\"username\" autocomplete=\"username\" required autofocus>\
         <label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         <button type=\"submit\">Sign in</button></form>",
        client = escape(client_name),
        action = escape(action),
        iid = escape(interaction_id),
        csrf = escape(csrf_token),
    );
    let status = if error.is_some() { StatusCode::UNAUTHORIZED } else { StatusCode::OK };
    page(status, "Sign in", &body)
}

/// Where the one-time code is entered.
pub fn enter_code(action: &str, interaction_id: &str, csrf_token: &str, client_name: &str, error: Option<&str>) -> Response {
    let error_html = error.map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e))).unwrap_or_default();
    let body = format!(
        "<h1>Enter your code</h1><p>If the account has a verified address, a six-digit code was sent to it. It works once, for 5 minutes, to continue to <strong>{client}</strong>.</p>{error_html}\
         <form method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"interaction_id\" value=\"{iid}\"><input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
         <label for=\"code\">Code</label><input id=\"code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" pattern=\"[0-9 ]*\" required autofocus>\
         <button type=\"submit\">Continue</button></form>",
        client = escape(client_name),
        action = escape(action),
        iid = escape(interaction_id),
        csrf = escape(csrf_token),
    );
    let status = if error.is_some() { StatusCode::UNAUTHORIZED } else { StatusCode::OK };
    page(status, "Enter your code", &body)
}

/// The step after a correct but expired password (or a one-time code for a user without a
/// password): a new one, entered twice. `problems` are
/// every unmet rule of the pool's policy (or a mismatch), listed at once.
pub fn change_password(action: &str, interaction_id: &str, csrf_token: &str, client_name: &str, problems: &[String]) -> Response {
    let problems_html = if problems.is_empty() {
        String::new()
    } else {
        let items: String = problems.iter().map(|p| format!("<li>{}</li>", escape(p))).collect();
        format!("<div class=\"error\" role=\"alert\"><p>The new password cannot be used:</p><ul>{items}</ul></div>")
    };
    let body = format!(
        "<h1>Choose a new password</h1><p>Your password has expired or was never set. Choose one to continue to <strong>{client}</strong>.</p>{problems_html}\
         <form method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"interaction_id\" value=\"{iid}\"><input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
         <label for=\"new_password\">New password</label><input id=\"new_password\" name=\"new_password\" type=\"password\" autocomplete=\"new-password\" required autofocus>\
         <label for=\"confirm_password\">New password again</label><input id=\"confirm_password\" name=\"confirm_password\" type=\"password\" autocomplete=\"new-password\" required>\
         <button type=\"submit\">Change password</button></form>",
        client = escape(client_name),
        action = escape(action),
        iid = escape(interaction_id),
        csrf = escape(csrf_token),
    );
    let status = if problems.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    page(status, "Choose a new password", &body)
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

pub fn consent(action: &str, interaction_id: &str, csrf_token: &str, client_name: &str, username: &str, scopes: &[&str]) -> Response {
    let items: String = scopes.iter().map(|s| format!("<li>{}</li>", escape(&describe_scope(s)))).collect();
    let body = format!(
        "<h1>Allow access?</h1><p>Signed in as <strong>{user}</strong>.</p>\
         <p><strong>{client}</strong> would like to:</p><ul>{items}</ul>\
         <form method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"interaction_id\" value=\"{iid}\"><input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
         <button type=\"submit\" name=\"decision\" value=\"approve\">Allow</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form>",
        user = escape(username),
        client = escape(client_name),
        action = escape(action),
        iid = escape(interaction_id),
        csrf = escape(csrf_token),
    );
    page(StatusCode::OK, "Allow access?", &body)
}

/// An error the browser sees instead of a redirect (OA-03: no redirect to an unvalidated URI).
pub fn error(status: StatusCode, error_code: &str, description: &str) -> Response {
    tracing::info!(error = error_code, description, "authorization request refused with an error page");
    let body = format!(
        "<h1>This request cannot be completed</h1><p class=\"error\" role=\"alert\">\
         <span id=\"error\">{code}</span>: <span id=\"error_description\">{desc}</span></p>",
        code = escape(error_code),
        desc = escape(description)
    );
    page(status, "Error", &body)
}

#[cfg(test)]
mod tests {
    #[test]
    fn escaping_covers_html_metacharacters() {
        assert_eq!(super::escape("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }
}
