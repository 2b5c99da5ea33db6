//! Token revocation (RFC 7009; REV-01..REV-06). Revoking a refresh token revokes its whole
//! grant, access tokens included (REV-05). A token of another client is not revoked and the
//! caller is told so (REV-02). Unknown tokens answer 200 (REV-03).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::client_auth;
use crate::error::{ErrorCode, OAuthError};
use crate::faults::Fault;
use crate::http::{OAuthForm, Peer, Ws};
use crate::state::SharedState;
use crate::store::Kind;
use crate::store::records::{RefreshTokenRecord, plain_key, secret_key};

pub async fn revoke(State(state): State<SharedState>, Ws(ws): Ws, peer: Peer, headers: HeaderMap, OAuthForm(form): OAuthForm) -> Result<Response, OAuthError> {
    let caller = client_auth::authenticate(&state, &ws, &form, &headers, &peer, "revoke")?.client;
    let token = form.require("token", "REV-01")?;
    if let Some(hint) = form.get("token_type_hint")
        && hint != "access_token" && hint != "refresh_token" {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedTokenType,
                format!("token_type_hint {hint:?} is not supported; use access_token or refresh_token [REV-04]"),
            ));
        }
    if state.faults.active(Fault::Revocation) {
        return Ok(StatusCode::OK.into_response());
    }
    let key = secret_key(&ws.key, token);
    let not_yours = || {
        OAuthError::unauthorized_client("the token was issued to another client and was not revoked [REV-02]")
    };
    if let Some(rt) = state.records.get::<RefreshTokenRecord>(Kind::RefreshToken, &key).map_err(OAuthError::server)? {
        if rt.client_id != caller.client_id {
            return Err(not_yours());
        }
        state.records.revoke_grant(&plain_key(&ws.key, &rt.grant_id)).map_err(OAuthError::server)?;
        tracing::info!(client_id = %caller.client_id, "refresh token revoked with its grant");
    } else if let Some(mut at) = crate::access::access_token_record(&state, &ws, token) {
        if at.client_id != caller.client_id {
            return Err(not_yours());
        }
        // An opaque token's record is marked; a JWT access token (which has no record) gets a
        // revocation marker under its jti. Either lives as long as the token would have.
        at.revoked = true;
        let stored_key = if ws.access_tokens_are_jwt() { crate::access::revocation_key(&ws, &at.jti) } else { key };
        state.records.put(Kind::AccessToken, &stored_key, Some(at.expires_at), &at).map_err(OAuthError::server)?;
        tracing::info!(client_id = %caller.client_id, "access token revoked");
    }
    Ok(StatusCode::OK.into_response())
}
