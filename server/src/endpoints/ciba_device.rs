//! The simulated authentication device's API (sandbox and tests): list the pending CIBA
//! requests of a workspace — with the binding message the user would see — and approve or deny
//! one. Authenticated with a configured device API token; the `auth_req_id`, which only the
//! client holds, is never shown.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::config::DeviceDecision;
use crate::error::{Challenge, ErrorCode, OAuthError, OAuthResult};
use crate::http::{DeviceIdSegment, JsonObject, Ws};
use crate::state::SharedState;
use crate::store::Kind;
use crate::store::records::{BackchannelRequest, BackchannelStatus, plain_key};
use crate::workspace::Workspace;

fn authorized(ws: &Workspace, headers: &HeaderMap) -> OAuthResult<()> {
    if !ws.settings.ciba.enabled {
        return Err(OAuthError::new(ErrorCode::NotFound, "this workspace does not offer CIBA"));
    }
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| fapilab_jose::sha256_b64url(t.trim().as_bytes()));
    match presented {
        Some(hash) if ws.device_api_token_hashes.contains(&hash) => Ok(()),
        _ => Err(OAuthError::invalid_token("a device API token is required (Authorization: Bearer)").with_challenge(Challenge::Bearer)),
    }
}

fn pending(state: &SharedState, ws: &Workspace) -> OAuthResult<Vec<(String, BackchannelRequest)>> {
    let now = fapilab_jose::now();
    let listed = state.records.store().list(Kind::BackchannelRequest, &plain_key(&ws.key, "")).map_err(OAuthError::server)?;
    Ok(listed
        .into_iter()
        .filter_map(|(key, value)| serde_json::from_value::<BackchannelRequest>(value).ok().map(|r| (key, r)))
        .filter(|(_, r)| r.status == BackchannelStatus::Pending && r.expires_at > now)
        .collect())
}

/// `GET {issuer}/ciba/device/requests`
pub async fn list(State(state): State<SharedState>, Ws(ws): Ws, headers: HeaderMap) -> Result<Response, OAuthError> {
    authorized(&ws, &headers)?;
    let requests: Vec<Value> = pending(&state, &ws)?
        .into_iter()
        .map(|(_, r)| {
            json!({
                "device_id": r.device_id,
                "username": r.username,
                "client_id": r.client_id,
                "scope": r.scope,
                "binding_message": r.binding_message,
                "expires_at": r.expires_at,
            })
        })
        .collect();
    Ok(Json(json!({ "requests": requests })).into_response())
}

/// `POST {issuer}/ciba/device/requests/{device_id}` with `{"decision": "approve"|"deny"}`.
pub async fn decide(
    State(state): State<SharedState>,
    Ws(ws): Ws,
    DeviceIdSegment(device_id): DeviceIdSegment,
    headers: HeaderMap,
    JsonObject(body): JsonObject,
) -> Result<Response, OAuthError> {
    authorized(&ws, &headers)?;
    let decision = match body.get("decision").and_then(Value::as_str) {
        Some("approve") => DeviceDecision::Approve,
        Some("deny") => DeviceDecision::Deny,
        _ => return Err(OAuthError::invalid_request("decision must be \"approve\" or \"deny\"")),
    };
    let Some((key, _)) = pending(&state, &ws)?.into_iter().find(|(_, r)| r.device_id == device_id) else {
        return Err(OAuthError::new(ErrorCode::NotFound, format!("no pending CIBA request {device_id}")));
    };
    if !crate::ciba::decide(&state, &ws, &key, decision).await {
        return Err(OAuthError::invalid_request(format!("CIBA request {device_id} is no longer pending")));
    }
    Ok(Json(json!({ "device_id": device_id, "decision": body["decision"] })).into_response())
}
