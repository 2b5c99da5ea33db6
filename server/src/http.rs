//! HTTP plumbing: extractors whose rejection is an OAuth error, and the middleware every
//! response passes through (request ids, security headers).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::error::OAuthError;
use crate::faults::Fault;
use crate::state::SharedState;
use crate::tls::ConnectionInfo;
use crate::workspace::{Listener, Workspace};

/// The workspace named by the `{tenant}/{workspace}` path segments.
pub struct Ws(pub Arc<Workspace>);

impl FromRequestParts<SharedState> for Ws {
    type Rejection = OAuthError;

    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> Result<Self, Self::Rejection> {
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|_| OAuthError::new(crate::error::ErrorCode::NotFound, "no such tenant or workspace"))?;
        let (Some(t), Some(w)) = (params.get("tenant"), params.get("workspace")) else {
            return Err(OAuthError::new(crate::error::ErrorCode::NotFound, "no such tenant or workspace"));
        };
        state
            .workspace(t, w)
            .cloned()
            .map(Ws)
            .ok_or_else(|| OAuthError::new(crate::error::ErrorCode::NotFound, format!("no workspace {w:?} in tenant {t:?}")))
    }
}

/// A named path segment, refused as "no such endpoint" when absent or oversized.
async fn path_segment(parts: &mut Parts, state: &SharedState, name: &str) -> Result<String, OAuthError> {
    let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
        .await
        .map_err(|_| OAuthError::new(crate::error::ErrorCode::NotFound, "no such endpoint"))?;
    params
        .get(name)
        .filter(|id| !id.is_empty() && id.len() <= 128)
        .cloned()
        .ok_or_else(|| OAuthError::new(crate::error::ErrorCode::NotFound, "no such endpoint"))
}

/// The `{client_id}` path segment of the registration management and FDX status endpoints.
pub struct ClientIdSegment(pub String);

impl FromRequestParts<SharedState> for ClientIdSegment {
    type Rejection = OAuthError;

    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> Result<Self, Self::Rejection> {
        path_segment(parts, state, "client_id").await.map(ClientIdSegment)
    }
}

/// The `{device_id}` path segment of the CIBA device API.
pub struct DeviceIdSegment(pub String);

impl FromRequestParts<SharedState> for DeviceIdSegment {
    type Rejection = OAuthError;

    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> Result<Self, Self::Rejection> {
        path_segment(parts, state, "device_id").await.map(DeviceIdSegment)
    }
}

/// The connection the request came over, with the client certificate that applies to it:
/// the one from the TLS handshake, or — only from a configured proxy — an RFC 9440 header.
#[derive(Clone)]
pub struct Peer {
    pub listener: Listener,
    pub client_certificate: Option<Arc<Vec<u8>>>,
}

impl FromRequestParts<SharedState> for Peer {
    type Rejection = OAuthError;

    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> Result<Self, Self::Rejection> {
        let Some(info) = parts.extensions.get::<ConnectionInfo>().cloned() else {
            return Err(OAuthError::server("request without connection info"));
        };
        let mut certificate = info.client_certificate.clone();
        if state.client_cert_proxies.contains(&info.peer.ip())
            && let Some(value) = parts.headers.get("client-cert") {
                certificate = Some(Arc::new(parse_client_cert_header(value).ok_or_else(|| {
                    OAuthError::invalid_request("the Client-Cert header is not an RFC 9440 byte sequence")
                })?));
            }
        Ok(Peer { listener: info.listener, client_certificate: certificate })
    }
}

/// RFC 9440 §2.2: `Client-Cert: :<base64 DER>:` (an RFC 8941 byte sequence).
fn parse_client_cert_header(value: &HeaderValue) -> Option<Vec<u8>> {
    use base64::Engine;
    let text = value.to_str().ok()?.trim();
    let inner = text.strip_prefix(':')?.strip_suffix(':')?;
    base64::engine::general_purpose::STANDARD.decode(inner).ok()
}

/// An `application/x-www-form-urlencoded` body, parameters at most once each (RFC 6749 §3.1).
pub struct OAuthForm(pub FormParams);

#[derive(Debug, Default, Clone)]
pub struct FormParams {
    params: HashMap<String, String>,
}

impl FormParams {
    pub fn parse(body: &[u8]) -> Result<FormParams, OAuthError> {
        let mut params = HashMap::new();
        for (k, v) in form_urlencoded::parse(body) {
            if params.insert(k.to_string(), v.to_string()).is_some() {
                return Err(OAuthError::invalid_request(format!(
                    "parameter {k} is repeated; each parameter may appear once [RFC6749-3.1]"
                )));
            }
        }
        Ok(FormParams { params })
    }
    /// Parameters that did not come from a form (a request object's claims).
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> FormParams {
        FormParams { params: pairs.into_iter().collect() }
    }
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }
    pub fn contains(&self, name: &str) -> bool {
        self.params.contains_key(name)
    }
    pub fn require(&self, name: &str, requirement: &str) -> Result<&str, OAuthError> {
        self.get(name).ok_or_else(|| OAuthError::invalid_request(format!("{name} is required [{requirement}]")))
    }
    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.params.iter()
    }
}

const MAX_FORM_BYTES: usize = 64 * 1024;

impl<S: Send + Sync> FromRequest<S> for OAuthForm {
    type Rejection = OAuthError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded")));
        if !is_form {
            return Err(OAuthError::invalid_request(
                "the body must be application/x-www-form-urlencoded [RFC6749-3.2, PAR-02]",
            ));
        }
        let body = axum::body::to_bytes(req.into_body(), MAX_FORM_BYTES).await.map_err(|_| {
            OAuthError::invalid_request("the request body is larger than 64 KiB [PAR-07]")
                .with_status(axum::http::StatusCode::PAYLOAD_TOO_LARGE)
        })?;
        Ok(OAuthForm(FormParams::parse(&body)?))
    }
}

/// A JSON object body (`application/json`, at most 64 KiB): registration requests
/// (RFC 7591 §3.1) and the FDX status update. Anything else is refused with the code the
/// endpoint's RFC uses for bad metadata.
pub struct JsonObject(pub serde_json::Map<String, serde_json::Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = OAuthError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let bad = |d: &str| OAuthError::new(crate::error::ErrorCode::InvalidClientMetadata, d);
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json")));
        if !is_json {
            return Err(bad("the body must be application/json [RFC7591-3.1]"));
        }
        let body = axum::body::to_bytes(req.into_body(), MAX_FORM_BYTES).await.map_err(|_| {
            bad("the request body is larger than 64 KiB").with_status(axum::http::StatusCode::PAYLOAD_TOO_LARGE)
        })?;
        match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(serde_json::Value::Object(map)) => Ok(JsonObject(map)),
            Ok(_) => Err(bad("the body must be a JSON object [RFC7591-3.1]")),
            Err(_) => Err(bad("the body is not valid JSON [RFC7591-3.1]")),
        }
    }
}

/// Adds a request id to the tracing span and the response, and the headers every response
/// carries: HSTS (FAPI2-SP-NET-09), nosniff, no referrer. No CORS header is ever added
/// (FAPI2-SP-NET-11).
pub async fn response_headers(axum::extract::State(state): axum::extract::State<SharedState>, request: Request, next: Next) -> Response {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .map(str::to_owned)
        .unwrap_or_else(|| fapilab_jose::random_token(12));
    let span = tracing::info_span!("request", id = %request_id, method = %request.method(), path = %request.uri().path());
    let cors_fault = state.faults.active(Fault::CorsOnAuthorize) && request.uri().path().ends_with("/authorize");
    let mut response = {
        let _enter = span.enter();
        tracing::debug!("received");
        drop(_enter);
        use tracing::Instrument;
        next.run(request).instrument(span.clone()).await
    };
    span.in_scope(|| tracing::debug!(status = response.status().as_u16(), "answered"));
    let headers: &mut HeaderMap = response.headers_mut();
    if !state.faults.active(Fault::Hsts)
        && let Ok(v) = HeaderValue::from_str(&format!("max-age={}; includeSubDomains", state.hsts_max_age)) {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, v);
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if cors_fault {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert("x-request-id", v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_refused() {
        assert!(FormParams::parse(b"a=1&b=2").is_ok());
        assert!(FormParams::parse(b"a=1&a=2").is_err());
    }

    #[test]
    fn client_cert_header_is_a_byte_sequence() {
        let v = HeaderValue::from_static(":AQID:");
        assert_eq!(parse_client_cert_header(&v), Some(vec![1, 2, 3]));
        assert_eq!(parse_client_cert_header(&HeaderValue::from_static("AQID")), None);
    }
}
