//! UserInfo (OIDC Core §5.3) as a protected resource: the token comes only in the
//! Authorization header (FAPI2-SP-RS-01, RS-02), its scheme (case-insensitive) must fit its
//! binding, and the binding is verified — DPoP proof with `ath` and matching `jkt`
//! (DP-R-01, DP-R-02, DP-12) or the connection's certificate thumbprint (MT-07).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::access;
use crate::dpop::{self, Place};
use crate::error::{Challenge, ErrorCode, OAuthError, OAuthResult};
use crate::faults::Fault;
use crate::http::{Peer, Ws};
use crate::protocol::mtls;
use crate::state::{AppState, SharedState};
use crate::store::records::{AccessTokenRecord, Confirmation};
use crate::workspace::Workspace;

pub async fn userinfo(State(state): State<SharedState>, Ws(ws): Ws, peer: Peer, method: Method, headers: HeaderMap) -> Result<Response, OAuthError> {
    let url = ws.endpoint(peer.listener, "userinfo");
    let record = authorize_request(&state, &ws, &peer, method.as_str(), &url, &headers)?;
    if !record.scope.split_whitespace().any(|s| s == "openid") {
        return Err(OAuthError::new(ErrorCode::InsufficientScope, "the access token lacks the openid scope [OIDC-5.3, FAPI2-SP-RS-04]")
            .with_challenge(challenge(&ws, &record.cnf)));
    }
    let Some(subject) = record.subject.as_deref() else {
        return Err(OAuthError::new(ErrorCode::InsufficientScope, "this access token was not granted by a user [OIDC-5.3]")
            .with_challenge(challenge(&ws, &record.cnf)));
    };
    let user = ws.users.values().find(|u| u.subject == subject);
    let mut body = json!({ "sub": subject });
    let scopes: Vec<&str> = record.scope.split_whitespace().collect();
    if let Some(user) = user {
        if scopes.contains(&"profile") {
            body["name"] = json!(user.name.clone().unwrap_or_else(|| user.username.clone()));
            body["preferred_username"] = json!(user.username);
        }
        if scopes.contains(&"email")
            && let Some(email) = &user.email {
                body["email"] = json!(email);
                body["email_verified"] = json!(true);
            }
    }
    let mut response = Json(body).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    Ok(response)
}

fn challenge(ws: &Workspace, cnf: &Confirmation) -> Challenge {
    match cnf {
        Confirmation::Jkt(_) => Challenge::Dpop { algs: ws.policy.algorithm_names().join(" ") },
        Confirmation::X5tS256(_) | Confirmation::Unbound => Challenge::Bearer,
    }
}

fn authorize_request(state: &AppState, ws: &Workspace, peer: &Peer, method: &str, url: &str, headers: &HeaderMap) -> OAuthResult<AccessTokenRecord> {
    let unauthorized = |code: ErrorCode, description: &str, challenge: Challenge| {
        OAuthError::new(code, description).with_status(StatusCode::UNAUTHORIZED).with_challenge(challenge)
    };
    let dpop_challenge = Challenge::Dpop { algs: ws.policy.algorithm_names().join(" ") };
    let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        let missing = Challenge::TokenMissing { realm: ws.issuer.clone(), algs: ws.policy.algorithm_names().join(" ") };
        return Err(unauthorized(ErrorCode::InvalidToken, "an access token is required in the Authorization header [FAPI2-SP-RS-01, OA-05, DP-R-03]", missing));
    };
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    let token = token.trim();
    if token.is_empty() {
        return Err(unauthorized(ErrorCode::InvalidRequest, "the Authorization header has no token [RFC6750-2.1]", Challenge::Bearer).with_status(StatusCode::BAD_REQUEST));
    }
    let record = access::active_access_token(state, ws, token).ok_or_else(|| {
        unauthorized(ErrorCode::InvalidToken, "the access token is unknown, expired or revoked [FAPI2-SP-RS-03]", Challenge::Bearer)
    })?;
    match &record.cnf {
        Confirmation::Jkt(jkt) => {
            if !scheme.eq_ignore_ascii_case("dpop") {
                return Err(unauthorized(ErrorCode::InvalidToken, "a DPoP-bound access token must be sent with the DPoP scheme [DP-R-02]", dpop_challenge));
            }
            let proof = dpop::check(state, ws, headers, method, url, Some(token), Place::Resource)?.ok_or_else(|| {
                unauthorized(ErrorCode::InvalidDpopProof, "a DPoP proof is required with a DPoP-bound access token [DP-R-01]", dpop_challenge.clone())
            })?;
            if proof.jkt != *jkt {
                return Err(unauthorized(ErrorCode::InvalidDpopProof, "the DPoP proof key is not the key the access token is bound to [DP-12]", dpop_challenge));
            }
        }
        Confirmation::X5tS256(thumbprint) => {
            if !scheme.eq_ignore_ascii_case("bearer") {
                return Err(unauthorized(ErrorCode::InvalidToken, "a certificate-bound access token is sent with the Bearer scheme [FAPI2-SP-CL-03]", Challenge::Bearer));
            }
            let presented = peer.client_certificate.as_ref().map(|c| mtls::thumbprint(c));
            if presented.as_deref() != Some(thumbprint.as_str()) && !state.faults.active(Fault::CertificateBinding) {
                return Err(unauthorized(ErrorCode::InvalidToken, "the access token is bound to another client certificate than this connection's [MT-07]", Challenge::Bearer));
            }
        }
        // Only under the test-only fault `sender_constraint_required`: nothing to verify.
        Confirmation::Unbound => {}
    }
    Ok(record)
}
