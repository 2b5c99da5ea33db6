//! The target: the authorization server under test, its two clients per variant, its resource
//! and how to log in.
//!
//! A target comes from a TOML file ([`Target::load`]) or from fapilab's own `sandbox.json`
//! ([`Target::from_sandbox_manifest`]); [`Target::load_any`] picks by extension. Everything
//! is validated up front and every error names the key.
//!
//! # Target file, format 1
//!
//! ```toml
//! format = 1
//! issuer = "https://as.example/tenant"
//! discovery_url = "https://as.example/tenant/.well-known/openid-configuration" # default: issuer + that path
//! ca_file = "ca.pem"                     # PEM bundle: the only roots trusted for every connection
//! resource_url = "https://rs.example/accounts"  # a GET endpoint that accepts the access tokens
//! resource_scope = "accounts"            # default "accounts"
//! scope_openid = "openid accounts"       # default "openid " + resource_scope
//! scope_plain = "accounts"               # default resource_scope
//! code_lifetime = 60                     # seconds (default 60), used by `wait until = "code_expiry"`
//!
//! [[clients]]                            # two per client authentication × sender constraint
//! client_id = "client-1"
//! token_endpoint_auth_method = "private_key_jwt"  # | tls_client_auth | self_signed_tls_client_auth
//! sender_constraint = "dpop"             # | mtls
//! index = 1                              # optional: 1 or 2 (default: order within the pair)
//! private_jwks_file = "client-1.jwks.json"  # private JWKS: assertions (and nothing else)
//! cert_file = "client-1.pem"             # transport certificate (needed for mTLS)
//! key_file = "client-1.key"              # its PKCS#8 private key
//! redirect_uri = "https://client.example/cb"
//! second_redirect_uri = "https://client.example/cb?dummy1=lorem&dummy2=ipsum"  # optional
//!
//! [registration]                         # optional: dynamic client registration (RFC 7591/7592)
//! endpoint = "https://as.example/tenant/register"  # default: discovery's registration_endpoint
//!                                        # (mTLS clients: mtls_endpoint_aliases.registration_endpoint)
//! initial_access_token = "…"             # optional: sent as `Authorization: Bearer` with every registration
//! supports_dcr_manage = false            # default false: the admin client's `dcr_manage` token
//!                                        # reads, updates and deletes registered clients
//! other_workspace_registration_endpoint = "https://as.example/other/register"  # optional: another
//!                                        # tenant's registration endpoint (the isolation check
//!                                        # sends `{this}/{client_id}` there)
//!
//! [registration.admin_client]            # optional: a client_credentials client of the same server;
//!                                        # its tokens are presented as bound: DPoP with a proof,
//!                                        # or Bearer over its certificate (then the registration
//!                                        # client URIs and the status endpoint must be on a
//!                                        # listener that asks for client certificates)
//! client_id = "admin"
//! token_endpoint_auth_method = "private_key_jwt"
//! sender_constraint = "dpop"
//! private_jwks_file = "admin.jwks.json"
//! cert_file = "admin.pem"                # with key_file, for mTLS
//! key_file = "admin.key"
//! scope = "dcr_manage update_client_status"  # default; the scopes its tokens may carry
//!
//! [registration.fdx]                     # optional: FDX client status (FDX-DCR-03, FDX-UPD-01)
//! status_endpoint = "https://as.example/tenant/fdx/clients/{client_id}/status"
//! initial_status = "Pending"             # what a new registration must show (FDX-ST-05)
//!
//! [introspection_client]                # optional: a resource-server client that may introspect
//!                                        # (RFC 7662; MS-JIR-04), for the signed introspection
//!                                        # checks (MS-JIR-01…03); keys as in [[clients]]
//! client_id = "bank"
//! token_endpoint_auth_method = "private_key_jwt"
//! private_jwks_file = "bank.jwks.json"   # cert_file and key_file for mTLS authentication
//! sender_constraint = "mtls"             # optional: it presents no token, so only `mtls`
//!                                        # (certificate on the connection) matters
//!
//! [ciba]                               # optional: CIBA (OpenID CIBA Core, FAPI-CIBA) at the target
//! endpoint = "https://as.example/tenant/bc-authorize"  # default: discovery's backchannel_authentication_endpoint
//! mtls_endpoint = "https://mtls.as.example/tenant/bc-authorize"  # default: its mtls_endpoint_aliases entry
//! interval = 5                           # optional, informative: the harness polls at the
//!                                        # interval each acknowledgement announces
//! approved_user = "alice"                # a login_hint the authentication device approves by itself
//! approve_after_ms = 1500                # optional, informative: how long the device takes
//! denied_user = "mallory"                # a login_hint the device denies
//! pending_user = "bob"                   # a login_hint left pending until decided through the device API
//! device_requests_url = "https://as.example/tenant/ciba/device/requests"  # the device API (GET lists,
//!                                        # POST {url}/{device_id} {"decision": …} decides)
//! device_api_token = "…"                 # sent as `Authorization: Bearer` to the device API
//! notification_endpoint_cert_file = "ping.pem"  # optional: certificate chain (for `localhost`,
//! notification_endpoint_key_file = "ping.key"   # trusted by the server) and key of the harness's
//!                                        # ping notification endpoint (CIBA-08)
//!
//! [passkeys]                            # optional: passkey (WebAuthn) sign-in (shared/spec/passkeys.md)
//! rp_id = "as.example"                   # default: the issuer's host (REG-OPT-02)
//! origin = "https://as.example"          # default: the issuer's scheme://host[:port]; the
//!                                        # software authenticator's clientDataJSON origin
//! account_url = "{issuer}/account"       # default; the page where a signed-in user registers
//!                                        # and removes passkeys (`{issuer}` is replaced)
//!
//! [login]
//! mode = "form"                          # | "manual": print the URL, paste the final redirect URL
//! username = "alice"
//! password = "secret"
//! username_field = "username"            # default
//! password_field = "password"            # default
//! approve = { field = "decision", value = "approve" }  # default
//! deny = { field = "decision", value = "deny" }        # default
//! extra_fields = { }                     # added to every form post
//! ```
//!
//! Relative file names are resolved against the target file's directory. Unknown keys are
//! errors. When a client authentication × sender constraint pair has client 1 but no client 2
//! the file is refused: a certification run needs two clients (cross-client checks).
//!
//! A module that needs what a target lacks (`[requires] features` in its scenario file, e.g.
//! `registration` without a `[registration]` section) is SKIPPED with the reason
//! ([`Target::unmet`]). A sandbox manifest holds several workspaces: [`Targets`] keeps one
//! target per workspace and a module runs against the workspace named by its
//! `[requires] profile` (a target file is one server and serves every module).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::scenario::{Feature, Scenario};
use crate::variant::{ClientAuth, Sender, Variant};

pub const TARGET_FORMAT_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("{path}: cannot read it: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: key `{key}`: {message}")]
    Invalid { path: PathBuf, key: String, message: String },
}

/// A login for the authorization server's pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub username: String,
    pub password: String,
}

/// One form field with its value (a consent button, for example).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldValue {
    pub field: String,
    pub value: String,
}

/// How to drive the login and consent pages: which fields to fill in; hidden inputs are
/// always copied from the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormScript {
    pub username: String,
    pub password: String,
    pub username_field: String,
    pub password_field: String,
    /// Added to the consent form to approve.
    pub approve: FieldValue,
    /// Added to the consent form to deny.
    pub deny: FieldValue,
    /// Added to every form the script submits.
    pub extra_fields: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    Form(Box<FormScript>),
    /// Print the authorization URL, read the final redirect URL from stdin.
    Manual,
}

#[derive(Debug, Clone)]
pub struct TargetClient {
    pub client_id: String,
    pub auth: ClientAuth,
    /// The exact `token_endpoint_auth_method` (`private_key_jwt`, `tls_client_auth`,
    /// `self_signed_tls_client_auth`).
    pub auth_method: String,
    pub sender: Sender,
    /// 1 or 2.
    pub index: u8,
    /// Private JWKS (`{"keys":[…]}`); never written to any report.
    pub private_jwks: serde_json::Value,
    pub cert_pem: Option<String>,
    pub key_pem: Option<String>,
    pub redirect_uri: String,
    pub second_redirect_uri: Option<String>,
}

impl TargetClient {
    /// Whether this client needs its certificate on the back channel (mTLS authentication or
    /// mTLS sender constraint), and so the `mtls_endpoint_aliases` (FAPI2-SP-NET-08, MT-10).
    pub fn uses_mtls(&self) -> bool {
        self.auth == ClientAuth::Mtls || self.sender == Sender::Mtls
    }
}

/// The client that manages registrations: its client_credentials tokens carry `dcr_manage`
/// and/or `update_client_status`.
#[derive(Debug, Clone)]
pub struct AdminClient {
    pub client: TargetClient,
    /// The scopes its tokens may carry (space-separated).
    pub scope: String,
}

impl AdminClient {
    /// Whether its tokens may carry `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.split_whitespace().any(|s| s == scope)
    }
}

/// The FDX client status endpoint (FDX-UPD-01).
#[derive(Debug, Clone)]
pub struct FdxStatus {
    /// A URL template containing `{client_id}`.
    pub status_endpoint: String,
    /// The status a new registration shows (FDX-ST-05).
    pub initial_status: String,
}

impl FdxStatus {
    /// The status endpoint of `client_id`.
    pub fn url_for(&self, client_id: &str) -> String {
        self.status_endpoint.replace("{client_id}", client_id)
    }
}

/// Dynamic client registration at the target (RFC 7591/7592).
#[derive(Debug, Clone, Default)]
pub struct Registration {
    /// `None`: the discovery document's `registration_endpoint`.
    pub endpoint: Option<String>,
    /// For clients that use their certificate; `None`: `mtls_endpoint_aliases.registration_endpoint`,
    /// else the plain endpoint.
    pub mtls_endpoint: Option<String>,
    /// Sent as `Authorization: Bearer` with every registration (DCR-01).
    pub initial_access_token: Option<String>,
    pub admin_client: Option<AdminClient>,
    /// The admin client's `dcr_manage` token manages every registered client of the tenant.
    pub supports_dcr_manage: bool,
    /// Another tenant's registration endpoint of the same server, for the isolation check.
    pub other_workspace_registration_endpoint: Option<String>,
    pub fdx: Option<FdxStatus>,
}

#[derive(Debug, Clone)]
pub struct Target {
    pub issuer: String,
    pub discovery_url: String,
    pub ca_pem: Vec<u8>,
    pub resource_url: String,
    pub clients: Vec<TargetClient>,
    pub scope_openid: String,
    pub scope_plain: String,
    pub login: Login,
    /// Authorization code lifetime in seconds (FAPI2-SP-AS-12: at most 60).
    pub code_lifetime: u64,
    pub users: Vec<User>,
    /// `None`: the target does not offer dynamic client registration to the harness.
    pub registration: Option<Registration>,
    /// A resource-server client allowed to introspect (RFC 7662; MS-JIR-04: ordinary clients
    /// are not), for the signed introspection checks (MS-JIR-01…03).
    pub introspection_client: Option<TargetClient>,
    /// `None`: the target offers no CIBA to the harness.
    pub ciba: Option<Ciba>,
    /// `None`: the target offers no passkey sign-in to the harness.
    pub passkeys: Option<Passkeys>,
}

/// Passkey sign-in at the target (`shared/spec/passkeys.md`): the WebAuthn RP ID, the origin
/// its pages run at (what the harness's software authenticator puts in `clientDataJSON`:
/// REG-04, AUTH-04) and the account page where a signed-in user registers and removes
/// passkeys. The sign-in and account pages name the WebAuthn endpoints themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passkeys {
    pub rp_id: String,
    /// `scheme://host[:port]`, no path.
    pub origin: String,
    pub account_url: String,
}

/// `[passkeys]` of a target file, and `passkeys` of a sandbox workspace: the same members,
/// each defaulting to what the issuer implies.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePasskeys {
    rp_id: Option<String>,
    origin: Option<String>,
    account_url: Option<String>,
}

/// The host of `scheme://host[:port]`, without the port.
fn origin_host(origin: &str) -> Option<&str> {
    let authority = origin.split_once("://")?.1.split(['/', '?', '#']).next()?;
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next();
    }
    authority.split(':').next().filter(|h| !h.is_empty())
}

impl FilePasskeys {
    /// With the defaults from `issuer`; an error is (key, message).
    fn load(&self, key: &str, issuer: &str) -> Result<Passkeys, (String, String)> {
        let bad = |member: &str, message: String| (format!("{key}.{member}"), message);
        let origin = match &self.origin {
            Some(o) => o.trim_end_matches('/').to_owned(),
            None => crate::login::origin(issuer).ok_or_else(|| bad("origin", format!("no origin in the issuer {issuer:?}")))?,
        };
        let host = origin_host(&origin).ok_or_else(|| bad("origin", format!("{origin:?} is not scheme://host[:port]")))?.to_owned();
        if crate::login::origin(&origin).as_deref() != Some(origin.as_str()) {
            return Err(bad("origin", format!("{origin:?}: expected scheme://host[:port] in lower case, without a path (REG-04)")));
        }
        let secure = origin.starts_with("https://") || (origin.starts_with("http://") && host == "localhost");
        if !secure {
            return Err(bad("origin", format!("{origin:?} is not https (REG-04: http only for localhost)")));
        }
        let rp_id = self.rp_id.clone().unwrap_or_else(|| host.clone());
        if host != rp_id && !host.ends_with(&format!(".{rp_id}")) {
            return Err(bad("rp_id", format!("{rp_id:?} is not the origin's host {host:?} or a domain it is under (REG-OPT-02)")));
        }
        let account_url = match &self.account_url {
            Some(u) => u.replace("{issuer}", issuer.trim_end_matches('/')),
            None => format!("{}/account", issuer.trim_end_matches('/')),
        };
        if !account_url.starts_with("https://") {
            return Err(bad("account_url", format!("{account_url:?} is not an https URL (FAPI2-SP-NET-01)")));
        }
        Ok(Passkeys { rp_id, origin, account_url })
    }
}

/// CIBA at the target (OpenID CIBA Core 1.0, FAPI-CIBA): where to send authentication
/// requests, how the simulated authentication device decides them, and the certificate the
/// harness serves ping notifications with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ciba {
    /// `None`: the discovery document's `backchannel_authentication_endpoint`.
    pub endpoint: Option<String>,
    /// For clients that use their certificate; `None`: its `mtls_endpoint_aliases` entry.
    pub mtls_endpoint: Option<String>,
    /// A `login_hint` the device approves by itself.
    pub approved_user: Option<String>,
    /// A `login_hint` the device denies.
    pub denied_user: Option<String>,
    /// A `login_hint` left pending until decided through the device API.
    pub pending_user: Option<String>,
    /// The device API: `GET` lists pending requests, `POST {url}/{device_id}` decides one.
    pub device_requests_url: Option<String>,
    pub device_api_token: Option<String>,
    /// The certificate chain and key (PEM) of the harness's ping notification endpoint: the
    /// server must trust them for `localhost` (CIBA-08).
    pub notification_cert_pem: Option<String>,
    pub notification_key_pem: Option<String>,
}

/// `[ciba]` of a target file, and `ciba` of a sandbox workspace: the same members.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCiba {
    endpoint: Option<String>,
    mtls_endpoint: Option<String>,
    /// The polling interval the server announces: accepted, but the harness uses the
    /// acknowledgement's (CIBA-04).
    #[serde(default, rename = "interval")]
    _interval: Option<serde::de::IgnoredAny>,
    approved_user: Option<String>,
    /// How long the device takes to approve: accepted, but the harness polls until it has.
    #[serde(default, rename = "approve_after_ms")]
    _approve_after_ms: Option<serde::de::IgnoredAny>,
    denied_user: Option<String>,
    pending_user: Option<String>,
    device_requests_url: Option<String>,
    device_api_token: Option<String>,
    notification_endpoint_cert_file: Option<PathBuf>,
    notification_endpoint_key_file: Option<PathBuf>,
}

impl FileCiba {
    /// With the notification certificate and key read (relative paths against `resolve`).
    fn load(&self, key: &str, resolve: &dyn Fn(&Path) -> PathBuf) -> Result<Ciba, (String, String)> {
        let read = |name: &str, p: &Option<PathBuf>| -> Result<Option<String>, (String, String)> {
            p.as_ref()
                .map(|p| {
                    let p = resolve(p);
                    std::fs::read_to_string(&p).map_err(|e| (format!("{key}.{name}"), format!("cannot read {}: {e}", p.display())))
                })
                .transpose()
        };
        Ok(Ciba {
            endpoint: self.endpoint.clone(),
            mtls_endpoint: self.mtls_endpoint.clone(),
            approved_user: self.approved_user.clone(),
            denied_user: self.denied_user.clone(),
            pending_user: self.pending_user.clone(),
            device_requests_url: self.device_requests_url.clone(),
            device_api_token: self.device_api_token.clone(),
            notification_cert_pem: read("notification_endpoint_cert_file", &self.notification_endpoint_cert_file)?,
            notification_key_pem: read("notification_endpoint_key_file", &self.notification_endpoint_key_file)?,
        })
    }
}

// ---- the TOML file --------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTarget {
    format: u32,
    issuer: String,
    discovery_url: Option<String>,
    ca_file: PathBuf,
    resource_url: String,
    resource_scope: Option<String>,
    scope_openid: Option<String>,
    scope_plain: Option<String>,
    code_lifetime: Option<u64>,
    #[serde(default)]
    clients: Vec<FileClient>,
    login: FileLogin,
    registration: Option<FileRegistration>,
    introspection_client: Option<FileIntrospectionClient>,
    ciba: Option<FileCiba>,
    passkeys: Option<FilePasskeys>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileIntrospectionClient {
    client_id: String,
    token_endpoint_auth_method: String,
    sender_constraint: Option<String>,
    private_jwks_file: Option<PathBuf>,
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRegistration {
    endpoint: Option<String>,
    initial_access_token: Option<String>,
    #[serde(default)]
    supports_dcr_manage: bool,
    other_workspace_registration_endpoint: Option<String>,
    admin_client: Option<FileAdminClient>,
    fdx: Option<FileFdx>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileAdminClient {
    client_id: String,
    token_endpoint_auth_method: String,
    sender_constraint: String,
    private_jwks_file: Option<PathBuf>,
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    scope: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileFdx {
    status_endpoint: String,
    initial_status: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileClient {
    client_id: String,
    token_endpoint_auth_method: String,
    sender_constraint: String,
    index: Option<u8>,
    private_jwks_file: Option<PathBuf>,
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    redirect_uri: String,
    second_redirect_uri: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLogin {
    mode: String,
    username: Option<String>,
    password: Option<String>,
    username_field: Option<String>,
    password_field: Option<String>,
    approve: Option<FieldValue>,
    deny: Option<FieldValue>,
    #[serde(default)]
    extra_fields: BTreeMap<String, String>,
}

// ---- sandbox.json (read as plain JSON: this crate never depends on the sandbox) -------------

#[derive(Deserialize)]
struct Manifest {
    ca_file: PathBuf,
    /// Not in every manifest: a shortened code lifetime when the sandbox was started with one.
    #[serde(default)]
    code_lifetime: Option<u64>,
    bank_url: String,
    workspaces: Vec<ManifestWorkspace>,
    #[serde(default)]
    users: Vec<ManifestUser>,
}

#[derive(Deserialize)]
struct ManifestWorkspace {
    issuer: String,
    discovery_url: String,
    clients: Vec<ManifestClient>,
    /// The workspace's authorization code lifetime, when the manifest states it.
    #[serde(default)]
    code_lifetime: Option<u64>,
    /// `tenant/workspace` and the workspace's profile (a module picks its workspace by profile).
    #[serde(default)]
    tenant: String,
    #[serde(default)]
    workspace: String,
    #[serde(default)]
    profile: Option<String>,
    #[serde(default)]
    registration: Option<ManifestRegistration>,
    /// The workspace's resource-server client (the bank's), when the manifest publishes it.
    #[serde(default)]
    introspection_client: Option<ManifestClient>,
    /// CIBA, when the workspace offers it.
    #[serde(default)]
    ciba: Option<FileCiba>,
    /// Passkey sign-in, when the workspace offers it.
    #[serde(default)]
    passkeys: Option<FilePasskeys>,
}


#[derive(Deserialize)]
struct ManifestRegistration {
    endpoint: String,
    mtls_endpoint: Option<String>,
    initial_access_token: Option<String>,
    admin_client: Option<ManifestClient>,
    #[serde(default)]
    supports_dcr_manage: bool,
    fdx: Option<ManifestFdx>,
}

#[derive(Deserialize)]
struct ManifestFdx {
    status_endpoint: String,
    initial_status: String,
}

#[derive(Deserialize)]
struct ManifestClient {
    client_id: String,
    token_endpoint_auth_method: String,
    sender_constraint: Option<String>,
    private_jwks_file: Option<PathBuf>,
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    redirect_uris: Vec<String>,
    #[serde(default)]
    scope: String,
}

#[derive(Deserialize)]
struct ManifestUser {
    username: String,
    password: String,
}

fn parse_auth(method: &str) -> Option<ClientAuth> {
    match method {
        "private_key_jwt" => Some(ClientAuth::PrivateKeyJwt),
        "tls_client_auth" | "self_signed_tls_client_auth" => Some(ClientAuth::Mtls),
        _ => None,
    }
}

fn parse_sender(s: &str) -> Option<Sender> {
    match s {
        "dpop" => Some(Sender::Dpop),
        "mtls" => Some(Sender::Mtls),
        _ => None,
    }
}

impl Target {
    /// `.json` → [`Target::from_sandbox_manifest`], anything else → [`Target::load`].
    pub fn load_any(path: &Path) -> Result<Target, TargetError> {
        if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) {
            Target::from_sandbox_manifest(path)
        } else {
            Target::load(path)
        }
    }

    /// Loads and validates a TOML target file (format in the module documentation).
    pub fn load(path: &Path) -> Result<Target, TargetError> {
        let text = std::fs::read_to_string(path).map_err(|source| TargetError::Read { path: path.to_owned(), source })?;
        Target::parse_toml(&text, path)
    }

    fn parse_toml(text: &str, path: &Path) -> Result<Target, TargetError> {
        let invalid = |key: &str, message: String| TargetError::Invalid { path: path.to_owned(), key: key.to_owned(), message };
        let file: FileTarget = toml::from_str(text).map_err(|e| TargetError::Parse { path: path.to_owned(), message: e.to_string() })?;
        if file.format != TARGET_FORMAT_VERSION {
            return Err(invalid("format", format!("version {} is not supported; expected {TARGET_FORMAT_VERSION}", file.format)));
        }
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        let resolve = |p: &Path| if p.is_absolute() { p.to_owned() } else { base.join(p) };
        let issuer = file.issuer.trim_end_matches('/').to_owned();
        if !issuer.starts_with("https://") {
            return Err(invalid("issuer", format!("{issuer:?} is not an https URL (FAPI2-SP-NET-01)")));
        }
        let discovery_url = file.discovery_url.unwrap_or_else(|| format!("{issuer}/.well-known/openid-configuration"));
        if !discovery_url.starts_with("https://") {
            return Err(invalid("discovery_url", format!("{discovery_url:?} is not an https URL")));
        }
        if !file.resource_url.starts_with("https://") {
            return Err(invalid("resource_url", format!("{:?} is not an https URL", file.resource_url)));
        }
        let ca_path = resolve(&file.ca_file);
        let ca_pem = std::fs::read(&ca_path).map_err(|e| invalid("ca_file", format!("cannot read {}: {e}", ca_path.display())))?;
        if !String::from_utf8_lossy(&ca_pem).contains("-----BEGIN CERTIFICATE-----") {
            return Err(invalid("ca_file", format!("{} holds no PEM certificate", ca_path.display())));
        }
        let resource_scope = file.resource_scope.unwrap_or_else(|| "accounts".to_owned());
        let code_lifetime = file.code_lifetime.unwrap_or(60);
        if code_lifetime == 0 || code_lifetime > 3600 {
            return Err(invalid("code_lifetime", format!("{code_lifetime} is not 1..=3600 seconds")));
        }

        let mut clients = Vec::new();
        for (i, c) in file.clients.iter().enumerate() {
            let key = |k: &str| format!("clients[{i}].{k}");
            let auth = parse_auth(&c.token_endpoint_auth_method).ok_or_else(|| {
                invalid(
                    &key("token_endpoint_auth_method"),
                    format!(
                        "{:?}: expected private_key_jwt, tls_client_auth or self_signed_tls_client_auth (FAPI2-SP-AS-06)",
                        c.token_endpoint_auth_method
                    ),
                )
            })?;
            let sender = parse_sender(&c.sender_constraint).ok_or_else(|| {
                invalid(&key("sender_constraint"), format!("{:?}: expected dpop or mtls (FAPI2-SP-AS-05)", c.sender_constraint))
            })?;
            let index = match c.index {
                Some(n @ (1 | 2)) => n,
                Some(n) => return Err(invalid(&key("index"), format!("{n}: expected 1 or 2"))),
                None => {
                    let before = clients.iter().filter(|o: &&TargetClient| o.auth == auth && o.sender == sender).count();
                    if before >= 2 {
                        return Err(invalid(
                            &key("client_id"),
                            "a third client for the same authentication and sender constraint; give `index`".into(),
                        ));
                    }
                    u8::try_from(before + 1).unwrap_or(2)
                }
            };
            let private_jwks = match &c.private_jwks_file {
                Some(p) => {
                    let p = resolve(p);
                    let text = std::fs::read_to_string(&p)
                        .map_err(|e| invalid(&key("private_jwks_file"), format!("cannot read {}: {e}", p.display())))?;
                    let v: serde_json::Value = serde_json::from_str(&text)
                        .map_err(|e| invalid(&key("private_jwks_file"), format!("{} is not JSON: {e}", p.display())))?;
                    check_private_jwks(&v).map_err(|m| invalid(&key("private_jwks_file"), m))?;
                    v
                }
                None if auth == ClientAuth::PrivateKeyJwt => {
                    return Err(invalid(&key("private_jwks_file"), "required for private_key_jwt".into()));
                }
                None => serde_json::json!({"keys": []}),
            };
            let read_pem = |k: &str, p: &Option<PathBuf>| -> Result<Option<String>, TargetError> {
                match p {
                    Some(p) => {
                        let p = resolve(p);
                        std::fs::read_to_string(&p).map(Some).map_err(|e| invalid(&key(k), format!("cannot read {}: {e}", p.display())))
                    }
                    None => Ok(None),
                }
            };
            let cert_pem = read_pem("cert_file", &c.cert_file)?;
            let key_pem = read_pem("key_file", &c.key_file)?;
            let needs_cert = auth == ClientAuth::Mtls || sender == Sender::Mtls;
            if needs_cert && (cert_pem.is_none() || key_pem.is_none()) {
                return Err(invalid(
                    &key("cert_file"),
                    "cert_file and key_file are required for mTLS authentication or mTLS sender constraint".into(),
                ));
            }
            if !c.redirect_uri.starts_with("https://") && !c.redirect_uri.starts_with("http://127.0.0.1") {
                return Err(invalid(&key("redirect_uri"), format!("{:?} is not https (FAPI2-SP-AZ-08)", c.redirect_uri)));
            }
            clients.push(TargetClient {
                client_id: c.client_id.clone(),
                auth,
                auth_method: c.token_endpoint_auth_method.clone(),
                sender,
                index,
                private_jwks,
                cert_pem,
                key_pem,
                redirect_uri: c.redirect_uri.clone(),
                second_redirect_uri: c.second_redirect_uri.clone(),
            });
        }
        if clients.is_empty() {
            return Err(invalid("clients", "no [[clients]]: a run needs two clients per variant".into()));
        }
        check_pairs(&clients).map_err(|m| invalid("clients", m))?;

        let l = &file.login;
        let login = match l.mode.as_str() {
            "manual" => Login::Manual,
            "form" => {
                let username = l.username.clone().ok_or_else(|| invalid("login.username", "required when mode = \"form\"".into()))?;
                let password = l.password.clone().ok_or_else(|| invalid("login.password", "required when mode = \"form\"".into()))?;
                Login::Form(Box::new(FormScript {
                    username,
                    password,
                    username_field: l.username_field.clone().unwrap_or_else(|| "username".into()),
                    password_field: l.password_field.clone().unwrap_or_else(|| "password".into()),
                    approve: l.approve.clone().unwrap_or_else(|| FieldValue { field: "decision".into(), value: "approve".into() }),
                    deny: l.deny.clone().unwrap_or_else(|| FieldValue { field: "decision".into(), value: "deny".into() }),
                    extra_fields: l.extra_fields.clone(),
                }))
            }
            other => return Err(invalid("login.mode", format!("{other:?}: expected \"form\" or \"manual\""))),
        };
        let users = match &login {
            Login::Form(f) => vec![User { username: f.username.clone(), password: f.password.clone() }],
            Login::Manual => Vec::new(),
        };
        let registration = file.registration.as_ref().map(|r| file_registration(r, &resolve)).transpose().map_err(|(k, m)| invalid(&k, m))?;
        let introspection_client = file
            .introspection_client
            .as_ref()
            .map(|c| {
                let credentials = ServiceCredentials {
                    client_id: &c.client_id,
                    token_endpoint_auth_method: &c.token_endpoint_auth_method,
                    sender_constraint: c.sender_constraint.as_deref(),
                    private_jwks_file: &c.private_jwks_file,
                    cert_file: &c.cert_file,
                    key_file: &c.key_file,
                };
                file_service_client("introspection_client", &credentials, &resolve)
            })
            .transpose()
            .map_err(|(k, m)| invalid(&k, m))?;
        Ok(Target {
            discovery_url,
            ca_pem,
            resource_url: file.resource_url,
            clients,
            scope_openid: file.scope_openid.unwrap_or_else(|| format!("openid {resource_scope}")),
            scope_plain: file.scope_plain.unwrap_or(resource_scope),
            login,
            code_lifetime,
            users,
            registration,
            introspection_client,
            ciba: file.ciba.as_ref().map(|c| c.load("ciba", &resolve)).transpose().map_err(|(k, m)| invalid(&k, m))?,
            passkeys: file.passkeys.as_ref().map(|p| p.load("passkeys", &issuer)).transpose().map_err(|(k, m)| invalid(&k, m))?,
            issuer,
        })
    }

    /// Reads fapilab's `sandbox.json` (the first workspace), with the sandbox's login form
    /// contract (README "Login form contract") and its first user.
    pub fn from_sandbox_manifest(path: &Path) -> Result<Target, TargetError> {
        let m = read_manifest(path)?;
        if m.workspaces.is_empty() {
            return Err(TargetError::Invalid { path: path.to_owned(), key: "workspaces".into(), message: "empty".into() });
        }
        Target::from_manifest_workspace(&m, 0, path)
    }

    /// Workspace `w` of a sandbox manifest.
    fn from_manifest_workspace(m: &Manifest, w: usize, path: &Path) -> Result<Target, TargetError> {
        let invalid = |key: &str, message: String| TargetError::Invalid { path: path.to_owned(), key: key.to_owned(), message };
        let ws = m.workspaces.get(w).ok_or_else(|| invalid("workspaces", format!("no workspace {w}")))?;
        let ca_pem = std::fs::read(&m.ca_file).map_err(|e| invalid("ca_file", format!("cannot read {}: {e}", m.ca_file.display())))?;
        let user = m.users.first().ok_or_else(|| invalid("users", "no user to log in with".into()))?;
        let mut clients = Vec::new();
        for (i, c) in ws.clients.iter().enumerate() {
            let Some(client) = manifest_client(c, &format!("workspaces[{w}].clients[{i}]"), path, false)? else {
                continue; // not a FAPI 2.0 client of a variant
            };
            clients.push(client);
        }
        // Prefer tls_client_auth over self_signed_tls_client_auth for the mtls axis (both
        // match; `client` returns the first).
        clients.sort_by_key(|c| (c.auth_method == "self_signed_tls_client_auth", c.client_id.clone()));
        check_pairs(&clients).map_err(|e| invalid(&format!("workspaces[{w}].clients"), e))?;
        let registration = match &ws.registration {
            None => None,
            Some(r) => {
                let admin_client = match &r.admin_client {
                    None => None,
                    Some(a) => {
                        let key = format!("workspaces[{w}].registration.admin_client");
                        let client = manifest_client(a, &key, path, false)?
                            .ok_or_else(|| invalid(&key, "not a private_key_jwt or mTLS client with a sender constraint".into()))?;
                        Some(AdminClient { client, scope: a.scope.clone() })
                    }
                };
                // The isolation check uses the next workspace (in manifest order) that
                // offers registration.
                let other = m
                    .workspaces
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != w)
                    .find_map(|(_, o)| o.registration.as_ref().map(|r| r.endpoint.clone()));
                Some(Registration {
                    endpoint: Some(r.endpoint.clone()),
                    mtls_endpoint: r.mtls_endpoint.clone(),
                    initial_access_token: r.initial_access_token.clone(),
                    admin_client,
                    supports_dcr_manage: r.supports_dcr_manage,
                    other_workspace_registration_endpoint: other,
                    fdx: r.fdx.as_ref().map(|f| FdxStatus { status_endpoint: f.status_endpoint.clone(), initial_status: f.initial_status.clone() }),
                })
            }
        };
        let introspection_client = match &ws.introspection_client {
            None => None,
            Some(c) => {
                let key = format!("workspaces[{w}].introspection_client");
                Some(manifest_client(c, &key, path, true)?.ok_or_else(|| invalid(&key, "not a private_key_jwt or mTLS client".into()))?)
            }
        };
        Ok(Target {
            issuer: ws.issuer.clone(),
            discovery_url: ws.discovery_url.clone(),
            ca_pem,
            resource_url: format!("{}/accounts", m.bank_url.trim_end_matches('/')),
            clients,
            scope_openid: "openid accounts".into(),
            scope_plain: "accounts".into(),
            login: Login::Form(Box::new(FormScript {
                username: user.username.clone(),
                password: user.password.clone(),
                username_field: "username".into(),
                password_field: "password".into(),
                approve: FieldValue { field: "decision".into(), value: "approve".into() },
                deny: FieldValue { field: "decision".into(), value: "deny".into() },
                extra_fields: BTreeMap::new(),
            })),
            code_lifetime: ws.code_lifetime.or(m.code_lifetime).unwrap_or(60),
            users: m.users.iter().map(|u| User { username: u.username.clone(), password: u.password.clone() }).collect(),
            registration,
            introspection_client,
            ciba: ws
                .ciba
                .as_ref()
                .map(|c| c.load(&format!("workspaces[{w}].ciba"), &|p: &Path| p.to_owned()))
                .transpose()
                .map_err(|(k, m)| invalid(&k, m))?,
            passkeys: ws
                .passkeys
                .as_ref()
                .map(|p| p.load(&format!("workspaces[{w}].passkeys"), &ws.issuer))
                .transpose()
                .map_err(|(k, m)| invalid(&k, m))?,
        })
    }

    /// What of `features` this target lacks, as the reason to skip a module; `None` when it
    /// offers all of them.
    pub fn unmet(&self, features: &[Feature]) -> Option<String> {
        let no_registration = || {
            "the target offers no dynamic client registration to the harness ([registration] in a target file, \
             `registration` in sandbox.json)"
                .to_owned()
        };
        for feature in features {
            if *feature == Feature::IntrospectionClient {
                if self.introspection_client.is_none() {
                    return Some(
                        "the target names no resource-server client to introspect with ([introspection_client] in a target file, \
                         `introspection_client` in sandbox.json)"
                            .to_owned(),
                    );
                }
                continue;
            }
            if *feature == Feature::Ciba {
                if self.ciba.is_none() {
                    return Some("the target offers no CIBA to the harness ([ciba] in a target file, `ciba` in sandbox.json)".to_owned());
                }
                continue;
            }
            if *feature == Feature::Passkeys {
                if self.passkeys.is_none() {
                    return Some(
                        "the target offers no passkey sign-in to the harness ([passkeys] in a target file, `passkeys` of the \
                         workspace in sandbox.json)"
                            .to_owned(),
                    );
                }
                if self.login == Login::Manual {
                    return Some(
                        "the passkey modules sign in to the account page with the target user's password: [login] mode = \"form\""
                            .to_owned(),
                    );
                }
                continue;
            }
            let Some(r) = &self.registration else { return Some(no_registration()) };
            let admin_with = |scope: &str| r.admin_client.as_ref().is_some_and(|a| a.has_scope(scope));
            let reason = match feature {
                Feature::Registration => None,
                Feature::Fdx if r.fdx.is_none() => Some("the target has no FDX client status endpoint ([registration.fdx])".to_owned()),
                Feature::Fdx if !admin_with("update_client_status") => {
                    Some("the target's registration admin_client has no update_client_status scope to set FDX statuses with".to_owned())
                }
                Feature::Fdx => None,
                Feature::DcrManage if !r.supports_dcr_manage => {
                    Some("the target does not say it supports dcr_manage (supports_dcr_manage)".to_owned())
                }
                Feature::DcrManage if !admin_with("dcr_manage") => {
                    Some("the target's registration admin_client has no dcr_manage scope".to_owned())
                }
                Feature::DcrManage => None,
                Feature::OtherWorkspace if r.other_workspace_registration_endpoint.is_none() => {
                    Some("the target names no other_workspace_registration_endpoint (no second tenant to check isolation against)".to_owned())
                }
                Feature::OtherWorkspace | Feature::IntrospectionClient | Feature::Ciba | Feature::Passkeys => None,
            };
            if reason.is_some() {
                return reason;
            }
        }
        None
    }

    /// Client `index` (1 or 2) for the variant's client authentication and sender constraint;
    /// `mtls` authentication matches `tls_client_auth` and `self_signed_tls_client_auth`.
    pub fn client(&self, variant: &Variant, index: u8) -> Option<&TargetClient> {
        self.clients.iter().find(|c| c.auth == variant.client_auth && c.sender == variant.sender && c.index == index)
    }

    /// The scope a variant asks for.
    pub fn scope(&self, variant: &Variant) -> &str {
        match variant.openid {
            crate::variant::OpenId::OpenidConnect => &self.scope_openid,
            crate::variant::OpenId::PlainOauth => &self.scope_plain,
        }
    }
}

fn read_manifest(path: &Path) -> Result<Manifest, TargetError> {
    let text = std::fs::read_to_string(path).map_err(|source| TargetError::Read { path: path.to_owned(), source })?;
    serde_json::from_str(&text)
        .map_err(|e| TargetError::Parse { path: path.to_owned(), message: format!("not a sandbox manifest: {e}") })
}

/// A manifest client (`key` names it in errors); `None` when it is not a FAPI 2.0 client of
/// a variant (no FAPI authentication method, or no sender constraint unless it is a
/// `service` client that presents no tokens: see [`service_sender`]).
fn manifest_client(c: &ManifestClient, key: &str, path: &Path, service: bool) -> Result<Option<TargetClient>, TargetError> {
    let invalid = |k: &str, message: String| TargetError::Invalid { path: path.to_owned(), key: format!("{key}.{k}"), message };
    let Some(auth) = parse_auth(&c.token_endpoint_auth_method) else { return Ok(None) };
    let sender = match c.sender_constraint.as_deref().and_then(parse_sender) {
        Some(s) => s,
        None if service => service_sender(auth),
        None => return Ok(None),
    };
    let private_jwks = match &c.private_jwks_file {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).map_err(|e| invalid("private_jwks_file", format!("cannot read {}: {e}", p.display())))?;
            serde_json::from_str(&text).map_err(|e| invalid("private_jwks_file", format!("not JSON: {e}")))?
        }
        None => serde_json::json!({"keys": []}),
    };
    let read = |k: &str, p: &Option<PathBuf>| -> Result<Option<String>, TargetError> {
        p.as_ref().map(|p| std::fs::read_to_string(p).map_err(|e| invalid(k, format!("cannot read {}: {e}", p.display())))).transpose()
    };
    Ok(Some(TargetClient {
        client_id: c.client_id.clone(),
        auth,
        auth_method: c.token_endpoint_auth_method.clone(),
        sender,
        index: if c.client_id.ends_with("-2") { 2 } else { 1 },
        private_jwks,
        cert_pem: read("cert_file", &c.cert_file)?,
        key_pem: read("key_file", &c.key_file)?,
        // The admin client has no redirect URI: it only uses client_credentials.
        redirect_uri: c.redirect_uris.first().cloned().unwrap_or_default(),
        second_redirect_uri: c.redirect_uris.get(1).cloned(),
    }))
}

/// One server (or one workspace of a sandbox) a run can test.
#[derive(Debug, Clone)]
pub struct TargetEntry {
    /// The workspace's profile (sandbox manifests); `None` for a target file.
    pub profile: Option<String>,
    /// How reports name it: `tenant/workspace`, or the issuer.
    pub name: String,
    pub target: Arc<Target>,
}

/// What a run tests: the one server of a target file, or every workspace of a sandbox
/// manifest. A module runs against the workspace its `[requires] profile` names (the first
/// workspace when it names none); a target file serves every module.
#[derive(Debug, Clone)]
pub struct Targets {
    entries: Vec<TargetEntry>,
}

impl Targets {
    /// One server for every module.
    pub fn single(target: Target) -> Targets {
        let name = target.issuer.clone();
        Targets { entries: vec![TargetEntry { profile: None, name, target: Arc::new(target) }] }
    }

    /// `.json` → every workspace of a sandbox manifest, anything else → a target file.
    pub fn load_any(path: &Path) -> Result<Targets, TargetError> {
        if !path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) {
            return Target::load(path).map(Targets::single);
        }
        let m = read_manifest(path)?;
        if m.workspaces.is_empty() {
            return Err(TargetError::Invalid { path: path.to_owned(), key: "workspaces".into(), message: "empty".into() });
        }
        let mut entries = Vec::with_capacity(m.workspaces.len());
        for (w, ws) in m.workspaces.iter().enumerate() {
            let target = Target::from_manifest_workspace(&m, w, path)?;
            let name = if ws.tenant.is_empty() { target.issuer.clone() } else { format!("{}/{}", ws.tenant, ws.workspace) };
            entries.push(TargetEntry { profile: ws.profile.clone(), name, target: Arc::new(target) });
        }
        Ok(Targets { entries })
    }

    pub fn entries(&self) -> &[TargetEntry] {
        &self.entries
    }

    /// The target `scenario` runs against, or why there is none (the module is then SKIPPED).
    pub fn for_scenario(&self, scenario: &Scenario) -> Result<Arc<Target>, String> {
        let first = self.entries.first().ok_or("no target")?;
        let Some(profile) = &scenario.requires.profile else { return Ok(Arc::clone(&first.target)) };
        // A target file describes one server, whatever its profile.
        if first.profile.is_none() {
            return Ok(Arc::clone(&first.target));
        }
        match self.entries.iter().find(|e| e.profile.as_deref() == Some(profile.as_str())) {
            Some(e) => Ok(Arc::clone(&e.target)),
            None => {
                let have: Vec<String> =
                    self.entries.iter().map(|e| format!("{} ({})", e.name, e.profile.as_deref().unwrap_or("no profile"))).collect();
                Err(format!("the sandbox has no workspace with profile {profile:?} (it has {})", have.join(", ")))
            }
        }
    }
}

/// Every pair with a client 1 needs a client 2, and the other way round.
fn check_pairs(clients: &[TargetClient]) -> Result<(), String> {
    for auth in ClientAuth::ALL {
        for sender in Sender::ALL {
            let has = |i: u8| clients.iter().any(|c| c.auth == auth && c.sender == sender && c.index == i);
            let pair = format!("client_auth={},sender={}", auth.as_str(), sender.as_str());
            match (has(1), has(2)) {
                (true, false) => return Err(format!("variant {pair} has client 1 but no second client (a run needs two)")),
                (false, true) => return Err(format!("variant {pair} has client 2 but no client 1")),
                _ => {}
            }
        }
    }
    Ok(())
}

/// `[registration]` of a target file; an error is (key, message).
fn file_registration(r: &FileRegistration, resolve: &dyn Fn(&Path) -> PathBuf) -> Result<Registration, (String, String)> {
    let https = |key: &str, url: &Option<String>| match url {
        Some(u) if !u.starts_with("https://") => Err((key.to_owned(), format!("{u:?} is not an https URL (FAPI2-SP-NET-01)"))),
        _ => Ok(()),
    };
    https("registration.endpoint", &r.endpoint)?;
    https("registration.other_workspace_registration_endpoint", &r.other_workspace_registration_endpoint)?;
    let admin_client = match &r.admin_client {
        None => None,
        Some(a) => {
            let sender = Some(a.sender_constraint.as_str());
            let credentials = ServiceCredentials {
                client_id: &a.client_id,
                token_endpoint_auth_method: &a.token_endpoint_auth_method,
                sender_constraint: sender,
                private_jwks_file: &a.private_jwks_file,
                cert_file: &a.cert_file,
                key_file: &a.key_file,
            };
            Some(AdminClient {
                client: file_service_client("registration.admin_client", &credentials, resolve)?,
                scope: a.scope.clone().unwrap_or_else(|| "dcr_manage update_client_status".to_owned()),
            })
        }
    };
    let fdx = match &r.fdx {
        None => None,
        Some(f) => {
            if !f.status_endpoint.starts_with("https://") || !f.status_endpoint.contains("{client_id}") {
                return Err((
                    "registration.fdx.status_endpoint".into(),
                    format!("{:?}: expected an https URL template containing {{client_id}}", f.status_endpoint),
                ));
            }
            if !FDX_STATUSES.contains(&f.initial_status.as_str()) {
                return Err((
                    "registration.fdx.initial_status".into(),
                    format!("{:?}: expected one of {} (FDX-ST-06)", f.initial_status, FDX_STATUSES.join(", ")),
                ));
            }
            Some(FdxStatus { status_endpoint: f.status_endpoint.clone(), initial_status: f.initial_status.clone() })
        }
    };
    Ok(Registration {
        endpoint: r.endpoint.clone(),
        mtls_endpoint: None,
        initial_access_token: r.initial_access_token.clone(),
        admin_client,
        supports_dcr_manage: r.supports_dcr_manage,
        other_workspace_registration_endpoint: r.other_workspace_registration_endpoint.clone(),
        fdx,
    })
}

/// The credentials of a client the harness uses for a service rather than a flow (the
/// registration admin client, the introspection client), as a target file gives them.
struct ServiceCredentials<'a> {
    client_id: &'a str,
    token_endpoint_auth_method: &'a str,
    /// Required for the admin client (its tokens are bound); optional for the introspection
    /// client, which presents no token.
    sender_constraint: Option<&'a str>,
    private_jwks_file: &'a Option<PathBuf>,
    cert_file: &'a Option<PathBuf>,
    key_file: &'a Option<PathBuf>,
}

/// A service client of a target file under `prefix` (e.g. `registration.admin_client`); an
/// error is (key, message). Without a sender constraint the client uses its certificate only
/// when it authenticates with it.
fn file_service_client(prefix: &str, a: &ServiceCredentials<'_>, resolve: &dyn Fn(&Path) -> PathBuf) -> Result<TargetClient, (String, String)> {
    let key = |k: &str| format!("{prefix}.{k}");
    let auth = parse_auth(a.token_endpoint_auth_method).ok_or_else(|| {
        (
            key("token_endpoint_auth_method"),
            format!("{:?}: expected private_key_jwt, tls_client_auth or self_signed_tls_client_auth", a.token_endpoint_auth_method),
        )
    })?;
    let sender = match a.sender_constraint {
        Some(s) => parse_sender(s).ok_or_else(|| (key("sender_constraint"), format!("{s:?}: expected dpop or mtls")))?,
        None => service_sender(auth),
    };
    let private_jwks = match a.private_jwks_file {
        Some(p) => {
            let p = resolve(p);
            let text = std::fs::read_to_string(&p).map_err(|e| (key("private_jwks_file"), format!("cannot read {}: {e}", p.display())))?;
            let v: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| (key("private_jwks_file"), format!("{} is not JSON: {e}", p.display())))?;
            check_private_jwks(&v).map_err(|m| (key("private_jwks_file"), m))?;
            v
        }
        None if auth == ClientAuth::PrivateKeyJwt => return Err((key("private_jwks_file"), "required for private_key_jwt".into())),
        None => serde_json::json!({"keys": []}),
    };
    let read_pem = |k: &str, p: &Option<PathBuf>| -> Result<Option<String>, (String, String)> {
        p.as_ref()
            .map(|p| {
                let p = resolve(p);
                std::fs::read_to_string(&p).map_err(|e| (key(k), format!("cannot read {}: {e}", p.display())))
            })
            .transpose()
    };
    let cert_pem = read_pem("cert_file", a.cert_file)?;
    let key_pem = read_pem("key_file", a.key_file)?;
    if (auth == ClientAuth::Mtls || sender == Sender::Mtls) && (cert_pem.is_none() || key_pem.is_none()) {
        return Err((key("cert_file"), "cert_file and key_file are required for mTLS authentication or mTLS sender constraint".into()));
    }
    Ok(TargetClient {
        client_id: a.client_id.to_owned(),
        auth,
        auth_method: a.token_endpoint_auth_method.to_owned(),
        sender,
        index: 1,
        private_jwks,
        cert_pem,
        key_pem,
        redirect_uri: String::new(),
        second_redirect_uri: None,
    })
}

/// The `sender` of a service client that states no sender constraint: it presents no access
/// token, so the field only decides whether the certificate goes on the connection — exactly
/// when the client authenticates with it (mTLS).
fn service_sender(auth: ClientAuth) -> Sender {
    match auth {
        ClientAuth::Mtls => Sender::Mtls,
        ClientAuth::PrivateKeyJwt => Sender::Dpop,
    }
}

/// The FDX client statuses, exactly (FDX-ST-06).
pub const FDX_STATUSES: &[&str] = &["Approved", "Tentative", "Pending", "Rejected", "Inactive"];

/// Whether a client in this FDX status may obtain tokens (FDX-ST-01: Approved and Tentative).
pub fn fdx_status_active(status: &str) -> bool {
    matches!(status, "Approved" | "Tentative")
}

fn check_private_jwks(v: &serde_json::Value) -> Result<(), String> {
    let keys = v.get("keys").and_then(|k| k.as_array()).ok_or("not a JWKS: no \"keys\" array")?;
    if keys.is_empty() {
        return Err("the JWKS holds no key".into());
    }
    if !keys.iter().any(|k| fapilab_jose::SigningKey::from_private_jwk(k).is_ok()) {
        return Err("no usable private signing key (PS256, ES256 or EdDSA) in the JWKS".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("fapilab-target-{}-{}", std::process::id(), fapilab_jose::random_token(6)));
        std::fs::create_dir_all(&d).unwrap();
        let key = fapilab_jose::SigningKey::generate(fapilab_jose::Algorithm::Es256, Some("k1".into())).unwrap();
        std::fs::write(d.join("jwks.json"), serde_json::json!({"keys": [key.to_private_jwk()]}).to_string()).unwrap();
        std::fs::write(d.join("ca.pem"), "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").unwrap();
        d
    }

    const HEAD: &str = r#"
format = 1
issuer = "https://as.example/t/"
ca_file = "ca.pem"
resource_url = "https://rs.example/accounts"
[login]
mode = "form"
username = "alice"
password = "pw"
"#;

    fn client(id: &str) -> String {
        format!(
            "[[clients]]\nclient_id = \"{id}\"\ntoken_endpoint_auth_method = \"private_key_jwt\"\nsender_constraint = \"dpop\"\nprivate_jwks_file = \"jwks.json\"\nredirect_uri = \"https://c.example/cb\"\n"
        )
    }

    #[test]
    fn good_file_loads_with_defaults() {
        let d = dir();
        let path = d.join("t.toml");
        std::fs::write(&path, format!("{HEAD}{}{}", client("a"), client("b"))).unwrap();
        let t = Target::load_any(&path).expect("loads");
        assert_eq!(t.issuer, "https://as.example/t");
        assert_eq!(t.discovery_url, "https://as.example/t/.well-known/openid-configuration");
        assert_eq!(t.scope_openid, "openid accounts");
        assert_eq!(t.scope_plain, "accounts");
        assert_eq!(t.code_lifetime, 60);
        let v = Variant::new(ClientAuth::PrivateKeyJwt, Sender::Dpop, crate::variant::OpenId::PlainOauth);
        assert_eq!(t.client(&v, 1).unwrap().client_id, "a");
        assert_eq!(t.client(&v, 2).unwrap().client_id, "b");
        let Login::Form(f) = &t.login else { panic!("form login") };
        assert_eq!(f.approve.value, "approve");
        assert_eq!(f.password_field, "password");
    }

    #[test]
    fn unknown_key_is_named() {
        let d = dir();
        let path = d.join("t.toml");
        std::fs::write(&path, format!("colour = \"red\"\n{HEAD}{}{}", client("a"), client("b"))).unwrap();
        let err = Target::load(&path).unwrap_err().to_string();
        assert!(err.contains("colour"), "{err}");
    }

    #[test]
    fn missing_second_client_names_the_variant() {
        let d = dir();
        let path = d.join("t.toml");
        std::fs::write(&path, format!("{HEAD}{}", client("a"))).unwrap();
        let err = Target::load(&path).unwrap_err().to_string();
        assert!(err.contains("client_auth=private_key_jwt,sender=dpop") && err.contains("second client"), "{err}");
    }

    const REGISTRATION: &str = r#"
[registration]
initial_access_token = "iat-1"
supports_dcr_manage = true

[registration.admin_client]
client_id = "admin"
token_endpoint_auth_method = "private_key_jwt"
sender_constraint = "dpop"
private_jwks_file = "jwks.json"

[registration.fdx]
status_endpoint = "https://as.example/t/fdx/clients/{client_id}/status"
initial_status = "Pending"
"#;

    #[test]
    fn registration_section_loads_and_decides_features() {
        let d = dir();
        let path = d.join("t.toml");
        std::fs::write(&path, format!("{HEAD}{}{}", client("a"), client("b"))).unwrap();
        let t = Target::load(&path).unwrap();
        assert!(t.registration.is_none());
        assert!(t.unmet(&[Feature::Registration]).unwrap().contains("[registration]"));
        assert_eq!(t.unmet(&[]), None);

        std::fs::write(&path, format!("{HEAD}{}{}{REGISTRATION}", client("a"), client("b"))).unwrap();
        let t = Target::load(&path).unwrap();
        let r = t.registration.as_ref().unwrap();
        assert_eq!(r.initial_access_token.as_deref(), Some("iat-1"));
        assert_eq!(r.endpoint, None, "discovery's registration_endpoint is the default");
        let admin = r.admin_client.as_ref().unwrap();
        assert!(admin.has_scope("dcr_manage") && admin.has_scope("update_client_status"));
        assert_eq!(r.fdx.as_ref().unwrap().url_for("c-1"), "https://as.example/t/fdx/clients/c-1/status");
        assert_eq!(t.unmet(&[Feature::Registration, Feature::Fdx, Feature::DcrManage]), None);
        assert!(t.unmet(&[Feature::OtherWorkspace]).unwrap().contains("other_workspace_registration_endpoint"));

        // The admin client's scopes decide what it can be used for.
        let narrow = REGISTRATION.replace("private_key_jwt\"\n", "private_key_jwt\"\nscope = \"dcr_manage\"\n");
        std::fs::write(&path, format!("{HEAD}{}{}{narrow}", client("a"), client("b"))).unwrap();
        let t = Target::load(&path).unwrap();
        assert!(t.unmet(&[Feature::Fdx]).unwrap().contains("update_client_status"));
        assert_eq!(t.unmet(&[Feature::DcrManage]), None);
    }

    #[test]
    fn registration_errors_name_the_key() {
        let d = dir();
        let path = d.join("t.toml");
        let cases = [
            (REGISTRATION.replace("supports_dcr_manage", "supports_dcr_mange"), "supports_dcr_mange"),
            (REGISTRATION.replace("initial_status = \"Pending\"", "initial_status = \"pending\""), "registration.fdx.initial_status"),
            (REGISTRATION.replace("/fdx/clients/{client_id}/status", "/fdx/status"), "registration.fdx.status_endpoint"),
            (REGISTRATION.replace("private_jwks_file = \"jwks.json\"\n", ""), "registration.admin_client.private_jwks_file"),
            (format!("{REGISTRATION}\n[registration.admin]\nx = 1\n"), "admin"),
        ];
        for (text, key) in cases {
            std::fs::write(&path, format!("{HEAD}{}{}{text}", client("a"), client("b"))).unwrap();
            let err = Target::load(&path).unwrap_err().to_string();
            assert!(err.contains(key), "{key}: {err}");
        }
    }

    #[test]
    fn a_manifest_gives_one_target_per_workspace_picked_by_profile() {
        let d = dir();
        let jwks = d.join("jwks.json");
        let ws = |name: &str, profile: &str, fdx: bool| {
            let clients: Vec<serde_json::Value> = [1, 2]
                .iter()
                .map(|i| {
                    serde_json::json!({
                        "client_id": format!("pkjwt-dpop-{i}"), "token_endpoint_auth_method": "private_key_jwt",
                        "sender_constraint": "dpop", "private_jwks_file": jwks, "cert_file": null, "key_file": null,
                        "redirect_uris": ["https://c.example/cb"], "scope": "openid accounts"})
                })
                .collect();
            let introspection = if fdx {
                serde_json::json!({"client_id": "bank", "token_endpoint_auth_method": "private_key_jwt", "sender_constraint": null,
                    "private_jwks_file": jwks, "cert_file": null, "key_file": null, "redirect_uris": [], "scope": ""})
            } else {
                serde_json::Value::Null
            };
            let fdx = if fdx {
                serde_json::json!({"status_endpoint": format!("https://as.example/default/{name}/fdx/clients/{{client_id}}/status"), "initial_status": "Pending"})
            } else {
                serde_json::Value::Null
            };
            serde_json::json!({
                "tenant": "default", "workspace": name, "profile": profile,
                "issuer": format!("https://as.example/default/{name}"),
                "discovery_url": format!("https://as.example/default/{name}/.well-known/openid-configuration"),
                "code_lifetime": 60, "request_uri_lifetime": 60,
                "clients": clients,
                "introspection_client": introspection,
                "registration": {
                    "endpoint": format!("https://as.example/default/{name}/register"),
                    "mtls_endpoint": format!("https://mtls.as.example/default/{name}/register"),
                    "policy": "initial_access_token", "initial_access_token": "iat", "registration_access_token_lifetime": null,
                    "admin_client": {"client_id": "admin", "token_endpoint_auth_method": "private_key_jwt", "sender_constraint": "dpop",
                        "private_jwks_file": jwks, "cert_file": null, "key_file": null, "redirect_uris": [],
                        "scope": "dcr_manage update_client_status"},
                    "supports_dcr_manage": true,
                    "fdx": fdx
                }
            })
        };
        let manifest = serde_json::json!({
            "ca_file": d.join("ca.pem"), "bank_url": "https://bank.example", "bank_audience": "https://bank.example",
            "mtls_base_url": "https://mtls.as.example",
            "workspaces": [ws("fapi2", "fapi2-security-profile", false), ws("fdx", "fdx", true)],
            "users": [{"username": "alice", "password": "pw"}]
        });
        let path = d.join("sandbox.json");
        std::fs::write(&path, manifest.to_string()).unwrap();
        let targets = Targets::load_any(&path).unwrap();
        let names: Vec<&str> = targets.entries().iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, vec!["default/fapi2", "default/fdx"]);
        let first = Target::from_sandbox_manifest(&path).unwrap();
        assert_eq!(first.issuer, "https://as.example/default/fapi2");

        let scenario = |profile: Option<&str>| Scenario {
            plan: "p".into(),
            module: "m".into(),
            title: "t".into(),
            requirements: vec!["R".into()],
            applies: crate::scenario::Applies::default(),
            requires: crate::scenario::Requires { profile: profile.map(str::to_owned), features: Vec::new() },
            steps: Vec::new(),
            source: "s".into(),
            messages: crate::scenario::Messages::default(),
        };
        assert_eq!(targets.for_scenario(&scenario(None)).unwrap().issuer, "https://as.example/default/fapi2");
        let fdx = targets.for_scenario(&scenario(Some("fdx"))).unwrap();
        assert_eq!(fdx.issuer, "https://as.example/default/fdx");
        let r = fdx.registration.as_ref().unwrap();
        assert_eq!(r.mtls_endpoint.as_deref(), Some("https://mtls.as.example/default/fdx/register"));
        assert_eq!(r.other_workspace_registration_endpoint.as_deref(), Some("https://as.example/default/fapi2/register"));
        assert_eq!(r.admin_client.as_ref().unwrap().client.client_id, "admin");
        assert_eq!(fdx.unmet(&[Feature::Fdx, Feature::DcrManage, Feature::OtherWorkspace, Feature::IntrospectionClient]), None);
        assert_eq!(fdx.introspection_client.as_ref().map(|c| c.client_id.as_str()), Some("bank"));
        let fapi2 = targets.for_scenario(&scenario(Some("fapi2-security-profile"))).unwrap();
        assert!(fapi2.unmet(&[Feature::Fdx]).unwrap().contains("[registration.fdx]"));
        assert!(fapi2.unmet(&[Feature::IntrospectionClient]).unwrap().contains("introspection_client"));
        let err = targets.for_scenario(&scenario(Some("brazil"))).unwrap_err();
        assert!(err.contains("\"brazil\"") && err.contains("default/fdx (fdx)"), "{err}");

        // A target file serves every module, whatever profile it names.
        let file = Targets::single(first);
        assert_eq!(file.for_scenario(&scenario(Some("fdx"))).unwrap().issuer, "https://as.example/default/fapi2");
    }

    #[test]
    fn introspection_client_from_a_target_file() {
        let d = dir();
        let path = d.join("t.toml");
        std::fs::write(&path, format!("{HEAD}{}{}", client("a"), client("b"))).unwrap();
        let t = Target::load(&path).unwrap();
        assert!(t.introspection_client.is_none());
        assert!(t.unmet(&[Feature::IntrospectionClient]).unwrap().contains("[introspection_client]"));
        let section = "\n[introspection_client]\nclient_id = \"bank\"\ntoken_endpoint_auth_method = \"private_key_jwt\"\nprivate_jwks_file = \"jwks.json\"\n";
        std::fs::write(&path, format!("{HEAD}{}{}{section}", client("a"), client("b"))).unwrap();
        let t = Target::load(&path).unwrap();
        let rs = t.introspection_client.as_ref().unwrap();
        assert_eq!((rs.client_id.as_str(), rs.auth), ("bank", ClientAuth::PrivateKeyJwt));
        assert!(!rs.uses_mtls(), "no certificate without mTLS authentication or a sender constraint");
        // Only what it needs: no registration section for the introspection client.
        assert_eq!(t.unmet(&[Feature::IntrospectionClient]), None);
        // mTLS authentication needs the certificate.
        let mtls = section.replace("private_key_jwt", "tls_client_auth").replace("private_jwks_file = \"jwks.json\"\n", "");
        std::fs::write(&path, format!("{HEAD}{}{}{mtls}", client("a"), client("b"))).unwrap();
        let err = Target::load(&path).unwrap_err().to_string();
        assert!(err.contains("introspection_client.cert_file"), "{err}");
        std::fs::write(&path, format!("{HEAD}{}{}{}", client("a"), client("b"), section.replace("client_id", "client"))).unwrap();
        assert!(Target::load(&path).unwrap_err().to_string().contains("client"));
    }

    #[test]
    fn ciba_section_loads_and_decides_the_feature() {
        let d = dir();
        let path = d.join("t.toml");
        std::fs::write(&path, format!("{HEAD}{}{}", client("a"), client("b"))).unwrap();
        let t = Target::load(&path).unwrap();
        assert!(t.unmet(&[Feature::Ciba]).unwrap().contains("[ciba]"));
        std::fs::write(d.join("ping.pem"), "CERT").unwrap();
        let section = "\n[ciba]\ninterval = 5\napprove_after_ms = 1500\napproved_user = \"alice\"\ndenied_user = \"mallory\"\n\
                       device_requests_url = \"https://as.example/t/ciba/device/requests\"\n\
                       notification_endpoint_cert_file = \"ping.pem\"\n";
        std::fs::write(&path, format!("{HEAD}{}{}{section}", client("a"), client("b"))).unwrap();
        let t = Target::load(&path).unwrap();
        assert_eq!(t.unmet(&[Feature::Ciba]), None);
        let c = t.ciba.as_ref().unwrap();
        assert_eq!((c.approved_user.as_deref(), c.pending_user.as_deref()), (Some("alice"), None));
        assert_eq!((c.notification_cert_pem.as_deref(), c.endpoint.as_deref()), (Some("CERT"), None));
        // A misspelt member and an unreadable file are named.
        std::fs::write(&path, format!("{HEAD}{}{}{}", client("a"), client("b"), section.replace("denied_user", "deny_user"))).unwrap();
        assert!(Target::load(&path).unwrap_err().to_string().contains("deny_user"));
        std::fs::write(&path, format!("{HEAD}{}{}{}", client("a"), client("b"), section.replace("ping.pem", "missing.pem"))).unwrap();
        assert!(Target::load(&path).unwrap_err().to_string().contains("ciba.notification_endpoint_cert_file"));
    }

    #[test]
    fn passkeys_section_defaults_from_the_issuer_and_decides_the_feature() {
        let d = dir();
        let path = d.join("t.toml");
        std::fs::write(&path, format!("{HEAD}{}{}", client("a"), client("b"))).unwrap();
        let t = Target::load(&path).unwrap();
        assert!(t.unmet(&[Feature::Passkeys]).unwrap().contains("[passkeys]"));
        std::fs::write(&path, format!("{HEAD}{}{}\n[passkeys]\n", client("a"), client("b"))).unwrap();
        let t = Target::load(&path).unwrap();
        assert_eq!(t.unmet(&[Feature::Passkeys]), None);
        assert_eq!(
            t.passkeys,
            Some(Passkeys {
                rp_id: "as.example".into(),
                origin: "https://as.example".into(),
                account_url: "https://as.example/t/account".into()
            })
        );
        let section = "\n[passkeys]\nrp_id = \"example\"\norigin = \"https://login.example:8443/\"\naccount_url = \"{issuer}/me\"\n";
        std::fs::write(&path, format!("{HEAD}{}{}{section}", client("a"), client("b"))).unwrap();
        let p = Target::load(&path).unwrap().passkeys.unwrap();
        assert_eq!(
            (p.rp_id.as_str(), p.origin.as_str(), p.account_url.as_str()),
            ("example", "https://login.example:8443", "https://as.example/t/me")
        );
        for (bad, key) in [
            (section.replace("rp_id = \"example\"", "rp_id = \"other.example\""), "passkeys.rp_id"),
            (section.replace("https://login.example:8443/", "http://login.example"), "passkeys.origin"),
            (section.replace("https://login.example:8443/", "https://login.example/login"), "passkeys.origin"),
            (section.replace("rp_id", "rpid"), "rpid"),
        ] {
            std::fs::write(&path, format!("{HEAD}{}{}{bad}", client("a"), client("b"))).unwrap();
            let err = Target::load(&path).unwrap_err().to_string();
            assert!(err.contains(key), "{key}: {err}");
        }
        // A manual login has no password to reach the account page with.
        let manual = HEAD.replace("mode = \"form\"\nusername = \"alice\"\npassword = \"pw\"", "mode = \"manual\"");
        std::fs::write(&path, format!("{manual}{}{}\n[passkeys]\n", client("a"), client("b"))).unwrap();
        assert!(Target::load(&path).unwrap().unmet(&[Feature::Passkeys]).unwrap().contains("mode = \"form\""));
    }

    #[test]
    fn a_manifest_workspace_may_offer_passkeys() {
        let d = dir();
        let jwks = d.join("jwks.json");
        let clients: Vec<serde_json::Value> = [1, 2]
            .iter()
            .map(|i| {
                serde_json::json!({"client_id": format!("pkjwt-dpop-{i}"), "token_endpoint_auth_method": "private_key_jwt",
                    "sender_constraint": "dpop", "private_jwks_file": jwks, "cert_file": null, "key_file": null,
                    "redirect_uris": ["https://c.example/cb"], "scope": "openid accounts"})
            })
            .collect();
        let ws = |name: &str, passkeys: serde_json::Value| {
            serde_json::json!({"tenant": "default", "workspace": name, "profile": name, "issuer": format!("https://localhost:8443/default/{name}"),
                "discovery_url": format!("https://localhost:8443/default/{name}/.well-known/openid-configuration"),
                "clients": clients, "passkeys": passkeys})
        };
        let manifest = serde_json::json!({
            "ca_file": d.join("ca.pem"), "bank_url": "https://bank.example",
            "workspaces": [
                ws("fapi2", serde_json::json!({"rp_id": "localhost", "origin": "https://localhost:8443", "account_url": "https://localhost:8443/default/fapi2/account"})),
                ws("fdx", serde_json::Value::Null)
            ],
            "users": [{"username": "alice", "password": "pw"}]
        });
        let path = d.join("sandbox.json");
        std::fs::write(&path, manifest.to_string()).unwrap();
        let targets = Targets::load_any(&path).unwrap();
        let fapi2 = &targets.entries()[0].target;
        assert_eq!(fapi2.unmet(&[Feature::Passkeys]), None);
        let p = fapi2.passkeys.as_ref().unwrap();
        assert_eq!((p.rp_id.as_str(), p.origin.as_str()), ("localhost", "https://localhost:8443"));
        assert_eq!(p.account_url, "https://localhost:8443/default/fapi2/account");
        assert!(targets.entries()[1].target.unmet(&[Feature::Passkeys]).unwrap().contains("`passkeys`"));
        // Written relative to the issuer, or with a misspelt member.
        let mut relative = manifest.clone();
        relative["workspaces"][0]["passkeys"] =
            serde_json::json!({"rp_id": "localhost", "origin": "https://localhost:8443", "account_url": "{issuer}/account"});
        std::fs::write(&path, relative.to_string()).unwrap();
        let t = Targets::load_any(&path).unwrap();
        assert_eq!(t.entries()[0].target.passkeys.as_ref().unwrap().account_url, "https://localhost:8443/default/fapi2/account");
        relative["workspaces"][0]["passkeys"] = serde_json::json!({"rpid": "localhost"});
        std::fs::write(&path, relative.to_string()).unwrap();
        assert!(Targets::load_any(&path).unwrap_err().to_string().contains("rpid"));
    }

    #[test]
    fn bad_auth_method_names_the_key() {
        let d = dir();
        let path = d.join("t.toml");
        let bad = client("a").replace("private_key_jwt", "client_secret_basic");
        std::fs::write(&path, format!("{HEAD}{bad}{}", client("b"))).unwrap();
        let err = Target::load(&path).unwrap_err().to_string();
        assert!(err.contains("clients[0].token_endpoint_auth_method"), "{err}");
    }
}
