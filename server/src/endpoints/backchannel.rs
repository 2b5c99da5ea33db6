//! The CIBA backchannel authentication endpoint (CIBA §7; CIBA-01..CIBA-04, FAPI-CIBA
//! FCIBA-02..FCIBA-08, FCIBA-12) at `{issuer}/bc-authorize`, on both listeners.
//!
//! Requests are signed (FCIBA-08): the parameters come only from the verified JWT, never
//! from the form around it. Poll and ping clients are served (push is not, FCIBA-04); the
//! simulated authentication device decides by rule or through the device API (`ciba`).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use fapilab_jose::jws::CompactJws;
use serde_json::{Value, json};

use crate::client_auth;
use crate::error::{ErrorCode, OAuthError, OAuthResult};
use crate::faults::{Fault, FaultSet};
use crate::grants::ciba::GRANT_TYPE;
use crate::http::{FormParams, OAuthForm, Peer, Ws};
use crate::protocol::request_object::{self, RequestKind, RequestObjectContext};
use crate::state::{AppState, SharedState};
use crate::store::Kind;
use crate::store::records::{BackchannelRequest, BackchannelStatus, PingNotification, secret_key};
use crate::end_users::{self, EndUser};
use crate::workspace::{Client, Workspace};

/// CIBA §7.1: binding messages are short, shown on the authentication device.
const MAX_BINDING_MESSAGE: usize = 64;
/// CIBA §7.1: `client_notification_token` should not exceed 1024 characters.
const MAX_NOTIFICATION_TOKEN: usize = 1024;

pub async fn authenticate(State(state): State<SharedState>, Ws(ws): Ws, peer: Peer, headers: HeaderMap, OAuthForm(form): OAuthForm) -> Result<Response, OAuthError> {
    if !ws.settings.ciba.enabled {
        return Err(OAuthError::new(ErrorCode::NotFound, "this workspace does not offer CIBA"));
    }
    let client = client_auth::authenticate(&state, &ws, &form, &headers, &peer, "bc-authorize")?.client;
    crate::registry::ensure_active(&client)?;
    if !client.allows_grant(GRANT_TYPE) {
        return Err(OAuthError::unauthorized_client(format!("client {} is not registered for CIBA [CIBA-03]", client.client_id)));
    }
    let params = match form.get("request") {
        None if state.faults.active(Fault::CibaSignedRequest) => form.clone(),
        None => {
            return Err(OAuthError::invalid_request("authentication requests must be signed: send the parameters in a request JWT [FCIBA-08, CIBA-02]"));
        }
        Some(jwt) => signed_parameters(&state, &ws, &client, jwt)?,
    };
    let faults = &state.faults;

    let scope = params.get("scope").ok_or_else(|| OAuthError::new(ErrorCode::InvalidScope, "scope is required [CIBA-01]"))?;
    if !scope.split_whitespace().any(|s| s == "openid") && !faults.active(Fault::CibaOpenidScope) {
        return Err(OAuthError::new(ErrorCode::InvalidScope, "scope must include openid [CIBA-01]"));
    }
    if let Some(s) = scope.split_whitespace().find(|s| !client.scopes.iter().any(|c| c == s)) {
        return Err(OAuthError::new(ErrorCode::InvalidScope, format!("scope {s:?} is not allowed for client {} [RFC6749-3.3]", client.client_id)));
    }
    let user = user_of(&state, &ws, &client.client_id, &params, faults)?;
    let binding_message = match params.get("binding_message") {
        None if faults.active(Fault::CibaBindingMessageRequired) => "",
        None => return Err(OAuthError::invalid_request("binding_message is required: it ties the request to what the user sees on the device [FCIBA-03]")),
        Some(m) => m,
    };
    if binding_message.chars().count() > MAX_BINDING_MESSAGE || binding_message.chars().any(char::is_control) {
        return Err(OAuthError::new(
            ErrorCode::InvalidBindingMessage,
            format!("binding_message must be at most {MAX_BINDING_MESSAGE} printable characters [CIBA-03]"),
        ));
    }
    if params.contains("user_code") {
        return Err(OAuthError::invalid_request("user_code is not supported (backchannel_user_code_parameter_supported is false) [CIBA-MD-01]"));
    }
    let settings = &ws.settings.ciba;
    // FCIBA-12: a number, or the same number as a JSON string.
    let expires_in = match params.get("requested_expiry") {
        None => settings.default_expiry,
        Some(v) => v
            .trim_matches('"')
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| OAuthError::invalid_request("requested_expiry must be a positive number of seconds [CIBA-01]"))?
            .min(settings.max_expiry),
    };
    let notification = match &client.backchannel_client_notification_endpoint {
        None => None,
        Some(endpoint) => {
            let token = params
                .get("client_notification_token")
                .ok_or_else(|| OAuthError::invalid_request("client_notification_token is required for a ping client [CIBA-01]"))?;
            if token.len() > MAX_NOTIFICATION_TOKEN || !token.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(OAuthError::invalid_request("client_notification_token must be a bearer token of at most 1024 characters [CIBA-01]"));
            }
            Some((endpoint.clone(), token.to_owned()))
        }
    };
    // The simulated authentication device confirms with a password-level sign-in: its `acr`
    // is that method's, whatever `acr_values` asked for (`acr_values` is a wish, CIBA §7.1;
    // the ID token says what happened, INT-PK-01).
    let acr = Some(ws.settings.acr_for(&["pwd"])).filter(|a| !a.is_empty());

    let now = fapilab_jose::now();
    // CIBA-04: opaque, 256 bits of entropy.
    let auth_req_id = fapilab_jose::random_token(32);
    let record = BackchannelRequest {
        device_id: fapilab_jose::random_token(12),
        client_id: client.client_id.clone(),
        subject: user.subject.clone(),
        username: user.login.clone(),
        scope: scope.to_owned(),
        acr,
        binding_message: binding_message.to_owned(),
        expires_at: now + expires_in as i64,
        interval: settings.interval as i64,
        last_poll_ms: None,
        status: BackchannelStatus::Pending,
        notification: notification.map(|(endpoint, client_notification_token)| PingNotification {
            endpoint,
            client_notification_token,
            auth_req_id: auth_req_id.clone(),
        }),
    };
    let key = secret_key(&ws.key, &auth_req_id);
    // Kept a little past expiry, so a late poll still hears expired_token (CIBA-06).
    state.records.put(Kind::BackchannelRequest, &key, Some(record.expires_at + 3600), &record).map_err(OAuthError::server)?;
    tracing::info!(client_id = %client.client_id, device_id = %record.device_id, "CIBA request accepted");
    crate::ciba::apply_device_rules(&state, &ws, key, &user.login);

    let mut response = Json(json!({ "auth_req_id": auth_req_id, "expires_in": expires_in, "interval": settings.interval })).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// FCIBA-08: the parameters of a signed request — only those, never the form's.
fn signed_parameters(state: &AppState, ws: &Workspace, client: &Client, jwt: &str) -> OAuthResult<FormParams> {
    let ctx = RequestObjectContext {
        kind: RequestKind::Backchannel,
        issuer: &ws.issuer,
        client_id: &client.client_id,
        client_keys: &client.jwks,
        registered_alg: client.backchannel_request_signing_alg,
        policy: &ws.policy,
        now: fapilab_jose::now(),
    };
    let claims = request_object::verify(jwt, &ctx, &state.faults).map_err(|v| OAuthError::invalid_request(v.to_string()))?;
    crate::protocol::replay::refuse_reused_request(state, ws, &client.client_id, &claims, ctx.now)
        .map_err(|why| OAuthError::invalid_request(format!("{why} [CIBA-02, MS-AS-10]")))?;
    Ok(FormParams::from_pairs(request_object::parameters(&claims)))
}

/// CIBA-01: exactly one hint names the user — a configured user, or any identifier of a user
/// of the workspace's identity pool (`end_users`), as at the login page.
fn user_of(state: &AppState, ws: &Arc<Workspace>, client_id: &str, params: &FormParams, faults: &FaultSet) -> OAuthResult<EndUser> {
    let hints: Vec<&str> = ["login_hint", "id_token_hint", "login_hint_token"].into_iter().filter(|h| params.contains(h)).collect();
    let several_allowed = hints.len() > 1 && faults.active(Fault::CibaSingleHint);
    if hints.len() != 1 && !several_allowed {
        return Err(OAuthError::invalid_request(format!(
            "exactly one of login_hint, id_token_hint and login_hint_token is required; got {} [CIBA-01]",
            hints.len()
        )));
    }
    let unknown = || OAuthError::new(ErrorCode::UnknownUserId, "the hint does not name a user of this server [CIBA-03]");
    match hints[0] {
        "login_hint" => end_users::by_login(state, ws, params.get("login_hint").unwrap_or_default()).ok_or_else(unknown),
        "id_token_hint" => {
            let hint = params.get("id_token_hint").unwrap_or_default();
            let jws = CompactJws::parse(hint).map_err(|_| OAuthError::invalid_request("id_token_hint is not a JWT [CIBA-01]"))?;
            jws.verify(&ws.access_token_verifier).map_err(|_| OAuthError::invalid_request("id_token_hint was not issued by this server [CIBA-01]"))?;
            let claims = jws.claims().map_err(|_| OAuthError::invalid_request("id_token_hint has no claims [CIBA-01]"))?;
            if claims.get("iss").and_then(Value::as_str) != Some(ws.issuer.as_str()) {
                return Err(OAuthError::invalid_request("id_token_hint was not issued by this workspace [CIBA-01]"));
            }
            // An ID token issued to this client — not an access token, not another client's.
            let addressed = match claims.get("aud") {
                Some(Value::String(aud)) => aud == client_id,
                Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(client_id)),
                _ => false,
            };
            if jws.typ().is_some_and(|t| t.eq_ignore_ascii_case("at+jwt")) || !addressed {
                return Err(OAuthError::invalid_request("id_token_hint must be an ID token issued to this client [CIBA-01]"));
            }
            let subject = claims.get("sub").and_then(Value::as_str).ok_or_else(unknown)?;
            end_users::by_subject(state, ws, subject).ok_or_else(unknown)
        }
        _ => Err(OAuthError::invalid_request("login_hint_token is not supported; send login_hint or id_token_hint [CIBA-01, FCIBA-10]")),
    }
}
