//! Identity pools: the end users a workspace authenticates, managed through the admin API
//! (`endpoints/admin.rs`).
//!
//! A [`Pool`] holds [`PoolUser`]s and says how they sign in: its [`PasswordPolicy`] and its
//! preferred authentication mechanism. A user has identifiers (email, mobile, uuid, or an
//! external identifier with its type and source), addresses that can be verified, and
//! credentials — an argon2id password with an optional expiry. Pools and users live in the
//! store (they survive a restart) and in the in-memory [`Directory`], loaded at startup and
//! written through: the store first, then memory, under one writer lock.
//!
//! Invariants: a password hash never leaves this module except to the verifier (views show
//! only whether one is set and when it expires); identifier values are unique per pool,
//! across types and case-insensitively, because sign-in accepts any of them.

pub mod attempts;
pub mod otp;
pub mod pagination;
pub mod passkeys;
pub mod policy;

use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::store::{Kind, Records, StoreError};
pub use policy::PasswordPolicy;

/// How a pool's login page asks users to sign in first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mechanism {
    #[default]
    Password,
    EmailOtp,
    SmsOtp,
    Passkey,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pool {
    pub id: String,
    pub name: String,
    pub password_policy: PasswordPolicy,
    pub preferred_mechanism: Mechanism,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentifierKind {
    Email,
    Mobile,
    Uuid,
    External,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Identifier {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: IdentifierKind,
    pub value: String,
    /// External identifiers: the identifier's own type (e.g. `customer_number`) and the
    /// system that issued it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddressKind {
    Email,
    Mobile,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Address {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: AddressKind,
    pub value: String,
    pub verified: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified_at: Option<i64>,
}

/// An argon2id password (PHC string) and when it stops working.
#[derive(Clone, Serialize, Deserialize)]
pub struct PasswordCredential {
    pub hash: String,
    /// After this instant verification succeeds only into a change-password step.
    pub expires_at: Option<i64>,
    pub changed_at: i64,
}

impl std::fmt::Debug for PasswordCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordCredential").field("hash", &"<redacted>").field("expires_at", &self.expires_at).finish()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PoolUser {
    pub id: String,
    pub pool_id: String,
    pub name: String,
    pub identifiers: Vec<Identifier>,
    pub addresses: Vec<Address>,
    pub password: Option<PasswordCredential>,
    /// A user imported without a password: one is set at first sign-in.
    #[serde(default)]
    pub password_expires_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl PoolUser {
    /// What the admin API shows: everything but the password hash.
    pub fn view(&self) -> Value {
        let expires_at = self.password.as_ref().and_then(|p| p.expires_at).or(self.password_expires_at);
        json!({
            "id": self.id,
            "pool_id": self.pool_id,
            "name": self.name,
            "identifiers": self.identifiers,
            "addresses": self.addresses,
            "password": { "set": self.password.is_some(), "expires_at": expires_at },
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }

    pub fn identifier_values(&self) -> impl Iterator<Item = &str> {
        self.identifiers.iter().map(|i| i.value.as_str())
    }
}

impl pagination::Listed for Pool {
    fn id(&self) -> &str {
        &self.id
    }
    fn name(&self) -> &str {
        &self.name
    }
}

impl pagination::Listed for PoolUser {
    fn id(&self) -> &str {
        &self.id
    }
    fn name(&self) -> &str {
        &self.name
    }
}

/// Normalised for uniqueness: emails compare case-insensitively (RFC 5321 local parts may be
/// case-sensitive, but no bank treats `Alice@` and `alice@` as two customers).
pub fn normalised(kind: IdentifierKind, value: &str) -> String {
    match kind {
        IdentifierKind::Email | IdentifierKind::Uuid => value.trim().to_lowercase(),
        IdentifierKind::Mobile | IdentifierKind::External => value.trim().to_owned(),
    }
}

/// Pools and users in memory, written through to the store.
#[derive(Default)]
pub struct Directory {
    inner: RwLock<Contents>,
    /// Serialises writers: a change is decided on current contents, stored, then applied.
    writer: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Contents {
    pools: BTreeMap<String, Pool>,
    /// By (pool id, user id).
    users: BTreeMap<(String, String), PoolUser>,
    /// (pool id, [`identifier_key`]) → user id: sign-in and duplicate checks without a scan.
    by_identifier: HashMap<(String, String), String>,
}

/// An identifier as the index knows it: normalised, then ASCII case folded — the
/// equivalence under which identifier values are unique in a pool.
fn identifier_key(kind: IdentifierKind, value: &str) -> String {
    normalised(kind, value).to_ascii_lowercase()
}

impl Contents {
    fn insert_user(&mut self, user: PoolUser) {
        self.remove_user(&user.pool_id, &user.id);
        for i in &user.identifiers {
            self.by_identifier.insert((user.pool_id.clone(), identifier_key(i.kind, &i.value)), user.id.clone());
        }
        self.users.insert((user.pool_id.clone(), user.id.clone()), user);
    }

    fn remove_user(&mut self, pool_id: &str, user_id: &str) {
        if let Some(old) = self.users.remove(&(pool_id.to_owned(), user_id.to_owned())) {
            for i in &old.identifiers {
                self.by_identifier.remove(&(pool_id.to_owned(), identifier_key(i.kind, &i.value)));
            }
        }
    }
}

fn user_key(pool_id: &str, user_id: &str) -> String {
    format!("{pool_id}/{user_id}")
}

impl Directory {
    /// Loads every pool and user from the store.
    pub fn load(records: &Records) -> Result<Directory, StoreError> {
        let mut contents = Contents::default();
        let corrupt = |kind: Kind, key: &str, e: serde_json::Error| StoreError::Corrupt { kind: kind.as_str(), key: key.to_owned(), reason: e.to_string() };
        for (key, value) in records.store().list(Kind::IdentityPool, "")? {
            let pool: Pool = serde_json::from_value(value).map_err(|e| corrupt(Kind::IdentityPool, &key, e))?;
            contents.pools.insert(pool.id.clone(), pool);
        }
        for (key, value) in records.store().list(Kind::PoolUser, "")? {
            let user: PoolUser = serde_json::from_value(value).map_err(|e| corrupt(Kind::PoolUser, &key, e))?;
            if !contents.pools.contains_key(&user.pool_id) {
                tracing::warn!(pool = %user.pool_id, user = %user.id, "a user of a deleted pool is left in the store; skipped");
                continue;
            }
            contents.insert_user(user);
        }
        Ok(Directory { inner: RwLock::new(contents), writer: tokio::sync::Mutex::new(()) })
    }

    pub async fn lock_writer(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.writer.lock().await
    }

    pub fn pools(&self) -> Vec<Pool> {
        self.read(|c| c.pools.values().cloned().collect())
    }

    pub fn pool(&self, id: &str) -> Option<Pool> {
        self.read(|c| c.pools.get(id).cloned())
    }

    pub fn users(&self, pool_id: &str) -> Vec<PoolUser> {
        self.read(|c| c.users.range((pool_id.to_owned(), String::new())..).take_while(|((p, _), _)| p == pool_id).map(|(_, u)| u.clone()).collect())
    }

    pub fn user(&self, pool_id: &str, user_id: &str) -> Option<PoolUser> {
        self.read(|c| c.users.get(&(pool_id.to_owned(), user_id.to_owned())).cloned())
    }

    /// The user of `pool_id` with an identifier equal to `value` (any kind, compared as that
    /// kind compares), if any.
    pub fn find_by_identifier(&self, pool_id: &str, value: &str) -> Option<PoolUser> {
        self.read(|c| {
            let kinds = [IdentifierKind::Email, IdentifierKind::Mobile, IdentifierKind::Uuid, IdentifierKind::External];
            kinds
                .iter()
                .filter_map(|k| c.by_identifier.get(&(pool_id.to_owned(), identifier_key(*k, value))))
                .filter_map(|id| c.users.get(&(pool_id.to_owned(), id.clone())))
                .find(|u| u.identifiers.iter().any(|i| normalised(i.kind, &i.value) == normalised(i.kind, value)))
                .cloned()
        })
    }

    /// The id of the user of `pool_id` holding an identifier equivalent to this one (values
    /// are unique per pool across kinds), if any.
    pub fn identifier_owner(&self, pool_id: &str, kind: IdentifierKind, value: &str) -> Option<String> {
        self.read(|c| c.by_identifier.get(&(pool_id.to_owned(), identifier_key(kind, value))).cloned())
    }

    /// Stores then keeps a pool. Call with the writer lock held.
    pub fn put_pool(&self, records: &Records, pool: Pool) -> Result<(), StoreError> {
        records.put(Kind::IdentityPool, &pool.id, None, &pool)?;
        self.write(|c| {
            c.pools.insert(pool.id.clone(), pool);
        });
        Ok(())
    }

    /// Deletes a pool and every user in it. Call with the writer lock held. The pool goes
    /// first: should a user deletion then fail, the rest are orphans nobody can reach, and
    /// `load` skips them.
    pub fn delete_pool(&self, records: &Records, pool_id: &str) -> Result<(), StoreError> {
        records.delete(Kind::IdentityPool, pool_id)?;
        self.write(|c| {
            c.pools.remove(pool_id);
        });
        for user in self.users(pool_id) {
            records.delete(Kind::PoolUser, &user_key(pool_id, &user.id))?;
            self.write(|c| c.remove_user(pool_id, &user.id));
        }
        Ok(())
    }

    /// Stores then keeps a user. Call with the writer lock held.
    pub fn put_user(&self, records: &Records, user: PoolUser) -> Result<(), StoreError> {
        records.put(Kind::PoolUser, &user_key(&user.pool_id, &user.id), None, &user)?;
        self.write(|c| c.insert_user(user));
        Ok(())
    }

    pub fn delete_user(&self, records: &Records, pool_id: &str, user_id: &str) -> Result<(), StoreError> {
        records.delete(Kind::PoolUser, &user_key(pool_id, user_id))?;
        self.write(|c| c.remove_user(pool_id, user_id));
        Ok(())
    }

    fn read<T>(&self, f: impl FnOnce(&Contents) -> T) -> T {
        // A poisoned lock only means a panic elsewhere mid-read; the maps are still whole
        // because every write is a single insert or remove.
        let guard = self.inner.read().unwrap_or_else(|e| e.into_inner());
        f(&guard)
    }

    fn write(&self, f: impl FnOnce(&mut Contents)) {
        let mut guard = self.inner.write().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::memory::MemoryStore;

    fn user(id: &str, identifiers: &[(IdentifierKind, &str)]) -> PoolUser {
        PoolUser {
            id: id.into(),
            pool_id: "retail".into(),
            name: id.into(),
            identifiers: identifiers
                .iter()
                .enumerate()
                .map(|(n, (kind, value))| Identifier { id: format!("idf_{n}"), kind: *kind, value: (*value).into(), external_type: None, source: None })
                .collect(),
            addresses: Vec::new(),
            password: None,
            password_expires_at: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn identifiers_are_found_through_the_index_as_each_kind_compares() {
        let records = Records::new(Arc::new(MemoryStore::default()));
        let pool = Pool { id: "retail".into(), name: "Retail".into(), password_policy: PasswordPolicy::default(), preferred_mechanism: Mechanism::Password, created_at: 0, updated_at: 0 };
        let directory = Directory::load(&records).expect("empty");
        directory.put_pool(&records, pool).expect("pool");
        directory.put_user(&records, user("u1", &[(IdentifierKind::Email, "Ann@Bank.example"), (IdentifierKind::External, "C-77")])).expect("u1");
        directory.put_user(&records, user("u2", &[(IdentifierKind::Mobile, "+447700900123")])).expect("u2");
        let found = |value: &str| directory.find_by_identifier("retail", value).map(|u| u.id);
        assert_eq!(found(" ann@bank.EXAMPLE "), Some("u1".into()), "emails compare case-insensitively");
        assert_eq!(found("C-77"), Some("u1".into()));
        assert_eq!(found("c-77"), None, "external identifiers compare exactly");
        assert_eq!(found("+447700900123"), Some("u2".into()));
        assert_eq!(found("nobody"), None);
        assert!(directory.find_by_identifier("other", "C-77").is_none(), "per pool");
        assert_eq!(directory.identifier_owner("retail", IdentifierKind::External, "c-77"), Some("u1".into()), "unique across case for duplicates");

        // A changed user is found by its new identifiers only; a deleted one not at all; and
        // the index survives a reload from the store.
        directory.put_user(&records, user("u1", &[(IdentifierKind::Email, "ann@new.example")])).expect("update");
        assert_eq!((found("ann@bank.example"), found("C-77"), found("ann@new.example")), (None, None, Some("u1".into())));
        let reloaded = Directory::load(&records).expect("reload");
        assert_eq!(reloaded.find_by_identifier("retail", "ANN@new.example").map(|u| u.id), Some("u1".into()));
        directory.delete_user(&records, "retail", "u1").expect("delete");
        assert_eq!(found("ann@new.example"), None);
        directory.delete_pool(&records, "retail").expect("delete pool");
        assert_eq!(found("+447700900123"), None);
    }
}
