//! FDX offline approval: `PUT {issuer}/fdx/clients/{client_id}/status` (also without the
//! `/status` suffix, the vendor path) sets a registered client's `fdx_client_status`
//! (FDX-UPD-01..FDX-UPD-05). Only FDX workspaces serve it.
//!
//! The caller needs an access token of the workspace with the `update_client_status` scope,
//! presented as it is bound (FDX-UPD-02); the client's own registration access token is not
//! enough. Any status may follow any other (FDX-UPD-03); the change applies to the client's
//! next request, and the client's earlier tokens follow its activity (FDX-ST-03).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::access;
use crate::error::{ErrorCode, OAuthError};
use crate::http::{ClientIdSegment, JsonObject, Peer, Ws};
use crate::profiles::RegistrationExtension;
use crate::registry::{self, FdxStatus, RegisteredClientRecord, StatusChange};
use crate::state::{AppState, SharedState};
use crate::store::Kind;
use crate::workspace::Workspace;

pub const UPDATE_CLIENT_STATUS_SCOPE: &str = "update_client_status";

/// `PUT {issuer}/fdx/clients/{client_id}/status` (the project's path).
pub async fn update(
    State(state): State<SharedState>,
    Ws(ws): Ws,
    ClientIdSegment(client_id): ClientIdSegment,
    peer: Peer,
    headers: HeaderMap,
    JsonObject(body): JsonObject,
) -> Result<Response, OAuthError> {
    let url = ws.endpoint(peer.listener, &format!("fdx/clients/{client_id}/status"));
    set_status(&state, &ws, &client_id, &peer, &url, &headers, &body)
}

/// `PUT {issuer}/fdx/clients/{client_id}` (the vendor path, FDX-UPD-01).
pub async fn update_vendor_path(
    State(state): State<SharedState>,
    Ws(ws): Ws,
    ClientIdSegment(client_id): ClientIdSegment,
    peer: Peer,
    headers: HeaderMap,
    JsonObject(body): JsonObject,
) -> Result<Response, OAuthError> {
    let url = ws.endpoint(peer.listener, &format!("fdx/clients/{client_id}"));
    set_status(&state, &ws, &client_id, &peer, &url, &headers, &body)
}

/// `url` is where the request was sent (a DPoP proof's `htu`).
fn set_status(
    state: &AppState,
    ws: &Workspace,
    client_id: &str,
    peer: &Peer,
    url: &str,
    headers: &HeaderMap,
    body: &Map<String, Value>,
) -> Result<Response, OAuthError> {
    if ws.policy.registration_extension != Some(RegistrationExtension::Fdx) {
        return Err(OAuthError::new(ErrorCode::NotFound, "client status management is offered by FDX workspaces only"));
    }
    let caller = access::bound_access_token(state, ws, peer, "PUT", url, headers)?;
    if !caller.scope.split_whitespace().any(|s| s == UPDATE_CLIENT_STATUS_SCOPE) {
        return Err(OAuthError::new(ErrorCode::InsufficientScope, "changing a client's status needs an access token with the update_client_status scope [FDX-UPD-02]")
            .with_challenge(access::challenge(ws, &caller.cnf)));
    }
    let valid = FdxStatus::ALL.map(FdxStatus::as_str).join(", ");
    let requested = body.get("update_client_status").or_else(|| body.get("new_status"));
    let status = match requested {
        Some(Value::String(s)) => FdxStatus::parse(s).ok_or_else(|| {
            OAuthError::invalid_request(format!("update_client_status {s:?} is not a status; use one of {valid} [FDX-ST-06, FDX-UPD-04]"))
        })?,
        _ => {
            return Err(OAuthError::invalid_request(format!(
                "the body needs update_client_status (or new_status) with one of {valid} [FDX-UPD-01, FDX-UPD-04]"
            )));
        }
    };

    let key = registry::record_key(ws, client_id);
    let now = fapilab_jose::now();
    let _writing = ws.registry.lock_for_write();
    let Some(mut record) = state.records.get::<RegisteredClientRecord>(Kind::RegisteredClient, &key).map_err(OAuthError::server)? else {
        return Err(OAuthError::new(ErrorCode::NotFound, format!("no registered client {client_id} in this workspace [FDX-UPD-04]")));
    };
    record.fdx_status = Some(status);
    record.status_changes.push(StatusChange { status, at: now, by: caller.client_id.clone() });
    let client = registry::client_from_record(ws, &record)
        .map_err(|why| OAuthError::server(format!("registered client {client_id} no longer builds: {why}")))?;
    state.records.put(Kind::RegisteredClient, &key, None, &record).map_err(OAuthError::server)?;
    ws.registry.insert(Arc::new(client));
    tracing::info!(%client_id, status = status.as_str(), by = %caller.client_id, "FDX client status changed");
    let mut response = Json(json!({
        "client_id": client_id,
        "fdx_client_status": status.as_str(),
        "client_status": status.activity(),
        "updated_at": now,
    }))
    .into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
