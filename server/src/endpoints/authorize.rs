//! The authorization endpoint (FAPI2-SP-AZ-03, AZ-15, AZ-16, PAR-10, PAR-11, A-AS-01).
//!
//! With a `request_uri`, only it and `client_id` are read; every other front-channel
//! parameter is ignored, because the pushed request is the authorization request. Where the
//! profile does not require PAR (FAPI 1.0), a request may instead arrive by value — plain
//! parameters or a signed `request` object, as the policy allows. Problems before the
//! redirect URI is known to be valid are shown as an error page, never redirected (OA-03,
//! FAPI2-SP-AS-07). The `request_uri` is consumed when consent completes, so loading this page
//! twice (link pre-fetchers) still works (AZ-15).

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use crate::authorization_request::{self, Channel};
use crate::endpoints::par::REQUEST_URI_PREFIX;
use crate::error::OAuthError;
use crate::faults::Fault;
use crate::http::{FormParams, OAuthForm, Ws};
use crate::interaction;
use crate::pages;
use crate::state::{AppState, SharedState};
use crate::store::Kind;
use crate::authorization_response::{self, Outcome};
use crate::store::records::{PushedRequest, Session, plain_key};
use crate::workspace::Workspace;

pub async fn authorize(
    State(state): State<SharedState>,
    Ws(ws): Ws,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = match FormParams::parse(query.unwrap_or_default().as_bytes()) {
        Ok(q) => q,
        Err(e) => return pages::error(StatusCode::BAD_REQUEST, e.code.as_str(), &e.description),
    };
    match load_request(&state, &ws, &query) {
        Ok((handle, pushed)) => show_login_or_consent(&state, &ws, &headers, &handle, &pushed),
        Err(page) => page,
    }
}

/// OIDC Core §3.1.2.1: the authorization endpoint also takes its parameters as a form POST.
pub async fn authorize_form(State(state): State<SharedState>, Ws(ws): Ws, headers: HeaderMap, OAuthForm(form): OAuthForm) -> Response {
    match load_request(&state, &ws, &form) {
        Ok((handle, pushed)) => show_login_or_consent(&state, &ws, &headers, &handle, &pushed),
        Err(page) => page,
    }
}

/// The authorization request the front channel names (`request_uri`, a pushed request) or
/// carries (where the profile does not require PAR: parameters or a request object by value).
fn load_request(state: &AppState, ws: &Workspace, query: &FormParams) -> Result<(String, PushedRequest), Response> {
    if query.contains("request_uri") || ws.policy.require_pushed_authorization_requests {
        load_pushed_request(state, ws, query)
    } else {
        front_channel_request(state, ws, query)
    }
}

/// OIDC §3.1.2.1 / §6.1, A-AS-01: a request sent by value is checked exactly like a pushed
/// one, then stored the same way, so consent and the response have one path. Every refusal is
/// an error page: the redirect URI of a refused request is not trusted (OA-03), and FAPI 1.0
/// allows an error page for each of them.
fn front_channel_request(state: &AppState, ws: &Workspace, query: &FormParams) -> Result<(String, PushedRequest), Response> {
    let refuse = |e: OAuthError| pages::error(StatusCode::BAD_REQUEST, e.code.as_str(), &e.description);
    let Some(client_id) = query.get("client_id") else {
        return Err(refuse(OAuthError::invalid_request("client_id is required [RFC6749-4.1.1, A-AS-19]")));
    };
    let Some(client) = ws.client(client_id) else {
        return Err(refuse(OAuthError::invalid_request("client_id does not name a client of this workspace [RFC6749-4.1.2.1]")));
    };
    crate::registry::ensure_active(&client).map_err(refuse)?;
    if client.require_pushed_authorization_requests {
        return Err(refuse(OAuthError::invalid_request(format!(
            "client {} registered require_pushed_authorization_requests: push the request to the PAR endpoint first [RFC9126-6]",
            client.client_id
        ))));
    }
    if query.contains("request") && query.contains("request_uri") {
        return Err(refuse(OAuthError::invalid_request("request and request_uri must not be sent together [RFC9101-5]")));
    }
    let form = authorization_request::parameters(state, ws, &client, query, Channel::FrontChannel).map_err(refuse)?;
    let params = authorization_request::validate(ws, &client, &form, Channel::FrontChannel, &state.faults).map_err(refuse)?;
    let now = fapilab_jose::now();
    let lifetime = ws.settings.request_uri_lifetime as i64;
    let handle = fapilab_jose::random_token(32);
    let request = PushedRequest { client_id: client.client_id.clone(), params, expires_at: now + lifetime, used: false };
    if let Err(e) = state.records.put(Kind::PushedRequest, &plain_key(&ws.key, &handle), Some(now + lifetime + 60), &request) {
        tracing::error!(error = %e, "could not store a front-channel authorization request");
        return Err(pages::error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "try again shortly"));
    }
    tracing::info!(client_id = %client.client_id, "authorization request received by value");
    Ok((handle, request))
}

/// The pushed request named by the front channel, if it is usable by this client.
pub fn load_pushed_request(state: &AppState, ws: &Workspace, query: &FormParams) -> Result<(String, PushedRequest), Response> {
    let refuse = |code: &str, description: &str| pages::error(StatusCode::BAD_REQUEST, code, description);
    let Some(request_uri) = query.get("request_uri") else {
        return Err(refuse(
            "invalid_request",
            "authorization requests must be pushed first: request_uri is missing [FAPI2-SP-AZ-03, PAR-01]",
        ));
    };
    let Some(client_id) = query.get("client_id") else {
        return Err(refuse("invalid_request", "client_id is required [PAR-10]"));
    };
    if query.contains("request") {
        return Err(refuse("invalid_request", "request and request_uri must not be sent together [RFC9101-5]"));
    }
    let Some(handle) = request_uri.strip_prefix(REQUEST_URI_PREFIX).filter(|h| !h.is_empty() && h.len() <= 64) else {
        return Err(refuse("invalid_request_uri", "request_uri was not issued by this server [PAR-10]"));
    };
    let pushed: PushedRequest = match state.records.get(Kind::PushedRequest, &plain_key(&ws.key, handle)) {
        Ok(Some(p)) => p,
        Ok(None) => return Err(refuse("invalid_request_uri", "request_uri is unknown or expired [PAR-10]")),
        Err(e) => {
            tracing::error!(error = %e, "pushed request lookup failed");
            return Err(pages::error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "try again shortly"));
        }
    };
    if pushed.client_id != client_id && !state.faults.active(Fault::RequestUriClientBinding) {
        return Err(refuse(
            "invalid_request_uri",
            "request_uri was pushed by another client than client_id [FAPI2-SP-AZ-16, PAR-10]",
        ));
    }
    if pushed.expires_at <= fapilab_jose::now() && !state.faults.active(Fault::RequestUriExpiry) {
        return Err(refuse("invalid_request_uri", "request_uri has expired [FAPI2-SP-AZ-12, PAR-10]"));
    }
    if pushed.used && !state.faults.active(Fault::RequestUriSingleUse) {
        return Err(refuse("invalid_request_uri", "request_uri was already used [FAPI2-SP-AZ-15, PAR-10]"));
    }
    Ok((handle.to_owned(), pushed))
}

fn show_login_or_consent(state: &AppState, ws: &Workspace, headers: &HeaderMap, handle: &str, pushed: &PushedRequest) -> Response {
    let Some(client) = ws.client(&pushed.client_id) else {
        return pages::error(StatusCode::BAD_REQUEST, "invalid_request", "the client of this request no longer exists");
    };
    if let Err(inactive) = crate::registry::ensure_active(&client) {
        return pages::error(StatusCode::BAD_REQUEST, "unauthorized_client", &inactive.description);
    }
    let session = interaction::current_session(state, ws, headers);
    if pushed.params.prompt.as_deref().is_some_and(|p| p.split(' ').any(|v| v == "none")) {
        return answer_without_ui(state, ws, handle, pushed, session.as_ref());
    }
    let (id, interaction) = match interaction::start(state, ws, handle, &client.client_id) {
        Ok(started) => started,
        Err(e) => {
            tracing::error!(error = %e, "could not start an interaction");
            return pages::error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "try again shortly");
        }
    };
    let now = fapilab_jose::now();
    let session = session.filter(|s| {
        let fresh_enough = pushed.params.max_age.is_none_or(|max| now - s.auth_time <= max);
        let prompt_login = pushed.params.prompt.as_deref().is_some_and(|p| p.split(' ').any(|v| v == "login"));
        // A session below an essential acr cannot be reused: the user signs in again, and may
        // choose a method that reaches it (OIDC §5.5.1.1).
        fresh_enough && !prompt_login && authorization_response::meets_essential_acr(pushed, s)
    });
    let mut response = match session {
        Some(session) => {
            let username = crate::end_users::by_subject(state, ws, &session.subject).map(|u| u.login).unwrap_or_default();
            let scopes: Vec<&str> = pushed.params.scope.split_whitespace().collect();
            pages::consent(&state.theme(ws), &ws.endpoint(crate::workspace::Listener::Tls, "consent"), &id, &interaction.csrf_token, &client.client_name, &username, &scopes)
        }
        None => crate::endpoints::login::page(state, ws, &id, &interaction, None),
    };
    interaction::set_cookie(
        &mut response,
        ws,
        &interaction::interaction_cookie_name(&id),
        &interaction.browser_binding,
        interaction::INTERACTION_LIFETIME,
    );
    response
}

/// OIDC Core §3.1.2.1 `prompt=none`: no page may be shown. Without a signed-in user the answer
/// is `login_required`, without earlier consent `consent_required`; otherwise a code.
fn answer_without_ui(state: &AppState, ws: &Workspace, handle: &str, pushed: &PushedRequest, session: Option<&Session>) -> Response {
    let pushed_now = match authorization_response::consume(state, ws, handle) {
        Ok(p) => p,
        Err(page) => return page,
    };
    let now = fapilab_jose::now();
    let session = session.filter(|s| pushed.params.max_age.is_none_or(|max| now - s.auth_time <= max));
    let outcome = match session {
        None => Outcome::Refused { error: "login_required", description: "prompt=none was requested and no user is signed in [OIDC-3.1.2.6]" },
        Some(s) if !authorization_response::has_consent(state, ws, &s.subject, pushed) => Outcome::Refused {
            error: "consent_required",
            description: "prompt=none was requested and the user has not consented to these scopes [OIDC-3.1.2.6]",
        },
        Some(s) => Outcome::Approved(s),
    };
    authorization_response::respond(state, ws, &pushed_now, outcome)
}
