//! Token introspection (RFC 7662; INT-01..INT-03). A client may introspect its own tokens; a
//! resource-server client any token of the workspace. Anything else is `{"active": false}`.
//! A caller that accepts `application/token-introspection+jwt` gets the answer signed
//! (RFC 9701; MS-JIR-01..MS-JIR-03), addressed to it.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::access;
use crate::client_auth;
use crate::error::OAuthError;
use crate::http::{OAuthForm, Peer, Ws};
use crate::state::SharedState;

const SIGNED_CONTENT_TYPE: &str = "application/token-introspection+jwt";
const SIGNED_TYPE: &str = "token-introspection+jwt";

/// RFC 9701 §4: the caller lists `application/token-introspection+jwt` in `Accept`.
fn wants_signed_response(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(|media| {
        media.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case(SIGNED_CONTENT_TYPE))
    })
}

pub async fn introspect(State(state): State<SharedState>, Ws(ws): Ws, peer: Peer, headers: HeaderMap, OAuthForm(form): OAuthForm) -> Result<Response, OAuthError> {
    let caller = client_auth::authenticate(&state, &ws, &form, &headers, &peer, "introspect")?.client;
    let token = form.require("token", "INT-01")?;
    let hint = form.get("token_type_hint");
    let may_see = |client_id: &str| caller.resource_server || caller.client_id == client_id;
    let as_access_token = || {
        access::active_access_token(&state, &ws, token).filter(|r| may_see(&r.client_id)).map(|r| {
            json!({
                "active": true,
                "iss": ws.issuer,
                "client_id": r.client_id,
                "sub": r.subject.clone().unwrap_or_else(|| r.client_id.clone()),
                "scope": r.scope,
                "token_type": r.cnf.token_type(),
                "exp": r.expires_at,
                "iat": r.issued_at,
                "jti": r.jti,
                "aud": ws.settings.access_token_audience,
                "cnf": r.cnf.to_cnf(),
            })
        })
    };
    let as_refresh_token = || {
        access::active_refresh_token(&state, &ws, token).filter(|r| may_see(&r.client_id)).map(|r| {
            json!({
                "active": true,
                "iss": ws.issuer,
                "client_id": r.client_id,
                "token_type": "refresh_token",
                "exp": r.expires_at,
                "iat": r.issued_at,
            })
        })
    };
    // RFC 7662 §2.1: the hint orders the search; it never limits it.
    let found = if hint == Some("refresh_token") {
        as_refresh_token().or_else(as_access_token)
    } else {
        as_access_token().or_else(as_refresh_token)
    };
    // INT-03: nothing else about inactive tokens.
    let body = found.unwrap_or_else(|| json!({ "active": false }));
    let mut response = if wants_signed_response(&headers) && !state.faults.active(crate::faults::Fault::SignedIntrospection) {
        // RFC 9701 §5: the RFC 7662 object under `token_introspection`, for this caller.
        let claims = json!({
            "iss": ws.issuer,
            "aud": caller.client_id,
            "iat": fapilab_jose::now(),
            "token_introspection": body,
        });
        let mut header_members = serde_json::Map::new();
        header_members.insert("typ".into(), json!(SIGNED_TYPE));
        let jwt = fapilab_jose::jws::sign(&ws.signing_key, header_members, &claims).map_err(OAuthError::server)?;
        let mut r = jwt.into_response();
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(SIGNED_CONTENT_TYPE));
        r
    } else {
        Json(body).into_response()
    };
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
