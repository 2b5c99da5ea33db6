//! Shared state handed to every handler.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use crate::protocol::replay::ReplayCache;
use crate::store::Records;
use crate::workspace::Workspace;

pub struct AppState {
    /// Keyed by `tenant/workspace`.
    pub workspaces: HashMap<String, Arc<Workspace>>,
    pub records: Records,
    /// PKJ-04: client assertion `jti`s seen, until their `exp`.
    pub assertion_replay: ReplayCache,
    /// DP-13: DPoP proof `jti`s seen, until the proof would be too old anyway.
    pub dpop_replay: ReplayCache,
    /// argon2id takes ~19 MiB per verification: at most this many run at once, each in one of
    /// `password_memory`'s reusable buffers, so a burst of logins queues instead of growing
    /// the process.
    pub password_slots: tokio::sync::Semaphore,
    pub password_memory: std::sync::Mutex<Vec<Vec<argon2::Block>>>,
    pub hsts_max_age: u64,
    /// RFC 9440 `Client-Cert` is honoured only from these peers (empty: never).
    pub client_cert_proxies: Vec<IpAddr>,
    /// Fetches registered clients' `jwks_uri` key sets.
    pub outbound: crate::outbound::Outbound,
    /// Test-only removed protections (always empty without the `fault-injection` feature).
    pub faults: crate::faults::FaultSet,
    /// Identity pools and their users.
    pub directory: crate::identity::Directory,
    /// SHA-256 of each admin API token (`admin.tokens`).
    pub admin_token_hashes: Vec<String>,
    /// Where one-time codes are delivered (read through the admin API).
    pub inbox: crate::inbox::Inbox,
    /// Per-user limits on one-time codes sent and guessed.
    pub otp_throttle: crate::identity::otp::Throttle,
    /// Recent wrong passwords per account (`endpoints/login.rs`).
    pub password_failures: crate::identity::attempts::Attempts,
    /// Each workspace's active custom theme, compiled (absent: the built-in one).
    pub themes: std::sync::RwLock<HashMap<String, Arc<crate::theme::Theme>>>,
    /// Passkey ceremonies in progress and the passkey records' writer lock.
    pub passkeys: crate::identity::passkeys::Passkeys,
}

pub type SharedState = Arc<AppState>;

impl AppState {
    /// The theme `ws`'s pages render with.
    pub fn theme(&self, ws: &Workspace) -> Arc<crate::theme::Theme> {
        let themes = self.themes.read().unwrap_or_else(|e| e.into_inner());
        themes.get(&ws.key).cloned().unwrap_or_else(crate::theme::builtin)
    }

    /// Runs argon2 work off the async workers, in one of the bounded `password_slots`, with a
    /// reused `password_memory` buffer. `None` when the work could not run (shutdown).
    pub async fn with_password_memory<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<argon2::Block>) -> T + Send + 'static,
    ) -> Option<T> {
        let _slot = self.password_slots.acquire().await.ok()?;
        let mut memory = self.password_memory.lock().map(|mut pool| pool.pop().unwrap_or_default()).unwrap_or_default();
        let (out, memory) = tokio::task::spawn_blocking(move || {
            let out = work(&mut memory);
            (out, memory)
        })
        .await
        .ok()?;
        if let Ok(mut pool) = self.password_memory.lock() {
            pool.push(memory);
        }
        Some(out)
    }

    pub fn workspace(&self, tenant: &str, workspace: &str) -> Option<&Arc<Workspace>> {
        self.workspaces.get(&format!("{tenant}/{workspace}"))
    }
}
