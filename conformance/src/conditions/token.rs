//! Token endpoint success responses (suite research §3.5; OA-01, FAPI2-SP-AS-04, DP-T-01,
//! MT-06, FAPI2-SP-CR-06) and the sender binding visible in JWT access tokens.

use serde_json::{Map, Value};

use super::{Check, check_secret_entropy, printable_ascii};
use crate::http::Response;
use crate::model::Condition;
use crate::variant::Sender;

/// What the token step expects of the binding.
pub struct Binding<'a> {
    pub sender: Sender,
    /// RFC 7638 thumbprint of the DPoP key used.
    pub jkt: Option<&'a str>,
    /// SHA-256 thumbprint (base64url) of the client certificate used.
    pub x5t: Option<&'a str>,
}

/// Judges a token response that should be a success; returns the JSON body when usable.
/// `prefix` is `token` or `refresh`.
pub fn success(prefix: &str, resp: &Response, binding: &Binding<'_>) -> (Vec<Condition>, Option<Map<String, Value>>) {
    let ev = [resp.index];
    let id = |s: &str| format!("{prefix}.{s}");
    let mut out = vec![
        Check::new(&id("status"), "the token request succeeds with 200")
            .req(&["OA-01"])
            .expected("HTTP 200")
            .observed(resp.describe())
            .hint("when it is an error, its error_description usually names the rule")
            .evidence(&ev)
            .pass(resp.status == Some(200)),
    ];
    if resp.status != Some(200) {
        return (out, None);
    }
    out.push(
        Check::new(&id("json"), "the token response is JSON")
            .req(&["OA-01"])
            .expected("Content-Type application/json")
            .observed(resp.header("content-type").unwrap_or("(none)").to_owned())
            .evidence(&ev)
            .pass(resp.is_json_type()),
    );
    let cache = resp.header("cache-control").unwrap_or("(none)").to_owned();
    out.push(
        Check::new(&id("cache_control"), "the token response is not cacheable")
            .req(&["OA-01"])
            .expected("Cache-Control containing no-store")
            .observed(cache.clone())
            .hint("RFC 6749 §5.1: responses with tokens carry Cache-Control: no-store")
            .evidence(&ev)
            .pass(cache.to_ascii_lowercase().contains("no-store")),
    );
    let Some(body) = resp.json() else {
        out.push(
            Check::new(&id("body"), "the token response body is a JSON object")
                .req(&["OA-01"])
                .observed("not a JSON object")
                .evidence(&ev)
                .pass(false),
        );
        return (out, None);
    };
    let at = body.get("access_token").and_then(Value::as_str).unwrap_or_default().to_owned();
    out.push(
        Check::new(&id("access_token"), "an access token is returned")
            .req(&["OA-01"])
            .expected("a non-empty access_token")
            .observed(if at.is_empty() { "absent" } else { "present" })
            .evidence(&ev)
            .pass(!at.is_empty()),
    );
    if !at.is_empty() {
        out.push(check_secret_entropy(&id("access_token_entropy"), "the access token", &at, &ev));
        out.push(
            Check::new(&id("access_token_charset"), "the access token uses printable ASCII only")
                .req(&["OA-01"])
                .expected("characters %x20-7E")
                .observed(if printable_ascii(&at) { "printable" } else { "other characters" })
                .evidence(&ev)
                .pass(printable_ascii(&at)),
        );
    }
    let token_type = body.get("token_type").and_then(Value::as_str).unwrap_or_default();
    let want = match binding.sender {
        Sender::Dpop => "DPoP",
        Sender::Mtls => "Bearer",
    };
    out.push(
        Check::new(&id("token_type"), "token_type matches the sender constraint")
            .req(&["FAPI2-SP-AS-04", "DP-T-01", "MT-06"])
            .expected(format!("{want} (case-insensitive)"))
            .observed(if token_type.is_empty() { "(absent)".into() } else { token_type.to_owned() })
            .hint("a DPoP-bound token has token_type DPoP; an mTLS-bound token stays Bearer")
            .evidence(&ev)
            .pass(token_type.eq_ignore_ascii_case(want)),
    );
    let expires_in = body.get("expires_in");
    out.push(
        Check::new(&id("expires_in"), "expires_in is a positive number of seconds (at most a year)")
            .req(&["OA-01"])
            .warning()
            .expected("0 < expires_in ≤ 31536000")
            .observed(expires_in.map(Value::to_string).unwrap_or_else(|| "(absent)".into()))
            .evidence(&ev)
            .pass(expires_in.and_then(Value::as_u64).is_some_and(|e| e > 0 && e <= 31_536_000)),
    );
    if let Some(rt) = body.get("refresh_token").and_then(Value::as_str) {
        out.push(check_secret_entropy(&id("refresh_token_entropy"), "the refresh token", rt, &ev));
    }
    // Sender binding, when the access token is a JWT the client can read (RFC 9068).
    if let Ok(claims) = fapilab_jose::jws::decode_unverified_claims(&at) {
        let cnf = claims.get("cnf");
        let (member, want) = match binding.sender {
            Sender::Dpop => ("jkt", binding.jkt),
            Sender::Mtls => ("x5t#S256", binding.x5t),
        };
        let got = cnf.and_then(|c| c.get(member)).and_then(Value::as_str);
        out.push(
            Check::new(&id("access_token_cnf"), "the JWT access token is bound to the client's key or certificate")
                .req(&["FAPI2-SP-AS-04", if binding.sender == Sender::Dpop { "DP-T-01" } else { "MT-06" }])
                .expected(format!("cnf.{member} = {}", want.unwrap_or("(unknown)")))
                .observed(format!("cnf.{member} = {}", got.unwrap_or("(absent)")))
                .evidence(&ev)
                .pass(got.is_some() && got == want),
        );
    } else if !at.is_empty() {
        out.push(
            Check::new(&id("access_token_binding"), "the access token's binding is checked at the resource")
                .req(&["FAPI2-SP-AS-04"])
                .info()
                .expected("a JWT access token shows cnf; an opaque one is checked by the resource call")
                .observed("opaque access token: binding is judged by the resource server steps")
                .evidence(&ev)
                .pass(true),
        );
    }
    (out, Some(body))
}
