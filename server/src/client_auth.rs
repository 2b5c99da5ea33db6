//! Client authentication at the token-family endpoints (PAR, token, introspection,
//! revocation): `private_key_jwt`, `tls_client_auth` and `self_signed_tls_client_auth` only
//! (FAPI2-SP-AS-06). Anything else — a secret, HTTP Basic, no credential — is `invalid_client`.

use std::sync::Arc;

use axum::http::{HeaderMap, header};

use crate::error::{OAuthError, OAuthResult};
use crate::faults::Fault;
use crate::http::{FormParams, Peer};
use crate::profiles::ClientAuthMethod;
use crate::protocol::client_assertion::{self, ASSERTION_TYPE, AssertionContext};
use crate::protocol::mtls;
use crate::protocol::replay::ReplayVerdict;
use crate::state::AppState;
use crate::workspace::{Client, Listener, Workspace};

pub struct AuthenticatedClient {
    pub client: Arc<Client>,
    /// The certificate of the connection, for binding tokens (RFC 8705 §3).
    pub certificate: Option<Arc<Vec<u8>>>,
}

pub fn authenticate(
    state: &AppState,
    ws: &Workspace,
    form: &FormParams,
    headers: &HeaderMap,
    peer: &Peer,
    endpoint: &str,
) -> OAuthResult<AuthenticatedClient> {
    if headers.contains_key(header::AUTHORIZATION) {
        return Err(OAuthError::invalid_client(
            "HTTP Basic / Authorization header client authentication is not allowed; use private_key_jwt or mTLS [FAPI2-SP-AS-06]",
        )
        .with_challenge(crate::error::Challenge::Basic));
    }
    if form.contains("client_secret") {
        return Err(OAuthError::invalid_client(
            "client_secret authentication is not allowed; use private_key_jwt or mTLS [FAPI2-SP-AS-06]",
        ));
    }
    let now = fapilab_jose::now();
    if let Some(assertion) = form.get("client_assertion") {
        if form.get("client_assertion_type") != Some(ASSERTION_TYPE) {
            return Err(OAuthError::invalid_client(format!(
                "client_assertion_type must be {ASSERTION_TYPE} [PKJ-01]"
            )));
        }
        let claimed = client_assertion::claimed_client_id(assertion);
        let client_id = match (form.get("client_id"), claimed.as_deref()) {
            (Some(form_id), Some(sub)) if form_id != sub => {
                return Err(OAuthError::invalid_client("client_id does not match the client_assertion sub [PKJ-01]"));
            }
            (Some(id), _) => id.to_owned(),
            (None, Some(sub)) => sub.to_owned(),
            (None, None) => {
                return Err(OAuthError::invalid_client("client_assertion has no sub naming the client [PKJ-02]"));
            }
        };
        let client = lookup(ws, &client_id)?;
        if client.auth_method != ClientAuthMethod::PrivateKeyJwt {
            return Err(OAuthError::invalid_client(format!(
                "client {client_id} is registered for {}, not private_key_jwt [FAPI2-SP-AS-06]",
                client.auth_method.as_str()
            )));
        }
        let ctx = AssertionContext {
            issuer: &ws.issuer,
            endpoint_urls: &[
                &ws.endpoint(Listener::Tls, "token"),
                &ws.endpoint(Listener::Mtls, "token"),
                &ws.endpoint(Listener::Tls, endpoint),
                &ws.endpoint(Listener::Mtls, endpoint),
            ],
            algorithms: client.assertion_algorithms(ws),
            now,
        };
        let verified = client_assertion::verify_with_faults(assertion, &client_id, &client.jwks, &ws.policy, &ctx, &state.faults)
            .map_err(|v| OAuthError::invalid_client(v.to_string()))?;
        let replay_key = format!("{}|{}|{}", ws.key, client_id, verified.jti);
        match state.assertion_replay.check_and_insert(replay_key, verified.exp, now) {
            ReplayVerdict::Fresh => {}
            ReplayVerdict::Replayed if state.faults.active(Fault::AssertionJtiReplay) => {}
            ReplayVerdict::Replayed => {
                return Err(OAuthError::invalid_client("client_assertion jti was already used [PKJ-04]"));
            }
            ReplayVerdict::Full => {
                return Err(OAuthError::overloaded("assertion replay cache is full"));
            }
        }
        return Ok(AuthenticatedClient { client: client.clone(), certificate: peer.client_certificate.clone() });
    }

    let Some(client_id) = form.get("client_id") else {
        return Err(OAuthError::invalid_client(
            "the client did not authenticate: send a client_assertion or use mTLS with client_id [FAPI2-SP-AZ-04, FAPI2-SP-AS-03]",
        ));
    };
    let client = lookup(ws, client_id)?;
    // Test-only fault: client_id alone authenticates (a certificate, if any, is still checked).
    if state.faults.active(Fault::ClientAuthenticationRequired)
        && (client.auth_method == ClientAuthMethod::PrivateKeyJwt || peer.client_certificate.is_none())
    {
        return Ok(AuthenticatedClient { client: client.clone(), certificate: peer.client_certificate.clone() });
    }
    if client.auth_method == ClientAuthMethod::PrivateKeyJwt {
        return Err(OAuthError::invalid_client(format!(
            "client {client_id} authenticates with private_key_jwt; client_assertion is missing [FAPI2-SP-AS-03]"
        )));
    }
    let Some(cert) = peer.client_certificate.clone() else {
        return Err(OAuthError::invalid_client(format!(
            "client {client_id} uses {} but no client certificate was presented; use the mtls_endpoint_aliases [MT-04]",
            client.auth_method.as_str()
        )));
    };
    let now_time = std::time::SystemTime::now();
    match client.auth_method {
        ClientAuthMethod::TlsClientAuth => {
            mtls::chains_to(&cert, &ws.trusted_client_cas, now_time)
                .map_err(|e| OAuthError::invalid_client(format!("{e} [MT-02]")))?;
            let matches = if let Some(dn) = &client.tls_client_auth_subject_dn {
                mtls::subject_matches(&cert, dn).map_err(|e| OAuthError::invalid_client(format!("{e} [MT-02]")))?
            } else if let Some(dns) = &client.tls_client_auth_san_dns {
                mtls::san_dns_matches(&cert, dns).map_err(|e| OAuthError::invalid_client(format!("{e} [MT-02]")))?
            } else {
                false
            };
            if !matches {
                return Err(OAuthError::invalid_client(format!(
                    "the client certificate does not match the subject registered for {client_id} [MT-02]"
                )));
            }
        }
        ClientAuthMethod::SelfSignedTlsClientAuth => {
            let registered = client.self_signed_certificates.iter().any(|c| c.as_slice() == cert.as_slice());
            if !registered || !mtls::currently_valid(&cert, now_time) {
                return Err(OAuthError::invalid_client(format!(
                    "the client certificate is not a valid certificate from {client_id}'s registered JWKS [MT-03]"
                )));
            }
        }
        ClientAuthMethod::PrivateKeyJwt => {}
    }
    Ok(AuthenticatedClient { client: client.clone(), certificate: Some(cert) })
}

fn lookup(ws: &Workspace, client_id: &str) -> OAuthResult<Arc<Client>> {
    ws.client(client_id)
        .ok_or_else(|| OAuthError::invalid_client("unknown client_id [RFC6749-5.2]").with_cause(format!("client {client_id:?}")))
}
