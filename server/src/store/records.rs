//! Typed records on top of the [`Store`] trait.
//!
//! Keys: pushed requests and interactions by their random handle (already unguessable and
//! never a credential on their own); codes, tokens and sessions by the SHA-256 of their value.
//! Every key is prefixed with the workspace so no record can cross workspaces.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Kind, Store, StoreError, Update};

/// The authorization request as pushed (RFC 9126) and validated.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthorizationParams {
    pub response_type: String,
    pub redirect_uri: String,
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub code_challenge_method: String,
    /// RFC 9449 §10: the DPoP key the code is bound to.
    pub dpop_jkt: Option<String>,
    pub acr_values: Option<String>,
    /// An `acr` the client marked essential through the `claims` parameter.
    pub essential_acr: Option<Vec<String>>,
    pub max_age: Option<i64>,
    pub prompt: Option<String>,
    /// `None`: the query; the JARM modes (`jwt`, `query.jwt`, …) sign the response.
    #[serde(default)]
    pub response_mode: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PushedRequest {
    pub client_id: String,
    pub params: AuthorizationParams,
    pub expires_at: i64,
    /// AZ-15: consumed when the authorization completes, not when the page loads.
    pub used: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthorizationCode {
    pub client_id: String,
    pub params: AuthorizationParams,
    pub subject: String,
    pub auth_time: i64,
    pub acr: Option<String>,
    /// RFC 8176 methods the user authenticated with (`pwd`, `otp`, …); empty in records
    /// written before methods were kept.
    #[serde(default)]
    pub amr: Vec<String>,
    pub expires_at: i64,
    /// Set on first redemption: the grant it created, revoked if the code comes back.
    pub redeemed_grant: Option<String>,
}

/// What a resource owner (or, for client_credentials, the client) granted one client.
/// Tokens point at their grant; revoking the grant revokes them all (FAPI2-SP-SC-06).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Grant {
    pub client_id: String,
    pub subject: Option<String>,
    pub scope: String,
    pub auth_time: Option<i64>,
    pub acr: Option<String>,
    /// RFC 8176 methods of the authentication behind the grant (empty: none recorded).
    #[serde(default)]
    pub amr: Vec<String>,
    pub created_at: i64,
    pub revoked: bool,
}

/// Proof-of-possession confirmation (RFC 7800 `cnf`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Confirmation {
    /// RFC 9449 §6: JWK SHA-256 thumbprint.
    Jkt(String),
    /// RFC 8705 §3.1: certificate SHA-256 thumbprint.
    X5tS256(String),
    /// Bound to nothing: only ever issued under the test-only fault
    /// `sender_constraint_required` (FAPI2-SP-AS-04 forbids it).
    Unbound,
}

impl Confirmation {
    pub fn to_cnf(&self) -> Value {
        match self {
            Confirmation::Jkt(t) => serde_json::json!({ "jkt": t }),
            Confirmation::X5tS256(t) => serde_json::json!({ "x5t#S256": t }),
            Confirmation::Unbound => Value::Null,
        }
    }
    pub fn token_type(&self) -> &'static str {
        match self {
            Confirmation::Jkt(_) => "DPoP",
            Confirmation::X5tS256(_) | Confirmation::Unbound => "Bearer",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessTokenRecord {
    pub grant_id: String,
    pub client_id: String,
    pub subject: Option<String>,
    pub scope: String,
    pub jti: String,
    pub cnf: Confirmation,
    pub issued_at: i64,
    pub expires_at: i64,
    pub revoked: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshTokenRecord {
    pub grant_id: String,
    pub client_id: String,
    pub cnf: Confirmation,
    pub issued_at: i64,
    pub expires_at: i64,
    pub revoked: bool,
    /// AS-10: when rotation replaced this token, it keeps working until this moment.
    pub retired_until: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub subject: String,
    pub auth_time: i64,
    pub acr: String,
    pub amr: Vec<String>,
    pub expires_at: i64,
    /// Hidden field of the account page's forms (CSRF, PK-05).
    #[serde(default)]
    pub csrf_token: String,
}

/// One browser's walk through login and consent for one pushed request — or, with an empty
/// `request_handle` and `client_id`, through login to the account page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Interaction {
    pub request_handle: String,
    pub client_id: String,
    /// Set as a cookie and required back: the form cannot be replayed from another browser.
    pub browser_binding: String,
    /// Hidden form field: proves the POST came from our page (CSRF).
    pub csrf_token: String,
    pub expires_at: i64,
    /// Set when the user proved a correct but expired password: the subject who must choose a
    /// new one before the interaction goes on.
    #[serde(default)]
    pub password_change_for: Option<String>,
    /// How that subject authenticated (RFC 8176): the session opened after the change says so.
    #[serde(default)]
    pub password_change_amr: Vec<String>,
}

/// Where a CIBA authentication request stands (CIBA §11).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum BackchannelStatus {
    Pending,
    Approved { auth_time: i64 },
    Denied,
    /// Tokens were issued; the `auth_req_id` is spent (CIBA-06).
    Redeemed,
}

/// A CIBA authentication request (CIBA §7), stored under the hash of its `auth_req_id`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackchannelRequest {
    /// What the authentication device and its API call the request (never the `auth_req_id`,
    /// which only the client holds).
    pub device_id: String,
    pub client_id: String,
    pub subject: String,
    pub username: String,
    pub scope: String,
    pub acr: Option<String>,
    pub binding_message: String,
    pub expires_at: i64,
    /// CIBA-06: minimum seconds between polls; grows by 5 after each `slow_down`.
    pub interval: i64,
    /// When the client last polled, in Unix milliseconds: whole seconds cannot tell a poll
    /// 0.2 s later from one a second later when the two straddle a second boundary.
    #[serde(default)]
    pub last_poll_ms: Option<i64>,
    pub status: BackchannelStatus,
    /// Ping mode: where and with which token to notify the client.
    pub notification: Option<PingNotification>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PingNotification {
    pub endpoint: String,
    pub client_notification_token: String,
    /// The `auth_req_id` to send (the client knows it already; stored only for ping clients).
    pub auth_req_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Consent {
    pub scope: String,
    pub granted_at: i64,
}

/// Typed access to the store for one server.
///
/// Grants are read on every token request and every token check but change rarely (a
/// revocation), so they are cached here. Every grant write goes through `Records`, which
/// drops the cached copy first, so the cache never answers with a grant older than the
/// store's; purging expired records clears it.
#[derive(Clone)]
pub struct Records {
    store: Arc<dyn Store>,
    batch: super::batch::BatchWriter,
    grants: Arc<std::sync::Mutex<std::collections::HashMap<String, Grant>>>,
}

/// Cached grants beyond this many are dropped all at once (the cache refills from the store).
const GRANT_CACHE_CAPACITY: usize = 100_000;

pub fn secret_key(workspace: &str, secret: &str) -> String {
    format!("{workspace}|{}", fapilab_jose::sha256_b64url(secret.as_bytes()))
}

pub fn plain_key(workspace: &str, id: &str) -> String {
    format!("{workspace}|{id}")
}

fn decode<T: DeserializeOwned>(kind: Kind, key: &str, v: Value) -> Result<T, StoreError> {
    serde_json::from_value(v).map_err(|e| StoreError::Corrupt { kind: kind.as_str(), key: key.to_owned(), reason: e.to_string() })
}

fn encode<T: Serialize>(value: &T) -> Result<Value, StoreError> {
    serde_json::to_value(value).map_err(|e| StoreError::Backend(e.to_string()))
}

impl Records {
    pub fn new(store: Arc<dyn Store>) -> Records {
        Records { batch: super::batch::BatchWriter::start(store.clone()), store, grants: Arc::default() }
    }

    fn cached_grants(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, Grant>> {
        match self.grants.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn forget(&self, kind: Kind, key: &str) {
        if kind == Kind::Grant {
            self.cached_grants().remove(key);
        }
    }

    /// A grant, from the cache or the store.
    pub fn grant(&self, grant_key: &str) -> Result<Option<Grant>, StoreError> {
        if let Some(grant) = self.cached_grants().get(grant_key) {
            return Ok(Some(grant.clone()));
        }
        let found = self.get::<Grant>(Kind::Grant, grant_key)?;
        if let Some(grant) = &found {
            let mut cache = self.cached_grants();
            if cache.len() >= GRANT_CACHE_CAPACITY {
                cache.clear();
            }
            cache.insert(grant_key.to_owned(), grant.clone());
        }
        Ok(found)
    }

    /// Removes expired records from the store and every cached copy.
    pub fn purge_expired(&self, now: i64) -> Result<usize, StoreError> {
        let purged = self.store.purge_expired(now)?;
        self.cached_grants().clear();
        Ok(purged)
    }

    /// A typed record as a write for [`Records::write_batched`].
    pub fn pending<T: Serialize>(kind: Kind, key: String, expires_at: Option<i64>, value: &T) -> Result<super::batch::PendingWrite, StoreError> {
        Ok(super::batch::PendingWrite { kind, key, expires_at, data: encode(value)? })
    }

    /// Commits `writes` together with other requests' (group commit) and returns once they
    /// are durable; the hot path of the token endpoint.
    pub async fn write_batched(&self, writes: Vec<super::batch::PendingWrite>) -> Result<(), StoreError> {
        if writes.is_empty() {
            return Ok(());
        }
        self.batch.write(writes).await
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn put<T: Serialize>(&self, kind: Kind, key: &str, expires_at: Option<i64>, value: &T) -> Result<(), StoreError> {
        self.forget(kind, key);
        self.store.put(kind, key, expires_at, &encode(value)?)
    }

    pub fn get<T: DeserializeOwned>(&self, kind: Kind, key: &str) -> Result<Option<T>, StoreError> {
        self.store.get(kind, key)?.map(|v| decode(kind, key, v)).transpose()
    }

    pub fn delete(&self, kind: Kind, key: &str) -> Result<bool, StoreError> {
        self.forget(kind, key);
        self.store.delete(kind, key)
    }

    /// Atomically applies `change` to a typed record; returns the record as it was.
    pub fn modify<T: Serialize + DeserializeOwned>(
        &self,
        kind: Kind,
        key: &str,
        mut change: impl FnMut(&mut T) -> bool,
    ) -> Result<Option<T>, StoreError> {
        self.forget(kind, key);
        let mut failure = None;
        let before = self.store.update(kind, key, &mut |v| {
            let mut record: T = match serde_json::from_value(v.clone()) {
                Ok(r) => r,
                Err(e) => {
                    failure = Some(StoreError::Corrupt { kind: kind.as_str(), key: key.to_owned(), reason: e.to_string() });
                    return Update::Keep;
                }
            };
            if !change(&mut record) {
                return Update::Keep;
            }
            match serde_json::to_value(&record) {
                Ok(after) => Update::Replace(after),
                Err(e) => {
                    failure = Some(StoreError::Backend(e.to_string()));
                    Update::Keep
                }
            }
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        before.map(|v| decode(kind, key, v)).transpose()
    }

    /// Atomically removes a record and returns it (single-use values).
    pub fn take<T: DeserializeOwned>(&self, kind: Kind, key: &str) -> Result<Option<T>, StoreError> {
        self.forget(kind, key);
        self.store.update(kind, key, &mut |_| Update::Delete)?.map(|v| decode(kind, key, v)).transpose()
    }

    pub fn revoke_grant(&self, grant_key: &str) -> Result<bool, StoreError> {
        Ok(self
            .modify::<Grant>(Kind::Grant, grant_key, |g| {
                let changed = !g.revoked;
                g.revoked = true;
                changed
            })?
            .is_some())
    }

    pub fn grant_active(&self, grant_key: &str) -> Result<Option<Grant>, StoreError> {
        Ok(self.grant(grant_key)?.filter(|g| !g.revoked))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;

    #[test]
    fn secrets_are_stored_hashed() {
        let key = secret_key("t/w", "s3cret");
        assert!(!key.contains("s3cret"));
        assert!(key.starts_with("t/w|"));
    }

    #[test]
    fn revoking_a_grant_is_idempotent() {
        let r = Records::new(Arc::new(MemoryStore::default()));
        let g = Grant { client_id: "c".into(), subject: None, scope: "a".into(), auth_time: None, acr: None, amr: Vec::new(), created_at: 0, revoked: false };
        r.put(Kind::Grant, "k", None, &g).expect("put");
        assert!(r.grant_active("k").expect("get").is_some());
        assert!(r.revoke_grant("k").expect("revoke"));
        assert!(r.grant_active("k").expect("get").is_none());
        assert!(!r.revoke_grant("missing").expect("revoke"));
    }

    #[test]
    fn the_grant_cache_never_outlives_a_change() {
        let r = Records::new(Arc::new(MemoryStore::default()));
        let g = Grant { client_id: "c".into(), subject: None, scope: "a".into(), auth_time: None, acr: None, amr: Vec::new(), created_at: 0, revoked: false };
        r.put(Kind::Grant, "k", None, &g).expect("put");
        assert!(r.grant_active("k").expect("cached now").is_some());
        assert!(r.revoke_grant("k").expect("revoke"));
        assert!(r.grant_active("k").expect("get").is_none(), "revocation is seen at once");
        r.put(Kind::Grant, "k", None, &g).expect("put again");
        assert!(r.grant_active("k").expect("get").is_some());
        assert!(r.delete(Kind::Grant, "k").expect("delete"));
        assert!(r.grant("k").expect("get").is_none(), "deletion is seen at once");
    }
}
