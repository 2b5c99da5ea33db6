//! Browser state between the authorization endpoint, login and consent: the interaction
//! (one per pushed request per browser, bound to a cookie and a CSRF token) and the login
//! session. Cookies are `Secure; HttpOnly; SameSite=Lax` and scoped to the workspace path.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::OAuthError;
use crate::pages;
use crate::state::AppState;
use crate::store::Kind;
use crate::store::records::{Interaction, Session, plain_key, secret_key};
use crate::workspace::Workspace;

pub const SESSION_COOKIE: &str = "fapilab_session";
const INTERACTION_COOKIE_PREFIX: &str = "fapilab_ix_";
pub const INTERACTION_LIFETIME: i64 = 600;
pub const SESSION_LIFETIME: i64 = 3600;

pub fn cookie_path(ws: &Workspace) -> String {
    format!("/{}/{}/", ws.tenant, ws.id)
}

pub fn set_cookie(response: &mut Response, ws: &Workspace, name: &str, value: &str, max_age: i64) {
    let cookie = format!(
        "{name}={value}; Path={}; Max-Age={max_age}; Secure; HttpOnly; SameSite=Lax",
        cookie_path(ws)
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

pub fn interaction_cookie_name(interaction_id: &str) -> String {
    let short: String = interaction_id.chars().take(16).collect();
    format!("{INTERACTION_COOKIE_PREFIX}{short}")
}

pub fn start(state: &AppState, ws: &Workspace, request_handle: &str, client_id: &str) -> Result<(String, Interaction), OAuthError> {
    let id = fapilab_jose::random_token(24);
    let now = fapilab_jose::now();
    let interaction = Interaction {
        request_handle: request_handle.to_owned(),
        client_id: client_id.to_owned(),
        browser_binding: fapilab_jose::random_token(24),
        csrf_token: fapilab_jose::random_token(24),
        expires_at: now + INTERACTION_LIFETIME,
        password_change_for: None,
        password_change_amr: Vec::new(),
    };
    state
        .records
        .put(Kind::Interaction, &plain_key(&ws.key, &id), Some(interaction.expires_at), &interaction)
        .map_err(OAuthError::server)?;
    Ok((id, interaction))
}

/// Loads the interaction a form or page names, checking the browser binding and, for
/// POSTs, the CSRF token. Failures are error pages: there is no validated place to redirect.
pub fn resume(
    state: &AppState,
    ws: &Workspace,
    headers: &HeaderMap,
    interaction_id: Option<&str>,
    csrf_token: Option<Option<&str>>,
) -> Result<Interaction, Response> {
    let refuse = |what: &str| pages::error(StatusCode::BAD_REQUEST, "invalid_request", what);
    let well_formed = |i: &&str| !i.is_empty() && i.len() <= 64 && i.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let Some(id) = interaction_id.filter(well_formed) else {
        return Err(refuse("the form does not name an interaction"));
    };
    let interaction: Interaction = match state.records.get(Kind::Interaction, &plain_key(&ws.key, id)) {
        Ok(Some(i)) => i,
        Ok(None) => return Err(refuse("this sign-in has expired or is unknown; start again from the application")),
        Err(e) => {
            tracing::error!(error = %e, "interaction lookup failed");
            return Err(pages::error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "try again shortly"));
        }
    };
    if interaction.expires_at < fapilab_jose::now() {
        return Err(refuse("this sign-in has expired; start again from the application"));
    }
    if cookie(headers, &interaction_cookie_name(id)) != Some(interaction.browser_binding.as_str()) {
        return Err(refuse("this sign-in was started in another browser (cookie missing or different)"));
    }
    if let Some(csrf) = csrf_token
        && csrf != Some(interaction.csrf_token.as_str()) {
            return Err(refuse("the form's csrf_token is missing or wrong"));
        }
    Ok(interaction)
}

/// Stores a changed interaction under its id (same expiry).
pub fn save(state: &AppState, ws: &Workspace, interaction_id: &str, interaction: &Interaction) -> Result<(), OAuthError> {
    state
        .records
        .put(Kind::Interaction, &plain_key(&ws.key, interaction_id), Some(interaction.expires_at), interaction)
        .map_err(OAuthError::server)
}

/// Starts a sign-in that leads to the account page rather than to consent.
pub fn start_for_account(state: &AppState, ws: &Workspace) -> Result<(String, Interaction), OAuthError> {
    start(state, ws, "", "")
}

/// Opens a session for `subject` and sends the browser on with a 303 (AZ-10, AZ-11), the
/// session cookie set: to consent, or to the account page when that is where the sign-in
/// began.
pub fn signed_in(state: &AppState, ws: &Workspace, interaction_id: &str, interaction: &Interaction, subject: &str, amr: &[&str]) -> Response {
    let (session_id, _) = match create_session(state, ws, subject, amr) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    tracing::info!(subject, ?amr, "user signed in");
    let for_account = interaction.request_handle.is_empty();
    let target = if for_account {
        finish(state, ws, interaction_id);
        ws.endpoint(crate::workspace::Listener::Tls, "account")
    } else {
        format!("{}?interaction_id={interaction_id}", ws.endpoint(crate::workspace::Listener::Tls, "consent"))
    };
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(location) = HeaderValue::from_str(&target) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    set_cookie(&mut response, ws, SESSION_COOKIE, &session_id, SESSION_LIFETIME);
    if for_account {
        // No consent follows to expire it.
        set_cookie(&mut response, ws, &interaction_cookie_name(interaction_id), "", 0);
    }
    response
}

pub fn finish(state: &AppState, ws: &Workspace, interaction_id: &str) {
    if let Err(e) = state.records.delete(Kind::Interaction, &plain_key(&ws.key, interaction_id)) {
        tracing::warn!(error = %e, "could not delete a finished interaction");
    }
}

pub fn current_session(state: &AppState, ws: &Workspace, headers: &HeaderMap) -> Option<Session> {
    let id = cookie(headers, SESSION_COOKIE)?;
    let session: Session = state.records.get(Kind::Session, &secret_key(&ws.key, id)).ok()??;
    // A session ends when its user is gone or its password was set after it began (a reset
    // after a compromise must end the attacker's session too).
    let user = crate::end_users::by_subject(state, ws, &session.subject)?;
    (session.expires_at > fapilab_jose::now() && user.password_changed_at <= session.auth_time).then_some(session)
}

/// `amr`: the RFC 8176 methods the user just proved (`pwd`, `otp`, `hwk`/`swk` + `user`);
/// the session's `acr` follows from them (`acr_by_method`, INT-PK-01).
pub fn create_session(state: &AppState, ws: &Workspace, subject: &str, amr: &[&str]) -> Result<(String, Session), OAuthError> {
    let id = fapilab_jose::random_token(32);
    let now = fapilab_jose::now();
    let session = Session {
        subject: subject.to_owned(),
        auth_time: now,
        acr: ws.settings.acr_for(amr),
        amr: amr.iter().map(|m| (*m).to_owned()).collect(),
        expires_at: now + SESSION_LIFETIME,
        csrf_token: fapilab_jose::random_token(24),
    };
    state
        .records
        .put(Kind::Session, &secret_key(&ws.key, &id), Some(session.expires_at), &session)
        .map_err(OAuthError::server)?;
    Ok((id, session))
}
