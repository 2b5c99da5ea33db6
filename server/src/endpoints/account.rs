//! The account page, `{issuer}/account`: a signed-in user's passkeys — registered here (PK-04,
//! REG-OPT-*), listed with when they were added and last used and whether they are synced,
//! each removable. Without a session the page is the login page, and signing in there comes
//! back here.
//!
//! Forms carry the session's CSRF token (PK-05); registration options are bound to the
//! session (REG-03). Adding a passkey needs a recent sign-in ([`ENROL_WITHIN`]): a passkey
//! signs in on its own afterwards, so a session left open, or opened with a stolen password
//! long ago, must not be enough to plant one. `POST {issuer}/account/passkeys/options`
//! answers the WebAuthn creation options as JSON; `POST {issuer}/account/passkeys` verifies
//! and stores the new passkey and `POST {issuer}/account/passkeys/remove` removes one, each
//! answering with a 303 back to the page.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::{ErrorCode, OAuthError};
use crate::http::{OAuthForm, Ws};
use crate::identity::passkeys::{PasskeyError, Purpose};
use crate::interaction::{self, SESSION_COOKIE};
use crate::pages::{self, AccountPage, PasskeyLine, PasskeyRegistration};
use crate::state::{AppState, SharedState};
use crate::store::records::Session;
use crate::workspace::{Listener, Workspace};

/// Seconds after a sign-in during which its session may add a passkey.
pub const ENROL_WITHIN: i64 = 300;

pub async fn show(State(state): State<SharedState>, Ws(ws): Ws, headers: HeaderMap, Query(query): Query<HashMap<String, String>>) -> Response {
    match signed_in(&state, &ws, &headers) {
        // `?sign_in=again`: a fresh sign-in, to add a passkey.
        Some((_, session)) if query.get("sign_in").map(String::as_str) != Some("again") => page(&state, &ws, &session, StatusCode::OK, None),
        _ => sign_in_first(&state, &ws),
    }
}

pub async fn options(State(state): State<SharedState>, Ws(ws): Ws, headers: HeaderMap, OAuthForm(form): OAuthForm) -> Response {
    let (session_id, session) = match checked(&state, &ws, &headers, form.get("csrf_token")) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let Some(rp) = ws.relying_party.as_ref() else {
        return OAuthError::invalid_request("this workspace cannot use passkeys: its issuer's host is not a domain name (REG-OPT-02)").into_response();
    };
    if !recent(&session) {
        return OAuthError::new(ErrorCode::LoginRequired, format!("sign in again to add a passkey: the sign-in must be less than {ENROL_WITHIN} seconds old")).into_response();
    }
    let name = crate::end_users::by_subject(&state, &ws, &session.subject).map(|u| u.login).unwrap_or_else(|| session.subject.clone());
    let purpose = Purpose::Register { workspace: ws.key.clone(), session: session_id };
    match state.passkeys.start_registration(&state.records, rp, &ws.key, &session.subject, &name, purpose, fapilab_jose::now()) {
        Ok(options) => super::passkey_login::no_store(Json(options).into_response()),
        Err(PasskeyError::Refused(r)) => OAuthError::invalid_request(r.0).into_response(),
        Err(PasskeyError::Store(e)) => OAuthError::server(e).into_response(),
    }
}

pub async fn register(State(state): State<SharedState>, Ws(ws): Ws, headers: HeaderMap, OAuthForm(form): OAuthForm) -> Response {
    let (session_id, session) = match checked(&state, &ws, &headers, form.get("csrf_token")) {
        Ok(s) => s,
        Err(e) => return pages::error(e.status, e.code.as_str(), &e.description),
    };
    let Some(rp) = ws.relying_party.as_ref() else {
        return page(&state, &ws, &session, StatusCode::BAD_REQUEST, Some("Passkeys cannot be used at this address."));
    };
    let credential = form.get("credential").unwrap_or_default();
    if credential.is_empty() {
        return page(&state, &ws, &session, StatusCode::BAD_REQUEST, Some("No passkey was made: adding one needs JavaScript in this browser."));
    }
    if !recent(&session) {
        return page(&state, &ws, &session, StatusCode::UNAUTHORIZED, Some("Sign in again to add a passkey."));
    }
    let purpose = Purpose::Register { workspace: ws.key.clone(), session: session_id };
    let name = form.get("name").unwrap_or_default();
    match state.passkeys.finish_registration(&state.records, rp, &ws.key, &session.subject, &purpose, name, credential, fapilab_jose::now()) {
        Ok(stored) => {
            tracing::info!(subject = %session.subject, passkey = %stored.id, "passkey registered");
            back_to_account(&ws)
        }
        Err(PasskeyError::Refused(r)) => {
            tracing::info!(reason = %r.0, "passkey registration refused");
            page(&state, &ws, &session, StatusCode::BAD_REQUEST, Some(&format!("The passkey was not added: {}", r.0)))
        }
        Err(PasskeyError::Store(e)) => OAuthError::server(e).into_response(),
    }
}

pub async fn remove(State(state): State<SharedState>, Ws(ws): Ws, headers: HeaderMap, OAuthForm(form): OAuthForm) -> Response {
    let (_, session) = match checked(&state, &ws, &headers, form.get("csrf_token")) {
        Ok(s) => s,
        Err(e) => return pages::error(e.status, e.code.as_str(), &e.description),
    };
    let id = form.get("passkey_id").unwrap_or_default();
    match state.passkeys.remove(&state.records, &ws.key, &session.subject, id) {
        Ok(true) => {
            tracing::info!(subject = %session.subject, passkey = %id, "passkey removed");
            back_to_account(&ws)
        }
        Ok(false) => page(&state, &ws, &session, StatusCode::NOT_FOUND, Some("You have no such passkey.")),
        Err(e) => OAuthError::server(e).into_response(),
    }
}

/// The session cookie's id and session, if it is still valid (and has the CSRF token every
/// account form needs).
fn signed_in(state: &AppState, ws: &Workspace, headers: &HeaderMap) -> Option<(String, Session)> {
    let id = interaction::cookie(headers, SESSION_COOKIE)?.to_owned();
    interaction::current_session(state, ws, headers).filter(|s| !s.csrf_token.is_empty()).map(|s| (id, s))
}

fn recent(session: &Session) -> bool {
    recent_at(session.auth_time, fapilab_jose::now())
}

fn recent_at(auth_time: i64, now: i64) -> bool {
    now - auth_time <= ENROL_WITHIN
}

/// The session, and the form's CSRF token checked against it (PK-05).
fn checked(state: &AppState, ws: &Workspace, headers: &HeaderMap, csrf: Option<&str>) -> Result<(String, Session), OAuthError> {
    let Some((id, session)) = signed_in(state, ws, headers) else {
        return Err(OAuthError::new(ErrorCode::LoginRequired, "sign in first: the session cookie is missing or expired"));
    };
    if csrf != Some(session.csrf_token.as_str()) {
        return Err(OAuthError::invalid_request("the form's csrf_token is missing or wrong (PK-05)"));
    }
    Ok((id, session))
}

/// The login page, for a sign-in that returns here.
fn sign_in_first(state: &AppState, ws: &Workspace) -> Response {
    let (id, interaction) = match interaction::start_for_account(state, ws) {
        Ok(started) => started,
        Err(e) => return e.into_response(),
    };
    let mut response = super::login::page(state, ws, &id, &interaction, None);
    interaction::set_cookie(&mut response, ws, &interaction::interaction_cookie_name(&id), &interaction.browser_binding, interaction::INTERACTION_LIFETIME);
    response
}

fn back_to_account(ws: &Workspace) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(location) = HeaderValue::from_str(&ws.endpoint(Listener::Tls, "account")) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

fn page(state: &AppState, ws: &Workspace, session: &Session, status: StatusCode, error: Option<&str>) -> Response {
    let passkeys = match state.passkeys.account(&state.records, &ws.key, &session.subject) {
        Ok(account) => account.map(|a| a.passkeys).unwrap_or_default(),
        Err(e) => return OAuthError::server(e).into_response(),
    };
    let lines = passkeys
        .iter()
        .map(|p| PasskeyLine {
            id: p.id.clone(),
            name: p.name.clone(),
            created: utc(p.created_at),
            last_used: p.last_used_at.map(utc),
            synced: p.flags().backed_up,
        })
        .collect();
    let username = crate::end_users::by_subject(state, ws, &session.subject).map(|u| u.login).unwrap_or_default();
    let register = ws.relying_party.as_ref().map(|_| PasskeyRegistration {
        options: ws.endpoint(Listener::Tls, "account/passkeys/options"),
        action: ws.endpoint(Listener::Tls, "account/passkeys"),
        script: ws.endpoint(Listener::Tls, "passkey.js"),
        sign_in_again: (!recent(session)).then(|| format!("{}?sign_in=again", ws.endpoint(Listener::Tls, "account"))),
    });
    let account = AccountPage {
        username: &username,
        csrf_token: &session.csrf_token,
        remove_action: ws.endpoint(Listener::Tls, "account/passkeys/remove"),
        passkeys: lines,
        register,
    };
    pages::account(&state.theme(ws), status, account, error)
}

/// `2026-11-29 21:05 UTC`.
fn utc(unix: i64) -> String {
    let (year, month, day) = fapilab_jose::civil_from_days(unix.div_euclid(86_400));
    let seconds = unix.rem_euclid(86_400);
    format!("{year}-{month:02}-{day:02} {:02}:{:02} UTC", seconds / 3600, seconds % 3600 / 60)
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_a_recent_sign_in_adds_passkeys() {
        assert!(super::recent_at(1_000, 1_000 + super::ENROL_WITHIN));
        assert!(!super::recent_at(1_000, 1_001 + super::ENROL_WITHIN));
    }

    #[test]
    fn dates_read_as_utc() {
        assert_eq!(super::utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(super::utc(1_795_986_300), "2026-11-29 21:05 UTC");
        assert_eq!(super::utc(951_782_400), "2000-02-29 00:00 UTC");
    }
}
