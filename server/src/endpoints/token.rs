//! The token endpoint (RFC 6749 §3.2). Authenticates the client, works out the sender
//! binding (DPoP proof or client certificate, FAPI2-SP-AS-04), and hands over to the grant.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::client_auth::{self, AuthenticatedClient};
use crate::dpop::{self, Place};
use crate::error::{ErrorCode, OAuthError, OAuthResult};
use crate::faults::{Fault, FaultSet};
use crate::grants;
use crate::http::{OAuthForm, Peer, Ws};
use crate::profiles::SenderConstraint;
use crate::protocol::mtls;
use crate::state::SharedState;
use crate::store::records::Confirmation;
use crate::workspace::Workspace;

pub async fn token(State(state): State<SharedState>, Ws(ws): Ws, peer: Peer, headers: HeaderMap, OAuthForm(form): OAuthForm) -> Result<Response, OAuthError> {
    let grant_type = form.require("grant_type", "RFC6749-4.1.3")?.to_owned();
    // The DPoP proof (and a nonce demand) is checked before the client assertion is spent, so a
    // client answering use_dpop_nonce may resend the same assertion (RFC 9449 §8).
    let url = ws.endpoint(peer.listener, "token");
    let proof = dpop::check(&state, &ws, &headers, "POST", &url, None, Place::AuthorizationServer)?;
    let authenticated = client_auth::authenticate(&state, &ws, &form, &headers, &peer, "token")?;
    crate::registry::ensure_active(&authenticated.client)?;
    let proof_jkt = proof.as_ref().map(|p| p.jkt.clone());
    let issued = match grant_type.as_str() {
        "authorization_code" => {
            let cnf = binding(&ws, &authenticated, proof_jkt.as_deref(), &state.faults)?;
            grants::authorization_code::exchange(&state, &ws, &authenticated.client, &form, &cnf, proof_jkt.as_deref())?
        }
        "refresh_token" => {
            let cnf = binding(&ws, &authenticated, proof_jkt.as_deref(), &state.faults)?;
            grants::refresh_token::exchange(&state, &ws, &authenticated.client, &form, &cnf)?
        }
        "client_credentials" => {
            let cnf = binding(&ws, &authenticated, proof_jkt.as_deref(), &state.faults)?;
            grants::client_credentials::exchange(&state, &ws, &authenticated.client, &form, &cnf)?
        }
        grants::ciba::GRANT_TYPE => {
            let cnf = binding(&ws, &authenticated, proof_jkt.as_deref(), &state.faults)?;
            grants::ciba::exchange(&state, &ws, &authenticated.client, &form, &cnf)?
        }
        "password" => {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                "the resource owner password credentials grant is not supported [FAPI2-SP-AS-02]",
            ));
        }
        other => {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                format!("grant_type {other:?} is not supported [RFC6749-5.2]"),
            ));
        }
    };
    state.records.write_batched(issued.writes).await.map_err(OAuthError::server)?;
    let mut response = Json(issued.body).into_response();
    let h = response.headers_mut();
    // OA-01
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    if ws.settings.dpop_nonce
        && let Ok(v) = HeaderValue::from_str(&ws.dpop_nonce(fapilab_jose::now())) {
            h.insert("dpop-nonce", v);
        }
    Ok(response)
}

/// FAPI2-SP-AS-04: every access token is sender-constrained, the way the client registered.
fn binding(ws: &Workspace, client: &AuthenticatedClient, proof_jkt: Option<&str>, faults: &FaultSet) -> OAuthResult<Confirmation> {
    // Test-only fault (FAPI2-SP-AS-04): a client that proves no key gets an unbound token.
    let holds_no_key = proof_jkt.is_none() && (client.certificate.is_none() || client.client.sender_constraint == Some(SenderConstraint::Dpop));
    if holds_no_key && client.client.sender_constraint.is_some() && faults.active(Fault::SenderConstraintRequired) {
        return Ok(Confirmation::Unbound);
    }
    match client.client.sender_constraint {
        Some(SenderConstraint::Dpop) => proof_jkt.map(|j| Confirmation::Jkt(j.to_owned())).ok_or_else(|| {
            OAuthError::invalid_dpop_proof(format!(
                "client {} is registered for DPoP-bound tokens: a DPoP proof is required [FAPI2-SP-AS-04, DP-T-02]",
                client.client.client_id
            ))
        }),
        Some(SenderConstraint::Mtls) => {
            if proof_jkt.is_some() {
                return Err(OAuthError::invalid_request(format!(
                    "client {} is registered for certificate-bound tokens; do not send a DPoP proof [FAPI2-SP-AS-05]",
                    client.client.client_id
                )));
            }
            client.certificate.as_ref().map(|c| Confirmation::X5tS256(mtls::thumbprint(c))).ok_or_else(|| {
                OAuthError::invalid_request(format!(
                    "client {} is registered for certificate-bound tokens: call the mTLS endpoint alias with its certificate [FAPI2-SP-AS-04, MT-06]",
                    client.client.client_id
                ))
            })
        }
        None => Err(OAuthError::unauthorized_client(format!(
            "client {} is a resource server and gets no tokens [FAPI2-SP-AS-04]; workspace {}",
            client.client.client_id, ws.key
        ))),
    }
}
