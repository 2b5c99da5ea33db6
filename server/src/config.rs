//! Typed configuration: the `fapilab.toml` file and its defaults.
//!
//! Every key has a default (see `fapilab.example.toml` at the repository root, which states
//! each one). Unknown keys are refused by serde (`deny_unknown_fields`), and [`Config::validate`]
//! refuses invalid combinations with a message that names the key, so a typo never silently
//! weakens a deployment.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::profiles::{ClientAuthMethod, ProfileId, SenderConstraint};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("config key `{key}`: {message}")]
    Invalid { key: String, message: String },
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { key: key.into(), message: message.into() }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerSection,
    pub ca: CaSection,
    /// The admin API (identity pools and users).
    pub admin: AdminSection,
    pub tenants: Vec<TenantConfig>,
    /// Test-only: protections to remove (see `faults.rs`). Refused unless the server was built
    /// with the `fault-injection` feature.
    pub faults: Vec<crate::faults::Fault>,
}

impl Default for Config {
    fn default() -> Self {
        Config { server: ServerSection::default(), ca: CaSection::default(), admin: AdminSection::default(), tenants: vec![TenantConfig::default()], faults: Vec::new() }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSection {
    /// Where the store, keys and certificates live.
    pub data_dir: PathBuf,
    /// Address both listeners bind to.
    pub bind: IpAddr,
    /// Port of the TLS listener that never asks for a client certificate (browser endpoints).
    pub tls_port: u16,
    /// Port of the listener that asks for a client certificate (mTLS endpoint aliases).
    pub mtls_port: u16,
    /// Host name used in the issuer and every advertised URL.
    pub public_host: String,
    /// FAPI2-SP-NET-09: HSTS max-age on browser-facing endpoints.
    pub hsts_max_age: u64,
    /// RFC 9440 `Client-Cert` header from a TLS-terminating proxy.
    pub client_cert_header: ClientCertHeaderSection,
    /// Log lines as JSON instead of text.
    pub log_json: bool,
    /// The external base URL when a proxy publishes the TLS listener under another host or
    /// port (issuers, advertised endpoints and DPoP `htu` use it). Default: from the above.
    pub public_base_url: Option<String>,
    /// The same for the mTLS listener.
    pub public_mtls_base_url: Option<String>,
}

impl Default for ServerSection {
    fn default() -> Self {
        ServerSection {
            data_dir: PathBuf::from("data"),
            bind: IpAddr::from([127, 0, 0, 1]),
            tls_port: 8443,
            mtls_port: 8444,
            public_host: "localhost".into(),
            hsts_max_age: 31_536_000,
            client_cert_header: ClientCertHeaderSection::default(),
            log_json: false,
            public_base_url: None,
            public_mtls_base_url: None,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClientCertHeaderSection {
    /// Off by default: a header is only trusted when a proxy is known to set it.
    pub enabled: bool,
    /// Peer addresses allowed to send the header; requests from anyone else have it ignored.
    pub trusted_proxies: Vec<IpAddr>,
}

/// The admin API at `/admin/...` (JSON over HTTPS).
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminSection {
    /// Bearer tokens accepted by the admin API (kept as SHA-256 once the server starts). None:
    /// the API answers 401 to everyone.
    pub tokens: Vec<String>,
}

impl std::fmt::Debug for AdminSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminSection").field("tokens", &format_args!("[{} redacted]", self.tokens.len())).finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaSection {
    /// Directory of the CA; relative paths are under `server.data_dir`.
    pub dir: PathBuf,
    /// Extra server certificate names besides localhost, 127.0.0.1 and ::1.
    pub server_names: Vec<String>,
    pub ca_days: u32,
    pub leaf_days: u32,
    /// More CA certificates (PEM files) whose certificates `tls_client_auth` accepts, for TPPs
    /// whose certificates another CA issued (RFC 8705 §2.1).
    pub trusted_client_ca_files: Vec<PathBuf>,
}

impl Default for CaSection {
    fn default() -> Self {
        CaSection { dir: PathBuf::from("ca"), server_names: Vec::new(), ca_days: 90, leaf_days: 30, trusted_client_ca_files: Vec::new() }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    pub id: String,
    #[serde(default)]
    pub workspaces: Vec<WorkspaceConfig>,
}

impl Default for TenantConfig {
    fn default() -> Self {
        TenantConfig { id: "default".into(), workspaces: vec![WorkspaceConfig::default()] }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessTokenFormat {
    /// RFC 9068 JWT access tokens.
    Jwt,
    /// Random handles resolved through the store.
    Opaque,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkspaceConfig {
    pub id: String,
    pub profile: ProfileId,
    pub access_token_format: AccessTokenFormat,
    /// ES256 (default) or PS256: signs access tokens and ID tokens.
    pub signing_alg: String,
    pub access_token_lifetime: u64,
    pub refresh_token_lifetime: u64,
    pub code_lifetime: u64,
    pub request_uri_lifetime: u64,
    /// RFC 9449 §8 server nonces at the token and PAR endpoints.
    pub dpop_nonce: bool,
    pub dpop_nonce_lifetime: u64,
    /// FAPI2-SP-AS-10: off by default; when on, the previous token works for the grace period.
    pub refresh_token_rotation: bool,
    pub refresh_token_grace: u64,
    /// The `aud` of access tokens (RFC 9068 §3): the resource server's identifier.
    pub access_token_audience: String,
    pub scopes: Vec<String>,
    pub acr_values: Vec<String>,
    /// The `acr` a session gets from the way the user signed in (INT-PK-01); each must be one
    /// of `acr_values`. Unset: the first of `acr_values`.
    pub acr_by_method: AcrByMethod,
    /// The identity pool (admin API) whose users sign in here; none: the `users` below.
    pub identity_pool: Option<String>,
    /// PKJ-03: algorithms accepted on client assertions, advertised as
    /// `token_endpoint_auth_signing_alg_values_supported`; within the profile's ceiling.
    pub token_endpoint_auth_signing_alg_values: Vec<String>,
    /// Dynamic client registration (RFC 7591 / RFC 7592).
    pub registration: RegistrationConfig,
    /// FDX offline approval (profile `fdx` only).
    pub fdx: FdxConfig,
    /// Client-initiated backchannel authentication (CIBA, FAPI-CIBA).
    pub ciba: CibaConfig,
    /// Clients are generated for every auth method × sender constraint when true and the list is empty.
    pub default_clients: bool,
    pub clients: Vec<ClientConfig>,
    pub users: Vec<UserConfig>,
}

/// `acr` per sign-in method (`acr_by_method` in a workspace).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AcrByMethod {
    pub password: Option<String>,
    pub one_time_code: Option<String>,
    /// A passkey with user verification: possession and a PIN or biometric (multi-factor).
    pub passkey: Option<String>,
}

impl WorkspaceConfig {
    /// The `acr` of a sign-in that proved `amr` (RFC 8176 values).
    pub fn acr_for(&self, amr: &[&str]) -> String {
        let chosen = if amr.iter().any(|m| *m == "hwk" || *m == "swk") {
            &self.acr_by_method.passkey
        } else if amr.contains(&"otp") {
            &self.acr_by_method.one_time_code
        } else {
            &self.acr_by_method.password
        };
        chosen.clone().or_else(|| self.acr_values.first().cloned()).unwrap_or_default()
    }
}

impl Default for WorkspaceConfig {
    fn default() -> Self {
        WorkspaceConfig {
            id: "fapi2".into(),
            profile: ProfileId::Fapi2SecurityProfile,
            access_token_format: AccessTokenFormat::Jwt,
            signing_alg: "ES256".into(),
            access_token_lifetime: 300,
            refresh_token_lifetime: 86_400,
            code_lifetime: 60,
            request_uri_lifetime: 60,
            dpop_nonce: false,
            dpop_nonce_lifetime: 120,
            refresh_token_rotation: false,
            refresh_token_grace: 60,
            access_token_audience: "urn:fapilab:bank".into(),
            scopes: vec!["openid".into(), "profile".into(), "email".into(), "accounts".into()],
            acr_values: vec!["urn:fapilab:acr:password".into()],
            acr_by_method: AcrByMethod::default(),
            identity_pool: None,
            token_endpoint_auth_signing_alg_values: vec!["PS256".into(), "ES256".into()],
            registration: RegistrationConfig::default(),
            fdx: FdxConfig::default(),
            ciba: CibaConfig::default(),
            default_clients: true,
            clients: Vec::new(),
            users: Vec::new(),
        }
    }
}

/// Who may call the registration endpoint (DCR-01).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationPolicy {
    /// Anyone who reaches the endpoint.
    Open,
    /// `Authorization: Bearer` with one of `initial_access_tokens` (RFC 7591 §3).
    InitialAccessToken,
    /// A `software_statement` signed by a trusted issuer (RFC 7591 §2.3, DCR-05).
    SoftwareStatement,
}

impl RegistrationPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            RegistrationPolicy::Open => "open",
            RegistrationPolicy::InitialAccessToken => "initial_access_token",
            RegistrationPolicy::SoftwareStatement => "software_statement",
        }
    }
}

/// How long a registration access token works: a number of seconds, or `"never"` (expires).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenLifetime {
    Seconds(u64),
    Never,
}

impl TokenLifetime {
    /// The expiry of a token issued at `now`.
    pub fn expires_at(self, now: i64) -> Option<i64> {
        match self {
            TokenLifetime::Seconds(s) => Some(now.saturating_add(s as i64)),
            TokenLifetime::Never => None,
        }
    }
    pub fn seconds(self) -> Option<u64> {
        match self {
            TokenLifetime::Seconds(s) => Some(s),
            TokenLifetime::Never => None,
        }
    }
}

impl<'de> Deserialize<'de> for TokenLifetime {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Seconds(u64),
            Word(String),
        }
        match Raw::deserialize(d)? {
            Raw::Seconds(s) => Ok(TokenLifetime::Seconds(s)),
            Raw::Word(w) if w == "never" => Ok(TokenLifetime::Never),
            Raw::Word(w) => Err(serde::de::Error::custom(format!("expected a number of seconds or \"never\", found {w:?}"))),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistrationConfig {
    /// Serve `{issuer}/register` (and its mTLS alias) and advertise `registration_endpoint`.
    pub enabled: bool,
    pub policy: RegistrationPolicy,
    /// For `initial_access_token`: the accepted tokens (at least 16 characters each).
    pub initial_access_tokens: Vec<String>,
    /// For `software_statement`: the public JWKS of the trusted statement issuer(s).
    pub software_statement_jwks_file: Option<PathBuf>,
    /// For `software_statement`: accepted `iss` values; another issuer is
    /// `unapproved_software_statement` (DCR-05).
    pub software_statement_issuers: Vec<String>,
    /// DCM-01: lifetime of registration access tokens in seconds, or "never".
    pub registration_access_token_lifetime: TokenLifetime,
    /// `jwks_uri` values must start with one of these https prefixes (e.g. a directory's key
    /// store). Empty: clients register keys by value only — the server never fetches a URL a
    /// registrant chose freely (server-side request forgery).
    pub jwks_uri_prefixes: Vec<String>,
    /// Seconds between re-fetches of registered `jwks_uri` key sets (key rotation).
    pub jwks_uri_refresh_interval: u64,
}

/// 30 days.
pub const DEFAULT_REGISTRATION_ACCESS_TOKEN_LIFETIME: u64 = 30 * 86_400;

impl Default for RegistrationConfig {
    fn default() -> Self {
        RegistrationConfig {
            enabled: false,
            policy: RegistrationPolicy::InitialAccessToken,
            initial_access_tokens: Vec::new(),
            software_statement_jwks_file: None,
            software_statement_issuers: Vec::new(),
            registration_access_token_lifetime: TokenLifetime::Seconds(DEFAULT_REGISTRATION_ACCESS_TOKEN_LIFETIME),
            jwks_uri_prefixes: Vec::new(),
            jwks_uri_refresh_interval: 300,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FdxConfig {
    /// FDX-ST-05: the `fdx_client_status` of a newly registered client.
    pub initial_status: crate::registry::FdxStatus,
}

impl Default for FdxConfig {
    fn default() -> Self {
        FdxConfig { initial_status: crate::registry::FdxStatus::Approved }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CibaConfig {
    /// Serve `{issuer}/bc-authorize` (and its mTLS alias) and the CIBA grant.
    pub enabled: bool,
    /// CIBA-04: `expires_in` of an authentication request without `requested_expiry`.
    pub default_expiry: u64,
    /// The longest `requested_expiry` honoured (longer ones are shortened to it).
    pub max_expiry: u64,
    /// CIBA-04 / CIBA-06: seconds a polling client waits between token requests.
    pub interval: u64,
    /// The simulated authentication device: the first rule whose `login_hint` matches the user
    /// (or that has none) decides, `after_ms` after the request. Without a matching rule the
    /// request waits for a decision through the device API.
    pub device_rules: Vec<DeviceRule>,
    /// Bearer tokens of the device API (`{issuer}/ciba/device/...`), at least 16 characters.
    pub device_api_tokens: Vec<String>,
    /// A registered ping client's notification endpoint must start with one of these https
    /// prefixes; empty: registered clients poll (the server never POSTs to a URL a registrant
    /// chose freely). Configured clients are the operator's own and are not restricted.
    pub notification_endpoint_prefixes: Vec<String>,
}

impl Default for CibaConfig {
    fn default() -> Self {
        CibaConfig {
            enabled: false,
            default_expiry: 120,
            max_expiry: 600,
            interval: 5,
            device_rules: Vec::new(),
            device_api_tokens: Vec::new(),
            notification_endpoint_prefixes: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceDecision {
    Approve,
    Deny,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceRule {
    /// The user (username) the rule is for; absent: everyone.
    #[serde(default)]
    pub login_hint: Option<String>,
    pub decision: DeviceDecision,
    #[serde(default)]
    pub after_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    pub client_id: String,
    #[serde(default)]
    pub client_name: Option<String>,
    pub token_endpoint_auth_method: ClientAuthMethod,
    /// `dpop` or `mtls`; `none` only for a resource server client that never gets tokens.
    pub sender_constraint: Option<SenderConstraint>,
    /// Name of a TPP in the CA directory whose certificate and keys this client uses.
    #[serde(default)]
    pub tpp: Option<String>,
    /// A public JWKS file, instead of a TPP's.
    #[serde(default)]
    pub jwks_file: Option<PathBuf>,
    /// RFC 8705 §2.1.2: defaults to the TPP certificate's subject DN for tls_client_auth.
    #[serde(default)]
    pub tls_client_auth_subject_dn: Option<String>,
    #[serde(default)]
    pub tls_client_auth_san_dns: Option<String>,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default = "default_client_scope")]
    pub scope: String,
    #[serde(default = "default_grant_types")]
    pub grant_types: Vec<String>,
    /// A resource server allowed to introspect every token of its workspace.
    #[serde(default)]
    pub resource_server: bool,
    /// CIBA §10.2: where ping notifications go (https); without it the client polls.
    #[serde(default)]
    pub backchannel_client_notification_endpoint: Option<String>,
}

fn default_client_scope() -> String {
    "openid profile email accounts".into()
}

fn default_grant_types() -> Vec<String> {
    vec!["authorization_code".into(), "refresh_token".into(), "client_credentials".into()]
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub username: String,
    /// Hashed with argon2id at startup; never logged.
    pub password: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

pub const DEFAULT_USER: &str = "alice";
pub const DEFAULT_PASSWORD: &str = "wonderland-2026";

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        Config::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text)
            .map_err(|e| ConfigError::Parse { path: path.to_owned(), message: e.to_string() })?;
        config.validate()?;
        Ok(config)
    }

    pub fn ca_dir(&self) -> PathBuf {
        if self.ca.dir.is_absolute() { self.ca.dir.clone() } else { self.server.data_dir.join(&self.ca.dir) }
    }


    /// Refuses invalid combinations, naming the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.faults.is_empty() && !cfg!(feature = "fault-injection") {
            return Err(invalid("faults", "this build has no fault injection (test-only feature `fault-injection`)"));
        }
        for (i, token) in self.admin.tokens.iter().enumerate() {
            // 128 bits of entropy as base64 or hex take at least 22 characters.
            if token.len() < 22 {
                return Err(invalid(format!("admin.tokens[{i}]"), "must be at least 22 characters (a long random value)"));
            }
        }
        let s = &self.server;
        if s.tls_port != 0 && s.tls_port == s.mtls_port {
            return Err(invalid("server.mtls_port", "must differ from server.tls_port"));
        }
        if s.public_host.is_empty() || s.public_host.contains(['/', '?', '#', ' ']) {
            return Err(invalid("server.public_host", "must be a bare host name"));
        }
        if s.client_cert_header.enabled && s.client_cert_header.trusted_proxies.is_empty() {
            return Err(invalid(
                "server.client_cert_header.trusted_proxies",
                "must list the proxy addresses when server.client_cert_header.enabled is true",
            ));
        }
        for (key, url) in [("server.public_base_url", &s.public_base_url), ("server.public_mtls_base_url", &s.public_mtls_base_url)] {
            if let Some(url) = url {
                let ok = url.starts_with("https://") && !url.ends_with('/') && !url.contains(['?', '#']) && url.parse::<http::Uri>().is_ok();
                if !ok {
                    return Err(invalid(key, "must be an https URL without a trailing slash, query or fragment [FAPI2-SP-NET-01]"));
                }
            }
        }
        if self.ca.ca_days == 0 || self.ca.leaf_days == 0 {
            return Err(invalid("ca.ca_days / ca.leaf_days", "lifetimes must be at least one day"));
        }
        if self.tenants.is_empty() {
            return Err(invalid("tenants", "at least one tenant is required"));
        }
        let mut tenant_ids = std::collections::HashSet::new();
        for (ti, tenant) in self.tenants.iter().enumerate() {
            let tkey = format!("tenants[{ti}]");
            check_path_segment(&format!("{tkey}.id"), &tenant.id)?;
            if tenant.id == "admin" || tenant.id == ".well-known" {
                return Err(invalid(format!("{tkey}.id"), format!("{:?} is reserved for the server's own paths", tenant.id)));
            }
            if !tenant_ids.insert(&tenant.id) {
                return Err(invalid(format!("{tkey}.id"), format!("duplicate tenant id {:?}", tenant.id)));
            }
            let mut ws_ids = std::collections::HashSet::new();
            for (wi, ws) in tenant.workspaces.iter().enumerate() {
                let wkey = format!("{tkey}.workspaces[{wi}]");
                check_path_segment(&format!("{wkey}.id"), &ws.id)?;
                if !ws_ids.insert(&ws.id) {
                    return Err(invalid(format!("{wkey}.id"), format!("duplicate workspace id {:?}", ws.id)));
                }
                ws.validate(&wkey)?;
            }
        }
        Ok(())
    }
}

impl WorkspaceConfig {
    fn validate(&self, key: &str) -> Result<(), ConfigError> {
        let policy = self.profile.policy();
        for (method, acr) in [("password", &self.acr_by_method.password), ("one_time_code", &self.acr_by_method.one_time_code), ("passkey", &self.acr_by_method.passkey)] {
            if let Some(acr) = acr
                && !self.acr_values.contains(acr)
            {
                return Err(invalid(format!("{key}.acr_by_method.{method}"), format!("{acr:?} is not one of acr_values {:?}", self.acr_values)));
            }
        }
        let alg: fapilab_jose::Algorithm = self
            .signing_alg
            .parse()
            .map_err(|_| invalid(format!("{key}.signing_alg"), "must be ES256 or PS256 [FAPI2-SP-CR-02]"))?;
        if !policy.signing_algorithms.contains(&alg) {
            return Err(invalid(format!("{key}.signing_alg"), "must be ES256 or PS256 [FAPI2-SP-CR-02]"));
        }
        if self.code_lifetime == 0 || self.code_lifetime > policy.max_code_lifetime.as_secs() {
            return Err(invalid(
                format!("{key}.code_lifetime"),
                format!("must be 1..={} seconds [FAPI2-SP-AS-12]", policy.max_code_lifetime.as_secs()),
            ));
        }
        if self.request_uri_lifetime < 5 || self.request_uri_lifetime > policy.max_request_uri_lifetime.as_secs() {
            return Err(invalid(
                format!("{key}.request_uri_lifetime"),
                format!("must be 5..={} seconds [FAPI2-SP-AZ-12]", policy.max_request_uri_lifetime.as_secs()),
            ));
        }
        if self.access_token_lifetime == 0 || self.access_token_lifetime > 86_400 {
            return Err(invalid(format!("{key}.access_token_lifetime"), "must be 1..=86400 seconds"));
        }
        if self.refresh_token_lifetime == 0 {
            return Err(invalid(format!("{key}.refresh_token_lifetime"), "must be at least 1 second"));
        }
        if self.refresh_token_rotation && !policy.allow_refresh_token_rotation {
            return Err(invalid(format!("{key}.refresh_token_rotation"), "this profile forbids rotation"));
        }
        if self.refresh_token_rotation && self.refresh_token_grace < 30 {
            return Err(invalid(
                format!("{key}.refresh_token_grace"),
                "must be at least 30 seconds so a client can retry with the previous token [FAPI2-SP-AS-10]",
            ));
        }
        if self.dpop_nonce_lifetime < 10 {
            return Err(invalid(format!("{key}.dpop_nonce_lifetime"), "must be at least 10 seconds"));
        }
        if self.access_token_audience.is_empty() {
            return Err(invalid(format!("{key}.access_token_audience"), "must not be empty"));
        }
        let mut ids = std::collections::HashSet::new();
        for (ci, client) in self.clients.iter().enumerate() {
            let ckey = format!("{key}.clients[{ci}]");
            if client.client_id.is_empty() || client.client_id.len() > 128 {
                return Err(invalid(format!("{ckey}.client_id"), "must be 1..=128 characters"));
            }
            if !ids.insert(&client.client_id) {
                return Err(invalid(format!("{ckey}.client_id"), format!("duplicate client {:?}", client.client_id)));
            }
            if !policy.client_auth_methods.contains(&client.token_endpoint_auth_method) {
                return Err(invalid(
                    format!("{ckey}.token_endpoint_auth_method"),
                    "not allowed by the workspace profile [FAPI2-SP-AS-06]",
                ));
            }
            match client.sender_constraint {
                Some(sc) if !policy.sender_constraints.contains(&sc) => {
                    return Err(invalid(format!("{ckey}.sender_constraint"), "not allowed by the profile [FAPI2-SP-AS-05]"));
                }
                None if !client.resource_server => {
                    return Err(invalid(
                        format!("{ckey}.sender_constraint"),
                        "required: every access token is sender-constrained [FAPI2-SP-AS-04]",
                    ));
                }
                _ => {}
            }
            if client.tpp.is_none() && client.jwks_file.is_none() {
                return Err(invalid(format!("{ckey}.tpp"), "set `tpp` (a TPP of the CA) or `jwks_file`"));
            }
            for (ri, uri) in client.redirect_uris.iter().enumerate() {
                if let Err(why) = crate::protocol::redirect::check_registered_redirect_uri(uri, &policy) {
                    return Err(invalid(format!("{ckey}.redirect_uris[{ri}]"), why));
                }
            }
            for (gi, grant) in client.grant_types.iter().enumerate() {
                if ![
                    "authorization_code",
                    "refresh_token",
                    "client_credentials",
                    crate::grants::ciba::GRANT_TYPE,
                ]
                .contains(&grant.as_str())
                {
                    return Err(invalid(format!("{ckey}.grant_types[{gi}]"), format!("unsupported grant type {grant:?}")));
                }
            }
            if client.grant_types.iter().any(|g| g == "authorization_code") && client.redirect_uris.is_empty() {
                return Err(invalid(format!("{ckey}.redirect_uris"), "required for the authorization_code grant"));
            }
            for scope in client.scope.split_whitespace() {
                if !self.scopes.iter().any(|s| s == scope) && !crate::protocol::client_metadata::MANAGEMENT_SCOPES.contains(&scope) {
                    return Err(invalid(format!("{ckey}.scope"), format!("scope {scope:?} is not in the workspace's scopes")));
                }
            }
        }
        let mut assertion_algs = Vec::new();
        for (ai, name) in self.token_endpoint_auth_signing_alg_values.iter().enumerate() {
            let akey = format!("{key}.token_endpoint_auth_signing_alg_values[{ai}]");
            let allowed = policy.token_endpoint_auth_signing_algorithms.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", ");
            let alg: fapilab_jose::Algorithm =
                name.parse().map_err(|_| invalid(&akey, format!("unknown algorithm {name:?}; this profile allows {allowed} [FAPI2-SP-CR-02]")))?;
            if !policy.token_endpoint_auth_signing_algorithms.contains(&alg) {
                return Err(invalid(&akey, format!("{name} is not allowed by the profile; use {allowed} [FAPI2-SP-CR-02, PKJ-03]")));
            }
            assertion_algs.push(alg);
        }
        if assertion_algs.is_empty() {
            return Err(invalid(format!("{key}.token_endpoint_auth_signing_alg_values"), "must name at least one algorithm"));
        }
        let ciba = &self.ciba;
        if ciba.enabled {
            let ckey = format!("{key}.ciba");
            if ciba.default_expiry == 0 || ciba.default_expiry > ciba.max_expiry {
                return Err(invalid(format!("{ckey}.default_expiry"), "must be 1..=max_expiry seconds"));
            }
            if ciba.interval == 0 {
                return Err(invalid(format!("{ckey}.interval"), "must be at least 1 second"));
            }
            for (pi, prefix) in ciba.notification_endpoint_prefixes.iter().enumerate() {
                if !prefix.starts_with("https://") || prefix.len() <= "https://".len() {
                    return Err(invalid(format!("{ckey}.notification_endpoint_prefixes[{pi}]"), "must be an https URL prefix"));
                }
            }
            for (ti, token) in ciba.device_api_tokens.iter().enumerate() {
                if token.len() < 16 || !token.chars().all(|c| c.is_ascii_graphic()) {
                    return Err(invalid(format!("{ckey}.device_api_tokens[{ti}]"), "must be at least 16 visible ASCII characters"));
                }
            }
        }
        for (ci, client) in self.clients.iter().enumerate() {
            if let Some(endpoint) = &client.backchannel_client_notification_endpoint
                && (!endpoint.starts_with("https://") || endpoint.parse::<http::Uri>().is_err())
            {
                return Err(invalid(format!("{key}.clients[{ci}].backchannel_client_notification_endpoint"), "must be an https URL [CIBA-MD-02]"));
            }
        }
        let reg = &self.registration;
        if reg.enabled {
            let rkey = format!("{key}.registration");
            match reg.policy {
                RegistrationPolicy::InitialAccessToken if reg.initial_access_tokens.is_empty() => {
                    return Err(invalid(format!("{rkey}.initial_access_tokens"), "must list at least one token when policy = \"initial_access_token\""));
                }
                RegistrationPolicy::SoftwareStatement if reg.software_statement_jwks_file.is_none() || reg.software_statement_issuers.is_empty() => {
                    return Err(invalid(
                        format!("{rkey}.software_statement_jwks_file"),
                        "policy = \"software_statement\" needs software_statement_jwks_file and software_statement_issuers",
                    ));
                }
                _ => {}
            }
            for (ti, token) in reg.initial_access_tokens.iter().enumerate() {
                if token.len() < 16 || !token.chars().all(|c| c.is_ascii_graphic()) {
                    return Err(invalid(format!("{rkey}.initial_access_tokens[{ti}]"), "must be at least 16 visible ASCII characters"));
                }
            }
            for (pi, prefix) in reg.jwks_uri_prefixes.iter().enumerate() {
                let ok = prefix.starts_with("https://") && prefix[8..].contains('/') && prefix.parse::<http::Uri>().is_ok();
                if !ok {
                    return Err(invalid(format!("{rkey}.jwks_uri_prefixes[{pi}]"), "must be an https URL prefix ending in a path, e.g. https://keys.directory.example/"));
                }
            }
            if reg.jwks_uri_refresh_interval == 0 {
                return Err(invalid(format!("{rkey}.jwks_uri_refresh_interval"), "must be at least 1 second"));
            }
            if reg.registration_access_token_lifetime == TokenLifetime::Seconds(0) {
                return Err(invalid(format!("{rkey}.registration_access_token_lifetime"), "must be at least 1 second, or \"never\""));
            }
        }
        for (ui, user) in self.users.iter().enumerate() {
            if user.username.is_empty() || user.password.len() < 8 {
                return Err(invalid(format!("{key}.users[{ui}]"), "username required and password of 8+ characters"));
            }
        }
        Ok(())
    }
}

fn check_path_segment(key: &str, value: &str) -> Result<(), ConfigError> {
    let ok = !value.is_empty()
        && value.len() <= 63
        && value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !value.starts_with('.');
    if ok { Ok(()) } else { Err(invalid(key, "must be 1..=63 characters of a-z, 0-9 and -")) }
}

pub fn url_for(host: &str, port: u16) -> String {
    let host = if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host.to_string() };
    if port == 443 { format!("https://{host}") } else { format!("https://{host}:{port}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("test.toml"))
    }

    #[test]
    fn empty_file_gives_the_defaults() {
        let c = parse("").expect("defaults");
        assert_eq!(c.tenants[0].id, "default");
        assert_eq!(c.tenants[0].workspaces[0].id, "fapi2");
        assert_eq!(url_for(&c.server.public_host, c.server.tls_port), "https://localhost:8443");
        let ws = &c.tenants[0].workspaces[0];
        assert!(!ws.registration.enabled, "registration is opt-in");
        assert_eq!(ws.registration.registration_access_token_lifetime, TokenLifetime::Seconds(30 * 86_400), "DCM-01: 30 days");
        assert_eq!(ws.fdx.initial_status, crate::registry::FdxStatus::Approved, "FDX-ST-05: the issue's default");
        assert_eq!(ws.token_endpoint_auth_signing_alg_values, ["PS256", "ES256"]);
    }

    #[test]
    fn unknown_key_is_named() {
        let e = parse("[server]\ntls_prot = 1\n").expect_err("unknown key");
        assert!(e.to_string().contains("tls_prot"), "{e}");
    }

    #[test]
    fn code_lifetime_over_sixty_seconds_is_refused_naming_the_key() {
        let e = parse("[[tenants]]\nid='t'\n[[tenants.workspaces]]\nid='w'\ncode_lifetime=61\n").expect_err("too long");
        assert!(e.to_string().contains("tenants[0].workspaces[0].code_lifetime"), "{e}");
    }

    #[test]
    fn request_uri_lifetime_must_stay_below_600() {
        let e = parse("[[tenants]]\nid='t'\n[[tenants.workspaces]]\nid='w'\nrequest_uri_lifetime=600\n").expect_err("too long");
        assert!(e.to_string().contains("request_uri_lifetime"), "{e}");
    }

    #[test]
    fn the_acr_of_each_sign_in_method_is_a_supported_one() {
        let ws = "[[tenants]]\nid='t'\n[[tenants.workspaces]]\nid='w'\nacr_values=['urn:a:pwd','urn:a:mfa']\n[tenants.workspaces.acr_by_method]\n";
        let e = parse(&format!("{ws}passkey='urn:a:other'\n")).expect_err("unsupported acr");
        assert!(e.to_string().contains("tenants[0].workspaces[0].acr_by_method.passkey"), "{e}");
        let config = parse(&format!("{ws}passkey='urn:a:mfa'\n")).expect("valid");
        let settings = &config.tenants[0].workspaces[0];
        assert_eq!(settings.acr_for(&["hwk", "user"]), "urn:a:mfa");
        assert_eq!(settings.acr_for(&["swk", "user"]), "urn:a:mfa");
        assert_eq!(settings.acr_for(&["pwd"]), "urn:a:pwd", "unset: the first acr value");
        assert_eq!(settings.acr_for(&["otp"]), "urn:a:pwd");
    }

    #[test]
    fn client_cert_header_needs_proxies() {
        let e = parse("[server.client_cert_header]\nenabled = true\n").expect_err("no proxies");
        assert!(e.to_string().contains("trusted_proxies"), "{e}");
    }

    #[test]
    fn public_base_urls_must_be_https_without_trailing_slash() {
        assert!(parse("[server]\npublic_base_url = 'https://as.bank.example'\n").is_ok());
        for bad in ["http://as.bank.example", "https://as.bank.example/", "https://as.bank.example/?x=1"] {
            let e = parse(&format!("[server]\npublic_base_url = '{bad}'\n")).expect_err(bad);
            assert!(e.to_string().contains("server.public_base_url"), "{e}");
        }
    }

    #[test]
    fn rotation_needs_a_usable_grace_period() {
        let e = parse("[[tenants]]\nid='t'\n[[tenants.workspaces]]\nid='w'\nrefresh_token_rotation=true\nrefresh_token_grace=5\n")
            .expect_err("grace too short");
        assert!(e.to_string().contains("refresh_token_grace"), "{e}");
    }

    #[cfg(not(feature = "fault-injection"))]
    #[test]
    fn faults_are_refused_without_the_feature() {
        assert!(parse("faults = []\n").is_ok());
        let e = parse("faults = [\"pkce_check\"]\n").expect_err("no fault injection in this build");
        assert!(e.to_string().contains("`faults`"), "{e}");
        assert!(e.to_string().contains("fault-injection"), "{e}");
    }

    #[cfg(feature = "fault-injection")]
    #[test]
    fn faults_are_accepted_with_the_feature() {
        let c = parse("faults = [\"pkce_check\", \"hsts\"]\n").expect("fault injection build");
        assert_eq!(c.faults, vec![crate::faults::Fault::PkceCheck, crate::faults::Fault::Hsts]);
        let e = parse("faults = [\"pkce_chek\"]\n").expect_err("unknown fault");
        assert!(e.to_string().contains("pkce_chek"), "{e}");
    }

    #[test]
    fn token_endpoint_auth_signing_algs_outside_the_profile_stop_startup() {
        let ok = parse("[[tenants]]\nid='t'\n[[tenants.workspaces]]\nid='w'\ntoken_endpoint_auth_signing_alg_values=['ES256']\n");
        assert!(ok.is_ok());
        for bad in ["EdDSA", "RS256", "HS256"] {
            let e = parse(&format!("[[tenants]]\nid='t'\n[[tenants.workspaces]]\nid='w'\ntoken_endpoint_auth_signing_alg_values=['{bad}']\n"))
                .expect_err(bad);
            assert!(e.to_string().contains("tenants[0].workspaces[0].token_endpoint_auth_signing_alg_values[0]"), "{e}");
        }
    }

    #[test]
    fn registration_settings_are_checked() {
        let base = "[[tenants]]\nid='t'\n[[tenants.workspaces]]\nid='w'\n[tenants.workspaces.registration]\nenabled=true\n";
        let e = parse(base).expect_err("no initial access token");
        assert!(e.to_string().contains("registration.initial_access_tokens"), "{e}");
        let e = parse(&format!("{base}initial_access_tokens=['short']\n")).expect_err("short token");
        assert!(e.to_string().contains("initial_access_tokens[0]"), "{e}");
        let never = parse(&format!("{base}initial_access_tokens=['0123456789abcdef']\nregistration_access_token_lifetime='never'\n"))
            .expect("never expires");
        assert_eq!(never.tenants[0].workspaces[0].registration.registration_access_token_lifetime, TokenLifetime::Never);
        let e = parse(&format!("{base}initial_access_tokens=['0123456789abcdef']\nregistration_access_token_lifetime='forever'\n"))
            .expect_err("bad word");
        assert!(e.to_string().contains("never"), "{e}");
        let e = parse(&format!("{base}policy='software_statement'\n")).expect_err("no jwks");
        assert!(e.to_string().contains("software_statement_jwks_file"), "{e}");
        let open = parse(&format!("{base}policy='open'\nregistration_access_token_lifetime=60\n")).expect("open");
        assert_eq!(open.tenants[0].workspaces[0].registration.registration_access_token_lifetime, TokenLifetime::Seconds(60));
    }

    #[test]
    fn rs256_signing_is_refused() {
        let e = parse("[[tenants]]\nid='t'\n[[tenants.workspaces]]\nid='w'\nsigning_alg='RS256'\n").expect_err("rs256");
        assert!(e.to_string().contains("signing_alg"), "{e}");
    }
}

#[cfg(test)]
mod example_file {
    use super::*;

    /// The shipped example must state exactly the defaults, so it cannot drift from the code.
    #[test]
    fn example_config_states_the_defaults() {
        let text = include_str!("../../fapilab.example.toml");
        let parsed = Config::parse(text, Path::new("fapilab.example.toml")).expect("example parses");
        let default = Config::default();
        assert_eq!(format!("{:?}", parsed.server), format!("{:?}", default.server));
        assert_eq!(format!("{:?}", parsed.ca), format!("{:?}", default.ca));
        assert_eq!(parsed.admin.tokens, default.admin.tokens);
        assert_eq!(format!("{:?}", parsed.tenants), format!("{:?}", default.tenants));
        assert_eq!(parsed.faults, default.faults);
    }
}
