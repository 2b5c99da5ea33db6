//! Resolving an access token presented to this server (introspection, userinfo): the store is
//! the authority, so revocation takes effect at once (REV-06), and the token's grant must still
//! be active (a revoked refresh token or a replayed code kills it).

use crate::store::Kind;
use crate::store::records::{AccessTokenRecord, RefreshTokenRecord, secret_key};
use crate::state::AppState;
use crate::workspace::Workspace;

pub fn active_access_token(state: &AppState, ws: &Workspace, token: &str) -> Option<AccessTokenRecord> {
    let record: AccessTokenRecord = state.records.get(Kind::AccessToken, &secret_key(&ws.key, token)).ok()??;
    let now = fapilab_jose::now();
    let grant_key = crate::store::records::plain_key(&ws.key, &record.grant_id);
    let live = !record.revoked && record.expires_at >= now && state.records.grant_active(&grant_key).ok()?.is_some();
    live.then_some(record)
}

pub fn active_refresh_token(state: &AppState, ws: &Workspace, token: &str) -> Option<RefreshTokenRecord> {
    let record: RefreshTokenRecord = state.records.get(Kind::RefreshToken, &secret_key(&ws.key, token)).ok()??;
    let now = fapilab_jose::now();
    let grant_key = crate::store::records::plain_key(&ws.key, &record.grant_id);
    let retired = record.retired_until.is_some_and(|t| t < now);
    let live = !record.revoked && !retired && record.expires_at >= now && state.records.grant_active(&grant_key).ok()?.is_some();
    live.then_some(record)
}
