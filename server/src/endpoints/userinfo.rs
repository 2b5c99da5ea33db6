//! UserInfo (OIDC Core §5.3) as a protected resource: the access token and its binding are
//! checked by `access::bound_access_token` (FAPI2-SP-RS-01, RS-02, DP-R-01, DP-12, MT-07).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::access;
use crate::error::{ErrorCode, OAuthError};
use crate::http::{Peer, Ws};
use crate::state::SharedState;

pub async fn userinfo(State(state): State<SharedState>, Ws(ws): Ws, peer: Peer, method: Method, headers: HeaderMap) -> Result<Response, OAuthError> {
    let url = ws.endpoint(peer.listener, "userinfo");
    let record = access::bound_access_token(&state, &ws, &peer, method.as_str(), &url, &headers)?;
    if !record.scope.split_whitespace().any(|s| s == "openid") {
        return Err(OAuthError::new(ErrorCode::InsufficientScope, "the access token lacks the openid scope [OIDC-5.3, FAPI2-SP-RS-04]")
            .with_challenge(access::challenge(&ws, &record.cnf)));
    }
    let Some(subject) = record.subject.as_deref() else {
        return Err(OAuthError::new(ErrorCode::InsufficientScope, "this access token was not granted by a user [OIDC-5.3]")
            .with_challenge(access::challenge(&ws, &record.cnf)));
    };
    let user = crate::end_users::by_subject(&state, &ws, subject);
    let mut body = json!({ "sub": subject });
    let scopes: Vec<&str> = record.scope.split_whitespace().collect();
    if let Some(user) = user {
        if scopes.contains(&"profile") {
            body["name"] = json!(user.name.clone().unwrap_or_else(|| user.login.clone()));
            body["preferred_username"] = json!(user.login);
        }
        if scopes.contains(&"email")
            && let Some((email, verified)) = &user.email
        {
            body["email"] = json!(email);
            body["email_verified"] = json!(verified);
        }
    }
    let mut response = Json(body).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    Ok(response)
}

