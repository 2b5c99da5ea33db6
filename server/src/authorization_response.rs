//! Finishing an authorization request: consuming the pushed request (FAPI2-SP-AZ-15) and
//! answering the client at its validated redirect URI by 303 (AZ-10, AZ-11) with a code or an
//! error, `state`, and always `iss` (FAPI2-SP-AZ-07, RFC 9207). Used by the consent form and
//! by `prompt=none` at the authorization endpoint.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::OAuthError;
use crate::faults::Fault;
use crate::pages;
use crate::state::AppState;
use crate::store::Kind;
use crate::store::records::{AuthorizationCode, Consent, PushedRequest, Session, plain_key, secret_key};
use crate::workspace::Workspace;

pub enum Outcome<'a> {
    Approved(&'a Session),
    Refused { error: &'static str, description: &'static str },
}

/// Marks the pushed request used; an error page if it was used already. Its lifetime was
/// checked when the authorization page loaded; the interaction that followed has its own.
pub fn consume(state: &AppState, ws: &Workspace, handle: &str) -> Result<PushedRequest, Response> {
    let before = state.records.modify::<PushedRequest>(Kind::PushedRequest, &plain_key(&ws.key, handle), |p| {
        if p.used && !state.faults.active(Fault::RequestUriSingleUse) {
            return false;
        }
        p.used = true;
        true
    });
    match before {
        Ok(Some(p)) if !p.used || state.faults.active(Fault::RequestUriSingleUse) => Ok(p),
        Ok(_) => Err(pages::error(
            StatusCode::BAD_REQUEST,
            "invalid_request_uri",
            "the authorization request was already used or is unknown [FAPI2-SP-AZ-15]",
        )),
        Err(e) => Err(OAuthError::server(e).into_response()),
    }
}

/// Whether the user already consented to every scope of this request for this client.
pub fn has_consent(state: &AppState, ws: &Workspace, subject: &str, pushed: &PushedRequest) -> bool {
    let key = plain_key(&ws.key, &format!("{subject}|{}", pushed.client_id));
    let Ok(Some(consent)) = state.records.get::<Consent>(Kind::Consent, &key) else { return false };
    let granted: Vec<&str> = consent.scope.split_whitespace().collect();
    pushed.params.scope.split_whitespace().all(|s| granted.contains(&s))
}

pub fn respond(state: &AppState, ws: &Workspace, pushed: &PushedRequest, outcome: Outcome<'_>) -> Response {
    let mut params: Vec<(&str, String)> = Vec::new();
    match outcome {
        Outcome::Approved(session) => match issue_code(state, ws, pushed, session) {
            Ok(code) => {
                tracing::info!(client_id = %pushed.client_id, "authorization approved");
                params.push(("code", code));
            }
            Err(e) => return e.into_response(),
        },
        Outcome::Refused { error, description } => {
            tracing::info!(client_id = %pushed.client_id, error, "authorization refused");
            params.push(("error", error.into()));
            params.push(("error_description", description.into()));
        }
    }
    if let Some(s) = &pushed.params.state {
        params.push(("state", s.clone()));
    }
    redirect(ws, &pushed.params.redirect_uri, &params, !state.faults.active(Fault::IssParameter))
}

fn issue_code(state: &AppState, ws: &Workspace, pushed: &PushedRequest, session: &Session) -> Result<String, OAuthError> {
    let now = fapilab_jose::now();
    let code = fapilab_jose::random_token(32);
    let acr = pushed
        .params
        .essential_acr
        .as_ref()
        .and_then(|wanted| wanted.iter().find(|w| ws.settings.acr_values.contains(w)).cloned())
        .or_else(|| Some(session.acr.clone()).filter(|a| !a.is_empty()));
    let record = AuthorizationCode {
        client_id: pushed.client_id.clone(),
        params: pushed.params.clone(),
        subject: session.subject.clone(),
        auth_time: session.auth_time,
        acr,
        expires_at: now + ws.settings.code_lifetime as i64,
        redeemed_grant: None,
    };
    // Kept past its expiry so that a late second redemption is still recognised as reuse.
    let keep_until = record.expires_at + ws.settings.refresh_token_lifetime as i64;
    state.records.put(Kind::Code, &secret_key(&ws.key, &code), Some(keep_until), &record).map_err(OAuthError::server)?;
    let consent = Consent { scope: pushed.params.scope.clone(), granted_at: now };
    let consent_key = plain_key(&ws.key, &format!("{}|{}", session.subject, pushed.client_id));
    state.records.put(Kind::Consent, &consent_key, None, &consent).map_err(OAuthError::server)?;
    Ok(code)
}

fn redirect(ws: &Workspace, redirect_uri: &str, params: &[(&str, String)], with_iss: bool) -> Response {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        query.append_pair(k, v);
    }
    if with_iss {
        query.append_pair("iss", &ws.issuer);
    }
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    let target = format!("{redirect_uri}{separator}{}", query.finish());
    let mut response = StatusCode::SEE_OTHER.into_response();
    match HeaderValue::from_str(&target) {
        Ok(location) => {
            response.headers_mut().insert(header::LOCATION, location);
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(_) => pages::error(StatusCode::BAD_REQUEST, "invalid_request", "the redirect URI cannot be used"),
    }
}
