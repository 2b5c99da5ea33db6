//! PAR response (suite research §3.2; PAR-06, FAPI2-SP-AZ-02, FAPI2-SP-AZ-12, FAPI2-SP-CR-06).

use super::{Check, check_secret_entropy};
use crate::http::Response;
use crate::model::Condition;

pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// Judges a PAR response that should be a success; returns `(request_uri, expires_in)` when
/// there is one to continue with.
pub fn success(resp: &Response) -> (Vec<Condition>, Option<(String, Option<u64>)>) {
    let ev = [resp.index];
    let mut out = vec![
        Check::new("par.status", "the pushed authorization request is accepted with 201 Created")
            .req(&["FAPI2-SP-AZ-02", "PAR-06"])
            .expected("HTTP 201")
            .observed(resp.describe())
            .hint("RFC 9126 requires 201, not 200; if it is an error, its description usually names the problem")
            .evidence(&ev)
            .pass(resp.status == Some(201)),
        Check::new("par.no_error", "a successful PAR response carries no error member")
            .req(&["PAR-06"])
            .expected("no `error` in the 201 body")
            .observed(resp.json_error().map_or_else(|| "no error member".to_owned(), |e| format!("error {e:?}")))
            .evidence(&ev)
            .pass(resp.json_error().is_none()),
    ];
    if resp.status != Some(201) && resp.status != Some(200) {
        return (out, None);
    }
    out.push(
        Check::new("par.json", "the PAR response is JSON")
            .req(&["PAR-06"])
            .expected("Content-Type application/json")
            .observed(resp.header("content-type").unwrap_or("(none)").to_owned())
            .evidence(&ev)
            .pass(resp.is_json_type()),
    );
    let body = resp.json().unwrap_or_default();
    let request_uri = body.get("request_uri").and_then(|v| v.as_str()).map(str::to_owned);
    out.push(
        Check::new("par.request_uri", "request_uri is present and uses the RFC 9126 URN prefix")
            .req(&["FAPI2-SP-AZ-02", "PAR-06"])
            .expected(format!("a string starting with {REQUEST_URI_PREFIX}"))
            .observed(request_uri.clone().unwrap_or_else(|| "(absent)".into()))
            .evidence(&ev)
            .pass(request_uri.as_deref().is_some_and(|u| u.starts_with(REQUEST_URI_PREFIX))),
    );
    if let Some(u) = &request_uri {
        let opaque = u.strip_prefix(REQUEST_URI_PREFIX).unwrap_or(u);
        out.push(check_secret_entropy("par.request_uri_entropy", "the request_uri reference", opaque, &ev));
    }
    let expires_in = body.get("expires_in").and_then(serde_json::Value::as_u64);
    out.push(
        Check::new("par.expires_in", "expires_in is a positive integer below 600 seconds")
            .req(&["FAPI2-SP-AZ-12", "PAR-06"])
            .expected("5 ≤ expires_in < 600")
            .observed(body.get("expires_in").map(|v| v.to_string()).unwrap_or_else(|| "(absent)".into()))
            .hint("FAPI 2.0 caps the request_uri lifetime below 600 s; 60 s is common")
            .evidence(&ev)
            .pass(expires_in.is_some_and(|e| (5..600).contains(&e))),
    );
    let next = request_uri.map(|u| (u, expires_in));
    (out, next)
}
