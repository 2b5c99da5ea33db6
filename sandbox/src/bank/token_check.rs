//! The access check in front of every account endpoint.
//!
//! A request gets through only with a valid access token, a valid sender constraint and the
//! `accounts` scope; in that order:
//!
//! 1. No token in the query string or a form body (FAPI2-SP-RS-02, RFC 6750 §2.2–§2.3), even
//!    when the Authorization header carries one too.
//! 2. Exactly one Authorization header with the `DPoP` or `Bearer` scheme, matched
//!    case-insensitively (FAPI2-SP-RS-01, RFC 9110 §11.1), and a token68 token.
//! 3. The token is valid and active (FAPI2-SP-RS-03): see `validator`.
//! 4. It is sender-constrained (FAPI2-SP-AS-04) and the constraint holds (FAPI2-SP-RS-05):
//!    * `cnf.jkt`: the `DPoP` scheme (DP-R-02), one `DPoP` header whose proof passes the
//!      RFC 9449 §4.3 checks for this method and URL, with `ath` (DP-R-01, DP-01..DP-12), a
//!      key whose thumbprint is `cnf.jkt` (DP-12) and a `jti` not seen before (DP-13);
//!    * `cnf.x5t#S256`: the `Bearer` scheme and a client certificate on this TLS connection
//!      whose SHA-256 thumbprint is that value (MT-07).
//! 5. The token's scope includes the bank's scope (FAPI2-SP-RS-04).
//!
//! Refusals follow RFC 6750 §3 and RFC 9449 §7.1 (OA-05, DP-R-03): a request without
//! credentials gets 401 with two challenges, `Bearer realm=…` and `DPoP realm=…, algs=…`,
//! and no error code; a bad token 401 `invalid_token`; a bad proof 401 `invalid_dpop_proof`
//! in a `DPoP` challenge; a missing scope 403 `insufficient_scope`; a malformed request 400
//! `invalid_request`. The JSON body repeats the code with a description that names the
//! problem and the requirement id.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use fapilab_jose::Algorithm;
use fapilab_jose::dpop::{DpopViolation, ProofRequirements};
use fapilab_server::protocol::replay::ReplayVerdict;
use fapilab_server::tls::ConnectionInfo;
use serde_json::json;

use super::BankState;
use super::validator::{TokenInfo, TokenRejection};

/// The realm of every challenge.
pub const REALM: &str = "fapilab-bank";
/// DP-11: how far a proof's `iat` may lie in the future (FAPI2-SP-AS-14).
pub const DPOP_MAX_FUTURE_SKEW: i64 = 10;
/// DP-11: how old a proof may be.
pub const DPOP_MAX_AGE: i64 = 300;
/// Largest form body read while looking for a token in it.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// How the access token was bound, as checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    Dpop,
    Mtls,
}

/// What the account endpoints learn about an authorized request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessGrant {
    pub subject: String,
    pub client_id: Option<String>,
    pub scopes: Vec<String>,
    pub binding: Binding,
}

/// The two authorization schemes the bank accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Bearer,
    Dpop,
}

impl Scheme {
    fn name(self) -> &'static str {
        match self {
            Scheme::Bearer => "Bearer",
            Scheme::Dpop => "DPoP",
        }
    }
}

/// A refused request, turned into a response in one place ([`Rejection::into_response`]).
#[derive(Debug, Clone)]
pub struct Rejection {
    pub status: StatusCode,
    pub code: &'static str,
    /// Client-safe; names the problem and the requirement id.
    pub description: String,
    /// The challenges to send, in order; `true` marks the one carrying the error.
    challenges: Vec<(Scheme, bool)>,
    /// `scope` auth-param of an `insufficient_scope` challenge.
    scope: Option<String>,
    /// Operator-only detail, logged but never sent.
    cause: Option<String>,
}

impl Rejection {
    fn new(
        status: StatusCode,
        code: &'static str,
        description: impl Into<String>,
        scheme: Scheme,
    ) -> Rejection {
        Rejection {
            status,
            code,
            description: description.into(),
            challenges: vec![(scheme, true)],
            scope: None,
            cause: None,
        }
    }

    /// RFC 6750 §3.1: no usable credentials, so both schemes are offered without an error.
    fn no_credentials(description: impl Into<String>) -> Rejection {
        Rejection {
            status: StatusCode::UNAUTHORIZED,
            code: "invalid_token",
            description: description.into(),
            challenges: vec![(Scheme::Bearer, false), (Scheme::Dpop, false)],
            scope: None,
            cause: None,
        }
    }

    /// A token sent where it is not accepted: the error, and both ways to do it right.
    fn misplaced_token(description: impl Into<String>) -> Rejection {
        Rejection {
            status: StatusCode::UNAUTHORIZED,
            code: "invalid_request",
            description: description.into(),
            challenges: vec![(Scheme::Bearer, true), (Scheme::Dpop, false)],
            scope: None,
            cause: None,
        }
    }

    fn invalid_token(description: impl Into<String>, scheme: Scheme) -> Rejection {
        Rejection::new(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            description,
            scheme,
        )
    }

    fn invalid_request(description: impl Into<String>) -> Rejection {
        Rejection::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            description,
            Scheme::Bearer,
        )
    }

    fn invalid_dpop_proof(description: impl Into<String>) -> Rejection {
        Rejection::new(
            StatusCode::UNAUTHORIZED,
            "invalid_dpop_proof",
            description,
            Scheme::Dpop,
        )
    }

    fn unavailable(cause: impl Into<String>) -> Rejection {
        Rejection {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "temporarily_unavailable",
            description: "the bank could not validate the access token with the authorization server; try again later".into(),
            challenges: Vec::new(),
            scope: None,
            cause: Some(cause.into()),
        }
    }

    fn challenge_headers(&self) -> Vec<String> {
        self.challenges
            .iter()
            .map(|&(scheme, carries_error)| {
                let mut params = vec![format!("realm=\"{REALM}\"")];
                if carries_error {
                    params.push(format!("error=\"{}\"", self.code));
                    params.push(format!(
                        "error_description=\"{}\"",
                        auth_param_text(&self.description)
                    ));
                    if let Some(scope) = &self.scope {
                        params.push(format!("scope=\"{}\"", auth_param_text(scope)));
                    }
                }
                if scheme == Scheme::Dpop {
                    params.push(format!("algs=\"{}\"", dpop_algs()));
                }
                format!("{} {}", scheme.name(), params.join(", "))
            })
            .collect()
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(error = self.code, cause = ?self.cause, "bank could not check a request");
        } else {
            tracing::info!(error = self.code, description = %self.description, "bank refused a request");
        }
        let challenges = self.challenge_headers();
        let body = json!({ "error": self.code, "error_description": self.description });
        let mut response = (self.status, Json(body)).into_response();
        for challenge in challenges {
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response
                    .headers_mut()
                    .append(header::WWW_AUTHENTICATE, value);
            }
        }
        response
    }
}

/// `PS256 ES256 EdDSA`: the proof algorithms the bank accepts (FAPI2-SP-CR-02).
pub fn dpop_algs() -> String {
    Algorithm::ALL
        .iter()
        .map(Algorithm::as_str)
        .collect::<Vec<_>>()
        .join(" ")
}

/// RFC 6750 §3: `error_description` and `scope` values are restricted to printable ASCII
/// without `"` and `\`.
fn auth_param_text(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' => '\'',
            '\\' => '/',
            ' '..='~' => c,
            _ => '?',
        })
        .collect()
}

/// The parts of a request the check looks at, borrowed so tests can build them by hand.
pub struct RequestFacts<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    /// DER of the client certificate of the TLS connection, if one was presented.
    pub client_certificate: Option<&'a [u8]>,
}

/// Middleware in front of the account routes: refuses, or runs the route with an
/// [`AccessGrant`] in the request extensions.
pub async fn require_access(
    State(state): State<Arc<BankState>>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let body = match refuse_token_in_form_body(&parts.headers, body).await {
        Ok(body) => body,
        Err(rejection) => return rejection.into_response(),
    };
    let certificate = parts
        .extensions
        .get::<ConnectionInfo>()
        .and_then(|info| info.client_certificate.clone());
    let facts = RequestFacts {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query(),
        headers: &parts.headers,
        client_certificate: certificate.as_deref().map(Vec::as_slice),
    };
    match authorize(&state, &facts).await {
        Ok(grant) => {
            parts.extensions.insert(grant);
            next.run(Request::from_parts(parts, body)).await
        }
        Err(rejection) => rejection.into_response(),
    }
}

/// RFC 6750 §2.2 form-encoded body tokens are refused like query tokens (FAPI2-SP-RS-02).
/// Other bodies pass through unread.
async fn refuse_token_in_form_body(headers: &HeaderMap, body: Body) -> Result<Body, Rejection> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| {
            media
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Ok(body);
    }
    let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(|_| {
            Rejection::invalid_request(
                "the form body is larger than 64 KiB or could not be read [OA-05]",
            )
        })?;
    if form_urlencoded::parse(&bytes).any(|(name, _)| name == "access_token") {
        return Err(Rejection::misplaced_token(
            "access tokens in a form body are refused; send the token in the Authorization header [FAPI2-SP-RS-02]",
        ));
    }
    Ok(Body::from(bytes))
}

/// Steps 1–5 of the module documentation.
pub async fn authorize(
    state: &BankState,
    request: &RequestFacts<'_>,
) -> Result<AccessGrant, Rejection> {
    if request.query.is_some_and(|query| {
        form_urlencoded::parse(query.as_bytes()).any(|(name, _)| name == "access_token")
    }) {
        return Err(Rejection::misplaced_token(
            "access tokens in the query string are refused; send the token in the Authorization header [FAPI2-SP-RS-02]",
        ));
    }
    let (scheme, token) = credentials(request.headers)?;
    let info = match state.validator.validate(token).await {
        Ok(info) => info,
        Err(TokenRejection::Invalid(description)) => {
            return Err(Rejection::invalid_token(description, scheme));
        }
        Err(TokenRejection::Unavailable(cause)) => return Err(Rejection::unavailable(cause)),
    };
    let binding = check_binding(state, request, scheme, token, &info)?;
    let required = &state.config.required_scope;
    if !info.has_scope(required) {
        let mut rejection = Rejection::new(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            format!("the access token lacks the {required} scope [FAPI2-SP-RS-04, OA-05]"),
            scheme,
        );
        rejection.scope = Some(required.clone());
        return Err(rejection);
    }
    Ok(AccessGrant {
        subject: info.subject,
        client_id: info.client_id,
        scopes: info.scopes,
        binding,
    })
}

/// The scheme and token of the one Authorization header.
fn credentials(headers: &HeaderMap) -> Result<(Scheme, &str), Rejection> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(Rejection::no_credentials(
            "an access token is required in the Authorization header, with the DPoP or Bearer scheme [FAPI2-SP-RS-01, OA-05]",
        ));
    };
    if values.next().is_some() {
        return Err(Rejection::invalid_request(
            "the request carries more than one Authorization header [RFC6750-2.1, OA-05]",
        ));
    }
    let value = value.to_str().map_err(|_| {
        Rejection::invalid_request(
            "the Authorization header is not visible ASCII [RFC6750-2.1, OA-05]",
        )
    })?;
    let (name, rest) = value.split_once(' ').unwrap_or((value, ""));
    let scheme = if name.eq_ignore_ascii_case("dpop") {
        Scheme::Dpop
    } else if name.eq_ignore_ascii_case("bearer") {
        Scheme::Bearer
    } else {
        return Err(Rejection::no_credentials(
            "the Authorization header uses a scheme this bank does not accept; send the access token with the DPoP or Bearer scheme [FAPI2-SP-RS-01, OA-05]",
        ));
    };
    let token = rest.trim_start_matches(' ');
    if !is_token68(token) {
        let problem = if token.is_empty() {
            "has no access token"
        } else {
            "holds a malformed access token"
        };
        return Err(Rejection::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!(
                "the Authorization header {problem}; the token must follow the scheme name as token68 [RFC6750-2.1, OA-05]"
            ),
            scheme,
        ));
    }
    Ok((scheme, token))
}

/// RFC 9110 §11.2 `token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_token68(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

/// Step 4: the token is sender-constrained and the constraint holds.
fn check_binding(
    state: &BankState,
    request: &RequestFacts<'_>,
    scheme: Scheme,
    token: &str,
    info: &TokenInfo,
) -> Result<Binding, Rejection> {
    if info.jkt.is_none() && info.x5t_s256.is_none() {
        return Err(Rejection::invalid_token(
            "the access token is not sender-constrained; this bank accepts only DPoP- or certificate-bound tokens [FAPI2-SP-AS-04, FAPI2-SP-RS-05]",
            scheme,
        ));
    }
    let mut binding = Binding::Mtls;
    if let Some(jkt) = &info.jkt {
        if scheme != Scheme::Dpop {
            return Err(Rejection::invalid_token(
                "a DPoP-bound access token must be sent with the DPoP authorization scheme, not Bearer [DP-R-02, FAPI2-SP-RS-01]",
                Scheme::Dpop,
            ));
        }
        check_dpop_proof(state, request, token, jkt)?;
        binding = Binding::Dpop;
    }
    if let Some(thumbprint) = &info.x5t_s256 {
        if info.jkt.is_none() && scheme != Scheme::Bearer {
            return Err(Rejection::invalid_token(
                "a certificate-bound access token must be sent with the Bearer authorization scheme, not DPoP [FAPI2-SP-RS-01, MT-07]",
                Scheme::Bearer,
            ));
        }
        let Some(certificate) = request.client_certificate else {
            return Err(Rejection::invalid_token(
                "the access token is bound to a client certificate, and this TLS connection presented none [FAPI2-SP-RS-05, MT-07]",
                scheme,
            ));
        };
        if fapilab_jose::sha256_b64url(certificate) != *thumbprint {
            return Err(Rejection::invalid_token(
                "the access token is bound to another client certificate than this connection's [FAPI2-SP-RS-05, MT-07]",
                scheme,
            ));
        }
    }
    Ok(binding)
}

/// DP-R-01: one proof for this request, with `ath`, by the key the token is bound to, used once.
fn check_dpop_proof(
    state: &BankState,
    request: &RequestFacts<'_>,
    token: &str,
    jkt: &str,
) -> Result<(), Rejection> {
    let mut values = request.headers.get_all("dpop").iter();
    let Some(value) = values.next() else {
        return Err(Rejection::invalid_dpop_proof(
            "a DPoP proof header is required with a DPoP-bound access token [DP-R-01]",
        ));
    };
    if values.next().is_some() {
        return Err(Rejection::invalid_dpop_proof(
            DpopViolation::MultipleProofs.to_string(),
        ));
    }
    let proof = value.to_str().map_err(|_| {
        Rejection::invalid_dpop_proof("the DPoP header is not a compact JWS [DP-02]")
    })?;
    let url = format!("{}{}", state.config.base_url, request.path);
    let now = fapilab_jose::now();
    let requirements = ProofRequirements {
        method: request.method,
        url: &url,
        access_token: Some(token),
        nonce: None,
        allowed_algs: &Algorithm::ALL,
        now,
        max_future_skew: DPOP_MAX_FUTURE_SKEW,
        max_age: DPOP_MAX_AGE,
    };
    let verified = fapilab_jose::dpop::verify_proof(proof, &requirements)
        .map_err(|v| Rejection::invalid_dpop_proof(v.to_string()))?;
    if verified.jkt != jkt {
        return Err(Rejection::invalid_dpop_proof(
            DpopViolation::KeyMismatch.to_string(),
        ));
    }
    let key = format!("{}|{}", verified.jkt, verified.jti);
    let expires = verified
        .iat
        .saturating_add(DPOP_MAX_AGE + DPOP_MAX_FUTURE_SKEW);
    match state.dpop_replay.check_and_insert(key, expires, now) {
        ReplayVerdict::Fresh => Ok(()),
        ReplayVerdict::Replayed => Err(Rejection::invalid_dpop_proof(
            DpopViolation::Replayed.to_string(),
        )),
        ReplayVerdict::Full => Err(Rejection::unavailable("the DPoP replay cache is full")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token68_syntax() {
        assert!(is_token68("abc.DEF-_~+/=="));
        assert!(!is_token68(""));
        assert!(!is_token68("=="));
        assert!(!is_token68("a b"));
        assert!(!is_token68("a,b"));
    }

    #[test]
    fn challenge_text_is_a_valid_auth_param() {
        assert_eq!(auth_param_text("a \"q\" \\ é"), "a 'q' / ?");
        assert_eq!(dpop_algs(), "PS256 ES256 EdDSA");
    }
}
