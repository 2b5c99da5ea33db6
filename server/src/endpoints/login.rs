//! The login form's target. Checks the interaction, its CSRF token and the password
//! (argon2id), opens a session and sends the browser on to consent with a 303 (AZ-10, AZ-11).

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::http::{OAuthForm, Ws};
use crate::interaction;
use crate::pages;
use crate::state::SharedState;
use crate::workspace::Listener;

pub async fn submit(State(state): State<SharedState>, Ws(ws): Ws, headers: HeaderMap, OAuthForm(form): OAuthForm) -> Response {
    let interaction_id = form.get("interaction_id").unwrap_or_default().to_owned();
    let interaction = match interaction::resume(&state, &ws, &headers, Some(&interaction_id), Some(form.get("csrf_token"))) {
        Ok(i) => i,
        Err(page) => return page,
    };
    let client_name = ws.client(&interaction.client_id).map(|c| c.client_name.clone()).unwrap_or_default();
    let username = form.get("username").unwrap_or_default();
    let password = form.get("password").unwrap_or_default();
    let user = ws.users.get(username);
    // Verify against a real hash even for unknown users, so timing does not reveal them.
    let hash = user.map(|u| u.password_hash.clone()).unwrap_or_else(|| DUMMY_HASH.to_owned());
    let candidate = password.to_owned();
    // argon2 is deliberately slow and memory-hard: keep it off the async workers, and bounded.
    let verified = state.with_password_memory(move |memory| crate::password::verify_in(&candidate, &hash, memory)).await.unwrap_or(false);
    let password_ok = verified && user.is_some();
    let Some(user) = user.filter(|_| password_ok) else {
        tracing::info!("login failed");
        return pages::login(
            &ws.endpoint(Listener::Tls, "login"),
            &interaction_id,
            &interaction.csrf_token,
            &client_name,
            Some("The username or password is not right."),
        );
    };
    let (session_id, _) = match interaction::create_session(&state, &ws, &user.subject) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    tracing::info!(subject = %user.subject, "user signed in");
    let target = format!("{}?interaction_id={}", ws.endpoint(Listener::Tls, "consent"), interaction_id);
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(location) = HeaderValue::from_str(&target) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    interaction::set_cookie(&mut response, &ws, interaction::SESSION_COOKIE, &session_id, interaction::SESSION_LIFETIME);
    response
}

/// argon2id of a random string nobody knows; used only to spend the same time.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$5b1x5H0mGvmcC7y8P0fE2m0kqk9b0hX1oGqgQk3x2f8";

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
