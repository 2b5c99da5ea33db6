//! The recording HTTP layer: every request a module sends, and what came back (or the
//! transport error: a refused TLS handshake is a valid outcome for some checks), becomes a
//! redacted [`Exchange`] that conditions cite as evidence.
//!
//! Connections trust only the target's CA bundle, never follow redirects (the harness looks at
//! every 30x itself: FAPI2-SP-AZ-10/AZ-11) and resolve names normally. Each module has its own
//! browser client with its own cookie jar, and one client per TLS client identity.
//!
//! Redaction: private keys are never sent anywhere a report sees them; client assertions, DPoP
//! proofs, access and refresh tokens, ID tokens, codes, code verifiers, passwords and cookies
//! are cut to a short prefix followed by "…" (enough to tell two values apart in a report,
//! not enough to use them).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use reqwest::redirect::Policy;
use serde_json::Value;

use crate::model::Exchange;

/// Form, query and JSON member names whose values are shortened in reports.
pub const SECRET_NAMES: &[&str] = &[
    "client_assertion",
    "code",
    "code_verifier",
    "access_token",
    "refresh_token",
    "id_token",
    "token",
    "password",
    "csrf_token",
    "previous_refresh_token",
    // RFC 7591/7592: the registration access token, a client secret a registration must not
    // return (FAPI clients have none), and an initial access token.
    "registration_access_token",
    "client_secret",
    "initial_access_token",
    // A JARM response (JARM 4.3): the JWT carries the authorization code.
    "response",
];

/// Longest response body kept in a report.
const MAX_BODY: usize = 4000;
const TIMEOUT: Duration = Duration::from_secs(30);

/// `abcdef…` — the first 6 characters of a secret.
pub fn shorten(value: &str) -> String {
    if value.chars().count() <= 8 {
        return "…".to_owned();
    }
    let prefix: String = value.chars().take(6).collect();
    format!("{prefix}…")
}

/// Redacts the secret parameters of a query string or form body.
pub fn redact_form(encoded: &str) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form_urlencoded::parse(encoded.as_bytes()) {
        if SECRET_NAMES.contains(&k.as_ref()) {
            out.append_pair(&k, &shorten(&v));
        } else {
            out.append_pair(&k, &v);
        }
    }
    out.finish()
}

/// Redacts the query (and fragment) parameters of a URL.
pub fn redact_url(url: &str) -> String {
    let (before_fragment, fragment) = match url.split_once('#') {
        Some((a, f)) => (a, Some(f)),
        None => (url, None),
    };
    let mut out = match before_fragment.split_once('?') {
        Some((base, query)) => format!("{base}?{}", redact_form(query)),
        None => before_fragment.to_owned(),
    };
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(&redact_form(f));
    }
    out
}

/// Redacts a header value by name.
pub fn redact_header(name: &str, value: &str) -> String {
    match name.to_ascii_lowercase().as_str() {
        "authorization" => match value.split_once(' ') {
            Some((scheme, token)) => format!("{scheme} {}", shorten(token)),
            None => shorten(value),
        },
        "dpop" => shorten(value),
        "cookie" => value
            .split(';')
            .map(|c| match c.split_once('=') {
                Some((n, v)) => format!("{}={}", n.trim(), shorten(v)),
                None => c.trim().to_owned(),
            })
            .collect::<Vec<_>>()
            .join("; "),
        "set-cookie" => match value.split_once('=') {
            Some((n, rest)) => {
                let (v, attrs) = rest.split_once(';').unwrap_or((rest, ""));
                if attrs.is_empty() { format!("{n}={}", shorten(v)) } else { format!("{n}={};{attrs}", shorten(v)) }
            }
            None => value.to_owned(),
        },
        "location" => redact_url(value),
        _ => value.to_owned(),
    }
}

/// Redacts secret members of a JSON value, recursively; private JWK members are removed.
pub fn redact_json(v: &mut Value) {
    match v {
        Value::Object(map) => {
            let has_kty = map.contains_key("kty");
            for (k, val) in map.iter_mut() {
                if let Value::String(s) = val
                    && SECRET_NAMES.contains(&k.as_str())
                {
                    *s = shorten(s);
                } else if has_kty && matches!(k.as_str(), "d" | "p" | "q" | "dp" | "dq" | "qi" | "oth" | "k") {
                    *val = Value::String("(private member removed)".into());
                } else {
                    redact_json(val);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_json),
        _ => {}
    }
}

fn redact_body(content_type: Option<&str>, body: &str) -> String {
    let ct = content_type.unwrap_or_default().to_ascii_lowercase();
    if (ct.contains("json") || body.trim_start().starts_with('{'))
        && let Ok(mut v) = serde_json::from_str::<Value>(body)
    {
        redact_json(&mut v);
        return v.to_string();
    }
    if ct.contains("x-www-form-urlencoded") {
        return redact_form(body);
    }
    if ct.contains("html") {
        return truncate(&redact_html_inputs(body));
    }
    truncate(body)
}

/// Shortens the `value` of every HTML input named in [`SECRET_NAMES`]: the auto-submitting
/// page of the `form_post.jwt` response mode carries the JARM response (and so the code) in a
/// hidden input.
fn redact_html_inputs(html: &str) -> String {
    let lower = html.to_ascii_lowercase();
    let mut out = String::with_capacity(html.len());
    let mut pos = 0;
    while let Some(start) = lower[pos..].find("<input").map(|i| i + pos) {
        let end = lower[start..].find('>').map_or(html.len(), |i| i + start);
        out.push_str(&html[pos..start]);
        let tag = &html[start..end];
        let secret = crate::login::attr(tag, "name").is_some_and(|n| SECRET_NAMES.contains(&n.as_str()));
        match crate::login::attr(tag, "value").filter(|v| secret && !v.is_empty()) {
            Some(value) => out.push_str(&tag.replacen(&value, &shorten(&value), 1)),
            None => out.push_str(tag),
        }
        pos = end;
    }
    out.push_str(&html[pos..]);
    out
}

fn truncate(body: &str) -> String {
    if body.len() <= MAX_BODY {
        return body.to_owned();
    }
    let mut end = MAX_BODY;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &body[..end], body.len())
}

/// One request to send.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// Sent as `application/x-www-form-urlencoded`, in this order.
    pub form: Option<Vec<(String, String)>>,
    /// Sent as `application/json` (client registration, RFC 7591 §3.1); never with `form`.
    pub json: Option<Value>,
}

impl Request {
    pub fn get(url: impl Into<String>) -> Request {
        Request { method: "GET".into(), url: url.into(), headers: Vec::new(), form: None, json: None }
    }

    pub fn post_form(url: impl Into<String>, form: Vec<(String, String)>) -> Request {
        Request { method: "POST".into(), url: url.into(), headers: Vec::new(), form: Some(form), json: None }
    }

    /// `method` (POST, PUT) with a JSON body.
    pub fn json(method: &str, url: impl Into<String>, body: Value) -> Request {
        Request { method: method.into(), url: url.into(), headers: Vec::new(), form: None, json: Some(body) }
    }

    /// A request without a body (GET, DELETE).
    pub fn bodyless(method: &str, url: impl Into<String>) -> Request {
        Request { method: method.into(), url: url.into(), headers: Vec::new(), form: None, json: None }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Request {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
}

/// What came back: a response, or a transport error.
#[derive(Debug, Clone)]
pub struct Response {
    /// Index of the recorded exchange (evidence).
    pub index: usize,
    pub status: Option<u16>,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub error: Option<String>,
}

impl Response {
    /// First header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn status_or_zero(&self) -> u16 {
        self.status.unwrap_or(0)
    }

    /// The media type is `application/json` (parameters ignored).
    pub fn is_json_type(&self) -> bool {
        self.header("content-type")
            .map(|ct| ct.split(';').next().unwrap_or_default().trim().eq_ignore_ascii_case("application/json"))
            .unwrap_or(false)
    }

    /// The body as a JSON object, if it is one.
    pub fn json(&self) -> Option<serde_json::Map<String, Value>> {
        match serde_json::from_str::<Value>(&self.body) {
            Ok(Value::Object(m)) => Some(m),
            _ => None,
        }
    }

    /// `error` of a JSON error body.
    pub fn json_error(&self) -> Option<String> {
        self.json().and_then(|m| m.get("error").and_then(Value::as_str).map(str::to_owned))
    }

    /// A short description for `observed` texts.
    pub fn describe(&self) -> String {
        match (&self.status, &self.error) {
            (_, Some(e)) => format!("transport error: {e}"),
            (Some(s), None) => match self.json_error() {
                Some(err) => format!("HTTP {s}, error={err}"),
                None => format!("HTTP {s}"),
            },
            (None, None) => "no response".into(),
        }
    }
}

/// Which connection a request goes over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via<'a> {
    /// No client certificate, no cookies.
    Plain,
    /// The module's browser: cookies kept, no client certificate.
    Browser,
    /// A TLS client identity (certificate and key PEM).
    Identity { cert_pem: &'a str, key_pem: &'a str },
    /// Like `Plain`, but HTTP/1 header names are sent in title case (`Dpop`).
    TitleCase,
}

/// A client assertion the server accepted (for `assertion_replay`, PKJ-04).
#[derive(Debug, Clone)]
pub struct AcceptedAssertion {
    /// The `client_id` form parameter it was sent with.
    pub client_id: String,
    pub assertion: String,
}

/// A DPoP proof the server accepted (for `dpop_replay`, DP-13).
#[derive(Debug, Clone)]
pub struct AcceptedProof {
    pub proof: String,
    /// Thumbprint of the proof's `jwk`.
    pub jkt: String,
}

/// The module's HTTP clients and its recorded exchanges.
pub struct Http {
    ca_pem: Vec<u8>,
    plain: Option<reqwest::Client>,
    browser: Option<reqwest::Client>,
    title_case: Option<reqwest::Client>,
    identities: HashMap<String, reqwest::Client>,
    pub exchanges: Vec<Exchange>,
    /// The step name recorded with each exchange.
    pub step: String,
    /// The client assertion of the last request answered 2xx: the server has seen (and, if it
    /// prevents replay, remembered) its `jti`.
    pub accepted_assertion: Option<AcceptedAssertion>,
    /// Per (`htm`, `htu`): the last DPoP proof, made for exactly that method and URL, whose
    /// request was answered 2xx.
    pub accepted_proofs: HashMap<(String, String), AcceptedProof>,
}

impl Http {
    pub fn new(ca_pem: &[u8]) -> Http {
        Http {
            ca_pem: ca_pem.to_vec(),
            plain: None,
            browser: None,
            title_case: None,
            identities: HashMap::new(),
            exchanges: Vec::new(),
            step: String::new(),
            accepted_assertion: None,
            accepted_proofs: HashMap::new(),
        }
    }

    /// Remembers the client assertion and the DPoP proof of a request the server accepted.
    fn remember_accepted(&mut self, req: &Request) {
        if let Some(form) = &req.form
            && let Some((_, assertion)) = form.iter().find(|(k, _)| k == "client_assertion")
        {
            let client_id = form.iter().find(|(k, _)| k == "client_id").map(|(_, v)| v.clone()).unwrap_or_default();
            self.accepted_assertion = Some(AcceptedAssertion { client_id, assertion: assertion.clone() });
        }
        let mut proofs = req.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case("dpop"));
        let (Some((_, proof)), None) = (proofs.next(), proofs.next()) else { return };
        let Ok(jws) = fapilab_jose::jws::CompactJws::parse(proof) else { return };
        let Ok(claims) = jws.claims() else { return };
        let claim = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
        let htu = req.url.split(['?', '#']).next().unwrap_or(&req.url).to_owned();
        if claim("htm").as_deref() != Some(req.method.as_str()) || claim("htu").as_deref() != Some(htu.as_str()) {
            return;
        }
        let Some(jkt) = jws.header().get("jwk").and_then(|j| fapilab_jose::Jwk::from_value(j).ok()).map(|j| j.thumbprint()) else {
            return;
        };
        self.accepted_proofs.insert((req.method.clone(), htu), AcceptedProof { proof: proof.clone(), jkt });
    }

    fn builder(&self) -> Result<reqwest::ClientBuilder, String> {
        let certs = reqwest::Certificate::from_pem_bundle(&self.ca_pem).map_err(|e| format!("the target's CA bundle: {e}"))?;
        Ok(reqwest::Client::builder().tls_certs_only(certs).redirect(Policy::none()).timeout(TIMEOUT).no_proxy())
    }

    fn client(&mut self, via: Via<'_>) -> Result<reqwest::Client, String> {
        let slot = match via {
            Via::Plain => &self.plain,
            Via::Browser => &self.browser,
            Via::TitleCase => &self.title_case,
            Via::Identity { cert_pem, .. } => {
                if let Some(c) = self.identities.get(cert_pem) {
                    return Ok(c.clone());
                }
                &None
            }
        };
        if let Some(c) = slot {
            return Ok(c.clone());
        }
        let b = self.builder()?;
        let client = match via {
            Via::Plain => b.build(),
            Via::Browser => b.cookie_store(true).build(),
            Via::TitleCase => b.http1_only().http1_title_case_headers().build(),
            Via::Identity { cert_pem, key_pem } => {
                let identity = reqwest::Identity::from_pem(format!("{cert_pem}\n{key_pem}").as_bytes())
                    .map_err(|e| format!("the client certificate or key: {e}"))?;
                b.identity(identity).build()
            }
        }
        .map_err(|e| format!("building the HTTP client: {e}"))?;
        match via {
            Via::Plain => self.plain = Some(client.clone()),
            Via::Browser => self.browser = Some(client.clone()),
            Via::TitleCase => self.title_case = Some(client.clone()),
            Via::Identity { cert_pem, .. } => {
                self.identities.insert(cert_pem.to_owned(), client.clone());
            }
        }
        Ok(client)
    }

    /// Sends `req` and records the exchange; never fails (a failure is a recorded outcome).
    pub async fn send(&mut self, via: Via<'_>, req: Request) -> Response {
        let started = Instant::now();
        let form_body = req.form.as_ref().map(|f| {
            let mut s = form_urlencoded::Serializer::new(String::new());
            for (k, v) in f {
                s.append_pair(k, v);
            }
            s.finish()
        });
        let json_body = req.json.as_ref().map(Value::to_string);
        let mut request_headers: Vec<(String, String)> = req.headers.clone();
        let content_type = match (&form_body, &json_body) {
            (Some(_), _) => Some("application/x-www-form-urlencoded"),
            (None, Some(_)) => Some("application/json"),
            (None, None) => None,
        };
        if let Some(ct) = content_type
            && !request_headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        {
            request_headers.push(("content-type".into(), ct.into()));
        }
        let body = form_body.clone().or(json_body);
        // FAPI2-SP-NET-01: every endpoint is TLS. Credentials never go over plain HTTP, even when
        // the metadata advertises it; the refusal is recorded and fails the step.
        let plain_http = !req.url.starts_with("https://");
        let outcome = match self.client(via) {
            _ if plain_http => Err(format!("refused to send to {} over plain HTTP: FAPI2-SP-NET-01 requires TLS", req.url)),
            Err(e) => Err(e),
            Ok(client) => match reqwest::Method::from_bytes(req.method.as_bytes()) {
                Err(e) => Err(format!("method {:?}: {e}", req.method)),
                Ok(method) => {
                    let mut rb = client.request(method, &req.url);
                    for (n, v) in &request_headers {
                        rb = rb.header(n.as_str(), v.as_str());
                    }
                    if let Some(b) = &body {
                        rb = rb.body(b.clone());
                    }
                    match rb.send().await {
                        Err(e) => Err(error_chain(&e)),
                        Ok(resp) => {
                            let status = resp.status().as_u16();
                            let headers: Vec<(String, String)> = resp
                                .headers()
                                .iter()
                                .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                                .collect();
                            match resp.bytes().await {
                                Ok(b) => Ok((status, headers, String::from_utf8_lossy(&b).into_owned())),
                                Err(e) => Err(format!("HTTP {status}, then reading the body failed: {}", error_chain(&e))),
                            }
                        }
                    }
                }
            },
        };
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let index = self.exchanges.len();
        let mut exchange = Exchange {
            step: self.step.clone(),
            method: req.method.clone(),
            url: redact_url(&req.url),
            request_headers: request_headers.iter().map(|(n, v)| (n.clone(), redact_header(n, v))).collect(),
            request_body: match (&form_body, &req.json) {
                (Some(f), _) => Some(redact_form(f)),
                (None, Some(j)) => {
                    let mut j = j.clone();
                    redact_json(&mut j);
                    Some(j.to_string())
                }
                (None, None) => None,
            },
            status: None,
            response_headers: Vec::new(),
            response_body: None,
            error: None,
            elapsed_ms,
        };
        let response = match outcome {
            Ok((status, headers, text)) => {
                exchange.status = Some(status);
                exchange.response_headers = headers.iter().map(|(n, v)| (n.clone(), redact_header(n, v))).collect();
                let ct = headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("content-type")).map(|(_, v)| v.as_str());
                exchange.response_body = (!text.is_empty()).then(|| redact_body(ct, &text));
                if (200..300).contains(&status) {
                    self.remember_accepted(&req);
                }
                Response { index, status: Some(status), headers, body: text, error: None }
            }
            Err(e) => {
                exchange.error = Some(e.clone());
                Response { index, status: None, headers: Vec::new(), body: String::new(), error: Some(e) }
            }
        };
        self.exchanges.push(exchange);
        response
    }

    /// Records an exchange that did not go through reqwest (a raw TLS handshake, a manual
    /// login); returns its index.
    pub fn record(&mut self, mut exchange: Exchange) -> usize {
        exchange.step = self.step.clone();
        exchange.url = redact_url(&exchange.url);
        self.exchanges.push(exchange);
        self.exchanges.len() - 1
    }
}

/// The error and its causes, one line (the TLS alert is usually a cause).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn secrets_are_shortened() {
        let form = "grant_type=authorization_code&code=abcdefghijklmnop&code_verifier=0123456789012345678901234567890123456789&client_assertion=eyJhbGciOiJFUzI1NiJ9.eyJ9.sig&redirect_uri=https%3A%2F%2Fc%2Fcb";
        let r = redact_form(form);
        assert!(r.contains("grant_type=authorization_code"), "{r}");
        assert!(r.contains("redirect_uri=https%3A%2F%2Fc%2Fcb"), "{r}");
        assert!(!r.contains("abcdefghijklmnop") && r.contains("code=abcdef%E2%80%A6"), "{r}");
        assert!(!r.contains("0123456789012345678901234567890123456789"), "{r}");
        assert!(!r.contains("eyJ9.sig"), "{r}");
    }

    #[test]
    fn headers_and_urls_are_redacted() {
        assert_eq!(redact_header("Authorization", "DPoP eyJhbGciOiJFUzI1NiJ9.payload.sig"), "DPoP eyJhbG…");
        assert_eq!(redact_header("dpop", "eyJ0eXAiOiJkcG9wK2p3dCJ9.x.y"), "eyJ0eX…");
        assert_eq!(redact_header("content-type", "application/json"), "application/json");
        let loc = redact_header("location", "https://c.example/cb?code=secretcodevalue123&state=s1&iss=https%3A%2F%2Fas");
        assert!(loc.contains("state=s1") && !loc.contains("secretcodevalue123"), "{loc}");
        let cookie = redact_header("set-cookie", "fapilab_session=verysecretsessionvalue; Path=/; Secure");
        assert!(cookie.starts_with("fapilab_session=verysec…") || cookie.starts_with("fapilab_session=verys"), "{cookie}");
        assert!(!cookie.contains("verysecretsessionvalue"), "{cookie}");
    }

    #[test]
    fn jarm_responses_are_redacted_in_urls_and_pages() {
        let loc = redact_header("location", "https://c.example/cb#response=eyJhbGciOiJFUzI1NiJ9.eyJjb2RlIjoic2VjcmV0In0.sig");
        assert!(!loc.contains("eyJjb2RlIjoic2VjcmV0In0"), "{loc}");
        let page = r#"<form method="post" action="https://c.example/cb"><input type="hidden" name="response" value="eyJhbGciOiJFUzI1NiJ9.eyJjb2RlIjoic2VjcmV0In0.sig"><input type="hidden" name="other" value="kept"></form>"#;
        let r = redact_body(Some("text/html; charset=utf-8"), page);
        assert!(!r.contains("eyJjb2RlIjoic2VjcmV0In0") && r.contains("value=\"kept\"") && r.contains("eyJhbG…"), "{r}");
    }

    #[test]
    fn json_tokens_and_private_keys_are_redacted() {
        let mut v = serde_json::json!({
            "access_token": "at-0123456789abcdef", "token_type": "DPoP", "refresh_token": "rt-0123456789abcdef",
            "id_token": "eyJhbGciOiJQUzI1NiJ9.e30.sig",
            "keys": [{"kty": "EC", "crv": "P-256", "x": "xx", "y": "yy", "d": "private!"}]
        });
        redact_json(&mut v);
        let s = v.to_string();
        assert!(!s.contains("0123456789abcdef") && !s.contains("private!") && !s.contains("e30.sig"), "{s}");
        assert!(s.contains("\"token_type\":\"DPoP\"") && s.contains("\"x\":\"xx\""), "{s}");
        assert_eq!(shorten("short"), "…");
    }
}
