//! Pushed authorization requests (RFC 9126; FAPI2-SP-AZ-02..AZ-06, AZ-12, PAR-01..PAR-06).

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::authorization_request::{self, Channel};
use crate::client_auth;
use crate::dpop::{self, Place};
use crate::error::OAuthError;
use crate::faults::Fault;
use crate::http::{OAuthForm, Peer, Ws};
use crate::profiles::SenderConstraint;
use crate::state::SharedState;
use crate::store::Kind;
use crate::store::records::{PushedRequest, plain_key};

pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

pub async fn push(
    axum::extract::State(state): axum::extract::State<SharedState>,
    Ws(ws): Ws,
    peer: Peer,
    headers: HeaderMap,
    OAuthForm(form): OAuthForm,
) -> Result<Response, OAuthError> {
    // DPoP first: a use_dpop_nonce answer must not spend the client assertion (RFC 9449 §8).
    let url = ws.endpoint(peer.listener, "par");
    let proof = dpop::check(&state, &ws, &headers, "POST", &url, None, Place::AuthorizationServer)?;
    let authenticated = client_auth::authenticate(&state, &ws, &form, &headers, &peer, "par")?;
    let client = authenticated.client;
    crate::registry::ensure_active(&client)?;
    let pushed_form = authorization_request::parameters(&state, &ws, &client, &form, Channel::Pushed)?;
    let mut params = authorization_request::validate(&ws, &client, &pushed_form, Channel::Pushed, &state.faults)?;

    // DP-C-01 / FAPI2-SP-AS-13: a DPoP header at PAR binds the code like dpop_jkt does.
    if let Some(proof) = proof {
        match &params.dpop_jkt {
            Some(jkt) if *jkt != proof.jkt && !state.faults.active(Fault::DpopJktParMismatch) => {
                return Err(OAuthError::invalid_request(
                    "dpop_jkt differs from the key of the DPoP proof sent with this request [DP-C-01]",
                ));
            }
            _ => params.dpop_jkt = Some(proof.jkt),
        }
    }
    if params.dpop_jkt.is_some() && client.sender_constraint == Some(SenderConstraint::Mtls) {
        return Err(OAuthError::invalid_request(format!(
            "client {} is registered for mTLS-bound tokens; dpop_jkt does not apply [FAPI2-SP-AS-05]",
            client.client_id
        )));
    }

    let now = fapilab_jose::now();
    let lifetime = ws.settings.request_uri_lifetime as i64;
    let handle = fapilab_jose::random_token(32);
    let pushed = PushedRequest { client_id: client.client_id.clone(), params, expires_at: now + lifetime, used: false };
    state
        .records
        .put(Kind::PushedRequest, &plain_key(&ws.key, &handle), Some(now + lifetime + 60), &pushed)
        .map_err(OAuthError::server)?;
    tracing::info!(client_id = %client.client_id, "authorization request pushed");
    let body: Value = json!({ "request_uri": format!("{REQUEST_URI_PREFIX}{handle}"), "expires_in": lifetime });
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if ws.settings.dpop_nonce {
        // DP-N-01: hand out the current nonce so the token request needs no extra round trip.
        if let Ok(v) = HeaderValue::from_str(&ws.dpop_nonce(now)) {
            response.headers_mut().insert("dpop-nonce", v);
        }
    }
    Ok(response)
}
