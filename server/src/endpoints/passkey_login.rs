//! Usernameless passkey sign-in on the login page (`identity::passkeys`).
//!
//! `POST {issuer}/passkey/options` answers the WebAuthn request options for the interaction
//! (a fresh challenge bound to it, INT-PK-03; no `allowCredentials`, so the authenticator
//! offers its discoverable credentials, AUTH-OPT-02). `POST {issuer}/passkey/login` takes the
//! authenticator's response in `credential`: verified, it opens a session with `amr`
//! `hwk`/`swk` + `user` and sends the browser on with a 303 (INT-PK-01, INT-PK-02); refused,
//! it shows the login page again with the reason (401). Either way the challenge is spent.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::error::OAuthError;
use crate::http::{OAuthForm, Ws};
use crate::identity::passkeys::{PasskeyError, Purpose};
use crate::interaction;
use crate::state::SharedState;

pub async fn options(State(state): State<SharedState>, Ws(ws): Ws, headers: HeaderMap, OAuthForm(form): OAuthForm) -> Response {
    let interaction_id = form.get("interaction_id").unwrap_or_default().to_owned();
    if let Err(page) = interaction::resume(&state, &ws, &headers, Some(&interaction_id), Some(form.get("csrf_token"))) {
        return page;
    }
    let Some(rp) = ws.relying_party.as_ref() else {
        return OAuthError::invalid_request("this workspace cannot use passkeys: its issuer's host is not a domain name (REG-OPT-02)").into_response();
    };
    let purpose = Purpose::SignIn { workspace: ws.key.clone(), interaction_id };
    match state.passkeys.start_sign_in(rp, purpose, fapilab_jose::now()) {
        Ok(options) => no_store(Json(options).into_response()),
        Err(refusal) => OAuthError::server(refusal.0).into_response(),
    }
}

pub async fn sign_in(State(state): State<SharedState>, Ws(ws): Ws, headers: HeaderMap, OAuthForm(form): OAuthForm) -> Response {
    let interaction_id = form.get("interaction_id").unwrap_or_default().to_owned();
    let interaction = match interaction::resume(&state, &ws, &headers, Some(&interaction_id), Some(form.get("csrf_token"))) {
        Ok(i) => i,
        Err(page) => return page,
    };
    let refuse = |why: &str| super::login::page(&state, &ws, &interaction_id, &interaction, Some(why));
    let Some(rp) = ws.relying_party.as_ref() else {
        return refuse("Passkeys cannot be used at this address.");
    };
    let credential = form.get("credential").unwrap_or_default();
    if credential.is_empty() {
        return refuse("No passkey was used: passkeys need JavaScript in this browser. Sign in another way.");
    }
    let purpose = Purpose::SignIn { workspace: ws.key.clone(), interaction_id: interaction_id.clone() };
    match state.passkeys.finish_sign_in(&state.records, rp, &ws.key, &purpose, credential, fapilab_jose::now()) {
        // The user may have been removed since the passkey was registered.
        Ok((subject, amr)) if crate::end_users::by_subject(&state, &ws, &subject).is_some() => {
            interaction::signed_in(&state, &ws, &interaction_id, &interaction, &subject, &amr)
        }
        Ok(_) => refuse("This passkey's account no longer exists."),
        Err(PasskeyError::Refused(refusal)) => {
            tracing::info!(reason = %refusal.0, "passkey sign-in refused");
            refuse(&format!("The passkey was not accepted: {}", refusal.0))
        }
        Err(PasskeyError::Store(e)) => OAuthError::server(e).into_response(),
    }
}

pub(crate) fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
