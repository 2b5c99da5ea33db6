//! The server's one error type at the HTTP boundary.
//!
//! Every rejection is an [`OAuthError`]: a coarse wire code from the RFC that governs the
//! endpoint (RFC 6749 §5.2, RFC 6750 §3.1, RFC 9126 §2.3, RFC 9449 §7.1, RFC 7009 §2.2.1), a
//! client-safe `error_description` that names what was wrong and the requirement id that
//! demands it, and an operator-only `cause` that is logged but never sent. It is turned into
//! an HTTP response in exactly one place, [`OAuthError::into_response`].

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The RFC error codes the server ever sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    InvalidScope,
    AccessDenied,
    InvalidRequestUri,
    InvalidRequestObject,
    RequestNotSupported,
    InvalidDpopProof,
    UseDpopNonce,
    InvalidToken,
    InsufficientScope,
    UnsupportedTokenType,
    ServerError,
    TemporarilyUnavailable,
    NotFound,
    MethodNotAllowed,
    /// RFC 7591 §3.2.2
    InvalidRedirectUri,
    InvalidClientMetadata,
    InvalidSoftwareStatement,
    UnapprovedSoftwareStatement,
    /// CIBA §11, §13
    AuthorizationPending,
    SlowDown,
    ExpiredToken,
    UnknownUserId,
    InvalidBindingMessage,
    /// OIDC Core §3.1.2.6: the page needs a signed-in user.
    LoginRequired,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::InvalidRequestUri => "invalid_request_uri",
            ErrorCode::InvalidRequestObject => "invalid_request_object",
            ErrorCode::RequestNotSupported => "request_not_supported",
            ErrorCode::InvalidDpopProof => "invalid_dpop_proof",
            ErrorCode::UseDpopNonce => "use_dpop_nonce",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::InsufficientScope => "insufficient_scope",
            ErrorCode::UnsupportedTokenType => "unsupported_token_type",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::InvalidRedirectUri => "invalid_redirect_uri",
            ErrorCode::InvalidClientMetadata => "invalid_client_metadata",
            ErrorCode::InvalidSoftwareStatement => "invalid_software_statement",
            ErrorCode::UnapprovedSoftwareStatement => "unapproved_software_statement",
            ErrorCode::AuthorizationPending => "authorization_pending",
            ErrorCode::SlowDown => "slow_down",
            ErrorCode::ExpiredToken => "expired_token",
            ErrorCode::UnknownUserId => "unknown_user_id",
            ErrorCode::InvalidBindingMessage => "invalid_binding_message",
            ErrorCode::LoginRequired => "login_required",
        }
    }

    /// The status RFC 6749 §5.2 / RFC 6750 §3.1 / RFC 9449 pair with the code.
    pub fn default_status(self) -> StatusCode {
        match self {
            ErrorCode::InvalidClient | ErrorCode::InvalidToken | ErrorCode::LoginRequired => StatusCode::UNAUTHORIZED,
            ErrorCode::InsufficientScope | ErrorCode::AccessDenied => StatusCode::FORBIDDEN,
            ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// How a resource-style error is challenged (RFC 6750 §3, RFC 9449 §7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Bearer,
    Dpop { algs: String },
    /// RFC 6749 §5.2: the client tried HTTP Basic authentication.
    Basic,
    /// RFC 6750 §3.1 / RFC 9449 §7.1: no token at all, so both schemes are offered and no
    /// error code is given.
    TokenMissing { realm: String, algs: String },
}

#[derive(Debug, Clone)]
pub struct OAuthError {
    pub code: ErrorCode,
    /// Client-safe: names the problem and the requirement id.
    pub description: String,
    /// Operator-only detail: logged, never sent.
    pub cause: Option<String>,
    pub status: StatusCode,
    pub challenge: Option<Challenge>,
    pub dpop_nonce: Option<String>,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        OAuthError {
            code,
            description: description.into(),
            cause: None,
            status: code.default_status(),
            challenge: None,
            dpop_nonce: None,
        }
    }
    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, d)
    }
    pub fn invalid_client(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidClient, d)
    }
    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidGrant, d)
    }
    pub fn invalid_dpop_proof(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidDpopProof, d)
    }
    pub fn unauthorized_client(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::UnauthorizedClient, d)
    }
    pub fn invalid_token(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidToken, d)
    }
    /// A failure of our own (storage, signing). The client sees a generic sentence; the
    /// operator sees the cause.
    pub fn server(cause: impl std::fmt::Display) -> Self {
        let mut e = Self::new(
            ErrorCode::ServerError,
            "the server could not complete the request; the operator log has the cause",
        );
        e.cause = Some(cause.to_string());
        e
    }
    /// The server is saturated (a replay cache is full of live entries): refuse rather than
    /// forget, and let the client retry (RFC 6749 §4.1.2.1 `temporarily_unavailable`).
    pub fn overloaded(cause: impl std::fmt::Display) -> Self {
        Self::new(ErrorCode::TemporarilyUnavailable, "the server is at capacity; retry in a moment").with_cause(cause)
    }
    pub fn with_cause(mut self, cause: impl std::fmt::Display) -> Self {
        self.cause = Some(cause.to_string());
        self
    }
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }
    pub fn with_challenge(mut self, challenge: Challenge) -> Self {
        self.challenge = Some(challenge);
        self
    }
    pub fn with_dpop_nonce(mut self, nonce: String) -> Self {
        self.dpop_nonce = Some(nonce);
        self
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.description)
    }
}

impl std::error::Error for OAuthError {}

/// RFC 6749 §5.2: `error_description` may only hold %x20-21 / %x23-5B / %x5D-7E. Quotes become
/// apostrophes, backslashes slashes, anything else outside the set a question mark. The same
/// text is then safe inside an RFC 9110 quoted auth-param.
pub fn wire_description(value: &str) -> String {
    value
        .chars()
        .map(|c| match c {
            '"' => '\'',
            '\\' => '/',
            ' '..='~' => c,
            _ => '?',
        })
        .collect()
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(error = self.code.as_str(), cause = ?self.cause, "request failed");
        } else {
            tracing::info!(
                error = self.code.as_str(),
                description = %self.description,
                cause = ?self.cause,
                "request rejected"
            );
        }
        let description = wire_description(&self.description);
        let body = json!({ "error": self.code.as_str(), "error_description": description });
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        // OA-01: error responses of the token family are never cached either.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        let code = self.code.as_str();
        let challenges: Vec<String> = match &self.challenge {
            Some(Challenge::Bearer) => vec![format!("Bearer error=\"{code}\", error_description=\"{description}\"")],
            Some(Challenge::Dpop { algs }) => {
                vec![format!("DPoP error=\"{code}\", error_description=\"{description}\", algs=\"{algs}\"")]
            }
            Some(Challenge::Basic) => vec!["Basic realm=\"fapilab\"".to_string()],
            Some(Challenge::TokenMissing { realm, algs }) => {
                vec![format!("Bearer realm=\"{realm}\""), format!("DPoP realm=\"{realm}\", algs=\"{algs}\"")]
            }
            None => Vec::new(),
        };
        for value in challenges.iter().filter_map(|c| HeaderValue::from_str(c).ok()) {
            headers.append(header::WWW_AUTHENTICATE, value);
        }
        if self.code == ErrorCode::TemporarilyUnavailable {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if let Some(nonce) = self.dpop_nonce.and_then(|n| HeaderValue::from_str(&n).ok()) {
            headers.insert("dpop-nonce", nonce);
        }
        response
    }
}

pub type OAuthResult<T> = Result<T, OAuthError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_replay_cache_is_503_with_retry_after_never_500() {
        let response = OAuthError::overloaded("cache full").into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers().get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()), Some("1"));
    }

    #[test]
    fn descriptions_keep_to_the_rfc6749_character_set() {
        let wire = wire_description("aud \"https://x\" \\ caf\u{e9}\n");
        assert_eq!(wire, "aud 'https://x' / caf??");
        assert!(wire.chars().all(|c| matches!(c as u32, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E)));
    }
}
