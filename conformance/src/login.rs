//! Drives the authorization server's login and consent pages like a user would, following a
//! declarative [`FormScript`]: open the authorization URL, fill in the form that has the
//! password field (hidden inputs copied), follow redirects on the AS, answer the consent form
//! with the approve or deny field, and stop at the first redirect that leaves the AS (the
//! client's callback) or at a page whose form posts to another origin (the response page of
//! `form_post.jwt`, which a browser submits by script). A 4xx/5xx page, or a page without a
//! form, is an error page: a valid outcome for requests the AS must refuse.
//!
//! In manual mode the URL is printed to stderr and the final redirect URL is read from stdin.

use crate::conditions::errors::FrontOutcome;
use crate::http::{Http, Request, Via};
use crate::model::Exchange;
use crate::target::{FormScript, Login};

const MAX_HOPS: usize = 12;

/// An HTML form: where it goes and what it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    pub action: Option<String>,
    pub method: String,
    /// Hidden inputs (name, value), in document order.
    pub hidden: Vec<(String, String)>,
    /// Names of every input, button and select.
    pub fields: Vec<String>,
    /// Buttons and submit inputs with a name: (name, value).
    pub buttons: Vec<(String, String)>,
}

/// Every `<form>` of a page.
pub fn parse_forms(html: &str) -> Vec<Form> {
    let lower = html.to_ascii_lowercase();
    let mut forms = Vec::new();
    let mut pos = 0;
    while let Some(start) = lower[pos..].find("<form").map(|i| i + pos) {
        let end = lower[start..].find("</form").map_or(html.len(), |i| i + start);
        let inner = &html[start..end];
        let tag_end = inner.find('>').unwrap_or(inner.len());
        let open = &inner[..tag_end];
        let mut form = Form {
            action: attr(open, "action"),
            method: attr(open, "method").unwrap_or_else(|| "get".into()).to_ascii_lowercase(),
            hidden: Vec::new(),
            fields: Vec::new(),
            buttons: Vec::new(),
        };
        for tag in tags(inner, &["input", "button", "select", "textarea"]) {
            let Some(name) = attr(&tag.1, "name") else { continue };
            let ty = attr(&tag.1, "type").unwrap_or_default().to_ascii_lowercase();
            let value = attr(&tag.1, "value").unwrap_or_default();
            if tag.0 == "input" && ty == "hidden" {
                form.hidden.push((name.clone(), value.clone()));
            }
            if tag.0 == "button" || ty == "submit" {
                form.buttons.push((name.clone(), value));
            }
            form.fields.push(name);
        }
        forms.push(form);
        pos = end.max(start + 5);
    }
    forms
}

/// `(tag name, opening tag text)` for each tag of those names.
fn tags(html: &str, names: &[&str]) -> Vec<(String, String)> {
    let lower = html.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(i) = lower[pos..].find('<').map(|i| i + pos) {
        let rest = &lower[i + 1..];
        if let Some(name) =
            names.iter().find(|n| rest.starts_with(**n) && rest[n.len()..].starts_with(|c: char| c.is_whitespace() || c == '>' || c == '/'))
        {
            let end = html[i..].find('>').map_or(html.len(), |e| e + i);
            out.push(((*name).to_owned(), html[i..end].to_owned()));
            pos = end;
        } else {
            pos = i + 1;
        }
    }
    out
}

/// An attribute value: double-quoted, single-quoted or bare; entities decoded.
pub fn attr(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find(name).map(|i| i + from) {
        let before_ok = i > 0 && lower.as_bytes().get(i - 1).is_some_and(|b| b.is_ascii_whitespace());
        let after = lower[i + name.len()..].trim_start();
        if before_ok && after.starts_with('=') {
            let offset = tag.len() - after.len() + 1;
            let rest = tag[offset..].trim_start();
            let value = if let Some(r) = rest.strip_prefix('"') {
                r.split('"').next().unwrap_or_default()
            } else if let Some(r) = rest.strip_prefix('\'') {
                r.split('\'').next().unwrap_or_default()
            } else {
                rest.split(|c: char| c.is_whitespace() || c == '>').next().unwrap_or_default()
            };
            return Some(unescape(value));
        }
        from = i + name.len();
    }
    None
}

/// `s` with its character references decoded, in one pass: the named ones HTML escapers write
/// (`&amp;` `&lt;` `&gt;` `&quot;` `&apos;`) and numeric ones (`&#47;`, `&#x2f;`). Anything
/// else is left as it is.
pub fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match after.find(';').filter(|end| *end <= 10).and_then(|end| reference(&after[..end]).map(|c| (c, end))) {
            Some((c, end)) => {
                out.push(c);
                rest = &after[end + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The character a reference (between `&` and `;`) stands for.
fn reference(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => {
            let number = name.strip_prefix('#')?;
            let (digits, radix) = match number.strip_prefix(['x', 'X']) {
                Some(hex) => (hex, 16),
                None => (number, 10),
            };
            if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
                return None;
            }
            char::from_u32(u32::from_str_radix(digits, radix).ok()?)
        }
    }
}

/// Resolves `reference` against `base` (absolute URL, absolute path, or relative path).
pub fn resolve(base: &str, reference: &str) -> String {
    if reference.contains("://") {
        return reference.to_owned();
    }
    let origin = origin(base).unwrap_or_default();
    if let Some(r) = reference.strip_prefix("//") {
        let scheme = base.split("://").next().unwrap_or("https");
        return format!("{scheme}://{r}");
    }
    if reference.starts_with('/') {
        return format!("{origin}{reference}");
    }
    let path = base.split(['?', '#']).next().unwrap_or(base);
    if reference.is_empty() {
        return base.to_owned();
    }
    if reference.starts_with('?') {
        return format!("{path}{reference}");
    }
    match path.rfind('/') {
        Some(i) if i > origin.len() => format!("{}/{reference}", &path[..i]),
        _ => format!("{origin}/{reference}"),
    }
}

/// `scheme://host[:port]` of a URL.
pub fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    Some(format!("{}://{}", scheme.to_ascii_lowercase(), authority.to_ascii_lowercase()))
}

/// The `error` an error page shows (`<span id="error">`, or `error=` text), if any.
fn page_error(html: &str) -> Option<String> {
    if let Some(i) = html.find("id=\"error\"") {
        let rest = &html[i..];
        let start = rest.find('>')? + 1;
        let end = rest[start..].find('<')? + start;
        let text = rest[start..end].trim();
        if !text.is_empty() {
            return Some(unescape(text));
        }
    }
    None
}

/// What [`run`] found: the outcome and the exchanges it went through.
pub struct LoginResult {
    pub outcome: FrontOutcome,
    pub evidence: Vec<usize>,
}

/// Opens `url` in the module's browser and answers login and consent; stops at the first
/// redirect that leaves the authorization server's origin.
pub async fn run(http: &mut Http, login: &Login, url: &str, approve: bool) -> LoginResult {
    match login {
        Login::Manual => manual(http, url).await,
        Login::Form(script) => scripted(http, script, url, approve).await,
    }
}

async fn scripted(http: &mut Http, script: &FormScript, url: &str, approve: bool) -> LoginResult {
    let as_origin = origin(url).unwrap_or_default();
    let mut evidence = Vec::new();
    let mut req = Request::get(url);
    let mut current = url.to_owned();
    let mut logged_in = false;
    let mut decided = false;
    for _ in 0..MAX_HOPS {
        let resp = http.send(Via::Browser, req.clone()).await;
        evidence.push(resp.index);
        let Some(status) = resp.status else {
            return LoginResult {
                outcome: FrontOutcome::Stuck { reason: format!("{} {}: {}", req.method, current, resp.describe()) },
                evidence,
            };
        };
        if (300..400).contains(&status) {
            let Some(location) = resp.header("location") else {
                return LoginResult { outcome: FrontOutcome::Stuck { reason: format!("HTTP {status} without Location") }, evidence };
            };
            let next = resolve(&current, location);
            if origin(&next).as_deref() != Some(as_origin.as_str()) {
                return LoginResult { outcome: FrontOutcome::Redirect { url: next, status }, evidence };
            }
            current = next.clone();
            req = Request::get(next);
            continue;
        }
        let forms = parse_forms(&resp.body);
        if status >= 400 || forms.is_empty() {
            return LoginResult { outcome: FrontOutcome::ErrorPage { status, error: page_error(&resp.body) }, evidence };
        }
        let login_form = forms.iter().find(|f| f.fields.iter().any(|n| n == &script.password_field));
        // A form that posts to another origin than the AS is the response page of the form_post
        // response modes (JARM 4.3.3): a browser submits it by script, the harness reads it.
        let response_form = forms.iter().find(|f| {
            f.method == "post" && f.action.as_deref().is_some_and(|a| origin(&resolve(&current, a)).as_deref() != Some(as_origin.as_str()))
        });
        if status < 300
            && login_form.is_none()
            && let Some(f) = response_form
        {
            let action = resolve(&current, f.action.as_deref().unwrap_or_default());
            return LoginResult { outcome: FrontOutcome::FormPost { action, fields: f.hidden.clone(), status }, evidence };
        }
        let consent_form =
            forms.iter().find(|f| f.fields.iter().any(|n| n == &script.approve.field) || f.fields.iter().any(|n| n == &script.deny.field));
        let (form, mut fields) = if let Some(f) = login_form {
            if logged_in {
                return LoginResult {
                    outcome: FrontOutcome::Stuck { reason: "the login page came back after logging in (wrong credentials?)".into() },
                    evidence,
                };
            }
            logged_in = true;
            let mut fields = f.hidden.clone();
            fields.push((script.username_field.clone(), script.username.clone()));
            fields.push((script.password_field.clone(), script.password.clone()));
            (f, fields)
        } else if let Some(f) = consent_form {
            if decided {
                return LoginResult {
                    outcome: FrontOutcome::Stuck { reason: "the consent page came back after answering it".into() },
                    evidence,
                };
            }
            decided = true;
            let choice = if approve { &script.approve } else { &script.deny };
            let mut fields = f.hidden.clone();
            fields.push((choice.field.clone(), choice.value.clone()));
            (f, fields)
        } else {
            return LoginResult { outcome: FrontOutcome::ErrorPage { status, error: page_error(&resp.body) }, evidence };
        };
        fields.extend(script.extra_fields.iter().map(|(k, v)| (k.clone(), v.clone())));
        let action = resolve(&current, form.action.as_deref().unwrap_or(""));
        if form.method == "get" {
            let mut s = form_urlencoded::Serializer::new(String::new());
            for (k, v) in &fields {
                s.append_pair(k, v);
            }
            let base = action.split('?').next().unwrap_or(&action).to_owned();
            current = format!("{base}?{}", s.finish());
            req = Request::get(current.clone());
        } else {
            current = action.clone();
            req = Request::post_form(action, fields);
        }
    }
    LoginResult { outcome: FrontOutcome::Stuck { reason: format!("more than {MAX_HOPS} pages without reaching the client") }, evidence }
}

/// Modules run concurrently, but there is one operator: manual logins take turns.
static OPERATOR: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn manual(http: &mut Http, url: &str) -> LoginResult {
    let _turn = OPERATOR.lock().await;
    eprintln!("\nOpen this URL in a browser, log in and answer the consent:\n\n  {url}\n");
    eprintln!("Then paste the URL the browser was redirected to (the client's callback),");
    eprintln!("or an empty line if the server showed an error page:");
    let line = tokio::task::spawn_blocking(|| {
        let mut s = String::new();
        std::io::stdin().read_line(&mut s).map(|_| s)
    })
    .await;
    let line = match line {
        Ok(Ok(s)) => s.trim().to_owned(),
        Ok(Err(e)) => format!("(stdin: {e})"),
        Err(e) => format!("(stdin: {e})"),
    };
    let index = http.record(Exchange {
        step: String::new(),
        method: "BROWSER".into(),
        url: url.to_owned(),
        request_headers: Vec::new(),
        request_body: None,
        status: None,
        response_headers: vec![("location".into(), crate::http::redact_url(&line))],
        response_body: Some("manual login: the final URL was pasted by the operator".into()),
        error: None,
        elapsed_ms: 0,
    });
    let outcome = if line.is_empty() {
        FrontOutcome::ErrorPage { status: 0, error: None }
    } else if line.contains("://") {
        FrontOutcome::Redirect { url: line, status: 0 }
    } else {
        FrontOutcome::Stuck { reason: format!("not a URL: {line}") }
    };
    LoginResult { outcome, evidence: vec![index] }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn finds_forms_hidden_fields_and_buttons() {
        let html = r#"<html><form method="post" action="/t/login"><input type="hidden" name="interaction_id" value="i&amp;1"><input type='hidden' name=csrf_token value=abc>
        <input id="username" name="username"><input name="password" type="password"><button type="submit">Sign in</button></form>
        <FORM action="consent"><button type="submit" name="decision" value="approve">Allow</button></FORM></html>"#;
        let forms = parse_forms(html);
        assert_eq!(forms.len(), 2);
        assert_eq!(forms[0].action.as_deref(), Some("/t/login"));
        assert_eq!(forms[0].method, "post");
        assert_eq!(forms[0].hidden, vec![("interaction_id".into(), "i&1".into()), ("csrf_token".into(), "abc".into())]);
        assert!(forms[0].fields.contains(&"password".to_string()));
        assert_eq!(forms[1].buttons, vec![("decision".into(), "approve".into())]);
    }

    #[test]
    fn character_references_are_decoded_once() {
        assert_eq!(unescape("https:&#x2f;&#x2F;as.example&#47;t&#X2f;w?a=1&amp;b=&quot;2&quot;"), "https://as.example/t/w?a=1&b=\"2\"");
        assert_eq!(unescape("&#39;&#x27;&apos; &lt;p&gt;"), "''' <p>");
        // Decoded once: an escaped reference stays a reference.
        assert_eq!(unescape("&amp;lt; &amp;#47;"), "&lt; &#47;");
        // Not references: kept as written.
        assert_eq!(unescape("a & b &nbsp; &#; &#xzz; &#1114112; &"), "a & b &nbsp; &#; &#xzz; &#1114112; &");
        assert_eq!(attr("<form data-options='&#x2f;t&#x2f;w&#x2f;options'>", "data-options").as_deref(), Some("/t/w/options"));
    }

    #[test]
    fn a_form_posting_to_the_client_is_the_response() {
        let html = r#"<html><body onload="document.forms[0].submit()"><form method="post" action="https://c.example/cb?dummy1=lorem">
        <input type="hidden" name="response" value="eyJ.x.y"></form><script>document.forms[0].submit()</script></body></html>"#;
        let forms = parse_forms(html);
        assert_eq!(forms.len(), 1);
        assert_eq!(forms[0].method, "post");
        assert_eq!(forms[0].hidden, vec![("response".into(), "eyJ.x.y".into())]);
        assert_ne!(origin(&resolve("https://as.example/t/consent", forms[0].action.as_deref().unwrap())), origin("https://as.example/t/consent"));
    }

    #[test]
    fn resolves_relative_urls() {
        assert_eq!(resolve("https://as.example/t/ws/authorize?x=1", "/t/ws/login"), "https://as.example/t/ws/login");
        assert_eq!(resolve("https://as.example/t/ws/authorize?x=1", "login"), "https://as.example/t/ws/login");
        assert_eq!(resolve("https://as.example/t/ws/authorize", "https://c.example/cb?code=1"), "https://c.example/cb?code=1");
        assert_eq!(origin("https://LocalHost:8443/a?b").as_deref(), Some("https://localhost:8443"));
    }
}
