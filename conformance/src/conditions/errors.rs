//! Error responses (suite research §3.7): back-channel JSON errors (OA-01, OA-02) and
//! front-channel rejections (error page or error redirect, OA-03, FAPI2-SP-AS-07).

use super::Check;
use crate::http::Response;
use crate::model::{Condition, Severity};

/// How a back-channel rejection is judged.
pub struct Rejection<'a> {
    /// Condition id prefix, e.g. `par` or `token`.
    pub id: &'a str,
    /// What was wrong with the request, for summaries (e.g. "a plain PKCE challenge").
    pub what: &'a str,
    /// Accepted `error` codes; empty accepts any.
    pub errors: &'a [String],
    pub requirements: &'a [&'a str],
    /// A refused TLS handshake counts as a rejection (the request carried no certificate).
    pub tls_refusal_ok: bool,
    /// Severity of "it was accepted" (a SHOULD is a warning).
    pub severity: Severity,
    /// The usual cause when the server accepts.
    pub hint: &'a str,
}

/// `error` uses only %x20-21 / %x23-5B / %x5D-7E (RFC 6749 §5.2).
fn error_charset_ok(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5b | 0x5d..=0x7e))
}

/// Judges a back-channel answer that should be an error.
pub fn back_channel(r: &Rejection<'_>, resp: &Response) -> Vec<Condition> {
    let mut out = Vec::new();
    let ev = [resp.index];
    if let Some(e) = &resp.error {
        out.push(
            Check::new(&format!("{}.rejected", r.id), format!("the server refuses {}", r.what))
                .req(r.requirements)
                .severity(r.severity)
                .expected(if r.tls_refusal_ok { "an error response or a refused TLS handshake" } else { "an HTTP error response" })
                .observed(format!("transport error: {e}"))
                .evidence(&ev)
                .pass(r.tls_refusal_ok),
        );
        return out;
    }
    let status = resp.status_or_zero();
    let error = resp.json_error();
    let refused = !(200..300).contains(&status);
    out.push(
        Check::new(&format!("{}.rejected", r.id), format!("the server refuses {}", r.what))
            .req(r.requirements)
            .severity(r.severity)
            .expected("an error response (4xx), no success")
            .observed(resp.describe())
            .hint(r.hint)
            .evidence(&ev)
            .pass(refused),
    );
    // The shape of the error is judged only when the server did refuse.
    if refused {
        let ok_status = status == 400 || (status == 401 && error.as_deref() == Some("invalid_client"));
        out.push(
            Check::new(&format!("{}.error_status", r.id), "the error has status 400 (401 only with invalid_client)")
                .req(&["OA-02"])
                .expected("HTTP 400, or 401 with error=invalid_client")
                .observed(resp.describe())
                .evidence(&ev)
                .pass(ok_status),
        );
        out.push(
            Check::new(&format!("{}.error_json", r.id), "the error body is JSON")
                .req(&["OA-01"])
                .expected("Content-Type application/json with an `error` member")
                .observed(format!(
                    "Content-Type {:?}, error {:?}",
                    resp.header("content-type").unwrap_or("(none)"),
                    error.as_deref().unwrap_or("(none)")
                ))
                .evidence(&ev)
                .pass(resp.is_json_type() && error.is_some()),
        );
        if let Some(err) = &error {
            out.push(
                Check::new(&format!("{}.error_code", r.id), "the error code is one the specification allows here")
                    .req(r.requirements)
                    .expected(if r.errors.is_empty() { "any error code".to_owned() } else { r.errors.join(" or ") })
                    .observed(err.clone())
                    .evidence(&ev)
                    .pass(r.errors.is_empty() || r.errors.iter().any(|e| e == err)),
            );
            out.push(
                Check::new(&format!("{}.error_syntax", r.id), "error uses only the RFC 6749 characters")
                    .req(&["OA-01"])
                    .expected("%x20-21 / %x23-5B / %x5D-7E")
                    .observed(err.clone())
                    .evidence(&ev)
                    .pass(error_charset_ok(err)),
            );
            if let Some(desc) = resp.json().and_then(|m| m.get("error_description").and_then(|d| d.as_str().map(str::to_owned))) {
                // Like the OIDF suite: CR, LF and TAB are a warning; any other character
                // outside the RFC 6749 set (a quote, a backslash, non-ASCII) is a failure.
                let whitespace_only = desc.chars().all(|c| matches!(c, '\r' | '\n' | '\t') || error_charset_ok(&c.to_string()));
                let check = Check::new(&format!("{}.error_description_syntax", r.id), "error_description uses only the RFC 6749 characters")
                    .req(&["OA-01"])
                    .expected("%x20-21 / %x23-5B / %x5D-7E, no CR/LF/TAB")
                    .observed(desc.chars().take(120).collect::<String>())
                    .evidence(&ev);
                let check = if whitespace_only { check.warning() } else { check };
                out.push(check.pass(error_charset_ok(&desc)));
            }
        }
    }
    out
}

/// How an authorization request ended, as the browser saw it.
#[derive(Debug, Clone)]
pub enum FrontOutcome {
    /// A page with no way on (4xx/5xx, or a page without a form): the AS refused without
    /// redirecting — always allowed for a refused request.
    ErrorPage { status: u16, error: Option<String> },
    /// A redirect to `url` (the client's callback, or wherever the AS sent the browser).
    Redirect { url: String, status: u16 },
    /// A page (HTTP `status`) whose form posts `fields` to `action` on another origin than the
    /// AS: the response mode `form_post` / `form_post.jwt` page a browser submits by script
    /// (OAuth 2.0 Form Post Response Mode; JARM 4.3.3). The harness reads the form instead of
    /// posting it: the client's redirect URI is not a server it runs.
    FormPost { action: String, fields: Params, status: u16 },
    /// The harness could not drive the pages.
    Stuck { reason: String },
}

/// Decoded `name=value` parameters.
pub type Params = Vec<(String, String)>;

/// Parameters of a URL's query and fragment.
pub fn url_params(url: &str) -> (Params, Params) {
    let (main, fragment) = url.split_once('#').unwrap_or((url, ""));
    let query = main.split_once('?').map(|(_, q)| q).unwrap_or("");
    let parse = |s: &str| form_urlencoded::parse(s.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    (parse(query), parse(fragment))
}

pub fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// `url` with `params` added to its query (before any fragment).
pub fn with_query(url: &str, params: &[(String, String)]) -> String {
    if params.is_empty() {
        return url.to_owned();
    }
    let (main, fragment) = match url.split_once('#') {
        Some((m, f)) => (m, Some(f)),
        None => (url, None),
    };
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        s.append_pair(k, v);
    }
    let sep = if main.contains('?') { '&' } else { '?' };
    let mut out = format!("{main}{sep}{}", s.finish());
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

impl FrontOutcome {
    /// Where the browser was sent and the parameters it carried there, read as a redirect URL
    /// (a posted form's fields in the query): `None` for an error page or a stuck run.
    pub fn delivered_url(&self) -> Option<String> {
        match self {
            FrontOutcome::Redirect { url, .. } => Some(url.clone()),
            FrontOutcome::FormPost { action, fields, .. } => Some(with_query(action, fields)),
            FrontOutcome::ErrorPage { .. } | FrontOutcome::Stuck { .. } => None,
        }
    }
}

/// What an error redirect must look like beyond its code, per security profile.
pub struct FrontRules<'a> {
    pub issuer: &'a str,
    /// FAPI 2.0: every authorization response carries `iss` (FAPI2-SP-AZ-07). Elsewhere an
    /// `iss` that is sent must still be the issuer (RFC 9207, ISS-01).
    pub iss_required: bool,
    /// FAPI 2.0: the error is in the query (`response_type=code`). FAPI 1.0 Advanced: a hybrid
    /// error is in the fragment (OIDC Core 3.3.2.6), and the OIDF plan accepts either.
    pub error_in_query: bool,
}

impl<'a> FrontRules<'a> {
    pub fn fapi2(issuer: &'a str) -> FrontRules<'a> {
        FrontRules { issuer, iss_required: true, error_in_query: true }
    }

    pub fn fapi1(issuer: &'a str) -> FrontRules<'a> {
        FrontRules { issuer, iss_required: false, error_in_query: false }
    }
}

/// Judges a front-channel rejection (OA-03, FAPI2-SP-AS-07, FAPI2-SP-AZ-07): an error page,
/// or an error redirect to a registered redirect URI with an accepted error code; never a code.
#[allow(clippy::too_many_arguments)]
pub fn front_channel(
    id: &str,
    what: &str,
    outcome: &FrontOutcome,
    errors: &[String],
    registered: &[String],
    rules: &FrontRules<'_>,
    requirements: &[&str],
    evidence: &[usize],
) -> Vec<Condition> {
    let issuer = rules.issuer;
    let mut out = Vec::new();
    match outcome {
        FrontOutcome::ErrorPage { status, error } => out.push(
            Check::new(&format!("{id}.rejected"), format!("the authorization server refuses {what}"))
                .req(requirements)
                .expected("an error page, or an error redirect to a registered redirect URI")
                .observed(format!("error page (HTTP {status}{})", error.as_ref().map(|e| format!(", error {e}")).unwrap_or_default()))
                .evidence(evidence)
                .pass(true),
        ),
        FrontOutcome::Stuck { reason } => out.push(
            Check::new(&format!("{id}.rejected"), format!("the authorization server refuses {what}"))
                .req(requirements)
                .expected("an error page, or an error redirect to a registered redirect URI")
                .observed(format!("the harness could not tell: {reason}"))
                .evidence(evidence)
                .pass(false),
        ),
        FrontOutcome::Redirect { .. } | FrontOutcome::FormPost { .. } => {
            let url = &outcome.delivered_url().unwrap_or_default();
            let (query, fragment) = url_params(url);
            let code = param(&query, "code").or_else(|| param(&fragment, "code"));
            let error = param(&query, "error").or_else(|| param(&fragment, "error"));
            out.push(
                Check::new(&format!("{id}.no_code"), format!("no authorization code is issued for {what}"))
                    .req(requirements)
                    .expected("no `code` in the redirect")
                    .observed(if code.is_some() {
                        "a code was issued".to_owned()
                    } else {
                        format!("error redirect (error {})", error.unwrap_or("(none)"))
                    })
                    .hint("the server accepted a request the profile requires it to refuse")
                    .evidence(evidence)
                    .pass(code.is_none()),
            );
            if code.is_none() {
                let base = url.split(['?', '#']).next().unwrap_or(url);
                let to_registered = registered.iter().any(|r| r.split('?').next().unwrap_or(r) == base);
                out.push(
                    Check::new(&format!("{id}.error_redirect_target"), "an error is redirected only to a registered redirect URI")
                        .req(&["FAPI2-SP-AS-07", "OA-03"])
                        .expected(format!("one of {}", registered.join(", ")))
                        .observed(base.to_owned())
                        .hint("redirecting errors to an unvalidated redirect_uri makes the server an open redirector; show an error page instead")
                        .evidence(evidence)
                        .pass(to_registered),
                );
                out.push(
                    Check::new(&format!("{id}.error_code"), "the error redirect carries an allowed error code")
                        .req(requirements)
                        .expected(if errors.is_empty() { "any error".to_owned() } else { errors.join(" or ") })
                        .observed(error.unwrap_or("(no error parameter)").to_owned())
                        .evidence(evidence)
                        .pass(error.is_some_and(|e| errors.is_empty() || errors.iter().any(|x| x == e))),
                );
                if rules.iss_required {
                    out.push(
                        Check::new(&format!("{id}.error_iss"), "the error response carries iss equal to the issuer")
                            .req(&["FAPI2-SP-AZ-07"])
                            .expected(issuer.to_owned())
                            .observed(param(&query, "iss").unwrap_or("(absent)").to_owned())
                            .evidence(evidence)
                            .pass(param(&query, "iss") == Some(issuer)),
                    );
                } else if let Some(iss) = param(&query, "iss").or_else(|| param(&fragment, "iss")) {
                    out.push(
                        Check::new(&format!("{id}.error_iss"), "iss in the error response, when sent, equals the issuer")
                            .req(&["ISS-01"])
                            .expected(issuer.to_owned())
                            .observed(iss.to_owned())
                            .evidence(evidence)
                            .pass(iss == issuer),
                    );
                }
                if rules.error_in_query {
                    out.push(
                        Check::new(&format!("{id}.error_in_query"), "the error is in the query, not the fragment")
                            .req(&["OA-03"])
                            .expected("error in the query component")
                            .observed(if param(&fragment, "error").is_some() { "in the fragment" } else { "in the query" })
                            .evidence(evidence)
                            .pass(param(&fragment, "error").is_none()),
                    );
                }
            }
        }
    }
    out
}
