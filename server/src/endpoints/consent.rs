//! Consent: shows the client and the scopes in plain words (FAPI2-SP-AZ-13), then answers the
//! client with a code or `access_denied`, always with `iss` (FAPI2-SP-AZ-07, RFC 9207) and
//! always by 303 (AZ-10, AZ-11). The pushed request is consumed here (AZ-15).

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::http::{OAuthForm, Ws};
use crate::interaction;
use crate::pages;
use crate::state::SharedState;
use crate::store::Kind;
use crate::store::records::{AuthorizationCode, Consent, PushedRequest, plain_key, secret_key};
use crate::workspace::{Listener, Workspace};

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
    let username = ws.users.values().find(|u| u.subject == session.subject).map(|u| u.username.clone()).unwrap_or_default();
    let scopes: Vec<&str> = pushed.params.scope.split_whitespace().collect();
    pages::consent(
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
    let now = fapilab_jose::now();
    let key = plain_key(&ws.key, &interaction.request_handle);
    let before = state.records.modify::<PushedRequest>(Kind::PushedRequest, &key, |p| {
        if p.used || p.expires_at < now {
            return false;
        }
        p.used = true;
        true
    });
    let pushed = match before {
        Ok(Some(p)) if !p.used && p.expires_at >= now => p,
        Ok(_) => {
            return pages::error(
                StatusCode::BAD_REQUEST,
                "invalid_request_uri",
                "the authorization request was already used or has expired [FAPI2-SP-AZ-15, AZ-12]",
            );
        }
        Err(e) => return crate::error::OAuthError::server(e).into_response(),
    };
    interaction::finish(&state, &ws, &interaction_id);

    let mut params: Vec<(&str, String)> = Vec::new();
    if approve {
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
        if let Err(e) = state.records.put(Kind::Code, &secret_key(&ws.key, &code), Some(keep_until), &record) {
            return crate::error::OAuthError::server(e).into_response();
        }
        let consent = Consent { scope: pushed.params.scope.clone(), granted_at: now };
        let consent_key = plain_key(&ws.key, &format!("{}|{}", session.subject, pushed.client_id));
        if let Err(e) = state.records.put(Kind::Consent, &consent_key, None, &consent) {
            return crate::error::OAuthError::server(e).into_response();
        }
        tracing::info!(client_id = %pushed.client_id, "authorization approved");
        params.push(("code", code));
    } else {
        tracing::info!(client_id = %pushed.client_id, "authorization denied by the user");
        params.push(("error", "access_denied".into()));
        params.push(("error_description", "the user denied the request".into()));
    }
    if let Some(s) = &pushed.params.state {
        params.push(("state", s.clone()));
    }
    redirect(&ws, &pushed.params.redirect_uri, &params)
}

/// 303 to the validated redirect URI with the response parameters and `iss` (RFC 9207).
fn redirect(ws: &Workspace, redirect_uri: &str, params: &[(&str, String)]) -> Response {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        query.append_pair(k, v);
    }
    query.append_pair("iss", &ws.issuer);
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
