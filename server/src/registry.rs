//! Dynamically registered clients (RFC 7591 / RFC 7592) of one workspace.
//!
//! The store holds one [`RegisteredClientRecord`] per client — the validated metadata it
//! echoes, the SHA-256 of its registration access token and that token's expiry, and, in FDX
//! workspaces, its `fdx_client_status` with the history of changes (FDX-UPD-05). The
//! [`Registry`] keeps the runtime [`Client`] of each one in memory so that a token request
//! never reads the store to find its client; every change goes to the store first and then to
//! the map, under one writer lock, so the two never disagree for longer than a write.
//!
//! Invariants: a record's metadata always passed [`client_metadata::validate`] under the
//! workspace's rules; a registered client id never equals a configured client's id; a record
//! whose metadata no longer validates (the operator tightened the profile) is kept in the
//! store but not loaded, and the log says why.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::error::{OAuthError, OAuthResult};
use crate::protocol::client_metadata::{self, ClientMetadata, MetadataRules};
use crate::store::records::plain_key;
use crate::store::{Kind, Records, StoreError};
use crate::workspace::{Client, Listener, Workspace};

/// FDX client statuses (`shared/spec/fdx.md` §2), exact and case-sensitive (FDX-ST-06).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FdxStatus {
    Approved,
    Tentative,
    Pending,
    Rejected,
    Inactive,
}

impl FdxStatus {
    pub const ALL: [FdxStatus; 5] = [FdxStatus::Approved, FdxStatus::Tentative, FdxStatus::Pending, FdxStatus::Rejected, FdxStatus::Inactive];

    pub fn as_str(self) -> &'static str {
        match self {
            FdxStatus::Approved => "Approved",
            FdxStatus::Tentative => "Tentative",
            FdxStatus::Pending => "Pending",
            FdxStatus::Rejected => "Rejected",
            FdxStatus::Inactive => "Inactive",
        }
    }

    pub fn parse(value: &str) -> Option<FdxStatus> {
        FdxStatus::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// FDX-ST-01: only Approved and Tentative clients are active.
    pub fn is_active(self) -> bool {
        matches!(self, FdxStatus::Approved | FdxStatus::Tentative)
    }

    pub fn activity(self) -> &'static str {
        if self.is_active() { "active" } else { "inactive" }
    }
}

/// One status change, kept for audit (FDX-UPD-05).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusChange {
    pub status: FdxStatus,
    pub at: i64,
    /// The client whose `update_client_status` token made the change.
    pub by: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegisteredClientRecord {
    pub client_id: String,
    pub issued_at: i64,
    /// The validated, normalised metadata (what GET echoes).
    pub metadata: Map<String, Value>,
    /// SHA-256 (base64url) of the current registration access token.
    pub registration_token_hash: String,
    pub registration_token_expires_at: Option<i64>,
    pub fdx_status: Option<FdxStatus>,
    #[serde(default)]
    pub status_changes: Vec<StatusChange>,
    /// The key set last fetched from the client's `jwks_uri`, so a restart needs no network.
    #[serde(default)]
    pub fetched_jwks: Option<Value>,
}

impl RegisteredClientRecord {
    /// DCM-03: the presented token is this client's current, unexpired registration token.
    pub fn token_matches(&self, token: &str, now: i64) -> TokenCheck {
        if fapilab_jose::sha256_b64url(token.as_bytes()) != self.registration_token_hash {
            return TokenCheck::Wrong;
        }
        if self.registration_token_expires_at.is_some_and(|exp| exp <= now) {
            return TokenCheck::Expired;
        }
        TokenCheck::Valid
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenCheck {
    Valid,
    Wrong,
    Expired,
}

/// The runtime clients of a workspace's registrations.
#[derive(Default)]
pub struct Registry {
    clients: RwLock<HashMap<String, Arc<Client>>>,
    writer: Mutex<()>,
}

impl Registry {
    pub fn get(&self, client_id: &str) -> Option<Arc<Client>> {
        self.read().get(client_id).cloned()
    }

    pub fn len(&self) -> usize {
        self.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Held while a change goes to the store and then to the map.
    pub fn lock_for_write(&self) -> MutexGuard<'_, ()> {
        match self.writer.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    pub fn insert(&self, client: Arc<Client>) {
        match self.clients.write() {
            Ok(mut map) => map.insert(client.client_id.clone(), client),
            Err(poisoned) => poisoned.into_inner().insert(client.client_id.clone(), client),
        };
    }

    pub fn remove(&self, client_id: &str) {
        match self.clients.write() {
            Ok(mut map) => map.remove(client_id),
            Err(poisoned) => poisoned.into_inner().remove(client_id),
        };
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<Client>>> {
        match self.clients.read() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

pub fn record_key(ws: &Workspace, client_id: &str) -> String {
    plain_key(&ws.key, client_id)
}

pub fn rules(ws: &Workspace) -> MetadataRules<'_> {
    MetadataRules {
        policy: &ws.policy,
        scopes: &ws.settings.scopes,
        assertion_algorithms: &ws.assertion_algorithms,
        id_token_algorithm: ws.signing_key.algorithm(),
        jwks_uri_prefixes: &ws.settings.registration.jwks_uri_prefixes,
        ciba: ws.settings.ciba.enabled,
        notification_endpoint_prefixes: &ws.settings.ciba.notification_endpoint_prefixes,
    }
}

/// The runtime client of validated metadata; `fetched_jwks` holds the keys of its
/// `jwks_uri`, when it registered one.
pub fn client_from_metadata(client_id: &str, m: &ClientMetadata, fdx_status: Option<FdxStatus>, fetched_jwks: Option<&Value>) -> Result<Client, String> {
    let key_set = m.jwks.as_ref().or(fetched_jwks);
    let jwks = match key_set {
        Some(v) => fapilab_jose::Jwks::from_value(v).map_err(|e| format!("jwks: {e}"))?,
        None => fapilab_jose::Jwks::default(),
    };
    // A-IDT-03: the encryption key is picked once, from the same keys as the signature keys.
    let encryption = |registered: Option<crate::protocol::client_metadata::Encryption>, what: &str| match (registered, key_set) {
        (None, _) => Ok(None),
        (Some(e), Some(set)) => crate::workspace::ResponseEncryption::from_jwks(set, e.alg, e.enc)
            .map(Some)
            .map_err(|err| format!("{what}: no usable encryption key for {}: {err}", e.alg.as_str())),
        (Some(_), None) => Err(format!("{what}: encryption needs the client's keys (jwks or jwks_uri)")),
    };
    let id_token_encryption = encryption(m.id_token_encryption, "id_token_encrypted_response_alg")?;
    let authorization_encryption = encryption(m.authorization_encryption, "authorization_encrypted_response_alg")?;
    let self_signed_certificates = jwks.keys().iter().flat_map(|k| k.x5c_der().into_iter().take(1)).collect();
    Ok(Client {
        client_id: client_id.to_owned(),
        client_name: m.client_name.clone().unwrap_or_else(|| client_id.to_owned()),
        auth_method: m.auth_method,
        sender_constraint: Some(m.sender_constraint),
        jwks,
        tls_client_auth_subject_dn: m.tls_client_auth_subject_dn.clone(),
        tls_client_auth_san_dns: m.tls_client_auth_san_dns.clone(),
        self_signed_certificates,
        redirect_uris: m.redirect_uris.clone(),
        scopes: m.scopes.clone(),
        grant_types: m.grant_types.clone(),
        resource_server: false,
        tpp: None,
        registered: true,
        fdx_status,
        token_endpoint_auth_signing_alg: m.token_endpoint_auth_signing_alg,
        backchannel_client_notification_endpoint: m.backchannel_client_notification_endpoint.clone(),
        response_modes: m.response_modes.clone(),
        request_object_signing_alg: m.request_object_signing_alg,
        backchannel_request_signing_alg: m.backchannel_request_signing_alg,
        id_token_encryption,
        authorization_encryption,
        response_types: Some(m.response_types.clone()),
        require_pushed_authorization_requests: m.require_pushed_authorization_requests,
        require_signed_request_object: m.require_signed_request_object,
    })
}

/// Rebuilds the runtime client of a stored record.
pub fn client_from_record(ws: &Workspace, record: &RegisteredClientRecord) -> Result<Client, String> {
    let metadata = client_metadata::validate(&record.metadata, &rules(ws)).map_err(|v| v.to_string())?;
    client_from_metadata(&record.client_id, &metadata, record.fdx_status, record.fetched_jwks.as_ref())
}

/// Fetches and checks the key set at a registered `jwks_uri` (DCR-04: public keys only).
pub async fn fetch_client_keys(fetcher: &crate::outbound::Outbound, uri: &str) -> Result<Value, String> {
    let value = fetcher.fetch(uri).await?;
    client_metadata::public_jwks(&value).map(|(v, _)| v).map_err(|v| format!("{uri}: {v}"))
}

/// Re-fetches every `jwks_uri` key set of the workspace (key rotation). A failed fetch keeps
/// the keys the client had: an unreachable key store must not lock a client out, and the
/// operator log says what failed.
pub async fn refresh_remote_keys(state: &crate::state::AppState, ws: &Workspace) {
    let prefix = plain_key(&ws.key, "");
    let listed = match state.records.store().list(Kind::RegisteredClient, &prefix) {
        Ok(listed) => listed,
        Err(e) => {
            tracing::warn!(workspace = %ws.key, error = %e, "listing registered clients for a key refresh failed");
            return;
        }
    };
    for (key, value) in listed {
        let Some(uri) = value.get("metadata").and_then(|m| m.get("jwks_uri")).and_then(Value::as_str).map(str::to_owned) else { continue };
        let keys = match fetch_client_keys(&state.outbound, &uri).await {
            Ok(keys) => keys,
            Err(why) => {
                tracing::warn!(workspace = %ws.key, %key, %why, "refreshing a client's jwks_uri failed; keeping its previous keys");
                continue;
            }
        };
        let _writing = ws.registry.lock_for_write();
        // Only if the client still publishes its keys there: a PUT may have moved it meanwhile.
        let still_there = |r: &RegisteredClientRecord| r.metadata.get("jwks_uri").and_then(Value::as_str) == Some(uri.as_str());
        let updated = state.records.modify::<RegisteredClientRecord>(Kind::RegisteredClient, &key, |r| {
            let changed = still_there(r) && r.fetched_jwks.as_ref() != Some(&keys);
            if changed {
                r.fetched_jwks = Some(keys.clone());
            }
            changed
        });
        if let Ok(Some(mut record)) = updated
            && still_there(&record)
        {
            record.fetched_jwks = Some(keys);
            match client_from_record(ws, &record) {
                Ok(client) => ws.registry.insert(Arc::new(client)),
                Err(why) => tracing::warn!(workspace = %ws.key, %key, %why, "refreshed keys did not build a client"),
            }
        }
    }
}

/// Loads every registered client of `ws` from the store (at startup). Returns how many.
pub fn load(ws: &Workspace, records: &Records) -> Result<usize, StoreError> {
    let prefix = plain_key(&ws.key, "");
    let mut loaded = 0;
    for (key, value) in records.store().list(Kind::RegisteredClient, &prefix)? {
        let record: RegisteredClientRecord = serde_json::from_value(value)
            .map_err(|e| StoreError::Corrupt { kind: Kind::RegisteredClient.as_str(), key: key.clone(), reason: e.to_string() })?;
        match client_from_record(ws, &record) {
            Ok(client) => {
                ws.registry.insert(Arc::new(client));
                loaded += 1;
            }
            Err(why) => {
                tracing::error!(workspace = %ws.key, client_id = %record.client_id, %why, "registered client no longer valid under this workspace's rules; not loaded");
            }
        }
    }
    Ok(loaded)
}

/// FDX-ST-02: an inactive client obtains no token anywhere.
pub fn ensure_active(client: &Client) -> OAuthResult<()> {
    match client.fdx_status {
        Some(status) if !status.is_active() => Err(OAuthError::unauthorized_client(format!(
            "client {} has status {}; only Approved or Tentative clients obtain tokens [FDX-ST-02]",
            client.client_id,
            status.as_str()
        ))),
        _ => Ok(()),
    }
}

/// The client information response (RFC 7591 §3.2.1, RFC 7592 §3, FDX-DCR-03).
/// `registration_access_token` only when one was just issued to the client itself.
pub fn information(ws: &Workspace, listener: Listener, record: &RegisteredClientRecord, registration_access_token: Option<&str>) -> Value {
    let mut body = record.metadata.clone();
    body.insert("client_id".into(), json!(record.client_id));
    body.insert("client_id_issued_at".into(), json!(record.issued_at));
    body.insert("registration_client_uri".into(), json!(ws.endpoint(listener, &format!("register/{}", record.client_id))));
    if let Some(token) = registration_access_token {
        body.insert("registration_access_token".into(), json!(token));
    }
    if let Some(status) = record.fdx_status {
        body.insert("fdx_client_status".into(), json!(status.as_str()));
        body.insert("client_status".into(), json!(status.activity()));
    }
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_exact_strings_and_map_to_activity() {
        for s in FdxStatus::ALL {
            assert_eq!(FdxStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).expect("json"), json!(s.as_str()));
        }
        assert_eq!(FdxStatus::parse("approved"), None, "FDX-ST-06: case-sensitive");
        let active: Vec<_> = FdxStatus::ALL.into_iter().filter(|s| s.is_active()).collect();
        assert_eq!(active, [FdxStatus::Approved, FdxStatus::Tentative]);
    }

    #[test]
    fn registration_tokens_are_compared_by_hash_and_expire() {
        let record = RegisteredClientRecord {
            client_id: "c".into(),
            issued_at: 0,
            metadata: Map::new(),
            registration_token_hash: fapilab_jose::sha256_b64url(b"rat"),
            registration_token_expires_at: Some(100),
            fdx_status: None,
            status_changes: Vec::new(),
            fetched_jwks: None,
        };
        assert_eq!(record.token_matches("rat", 99), TokenCheck::Valid);
        assert_eq!(record.token_matches("rat", 100), TokenCheck::Expired);
        assert_eq!(record.token_matches("other", 99), TokenCheck::Wrong);
    }
}
