//! `POST {issuer}/password`: the change-password step of a sign-in whose password was correct
//! but expired (`endpoints/login.rs`). The new password is entered twice, must meet the
//! pool's policy (every unmet rule listed) and differ from the old one; it is stored with no
//! expiry and the sign-in continues to consent.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::end_users;
use crate::http::{OAuthForm, Ws};
use crate::identity::PasswordCredential;
use crate::interaction;
use crate::pages;
use crate::state::SharedState;
use crate::workspace::Listener;

pub async fn submit(State(state): State<SharedState>, Ws(ws): Ws, headers: HeaderMap, OAuthForm(form): OAuthForm) -> Response {
    let interaction_id = form.get("interaction_id").unwrap_or_default().to_owned();
    let mut interaction = match interaction::resume(&state, &ws, &headers, Some(&interaction_id), Some(form.get("csrf_token"))) {
        Ok(i) => i,
        Err(page) => return page,
    };
    let (Some(subject), Some(pool_id)) = (interaction.password_change_for.clone(), end_users::pool_of(&ws).map(str::to_owned)) else {
        return pages::error(StatusCode::BAD_REQUEST, "invalid_request", "this sign-in has no password to change; sign in first");
    };
    let client_name = ws.client(&interaction.client_id).map(|c| c.client_name.clone()).unwrap_or_default();
    let action = ws.endpoint(Listener::Tls, "password");
    let theme = state.theme(&ws);
    let again = |problems: &[String]| pages::change_password(&theme, &action, &interaction_id, &interaction.csrf_token, &client_name, problems);
    let (Some(pool), Some(user)) = (state.directory.pool(&pool_id), state.directory.user(&pool_id, &subject)) else {
        return pages::error(StatusCode::BAD_REQUEST, "invalid_request", "this account no longer exists");
    };
    let new_password = form.get("new_password").unwrap_or_default().to_owned();
    if form.get("confirm_password").unwrap_or_default() != new_password {
        return again(&["the two entries differ".to_owned()]);
    }
    let problems: Vec<String> = pool.password_policy.check(&new_password, user.identifier_values()).iter().map(ToString::to_string).collect();
    // The policy first: argon2 runs only for a password that could be accepted.
    if !problems.is_empty() {
        return again(&problems);
    }
    let old_hash = user.password.as_ref().map(|p| p.hash.clone()).unwrap_or_else(|| crate::endpoints::login::DUMMY_HASH.to_owned());
    let candidate = new_password.clone();
    let outcome = state
        .with_password_memory(move |memory| {
            let reused = crate::password::verify_in(&candidate, &old_hash, memory);
            (reused, crate::password::hash_in(&candidate, memory))
        })
        .await;
    let Some((reused, hashed)) = outcome else {
        return pages::error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "try again shortly");
    };
    if reused {
        return again(&["a password different from the expired one".to_owned()]);
    }
    let hash = match hashed {
        Ok(h) => h,
        Err(e) => return crate::error::OAuthError::server(e).into_response(),
    };
    {
        let _writer = state.directory.lock_writer().await;
        let Some(mut current) = state.directory.user(&pool_id, &subject) else {
            return pages::error(StatusCode::BAD_REQUEST, "invalid_request", "this account no longer exists");
        };
        let now = fapilab_jose::now();
        current.password = Some(PasswordCredential { hash, expires_at: None, changed_at: now });
        current.password_expires_at = None;
        current.updated_at = now;
        if let Err(e) = state.directory.put_user(&state.records, current) {
            return crate::error::OAuthError::server(e).into_response();
        }
    }
    tracing::info!(subject = %subject, "expired password changed");
    interaction.password_change_for = None;
    let amr = std::mem::take(&mut interaction.password_change_amr);
    if let Err(e) = interaction::save(&state, &ws, &interaction_id, &interaction) {
        return e.into_response();
    }
    let amr: Vec<&str> = amr.iter().map(String::as_str).collect();
    interaction::signed_in(&state, &ws, &interaction_id, &interaction, &subject, &amr)
}
