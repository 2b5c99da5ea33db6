//! Resource server calls (suite research §3.10; FAPI2-SP-RS-01…RS-05, DP-R-01, DP-R-02,
//! MT-07, DP-01…DP-14).

use super::Check;
use crate::http::Response;
use crate::model::{Condition, Severity};

/// A call with a valid, bound token: 200 (or 201).
pub fn success(id: &str, what: &str, reqs: &[&str], resp: &Response) -> Vec<Condition> {
    let ev = [resp.index];
    let mut out = vec![
        Check::new(id, format!("the resource server accepts {what}"))
            .req(reqs)
            .expected("HTTP 200 or 201")
            .observed(resp.describe())
            .hint(
                resp.header("www-authenticate")
                    .map(|w| format!("WWW-Authenticate: {w}"))
                    .unwrap_or_else(|| "check the token type, the proof's htu (the exact resource URL) and ath".into()),
            )
            .evidence(&ev)
            .pass(matches!(resp.status, Some(200 | 201))),
    ];
    if matches!(resp.status, Some(200 | 201)) {
        let date = resp.header("date");
        out.push(
            Check::new("resource.date_header", "the resource response carries a Date header")
                .req(&["FAPI2-SP-RS-01"])
                .warning()
                .expected("a Date header (clients use it to correct clock skew)")
                .observed(date.unwrap_or("(absent)").to_owned())
                .evidence(&ev)
                .pass(date.is_some()),
        );
    }
    out
}

/// A call the resource server must refuse: 4xx (400 or 401 for a bad proof or token).
pub fn rejected(id: &str, what: &str, reqs: &[&str], severity: Severity, resp: &Response) -> Vec<Condition> {
    let ev = [resp.index];
    let status = resp.status_or_zero();
    let ok = resp.error.is_some() || (400..500).contains(&status);
    vec![
        Check::new(id, format!("the resource server refuses {what}"))
            .req(reqs)
            .severity(severity)
            .expected("HTTP 400 or 401 (a 4xx), never 2xx")
            .observed(match resp.header("www-authenticate") {
                Some(w) => format!("{}; WWW-Authenticate: {w}", resp.describe()),
                None => resp.describe(),
            })
            .hint("the resource server must check the proof (typ, alg, signature, htm, htu, iat, ath, jti) and the token's binding on every call")
            .evidence(&ev)
            .pass(ok),
    ]
}
