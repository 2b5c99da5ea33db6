//! Authorization response (suite research §3.3; FAPI2-SP-AZ-07, AZ-10, AZ-11, OID-01,
//! ISS-01, FAPI2-SP-CR-06).

use super::errors::{param, url_params};
use super::{Check, check_secret_entropy};
use crate::model::Condition;

/// What the harness sent, to compare the response with.
pub struct Sent<'a> {
    pub issuer: &'a str,
    pub redirect_uri: &'a str,
    pub state: Option<&'a str>,
}

/// Judges a successful authorization response (the redirect to the client, or the form that
/// posts it: `status` is `None`, as there is no redirect); returns the code. Under JARM `url`
/// carries the parameters of the verified JWT ([`super::jarm::decode`]).
pub fn success(sent: &Sent<'_>, url: &str, status: Option<u16>, evidence: &[usize]) -> (Vec<Condition>, Option<String>) {
    let (query, fragment) = url_params(url);
    let mut out = Vec::new();
    let base = url.split(['?', '#']).next().unwrap_or(url);
    let sent_base = sent.redirect_uri.split('?').next().unwrap_or(sent.redirect_uri);
    out.push(
        Check::new("authorize.redirect_uri", "the response goes to the redirect URI of the pushed request")
            .req(&["OA-03", "PAR-10"])
            .expected(sent_base.to_owned())
            .observed(base.to_owned())
            .evidence(evidence)
            .pass(base == sent_base),
    );
    if let Some((_, sent_query)) = sent.redirect_uri.split_once('?') {
        let sent_params: Vec<(String, String)> =
            form_urlencoded::parse(sent_query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        let intact = sent_params.iter().all(|(k, v)| param(&query, k) == Some(v.as_str()));
        out.push(
            Check::new("authorize.redirect_query_intact", "the redirect URI's own query parameters come back intact")
                .req(&["OA-03"])
                .expected(sent_query.to_owned())
                .observed(url.split_once('?').map(|(_, q)| crate::http::redact_form(q)).unwrap_or_default())
                .hint("append the response parameters to the registered URI's query instead of replacing it (RFC 6749 §3.1.2)")
                .evidence(evidence)
                .pass(intact),
        );
    }
    let error = param(&query, "error").or_else(|| param(&fragment, "error"));
    out.push(
        Check::new("authorize.no_error", "the authorization succeeds")
            .req(&["FAPI2-SP-AZ-02"])
            .expected("no error parameter")
            .observed(error.map(|e| format!("error={e}")).unwrap_or_else(|| "no error".into()))
            .evidence(evidence)
            .pass(error.is_none()),
    );
    if let Some(status) = status {
        out.push(
            Check::new("authorize.status", "the redirect back to the client is 303 (not 307)")
                .req(&["FAPI2-SP-AZ-10", "FAPI2-SP-AZ-11"])
                .severity(if status == 307 { crate::model::Severity::Failure } else { crate::model::Severity::Warning })
                .expected("HTTP 303 (302 tolerated with a warning; 307 re-posts the credentials)")
                .observed(if status == 0 { "unknown (manual login)".into() } else { format!("HTTP {status}") })
                .evidence(evidence)
                .pass(status == 303 || status == 0),
        );
    }
    let iss = param(&query, "iss");
    out.push(
        Check::new("authorize.iss", "iss in the authorization response equals the issuer (RFC 9207)")
            .req(&["FAPI2-SP-AZ-07", "ISS-01"])
            .expected(sent.issuer.to_owned())
            .observed(iss.unwrap_or("(absent)").to_owned())
            .hint("mix-up protection: every authorization response, success or error, carries iss")
            .evidence(evidence)
            .pass(iss == Some(sent.issuer)),
    );
    let state = param(&query, "state");
    out.push(
        Check::new("authorize.state", "state comes back exactly as sent (and not at all when none was sent)")
            .req(&["OA-03", "FAPI2-SP-AZ-17"])
            .expected(match sent.state {
                Some(s) => format!("{} characters, identical", s.len()),
                None => "no state".into(),
            })
            .observed(match state {
                Some(s) if Some(s) == sent.state => "identical".into(),
                Some(s) => format!("{} characters, different", s.len()),
                None => "no state".into(),
            })
            .hint("a truncated long state breaks clients that carry a JWT in it")
            .evidence(evidence)
            .pass(state == sent.state),
    );
    let front_tokens: Vec<&str> =
        ["id_token", "access_token"].into_iter().filter(|n| param(&query, n).is_some() || param(&fragment, n).is_some()).collect();
    out.push(
        Check::new("authorize.no_front_channel_tokens", "no ID token or access token in the front channel")
            .req(&["OID-01", "FAPI2-SP-AZ-01"])
            .expected("neither id_token nor access_token in the redirect")
            .observed(if front_tokens.is_empty() { "none".to_owned() } else { front_tokens.join(", ") })
            .evidence(evidence)
            .pass(front_tokens.is_empty()),
    );
    out.push(
        Check::new("authorize.no_fragment", "the response parameters are in the query, not the fragment")
            .req(&["FAPI2-SP-AZ-01"])
            .expected("no code or state in a fragment")
            .observed(if fragment.is_empty() { "no fragment".into() } else { "fragment parameters present".to_string() })
            .evidence(evidence)
            .pass(param(&fragment, "code").is_none() && param(&fragment, "state").is_none()),
    );
    let code = param(&query, "code").map(str::to_owned);
    out.push(
        Check::new("authorize.code", "an authorization code is returned")
            .req(&["FAPI2-SP-AZ-02"])
            .expected("a code parameter")
            .observed(if code.is_some() { "present" } else { "absent" })
            .evidence(evidence)
            .pass(code.is_some()),
    );
    if let Some(c) = &code {
        out.push(check_secret_entropy("authorize.code_entropy", "the authorization code", c, evidence));
    }
    (out, code)
}
