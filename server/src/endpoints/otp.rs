//! Sign-in with a one-time code, for identity pools that prefer codes by email or text
//! message (`identity::otp`).
//!
//! `POST {issuer}/otp` takes the identifier from the login page, sends a code to the user's
//! verified address of the pool's channel (into the sandbox inbox) and shows where to enter
//! it — the same page whether or not the identifier names anyone, so the form reveals no
//! accounts. `POST {issuer}/otp/verify` checks it: expired, wrong (attempts counted) or right
//! (used once). A user with no password yet, or an expired one, then chooses one
//! (`endpoints/password_change.rs`); everyone else goes on to consent, with `amr` `otp`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::end_users::{self, Password};
use crate::http::{OAuthForm, Ws};
use crate::identity::otp::{self, OneTimeCode};
use crate::identity::{AddressKind, Mechanism};
use crate::inbox::Message;
use crate::interaction;
use crate::pages;
use crate::state::SharedState;
use crate::store::Kind;
use crate::store::records::plain_key;
use crate::workspace::Listener;

pub async fn send(State(state): State<SharedState>, Ws(ws): Ws, headers: HeaderMap, OAuthForm(form): OAuthForm) -> Response {
    let interaction_id = form.get("interaction_id").unwrap_or_default().to_owned();
    let interaction = match interaction::resume(&state, &ws, &headers, Some(&interaction_id), Some(form.get("csrf_token"))) {
        Ok(i) => i,
        Err(page) => return page,
    };
    let pool = end_users::pool_of(&ws).and_then(|p| state.directory.pool(p));
    let (Some(pool), channel) = (pool.clone(), pool.map(|p| p.preferred_mechanism)) else {
        return pages::error(StatusCode::BAD_REQUEST, "invalid_request", "this workspace does not sign in with one-time codes");
    };
    let (kind, channel_name) = match channel {
        Some(Mechanism::EmailOtp) => (AddressKind::Email, "email"),
        Some(Mechanism::SmsOtp) => (AddressKind::Mobile, "sms"),
        _ => return pages::error(StatusCode::BAD_REQUEST, "invalid_request", "this workspace does not sign in with one-time codes"),
    };
    let login = form.get("username").unwrap_or_default();
    let user = state.directory.find_by_identifier(&pool.id, login);
    let address = user.as_ref().and_then(|u| u.addresses.iter().find(|a| a.kind == kind && a.verified).map(|a| a.value.clone()));
    let code = match otp::new_code() {
        Ok(c) => c,
        Err(e) => return crate::error::OAuthError::server(e).into_response(),
    };
    let now = fapilab_jose::now();
    // Per-user limits (`otp::Throttle`): past them nothing is sent and the stored code names
    // nobody, so the page stays the same and no code works.
    let subject = address.as_ref().and(user.as_ref()).map(|u| u.id.clone()).filter(|s| state.otp_throttle.allow_send(s, now));
    let address = address.filter(|_| subject.is_some());
    let record = OneTimeCode::new(subject, &code, now);
    // One code per sign-in: asking again replaces the previous one.
    if let Err(e) = state.records.put(Kind::OneTimeCode, &plain_key(&ws.key, &interaction_id), Some(record.expires_at), &record) {
        return crate::error::OAuthError::server(e).into_response();
    }
    if let Some(to) = address {
        state.inbox.deliver(Message {
            id: fapilab_jose::random_token(9),
            channel: channel_name,
            to,
            subject: "Your sign-in code".into(),
            body: format!("Your sign-in code is {code}. It works once, for 5 minutes. Nobody from the bank will ask you for it."),
            sent_at: now,
        });
        tracing::info!(channel = channel_name, "one-time code sent");
    } else {
        tracing::info!("one-time code asked for an identifier without a verified address; nothing sent");
    }
    let client_name = ws.client(&interaction.client_id).map(|c| c.client_name.clone()).unwrap_or_default();
    pages::enter_code(&state.theme(&ws), &ws.endpoint(Listener::Tls, "otp/verify"), &interaction_id, &interaction.csrf_token, &client_name, None)
}

pub async fn verify(State(state): State<SharedState>, Ws(ws): Ws, headers: HeaderMap, OAuthForm(form): OAuthForm) -> Response {
    let interaction_id = form.get("interaction_id").unwrap_or_default().to_owned();
    let mut interaction = match interaction::resume(&state, &ws, &headers, Some(&interaction_id), Some(form.get("csrf_token"))) {
        Ok(i) => i,
        Err(page) => return page,
    };
    let key = plain_key(&ws.key, &interaction_id);
    let client_name = ws.client(&interaction.client_id).map(|c| c.client_name.clone()).unwrap_or_default();
    let entered = form.get("code").unwrap_or_default().to_owned();
    let now = fapilab_jose::now();
    let mut outcome = None;
    // Checked and spent in one store update: two racing attempts cannot both use it.
    let updated = state.records.modify::<OneTimeCode>(Kind::OneTimeCode, &key, |record| {
        if record.subject.as_deref().is_some_and(|s| state.otp_throttle.locked(s, now)) {
            outcome = Some(Err(otp::CodeFailure::TooManyAttempts));
            return false;
        }
        outcome = Some(record.check(&entered, now));
        true
    });
    let outcome = match (updated, outcome) {
        (Ok(Some(before)), Some(o)) => {
            if let (Err(otp::CodeFailure::Wrong { .. } | otp::CodeFailure::TooManyAttempts), Some(s)) = (&o, &before.subject) {
                state.otp_throttle.record_failure(s, now);
            }
            o
        }
        (Ok(_), _) => return login_again(&state, &ws, &interaction_id, &interaction, "Ask for a code first."),
        (Err(e), _) => return crate::error::OAuthError::server(e).into_response(),
    };
    let subject = match outcome {
        Ok(subject) => subject,
        Err(failure) => {
            tracing::info!(%failure, "one-time code refused");
            let action = ws.endpoint(Listener::Tls, "otp/verify");
            return pages::enter_code(&state.theme(&ws), &action, &interaction_id, &interaction.csrf_token, &client_name, Some(&failure.to_string()));
        }
    };
    // Used once.
    if let Err(e) = state.records.delete(Kind::OneTimeCode, &key) {
        return crate::error::OAuthError::server(e).into_response();
    }
    let Some(user) = end_users::by_subject(&state, &ws, &subject) else {
        return login_again(&state, &ws, &interaction_id, &interaction, "This account no longer exists.");
    };
    match user.password {
        Password::Set { expired: false, .. } => interaction::signed_in(&state, &ws, &interaction_id, &interaction, &subject, &["otp"]),
        // A user imported without a password (or whose password expired) proved control of a
        // verified address: now they choose a password.
        Password::NotSet | Password::Set { expired: true, .. } => {
            interaction.password_change_for = Some(subject);
            interaction.password_change_amr = vec!["otp".into()];
            if let Err(e) = interaction::save(&state, &ws, &interaction_id, &interaction) {
                return e.into_response();
            }
            pages::change_password(&state.theme(&ws), &ws.endpoint(Listener::Tls, "password"), &interaction_id, &interaction.csrf_token, &client_name, &[])
        }
    }
}

fn login_again(state: &crate::state::AppState, ws: &crate::workspace::Workspace, interaction_id: &str, interaction: &crate::store::records::Interaction, why: &str) -> Response {
    crate::endpoints::login::page(state, ws, interaction_id, interaction, Some(why))
}
