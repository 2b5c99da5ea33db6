//! Consent: shows the client and the scopes in plain words (FAPI2-SP-AZ-13); the decision
//! completes the authorization (see `authorization_response`).

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use crate::http::{OAuthForm, Ws};
use crate::interaction;
use crate::pages;
use crate::state::SharedState;
use crate::store::Kind;
use crate::store::records::{PushedRequest, plain_key};
use crate::workspace::Listener;
use crate::authorization_response::{self, Outcome};

pub async fn show(
    State(state): State<SharedState>,
    Ws(ws): Ws,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let id = query.get("interaction_id").map(String::as_str);
    let interaction = match interaction::resume(&state, &ws, &headers, id, None) {
        Ok(i) => i,
        Err(page) => return page,
    };
    let Some(session) = interaction::current_session(&state, &ws, &headers) else {
        return pages::error(StatusCode::UNAUTHORIZED, "login_required", "sign in first: the session cookie is missing or expired");
    };
    let pushed: PushedRequest = match state.records.get(Kind::PushedRequest, &plain_key(&ws.key, &interaction.request_handle)) {
        Ok(Some(p)) => p,
        _ => return pages::error(StatusCode::BAD_REQUEST, "invalid_request_uri", "the authorization request has expired"),
    };
    let client_name = ws.client(&pushed.client_id).map(|c| c.client_name.clone()).unwrap_or_default();
    let username = crate::end_users::by_subject(&state, &ws, &session.subject).map(|u| u.login).unwrap_or_default();
    let scopes: Vec<&str> = pushed.params.scope.split_whitespace().collect();
    pages::consent(
        &state.theme(&ws),
        &ws.endpoint(Listener::Tls, "consent"),
        id.unwrap_or_default(),
        &interaction.csrf_token,
        &client_name,
        &username,
        &scopes,
    )
}

pub async fn decide(State(state): State<SharedState>, Ws(ws): Ws, headers: HeaderMap, OAuthForm(form): OAuthForm) -> Response {
    let interaction_id = form.get("interaction_id").unwrap_or_default().to_owned();
    let interaction = match interaction::resume(&state, &ws, &headers, Some(&interaction_id), Some(form.get("csrf_token"))) {
        Ok(i) => i,
        Err(page) => return page,
    };
    let Some(session) = interaction::current_session(&state, &ws, &headers) else {
        return pages::error(StatusCode::UNAUTHORIZED, "login_required", "sign in first: the session cookie is missing or expired");
    };
    let approve = match form.get("decision") {
        Some("approve") => true,
        Some("deny") => false,
        _ => return pages::error(StatusCode::BAD_REQUEST, "invalid_request", "decision must be approve or deny"),
    };
    // AZ-15: the request_uri is single use, consumed now that the authorization completes.
    let pushed = match authorization_response::consume(&state, &ws, &interaction.request_handle) {
        Ok(p) => p,
        Err(page) => return page,
    };
    interaction::finish(&state, &ws, &interaction_id);
    let outcome = if approve {
        Outcome::Approved(&session)
    } else {
        Outcome::Refused { error: "access_denied", description: "the user denied the request" }
    };
    let mut response = authorization_response::respond(&state, &ws, &pushed, outcome);
    // The interaction is over: expire its cookie, or a browser that authorizes often would
    // send an ever longer Cookie header (one per authorization in the last 10 minutes).
    interaction::set_cookie(&mut response, &ws, &interaction::interaction_cookie_name(&interaction_id), "", 0);
    response
}
