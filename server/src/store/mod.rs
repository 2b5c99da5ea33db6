//! Storage behind one trait.
//!
//! The [`Store`] trait is deliberately small — kinds of records keyed by string, each a JSON
//! document with an optional expiry — so that a second backend (Postgres) is a single file.
//! [`Records`] puts typed accessors on top. Secrets (codes, tokens, session ids) are stored
//! under the SHA-256 of their value, so a copy of the database does not hand out credentials.
//! The embedded default is SQLite in the data dir ([`sqlite::SqliteStore`]); [`memory`] serves
//! unit tests.

pub mod batch;
pub mod memory;
pub mod records;
pub mod sqlite;

pub use records::Records;

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    PushedRequest,
    Code,
    Grant,
    AccessToken,
    RefreshToken,
    Session,
    Interaction,
    Consent,
    /// A dynamically registered client (RFC 7591): its metadata, registration access token
    /// hash and status. Never expires by itself.
    RegisteredClient,
    /// A CIBA authentication request, by the SHA-256 of its `auth_req_id`.
    BackchannelRequest,
    /// An identity pool, by its id. Never expires by itself.
    IdentityPool,
    /// A user of an identity pool, by `pool id/user id`. Never expires by itself.
    PoolUser,
    /// A one-time sign-in code waiting to be entered, by interaction.
    OneTimeCode,
    /// A workspace's draft and active theme, by workspace. Never expires by itself.
    Theme,
    /// A user's passkeys in a workspace, by `workspace/subject` (`identity::passkeys`).
    PasskeyAccount,
    /// Whose passkeys a WebAuthn user handle names, by `workspace/handle`.
    PasskeyHandle,
    /// Whose passkey a credential id is, by `workspace/credential id` (REG-15).
    PasskeyCredential,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::PushedRequest => "pushed_request",
            Kind::Code => "code",
            Kind::Grant => "grant",
            Kind::AccessToken => "access_token",
            Kind::RefreshToken => "refresh_token",
            Kind::Session => "session",
            Kind::Interaction => "interaction",
            Kind::Consent => "consent",
            Kind::RegisteredClient => "registered_client",
            Kind::BackchannelRequest => "backchannel_request",
            Kind::IdentityPool => "identity_pool",
            Kind::PoolUser => "pool_user",
            Kind::OneTimeCode => "one_time_code",
            Kind::Theme => "theme",
            Kind::PasskeyAccount => "passkey_account",
            Kind::PasskeyHandle => "passkey_handle",
            Kind::PasskeyCredential => "passkey_credential",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage backend failed: {0}")]
    Backend(String),
    #[error("stored record {kind}/{key} is corrupt: {reason}")]
    Corrupt { kind: &'static str, key: String, reason: String },
}

/// An update decision: keep the record as it is, replace it, or delete it.
pub enum Update {
    Keep,
    Replace(Value),
    Delete,
}

pub trait Store: Send + Sync + 'static {
    fn put(&self, kind: Kind, key: &str, expires_at: Option<i64>, data: &Value) -> Result<(), StoreError>;
    /// Writes every record, atomically: all or none.
    fn put_many(&self, writes: &[&batch::PendingWrite]) -> Result<(), StoreError>;
    fn get(&self, kind: Kind, key: &str) -> Result<Option<Value>, StoreError>;
    fn delete(&self, kind: Kind, key: &str) -> Result<bool, StoreError>;
    /// Reads the record and applies `decide` atomically (no other writer sees the record in
    /// between). Returns the record as it was before, or `None` if it did not exist.
    fn update(&self, kind: Kind, key: &str, decide: &mut dyn FnMut(&Value) -> Update) -> Result<Option<Value>, StoreError>;
    /// Every record of a kind whose key starts with `prefix`, with its key (startup loading of
    /// a workspace's registered clients; not for request paths).
    fn list(&self, kind: Kind, prefix: &str) -> Result<Vec<(String, Value)>, StoreError>;
    /// Removes records whose expiry has passed; returns how many.
    fn purge_expired(&self, now: i64) -> Result<usize, StoreError>;
}
