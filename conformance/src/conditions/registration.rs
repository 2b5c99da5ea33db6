//! Dynamic client registration (RFC 7591: DCR-01…DCR-06), its management (RFC 7592:
//! DCM-01…DCM-06) and the FDX additions (FDX-DCR-02…05, FDX-ST-01/05/06, FDX-UPD-01…04).

use serde_json::{Map, Value};

use super::{Check, check_secret_entropy};
use crate::http::Response;
use crate::model::{Condition, Severity};
use crate::target::fdx_status_active;

/// Members whose echo is compared as a set of strings (their order carries no meaning).
const SET_MEMBERS: &[&str] = &["redirect_uris", "grant_types", "response_types", "duration_type"];

/// The RFC 7638 thumbprints of a JWKS value's keys (sorted), `None` when a key does not parse.
fn thumbprints(jwks: &Value) -> Option<Vec<String>> {
    let keys = jwks.get("keys")?.as_array()?;
    let mut out: Vec<String> =
        keys.iter().map(|k| fapilab_jose::Jwk::from_value(k).ok().map(|j| j.thumbprint())).collect::<Option<Vec<_>>>()?;
    out.sort();
    Some(out)
}

fn string_set(v: &Value) -> Option<Vec<String>> {
    let mut out: Vec<String> = v.as_array()?.iter().map(|x| x.as_str().map(str::to_owned)).collect::<Option<Vec<_>>>()?;
    out.sort();
    out.dedup();
    Some(out)
}

/// Whether the server's `got` value of `member` is the value that was sent.
fn same_value(member: &str, sent: &Value, got: Option<&Value>) -> bool {
    let Some(got) = got else { return false };
    if SET_MEMBERS.contains(&member) {
        return string_set(sent).is_some() && string_set(sent) == string_set(got);
    }
    match member {
        "jwks" => thumbprints(sent).is_some() && thumbprints(sent) == thumbprints(got),
        // DNs compare attribute-wise (RFC 4514 allows several spellings of one name).
        "tls_client_auth_subject_dn" => match (sent.as_str(), got.as_str()) {
            (Some(a), Some(b)) => fapilab_certs::dn_matches(a, b),
            _ => false,
        },
        _ => sent == got,
    }
}

/// A short rendering of a metadata value for `observed`.
fn show(v: Option<&Value>) -> String {
    match v {
        None => "(absent)".to_owned(),
        Some(Value::Object(o)) if o.contains_key("keys") => {
            thumbprints(&Value::Object(o.clone())).map_or_else(|| "a JWKS with an unreadable key".to_owned(), |t| format!("JWKS, thumbprints {}", t.join(", ")))
        }
        Some(v) => {
            let s = v.to_string();
            if s.chars().count() > 160 { format!("{}…", s.chars().take(160).collect::<String>()) } else { s }
        }
    }
}

/// One condition per member of `expected` that the server must return unchanged: the
/// registration response and the client information carry all registered metadata (DCR-02,
/// DCM-02, DCM-04; FDX-DCR-02 for the FDX members).
pub fn echoed(prefix: &str, expected: &Map<String, Value>, body: &Map<String, Value>, members: &[&str], ev: &[usize]) -> Vec<Condition> {
    let mut out = Vec::new();
    for member in members {
        let Some(sent) = expected.get(*member) else { continue };
        let fdx = crate::registration::FDX_MEMBERS.contains(member);
        let reqs: &[&str] = match (fdx, prefix) {
            (true, _) => &["FDX-DCR-02"],
            (false, "registration") => &["DCR-02"],
            (false, "update") => &["DCM-04"],
            (false, _) => &["DCM-02"],
        };
        let got = body.get(*member);
        out.push(
            Check::new(&format!("{prefix}.echo.{member}"), format!("the answer carries the registered {member}"))
                .req(reqs)
                .expected(show(Some(sent)))
                .observed(show(got))
                .hint("the response carries all registered metadata, including values the server defaulted (RFC 7591 §3.2.1)")
                .evidence(ev)
                .pass(same_value(member, sent, got)),
        );
    }
    out
}

/// The metadata members a registration, a read and an update must echo.
pub const ECHOED: &[&str] = &[
    "redirect_uris",
    "token_endpoint_auth_method",
    "grant_types",
    "response_types",
    "jwks",
    "tls_client_auth_subject_dn",
    "dpop_bound_access_tokens",
    "tls_client_certificate_bound_access_tokens",
    "client_name",
    "description",
    "duration_type",
    "duration_period",
    "lookback_period",
    "registry_references",
    "intermediaries",
];

/// The FDX status and the activity flag a response shows: `fdx_client_status` equal to
/// `want`, and `client_status` (when present) following it (FDX-ST-01).
fn fdx_status(prefix: &str, body: &Map<String, Value>, want: &str, reqs: &[&str], ev: &[usize]) -> Vec<Condition> {
    let got = body.get("fdx_client_status").and_then(Value::as_str);
    let mut out = vec![
        Check::new(&format!("{prefix}.fdx_client_status"), format!("the client's FDX status is {want}"))
            .req(reqs)
            .expected(format!("fdx_client_status = {want:?}"))
            .observed(got.map_or_else(|| "(absent)".to_owned(), |g| format!("{g:?}")))
            .evidence(ev)
            .pass(got == Some(want)),
    ];
    let activity = body.get("client_status").and_then(Value::as_str);
    let want_activity = if fdx_status_active(want) { "active" } else { "inactive" };
    out.push(
        Check::new(&format!("{prefix}.fdx_client_activity"), "the derived client activity follows the FDX status")
            .req(&["FDX-DCR-03", "FDX-ST-01"])
            .expected(format!("client_status = {want_activity:?} (Approved and Tentative are active)"))
            .observed(activity.map_or_else(|| "(absent)".to_owned(), |a| format!("{a:?}")))
            .evidence(ev)
            .pass(activity == Some(want_activity)),
    );
    out
}

/// Status, media type and body of a successful registration or management answer; the body
/// when it is a JSON object.
fn json_answer(prefix: &str, what: &str, want: u16, reqs: &[&str], resp: &Response) -> (Vec<Condition>, Option<Map<String, Value>>) {
    let ev = [resp.index];
    let mut out = vec![
        Check::new(&format!("{prefix}.status"), format!("{what} answers {want}"))
            .req(reqs)
            .expected(format!("HTTP {want}"))
            .observed(resp.describe())
            .hint("when it is an error, its error_description usually names the field")
            .evidence(&ev)
            .pass(resp.status == Some(want)),
    ];
    if !resp.status.is_some_and(|s| (200..300).contains(&s)) {
        return (out, None);
    }
    out.push(
        Check::new(&format!("{prefix}.json"), "the answer is a JSON object")
            .req(reqs)
            .expected("Content-Type application/json and a JSON object body")
            .observed(format!("Content-Type {}", resp.header("content-type").unwrap_or("(none)")))
            .evidence(&ev)
            .pass(resp.is_json_type() && resp.json().is_some()),
    );
    (out, resp.json())
}

fn no_client_secret(prefix: &str, body: &Map<String, Value>, ev: &[usize]) -> Condition {
    Check::new(&format!("{prefix}.no_client_secret"), "no client_secret is issued to a FAPI client")
        .req(&["DCR-02", "FAPI2-SP-AS-06"])
        .expected("no client_secret (FAPI clients authenticate with private_key_jwt or mTLS)")
        .observed(if body.contains_key("client_secret") { "a client_secret" } else { "none" })
        .hint("a secret is issued only for secret-based authentication methods, which FAPI 2.0 forbids")
        .evidence(ev)
        .pass(!body.contains_key("client_secret"))
}

/// Judges a registration that should succeed (DCR-02, DCM-01; FDX-DCR-03 and FDX-ST-05 when
/// `fdx_initial` is the target's initial status). Returns the body when a client was created.
pub fn created(resp: &Response, sent: &Map<String, Value>, fdx_initial: Option<&str>) -> (Vec<Condition>, Option<Map<String, Value>>) {
    let ev = [resp.index];
    let (mut out, body) = json_answer("registration", "the registration", 201, &["DCR-02"], resp);
    let Some(body) = body else { return (out, None) };
    let client_id = body.get("client_id").and_then(Value::as_str).unwrap_or_default();
    out.push(
        Check::new("registration.client_id", "the server issues a client_id")
            .req(&["DCR-02"])
            .expected("a non-empty client_id string")
            .observed(if client_id.is_empty() { "(absent)".to_owned() } else { client_id.to_owned() })
            .evidence(&ev)
            .pass(!client_id.is_empty()),
    );
    out.push(no_client_secret("registration", &body, &ev));
    out.extend(echoed("registration", sent, &body, ECHOED, &ev));
    let uri = body.get("registration_client_uri").and_then(Value::as_str);
    out.push(
        Check::new("registration.registration_client_uri", "the answer names the client's configuration endpoint")
            .req(&["DCM-01"])
            .expected("registration_client_uri, an https URL")
            .observed(uri.unwrap_or("(absent)").to_owned())
            .evidence(&ev)
            .pass(uri.is_some_and(|u| u.starts_with("https://"))),
    );
    let rat = body.get("registration_access_token").and_then(Value::as_str);
    out.push(
        Check::new("registration.registration_access_token", "the answer carries a registration access token")
            .req(&["DCM-01"])
            .expected("a non-empty registration_access_token")
            .observed(if rat.is_some_and(|r| !r.is_empty()) { "present" } else { "(absent)" })
            .evidence(&ev)
            .pass(rat.is_some_and(|r| !r.is_empty())),
    );
    if let Some(r) = rat.filter(|r| !r.is_empty()) {
        out.push(check_secret_entropy("registration.registration_access_token_entropy", "the registration access token", r, &ev));
    }
    if let Some(initial) = fdx_initial {
        out.extend(fdx_status("registration", &body, initial, &["FDX-DCR-03", "FDX-ST-05"], &ev));
    }
    let ok = !client_id.is_empty();
    (out, ok.then_some(body))
}

/// What a client information answer (GET or PUT at the configuration endpoint) must show.
pub struct Expected<'a> {
    /// `read` or `update`: condition prefix.
    pub prefix: &'a str,
    pub what: &'a str,
    pub requirements: &'a [&'a str],
    pub client_id: &'a str,
    /// The metadata the answer must carry.
    pub metadata: &'a Map<String, Value>,
    /// The FDX status it must show, with the requirements saying why.
    pub fdx_status: Option<(&'a str, &'a [&'a str])>,
}

/// Judges a client information answer that should be 200 (DCM-02, DCM-04).
pub fn client_information(e: &Expected<'_>, resp: &Response) -> (Vec<Condition>, Option<Map<String, Value>>) {
    let ev = [resp.index];
    let (mut out, body) = json_answer(e.prefix, e.what, 200, e.requirements, resp);
    let Some(body) = body else { return (out, None) };
    let got = body.get("client_id").and_then(Value::as_str);
    out.push(
        Check::new(&format!("{}.client_id", e.prefix), "the answer is about the client at this configuration endpoint")
            .req(e.requirements)
            .expected(e.client_id.to_owned())
            .observed(got.unwrap_or("(absent)").to_owned())
            .evidence(&ev)
            .pass(got == Some(e.client_id)),
    );
    out.push(no_client_secret(e.prefix, &body, &ev));
    out.extend(echoed(e.prefix, e.metadata, &body, ECHOED, &ev));
    if let Some((status, reqs)) = e.fdx_status {
        out.extend(fdx_status(e.prefix, &body, status, reqs, &ev));
    }
    (out, Some(body))
}

/// Judges a deletion that should succeed: 204 No Content (DCM-05).
pub fn deleted(resp: &Response) -> Vec<Condition> {
    let ev = [resp.index];
    let mut out = vec![
        Check::new("delete.status", "the deletion answers 204 No Content")
            .req(&["DCM-05"])
            .expected("HTTP 204")
            .observed(resp.describe())
            .hint("RFC 7592 §2.3: a successful delete is 204 No Content (405 when deletion is not supported)")
            .evidence(&ev)
            .pass(resp.status == Some(204)),
    ];
    if resp.status.is_some_and(|s| (200..300).contains(&s)) {
        out.push(
            Check::new("delete.no_body", "the deletion answer has no body")
                .req(&["DCM-05"])
                .expected("an empty body")
                .observed(if resp.body.is_empty() { "empty".to_owned() } else { format!("{} bytes", resp.body.len()) })
                .evidence(&ev)
                .pass(resp.body.is_empty()),
        );
    }
    out
}

/// How a refusal of a request made with a bearer credential is judged (RFC 6750 §3.1: 401
/// `invalid_token`, 403 `insufficient_scope`; 400 `invalid_request`; 404 for what does not
/// exist).
pub struct BearerRefusal<'a> {
    /// Condition id prefix, e.g. `read`.
    pub id: &'a str,
    /// What was wrong, for summaries.
    pub what: &'a str,
    pub statuses: &'a [u16],
    /// Accepted `error` codes (from the JSON body or `WWW-Authenticate`); empty accepts any.
    pub errors: &'a [String],
    pub requirements: &'a [&'a str],
    pub severity: Severity,
}

/// `error="…"` of a `WWW-Authenticate` challenge.
fn challenge_error(header: &str) -> Option<String> {
    let at = header.find("error=")?;
    let rest = header[at + "error=".len()..].trim_start_matches('"');
    let end = rest.find(['"', ',', ' ']).unwrap_or(rest.len());
    Some(rest[..end].to_owned()).filter(|e| !e.is_empty())
}

/// Judges a refusal of a request that carried (or lacked) a bearer credential.
pub fn bearer_refused(r: &BearerRefusal<'_>, resp: &Response) -> Vec<Condition> {
    let ev = [resp.index];
    let status = resp.status_or_zero();
    let refused = resp.error.is_none() && status >= 400;
    let statuses: Vec<String> = r.statuses.iter().map(u16::to_string).collect();
    let mut out = vec![
        Check::new(&format!("{}.rejected", r.id), format!("the server refuses {}", r.what))
            .req(r.requirements)
            .severity(r.severity)
            .expected(format!("HTTP {}", statuses.join(" or ")))
            .observed(resp.describe())
            .hint("the server accepted a request the specification requires it to refuse")
            .evidence(&ev)
            .pass(refused && r.statuses.contains(&status)),
    ];
    if !refused {
        return out;
    }
    let www = resp.header("www-authenticate").map(str::to_owned);
    if status == 401 {
        out.push(
            Check::new(&format!("{}.www_authenticate", r.id), "a 401 carries a WWW-Authenticate challenge")
                .req(&["DCM-03"])
                .expected("WWW-Authenticate: Bearer … (or DPoP …) (RFC 6750 §3)")
                .observed(www.clone().unwrap_or_else(|| "(absent)".to_owned()))
                .evidence(&ev)
                .pass(www.as_deref().is_some_and(|w| {
                    let w = w.trim_start().to_ascii_lowercase();
                    w.starts_with("bearer") || w.starts_with("dpop")
                })),
        );
    }
    let code = resp.json_error().or_else(|| www.as_deref().and_then(challenge_error));
    if !r.errors.is_empty() {
        out.push(
            Check::new(&format!("{}.error_code", r.id), "the error code is one the specification allows here")
                .req(r.requirements)
                .expected(format!("{} (or no code when no credential was sent, RFC 6750 §3.1)", r.errors.join(" or ")))
                .observed(code.clone().unwrap_or_else(|| "(no error code)".to_owned()))
                .evidence(&ev)
                .pass(code.as_ref().is_none_or(|c| r.errors.iter().any(|e| e == c))),
        );
    }
    out
}

/// Judges a status change that should succeed (FDX-UPD-01, FDX-ST-01).
pub fn fdx_status_set(resp: &Response, client_id: &str, status: &str) -> Vec<Condition> {
    let ev = [resp.index];
    let (mut out, body) = json_answer("fdx_status", &format!("setting the FDX status {status}"), 200, &["FDX-UPD-01"], resp);
    let Some(body) = body else { return out };
    let got = body.get("client_id").and_then(Value::as_str);
    out.push(
        Check::new("fdx_status.client_id", "the answer names the client whose status changed")
            .req(&["FDX-UPD-01"])
            .expected(client_id.to_owned())
            .observed(got.unwrap_or("(absent)").to_owned())
            .evidence(&ev)
            .pass(got == Some(client_id)),
    );
    out.extend(fdx_status("fdx_status", &body, status, &["FDX-UPD-01"], &ev));
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response {
            index: 0,
            status: Some(status),
            headers: headers.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect(),
            body: body.to_owned(),
            error: None,
        }
    }

    #[test]
    fn reads_the_error_of_a_challenge() {
        assert_eq!(challenge_error(r#"Bearer error="invalid_token", error_description="x""#).as_deref(), Some("invalid_token"));
        assert_eq!(challenge_error("Bearer error=insufficient_scope").as_deref(), Some("insufficient_scope"));
        assert_eq!(challenge_error(r#"Bearer realm="x""#), None);
    }

    #[test]
    fn echo_compares_sets_keys_and_names() {
        assert!(same_value("grant_types", &json!(["a", "b"]), Some(&json!(["b", "a"]))));
        assert!(!same_value("grant_types", &json!(["a", "b"]), Some(&json!(["a"]))));
        assert!(same_value("tls_client_auth_subject_dn", &json!("CN=a,O=b"), Some(&json!("cn=a, o=b"))));
        let k = fapilab_jose::SigningKey::generate(fapilab_jose::Algorithm::Es256, Some("k".into())).unwrap();
        let mut bare = k.public_jwk().to_minimal_value();
        bare.as_object_mut().unwrap().insert("use".into(), json!("sig"));
        assert!(same_value("jwks", &json!({"keys": [k.public_jwk().to_value()]}), Some(&json!({"keys": [bare]}))));
        assert!(!same_value("client_name", &json!("x"), None));
    }

    #[test]
    fn a_refusal_without_challenge_fails_the_www_authenticate_check() {
        let errors = vec!["invalid_token".to_owned()];
        let r = BearerRefusal { id: "read", what: "x", statuses: &[401], errors: &errors, requirements: &["DCM-03"], severity: Severity::Failure };
        let conds = bearer_refused(&r, &response(401, &[], r#"{"error":"invalid_token"}"#));
        let failed: Vec<&str> = conds.iter().filter(|c| !c.passed).map(|c| c.id.as_str()).collect();
        assert_eq!(failed, vec!["read.www_authenticate"]);
        let conds = bearer_refused(&r, &response(200, &[], "{}"));
        assert!(conds.iter().any(|c| c.id == "read.rejected" && !c.passed));
    }

    #[test]
    fn a_status_answer_must_show_the_activity_the_status_implies() {
        let ok = r#"{"client_id":"c","fdx_client_status":"Pending","client_status":"inactive"}"#;
        assert!(fdx_status_set(&response(200, &[("content-type", "application/json")], ok), "c", "Pending").iter().all(|c| c.passed));
        let wrong = r#"{"client_id":"c","fdx_client_status":"Pending","client_status":"active"}"#;
        let conds = fdx_status_set(&response(200, &[("content-type", "application/json")], wrong), "c", "Pending");
        let failed: Vec<&str> = conds.iter().filter(|c| !c.passed).map(|c| c.id.as_str()).collect();
        assert_eq!(failed, vec!["fdx_status.fdx_client_activity"]);
    }

    #[test]
    fn a_delete_answered_200_with_a_body_fails() {
        let conds = deleted(&response(200, &[], r#"{"deleted":true}"#));
        let failed: Vec<&str> = conds.iter().filter(|c| !c.passed).map(|c| c.id.as_str()).collect();
        assert_eq!(failed, vec!["delete.status", "delete.no_body"]);
    }
}
