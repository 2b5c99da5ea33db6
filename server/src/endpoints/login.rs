//! The login form's target. Checks the interaction, its CSRF token and the password
//! (argon2id) of the workspace's end user (`end_users`: configured users or an identity
//! pool), then either opens a session and sends the browser on to consent with a 303 (AZ-10,
//! AZ-11), or — for a correct but expired password — shows the change-password step
//! (`endpoints/password_change.rs`).
//!
//! After [`MAX_WRONG_PASSWORDS`] wrong passwords within [`WRONG_PASSWORD_WINDOW`] seconds an
//! account takes no password until the window moves on (passkeys and codes still work): one
//! sign-in after another would otherwise guess without end. Identifiers that name nobody are
//! counted and locked the same way, so the lock says nothing about who exists.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use crate::end_users::{self, Password};
use crate::http::{OAuthForm, Ws};
use crate::interaction;
use crate::pages;
use crate::identity::Mechanism;
use crate::state::{AppState, SharedState};
use crate::store::records::Interaction;
use crate::workspace::{Listener, Workspace};

pub async fn submit(State(state): State<SharedState>, Ws(ws): Ws, headers: HeaderMap, OAuthForm(form): OAuthForm) -> Response {
    let interaction_id = form.get("interaction_id").unwrap_or_default().to_owned();
    let mut interaction = match interaction::resume(&state, &ws, &headers, Some(&interaction_id), Some(form.get("csrf_token"))) {
        Ok(i) => i,
        Err(page) => return page,
    };
    let client_name = ws.client(&interaction.client_id).map(|c| c.client_name.clone()).unwrap_or_default();
    let login = form.get("username").unwrap_or_default();
    let candidate = form.get("password").unwrap_or_default().to_owned();
    let user = end_users::by_login(&state, &ws, login);
    let now = fapilab_jose::now();
    let attempts_key = match &user {
        Some(u) => format!("{}|{}", ws.key, u.subject),
        None => format!("{}|unknown|{}", ws.key, login.trim().to_lowercase()),
    };
    if state.password_failures.count(&attempts_key, WRONG_PASSWORD_WINDOW, now) >= MAX_WRONG_PASSWORDS {
        tracing::info!("login refused: too many wrong passwords");
        return page(&state, &ws, &interaction_id, &interaction, Some(LOCKED));
    }
    // Verify against a real hash even for unknown users (and users without a password), so
    // timing does not reveal them.
    let (hash, expired) = match user.as_ref().map(|u| &u.password) {
        Some(Password::Set { hash, expired }) => (hash.clone(), *expired),
        _ => (DUMMY_HASH.to_owned(), false),
    };
    let has_password = matches!(user.as_ref().map(|u| &u.password), Some(Password::Set { .. }));
    // argon2 is deliberately slow and memory-hard: keep it off the async workers, and bounded.
    let verified = state.with_password_memory(move |memory| crate::password::verify_in(&candidate, &hash, memory)).await.unwrap_or(false);
    let Some(user) = user.filter(|_| verified && has_password) else {
        tracing::info!("login failed");
        state.password_failures.note(&attempts_key, WRONG_PASSWORD_WINDOW, now);
        return page(&state, &ws, &interaction_id, &interaction, Some("The username or password is not right."));
    };
    state.password_failures.clear(&attempts_key);
    if expired {
        tracing::info!(subject = %user.subject, "password expired: change required before sign-in");
        interaction.password_change_for = Some(user.subject.clone());
        interaction.password_change_amr = vec!["pwd".into()];
        if let Err(e) = interaction::save(&state, &ws, &interaction_id, &interaction) {
            return e.into_response();
        }
        return pages::change_password(&state.theme(&ws), &ws.endpoint(Listener::Tls, "password"), &interaction_id, &interaction.csrf_token, &client_name, &[]);
    }
    interaction::signed_in(&state, &ws, &interaction_id, &interaction, &user.subject, &["pwd"])
}

pub const MAX_WRONG_PASSWORDS: usize = 10;
pub const WRONG_PASSWORD_WINDOW: i64 = 900;
const LOCKED: &str = "Too many wrong passwords for this account: wait 15 minutes, or sign in another way.";

/// The login page of `ws`: the password form; the one-time code form first when the
/// workspace's identity pool prefers codes; passkey sign-in wherever the workspace can be a
/// WebAuthn relying party, first when the pool prefers passkeys.
pub fn page(state: &AppState, ws: &Workspace, interaction_id: &str, interaction: &Interaction, error: Option<&str>) -> Response {
    let code_action = ws.endpoint(Listener::Tls, "otp");
    let preferred = end_users::pool_of(ws).and_then(|p| state.directory.pool(p)).map(|pool| pool.preferred_mechanism);
    let code = match preferred {
        Some(Mechanism::EmailOtp) => Some("email"),
        Some(Mechanism::SmsOtp) => Some("text message"),
        _ => None,
    };
    let passkey = ws.relying_party.as_ref().map(|_| pages::PasskeyOffer {
        options: ws.endpoint(Listener::Tls, "passkey/options"),
        action: ws.endpoint(Listener::Tls, "passkey/login"),
        script: ws.endpoint(Listener::Tls, "passkey.js"),
        first: preferred == Some(Mechanism::Passkey),
    });
    let offers = pages::LoginOffers { code: code.map(|channel| pages::CodeOffer { action: &code_action, channel }), passkey };
    // An interaction without an authorization request signs in for the account page.
    let client_name = ws.client(&interaction.client_id).map(|c| c.client_name.clone()).unwrap_or_default();
    let signing_in_for = if interaction.request_handle.is_empty() { pages::SignInFor::Account } else { pages::SignInFor::Client(&client_name) };
    pages::login(&state.theme(ws), &ws.endpoint(Listener::Tls, "login"), interaction_id, &interaction.csrf_token, signing_in_for, error, offers)
}

/// argon2id of a random string nobody knows; used only to spend the same time.
pub const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$5b1x5H0mGvmcC7y8P0fE2m0kqk9b0hX1oGqgQk3x2f8";

#[cfg(test)]
mod tests {
    /// The stand-in hash must be a real argon2id PHC string with the default cost, or unknown
    /// usernames would answer faster than wrong passwords.
    #[test]
    fn dummy_hash_costs_a_real_verification() {
        let parsed = argon2::password_hash::PasswordHash::new(super::DUMMY_HASH).expect("PHC string");
        let params = argon2::Params::try_from(&parsed).expect("argon2 params");
        assert_eq!(params.m_cost(), argon2::Params::DEFAULT_M_COST);
        assert_eq!(params.t_cost(), argon2::Params::DEFAULT_T_COST);
        let mut memory = Vec::new();
        assert!(!crate::password::verify_in("anything", super::DUMMY_HASH, &mut memory));
        assert!(memory.len() >= params.block_count(), "the verification ran");
    }
}
