//! `grant_type=refresh_token` (RFC 6749 §6). Refresh tokens belong to a confidential client,
//! which proves itself on every use; they are not bound to a DPoP key or certificate
//! (RFC 9449 §5, DP-T-03: the new access token is bound to the key of the refresh request, so
//! clients may rotate DPoP keys and certificates). They are not rotated
//! (FAPI2-SP-AS-10) unless the workspace turns rotation on; then the previous token keeps
//! working for the configured grace period.


use crate::access;
use crate::error::{OAuthError, OAuthResult};
use crate::faults::Fault;
use crate::http::FormParams;
use crate::issuance::{self, IssuedTokens, Issue, RefreshToken};
use crate::state::AppState;
use crate::store::Kind;
use crate::store::records::{Confirmation, RefreshTokenRecord, plain_key, secret_key};
use crate::workspace::{Client, Workspace};

pub fn exchange(state: &AppState, ws: &Workspace, client: &Client, form: &FormParams, cnf: &Confirmation) -> OAuthResult<IssuedTokens> {
    if !client.allows_grant("refresh_token") {
        return Err(OAuthError::unauthorized_client("this client may not use the refresh_token grant [RFC6749-5.2]"));
    }
    let token = form.require("refresh_token", "RFC6749-6")?;
    let record = access::active_refresh_token(state, ws, token)
        .ok_or_else(|| OAuthError::invalid_grant("the refresh token is unknown, expired or revoked [REV-06]"))?;
    if record.client_id != client.client_id && !state.faults.active(Fault::RefreshTokenClientBinding) {
        return Err(OAuthError::invalid_grant("the refresh token was issued to another client [RFC6749-6]"));
    }
    let grant = state
        .records
        .grant_active(&plain_key(&ws.key, &record.grant_id))
        .map_err(OAuthError::server)?
        .ok_or_else(|| OAuthError::invalid_grant("the grant behind this refresh token was revoked"))?;
    let scope = match form.get("scope") {
        None => grant.scope.clone(),
        Some(asked) => {
            let granted: Vec<&str> = grant.scope.split_whitespace().collect();
            if let Some(extra) = asked.split_whitespace().find(|s| !granted.contains(s)) {
                return Err(OAuthError::new(
                    crate::error::ErrorCode::InvalidScope,
                    format!("scope {extra:?} was not granted originally [RFC6749-6]"),
                ));
            }
            asked.to_owned()
        }
    };
    let refresh = if ws.settings.refresh_token_rotation {
        let now = fapilab_jose::now();
        let grace = ws.settings.refresh_token_grace as i64;
        state
            .records
            .modify::<RefreshTokenRecord>(Kind::RefreshToken, &secret_key(&ws.key, token), |r| {
                if r.retired_until.is_some() {
                    return false;
                }
                r.retired_until = Some(now + grace);
                true
            })
            .map_err(OAuthError::server)?;
        RefreshToken::New
    } else {
        RefreshToken::Same(token)
    };
    let openid = scope.split_whitespace().any(|s| s == "openid");
    issuance::issue(
        ws,
        Issue {
            client,
            grant_id: &record.grant_id,
            grant: &grant,
            scope: &scope,
            cnf,
            refresh,
            id_token_nonce: openid.then_some(None),
        },
    )
}
