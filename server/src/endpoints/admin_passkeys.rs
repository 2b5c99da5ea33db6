//! The admin API's view of end users' passkeys (`identity::passkeys`), per workspace and
//! subject (a pool user's id, or a configured user's subject): list them, remove one — for
//! a lost device or a compromised account, where the user cannot sign in to the account page.
//!
//! `GET /admin/passkeys/{tenant}/{workspace}/{subject}` and
//! `DELETE /admin/passkeys/{tenant}/{workspace}/{subject}/{id}`. Public keys are not shown.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::admin::Admin;
use crate::error::{ErrorCode, OAuthError, OAuthResult};
use crate::state::SharedState;

pub async fn list(_: Admin, State(state): State<SharedState>, Path((tenant, workspace, subject)): Path<(String, String, String)>) -> OAuthResult<Response> {
    let ws = state.workspace(&tenant, &workspace).ok_or_else(|| OAuthError::new(ErrorCode::NotFound, "no such workspace"))?;
    let account = state.passkeys.account(&state.records, &ws.key, &subject).map_err(OAuthError::server)?;
    let passkeys: Vec<_> = account
        .map(|a| a.passkeys)
        .unwrap_or_default()
        .iter()
        .map(|p| {
            let flags = p.flags();
            json!({
                "id": p.id, "name": p.name, "created_at": p.created_at, "last_used_at": p.last_used_at,
                "backup_eligible": flags.backup_eligible, "backed_up": flags.backed_up, "sign_count": flags.counter,
            })
        })
        .collect();
    Ok((StatusCode::OK, axum::Json(json!({ "passkeys": passkeys }))).into_response())
}

pub async fn remove(_: Admin, State(state): State<SharedState>, Path((tenant, workspace, subject, id)): Path<(String, String, String, String)>) -> OAuthResult<Response> {
    let ws = state.workspace(&tenant, &workspace).ok_or_else(|| OAuthError::new(ErrorCode::NotFound, "no such workspace"))?;
    if !state.passkeys.remove(&state.records, &ws.key, &subject, &id).map_err(OAuthError::server)? {
        return Err(OAuthError::new(ErrorCode::NotFound, "this user has no such passkey"));
    }
    tracing::info!(%subject, passkey = %id, "passkey removed by an administrator");
    Ok(StatusCode::NO_CONTENT.into_response())
}
