//! The end users of a workspace, wherever they are kept: the configured users, or — when the
//! workspace names an `identity_pool` — that pool's users (`identity`). Login, consent,
//! sessions and UserInfo ask here, so they work the same for both.
//!
//! A pool user's subject is its user id: stable, opaque and unique (`subject_types_supported`
//! is `public`). A configured user's is the per-workspace hash of its username.

use crate::identity::{AddressKind, IdentifierKind, PoolUser};
use crate::state::AppState;
use crate::workspace::Workspace;

/// What login and UserInfo need to know about one end user.
#[derive(Clone)]
pub struct EndUser {
    pub subject: String,
    /// What the user types to sign in (shown on the consent page).
    pub login: String,
    pub name: Option<String>,
    /// An email address and whether it is verified (OIDC §5.1 `email_verified`).
    pub email: Option<(String, bool)>,
    pub password: Password,
    /// When the password was last set: sessions opened before it no longer count.
    pub password_changed_at: i64,
}

impl std::fmt::Debug for EndUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndUser").field("subject", &self.subject).field("login", &self.login).field("password", &self.password).finish()
    }
}

/// The state of an end user's password.
#[derive(Clone)]
pub enum Password {
    /// argon2id PHC string; `expired` sends the user to a change-password step.
    Set { hash: String, expired: bool },
    /// None yet (imported without one).
    NotSet,
}

/// Never the hash.
impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Password::Set { expired, .. } => f.debug_struct("Set").field("hash", &"<redacted>").field("expired", expired).finish(),
            Password::NotSet => f.write_str("NotSet"),
        }
    }
}

/// The pool a workspace authenticates against, if it names one.
pub fn pool_of(ws: &Workspace) -> Option<&str> {
    ws.settings.identity_pool.as_deref()
}

/// The user who signs in as `login`: a configured username, or any identifier of a pool user.
pub fn by_login(state: &AppState, ws: &Workspace, login: &str) -> Option<EndUser> {
    match pool_of(ws) {
        Some(pool) => state.directory.find_by_identifier(pool, login).map(|u| from_pool(&u, login)),
        None => ws.users.get(login).map(|u| EndUser {
            subject: u.subject.clone(),
            login: u.username.clone(),
            name: u.name.clone(),
            email: u.email.clone().map(|e| (e, true)),
            password: Password::Set { hash: u.password_hash.clone(), expired: false },
            password_changed_at: 0,
        }),
    }
}

pub fn by_subject(state: &AppState, ws: &Workspace, subject: &str) -> Option<EndUser> {
    match pool_of(ws) {
        Some(pool) => state.directory.user(pool, subject).map(|u| {
            let login = u.identifiers.first().map(|i| i.value.clone()).unwrap_or_default();
            from_pool(&u, &login)
        }),
        None => ws.users.values().find(|u| u.subject == subject).and_then(|u| by_login(state, ws, &u.username)),
    }
}

fn from_pool(user: &PoolUser, login: &str) -> EndUser {
    let now = fapilab_jose::now();
    let email = user
        .addresses
        .iter()
        .filter(|a| a.kind == AddressKind::Email)
        .max_by_key(|a| a.verified)
        .map(|a| (a.value.clone(), a.verified))
        .or_else(|| user.identifiers.iter().find(|i| i.kind == IdentifierKind::Email).map(|i| (i.value.clone(), false)));
    EndUser {
        subject: user.id.clone(),
        login: login.to_owned(),
        name: Some(user.name.clone()),
        email,
        password_changed_at: user.password.as_ref().map_or(0, |p| p.changed_at),
        password: match &user.password {
            Some(p) => Password::Set { hash: p.hash.clone(), expired: p.expires_at.is_some_and(|t| t <= now) },
            None => Password::NotSet,
        },
    }
}
