//! `sandbox.json`: everything a client under test needs to talk to a running sandbox.
//!
//! A harness or a person reads one file instead of guessing URLs and file names: the trust
//! anchor, every workspace's issuer and discovery URL, every client with its authentication
//! method, sender constraint and credential files, the bank's URL and audience, and the test
//! login. Paths are absolute so the file can be used from any working directory; a member
//! that does not apply to a client (no TPP, so no files) is `null`. The bank's own
//! resource-server client is left out: it is not for clients under test.
//!
//! The file is replaced atomically (a temporary file in the same directory, then a rename),
//! so a reader polling for it never sees half a manifest.

use std::path::{Path, PathBuf};

use fapilab_certs::CaDir;
use fapilab_server::RunningServer;
use fapilab_server::config::{DeviceDecision, RegistrationPolicy};
use fapilab_server::workspace::{ADMIN_CLIENT_ID, Client, Listener, Workspace};
use serde::{Deserialize, Serialize};

use crate::error::SandboxError;

/// The manifest's file name inside the data directory.
pub const MANIFEST_FILE: &str = "sandbox.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The CA certificate (PEM) that every sandbox TLS certificate chains to.
    pub ca_file: PathBuf,
    /// The mock bank's base URL.
    pub bank_url: String,
    /// The `aud` of access tokens the bank accepts.
    pub bank_audience: String,
    /// Base URL of the authorization server's listener that asks for client certificates.
    pub mtls_base_url: String,
    pub workspaces: Vec<ManifestWorkspace>,
    pub users: Vec<ManifestUser>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestWorkspace {
    pub tenant: String,
    pub workspace: String,
    pub profile: String,
    pub issuer: String,
    pub discovery_url: String,
    /// Seconds an authorization code lives (a harness waits this long to test expiry).
    pub code_lifetime: u64,
    /// Seconds a pushed `request_uri` lives.
    pub request_uri_lifetime: u64,
    pub clients: Vec<ManifestClient>,
    /// The resource server's client (`private_key_jwt`), for introspection — signed
    /// introspection responses (RFC 9701) are addressed to it.
    pub introspection_client: Option<ManifestClient>,
    /// Dynamic client registration, when the workspace offers it.
    pub registration: Option<ManifestRegistration>,
    /// CIBA, when the workspace offers it.
    pub ciba: Option<ManifestCiba>,
    /// Passkeys (WebAuthn), when the workspace's issuer can be a relying party.
    #[serde(default)]
    pub passkeys: Option<ManifestPasskeys>,
}

/// Passkeys in a workspace: the relying party a software authenticator must answer for, and
/// the account page where a signed-in user registers them (README "Login form contract").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestPasskeys {
    pub rp_id: String,
    pub origin: String,
    pub account_url: String,
}

/// CIBA in a workspace: the backchannel endpoint and the simulated authentication device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestCiba {
    pub endpoint: String,
    pub mtls_endpoint: String,
    /// Seconds between polls.
    pub interval: u64,
    /// `login_hint` values: approved by the device after `approve_after_ms`, denied, or left
    /// pending until decided through the device API.
    pub approved_user: Option<String>,
    pub approve_after_ms: Option<u64>,
    pub denied_user: Option<String>,
    pub pending_user: Option<String>,
    /// `GET` lists pending requests; `POST {device_requests_url}/{device_id}` with
    /// `{"decision": "approve"|"deny"}` decides one; `Authorization: Bearer {device_api_token}`.
    pub device_requests_url: String,
    pub device_api_token: Option<String>,
    /// A certificate and key (PEM, valid for `localhost`, issued by the sandbox CA) that a
    /// client under test may serve its ping notification endpoint with: the server trusts
    /// the CA.
    pub notification_endpoint_cert_file: PathBuf,
    pub notification_endpoint_key_file: PathBuf,
}

/// How to register and manage clients in a workspace (RFC 7591 / RFC 7592, FDX).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestRegistration {
    pub endpoint: String,
    /// The same endpoint on the listener that asks for client certificates.
    pub mtls_endpoint: String,
    /// `open`, `initial_access_token` or `software_statement`.
    pub policy: String,
    /// Send as `Authorization: Bearer` when registering (policy `initial_access_token`).
    pub initial_access_token: Option<String>,
    /// Seconds a registration access token works; `null`: it does not expire.
    pub registration_access_token_lifetime: Option<u64>,
    /// A configured client whose client_credentials tokens carry `dcr_manage` and
    /// `update_client_status` (not listed among `clients`).
    pub admin_client: Option<ManifestClient>,
    /// A `dcr_manage` token may read, update and delete every registered client.
    pub supports_dcr_manage: bool,
    /// FDX offline approval, in FDX workspaces.
    pub fdx: Option<ManifestFdx>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFdx {
    /// `PUT` here with `{"update_client_status": "Approved"}`; `{client_id}` is replaced.
    pub status_endpoint: String,
    /// The status of a new registration.
    pub initial_status: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestClient {
    pub client_id: String,
    pub token_endpoint_auth_method: String,
    /// `dpop` or `mtls`.
    pub sender_constraint: Option<String>,
    /// Private signing JWKS (ES256 and PS256 keys) for `private_key_jwt` and DPoP proofs.
    pub private_jwks_file: Option<PathBuf>,
    /// Transport certificate (PEM) for mutual TLS.
    pub cert_file: Option<PathBuf>,
    /// Its private key (PKCS#8 PEM).
    pub key_file: Option<PathBuf>,
    pub redirect_uris: Vec<String>,
    /// Space-separated scopes the client may ask for.
    pub scope: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestUser {
    pub username: String,
    pub password: String,
}

impl Manifest {
    /// Describes `server` and the bank at `bank_url`. `users` are the logins to publish.
    pub fn describe(
        server: &RunningServer,
        bank_url: &str,
        bank_audience: &str,
        users: Vec<ManifestUser>,
    ) -> Manifest {
        Manifest {
            ca_file: server.ca_dir.ca_cert(),
            bank_url: bank_url.to_owned(),
            bank_audience: bank_audience.to_owned(),
            mtls_base_url: server.mtls_base_url.clone(),
            workspaces: {
                // The FAPI 2.0 Security Profile workspace first: tools that take one target
                // from a manifest (the bench, harness modules that name no profile) use the
                // first workspace as the default.
                let mut all = server.workspaces();
                all.sort_by_key(|ws| ws.profile != fapilab_server::profiles::ProfileId::Fapi2SecurityProfile);
                all.iter().map(|ws| describe_workspace(ws, &server.ca_dir)).collect()
            },
            users,
        }
    }

    /// Reads a manifest written by [`Manifest::write`].
    pub fn load(path: &Path) -> Result<Manifest, SandboxError> {
        let fail = |message: String| SandboxError::Manifest {
            path: path.to_owned(),
            message,
        };
        let text =
            std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read it: {e}")))?;
        serde_json::from_str(&text).map_err(|e| fail(format!("not a sandbox manifest: {e}")))
    }

    /// Writes the manifest to `path` atomically.
    pub fn write(&self, path: &Path) -> Result<(), SandboxError> {
        let fail = |message: String| SandboxError::Manifest {
            path: path.to_owned(),
            message,
        };
        let mut text = serde_json::to_string_pretty(self)
            .map_err(|e| fail(format!("cannot serialize it: {e}")))?;
        text.push('\n');
        let file_name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or(MANIFEST_FILE);
        let temporary = path.with_file_name(format!(".{file_name}.{}.tmp", std::process::id()));
        std::fs::write(&temporary, text)
            .map_err(|e| fail(format!("cannot write {}: {e}", temporary.display())))?;
        std::fs::rename(&temporary, path).map_err(|e| {
            let _ = std::fs::remove_file(&temporary);
            fail(format!(
                "cannot move {} into place: {e}",
                temporary.display()
            ))
        })
    }
}

fn describe_client(c: &Client, ca: &CaDir) -> ManifestClient {
    let file = |path: PathBuf| path.is_file().then_some(path);
    let tpp = c.tpp.as_deref();
    ManifestClient {
        client_id: c.client_id.clone(),
        token_endpoint_auth_method: c.auth_method.as_str().to_owned(),
        sender_constraint: c.sender_constraint.map(|s| s.as_str().to_owned()),
        private_jwks_file: tpp.and_then(|t| file(ca.tpp_private_jwks(t))),
        cert_file: tpp.and_then(|t| file(ca.tpp_transport_cert(t))),
        key_file: tpp.and_then(|t| file(ca.tpp_transport_key(t))),
        redirect_uris: c.redirect_uris.clone(),
        scope: c.scopes.join(" "),
    }
}

fn describe_registration(ws: &Workspace, ca: &CaDir) -> Option<ManifestRegistration> {
    if !ws.registration_enabled() {
        return None;
    }
    let settings = &ws.settings.registration;
    let admin = ws.clients.get(ADMIN_CLIENT_ID);
    Some(ManifestRegistration {
        endpoint: ws.endpoint(Listener::Tls, "register"),
        mtls_endpoint: ws.endpoint(Listener::Mtls, "register"),
        policy: settings.policy.as_str().to_owned(),
        initial_access_token: (settings.policy == RegistrationPolicy::InitialAccessToken)
            .then(|| settings.initial_access_tokens.first().cloned())
            .flatten(),
        registration_access_token_lifetime: settings.registration_access_token_lifetime.seconds(),
        admin_client: admin.map(|c| describe_client(c, ca)),
        supports_dcr_manage: admin.is_some(),
        fdx: ws.policy.registration_extension.map(|_| ManifestFdx {
            status_endpoint: ws.endpoint(Listener::Tls, "fdx/clients/{client_id}/status"),
            initial_status: ws.settings.fdx.initial_status.as_str().to_owned(),
        }),
    })
}

fn describe_workspace(ws: &Workspace, ca: &CaDir) -> ManifestWorkspace {
    let mut clients: Vec<ManifestClient> = ws
        .clients
        .values()
        .filter(|c| !c.resource_server && c.client_id != ADMIN_CLIENT_ID)
        .map(|c| describe_client(c, ca))
        .collect();
    clients.sort_by(|a, b| a.client_id.cmp(&b.client_id));
    ManifestWorkspace {
        tenant: ws.tenant.clone(),
        workspace: ws.id.clone(),
        profile: ws.profile.as_str().to_owned(),
        issuer: ws.issuer.clone(),
        discovery_url: format!("{}/.well-known/openid-configuration", ws.issuer),
        code_lifetime: ws.settings.code_lifetime,
        request_uri_lifetime: ws.settings.request_uri_lifetime,
        clients,
        introspection_client: ws.clients.values().find(|c| c.resource_server).map(|c| describe_client(c, ca)),
        registration: describe_registration(ws, ca),
        ciba: describe_ciba(ws, ca),
        passkeys: describe_passkeys(ws),
    }
}

fn describe_passkeys(ws: &Workspace) -> Option<ManifestPasskeys> {
    let rp = ws.relying_party.as_ref()?;
    let origin = rp.get_allowed_origins().first()?;
    Some(ManifestPasskeys {
        rp_id: origin.domain()?.to_owned(),
        origin: origin.origin().ascii_serialization(),
        account_url: ws.endpoint(Listener::Tls, "account"),
    })
}

fn describe_ciba(ws: &Workspace, ca: &CaDir) -> Option<ManifestCiba> {
    let settings = &ws.settings.ciba;
    if !settings.enabled {
        return None;
    }
    let rule_for = |decision: DeviceDecision| settings.device_rules.iter().find(|r| r.decision == decision);
    let approve = rule_for(DeviceDecision::Approve);
    let ruled: Vec<&str> = settings.device_rules.iter().filter_map(|r| r.login_hint.as_deref()).collect();
    Some(ManifestCiba {
        endpoint: ws.endpoint(Listener::Tls, "bc-authorize"),
        mtls_endpoint: ws.endpoint(Listener::Mtls, "bc-authorize"),
        interval: settings.interval,
        approved_user: approve.and_then(|r| r.login_hint.clone()),
        approve_after_ms: approve.map(|r| r.after_ms),
        denied_user: rule_for(DeviceDecision::Deny).and_then(|r| r.login_hint.clone()),
        pending_user: ws.users.keys().find(|u| !ruled.contains(&u.as_str())).cloned(),
        device_requests_url: ws.endpoint(Listener::Tls, "ciba/device/requests"),
        device_api_token: settings.device_api_tokens.first().cloned(),
        notification_endpoint_cert_file: ca.server_cert(),
        notification_endpoint_key_file: ca.server_key(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_then_load_round_trips_and_leaves_no_temporary_file() {
        let dir = std::env::temp_dir().join(format!(
            "fapilab-manifest-{}-{}",
            std::process::id(),
            fapilab_jose::random_token(6)
        ));
        std::fs::create_dir_all(&dir).expect("dir");
        let manifest = Manifest {
            ca_file: dir.join("ca/ca.pem"),
            bank_url: "https://localhost:8445".into(),
            bank_audience: "urn:fapilab:bank".into(),
            mtls_base_url: "https://localhost:8444".into(),
            workspaces: vec![ManifestWorkspace {
                tenant: "default".into(),
                workspace: "fapi2".into(),
                profile: "fapi2-security-profile".into(),
                issuer: "https://localhost:8443/default/fapi2".into(),
                discovery_url:
                    "https://localhost:8443/default/fapi2/.well-known/openid-configuration".into(),
                code_lifetime: 60,
                request_uri_lifetime: 60,
                clients: vec![ManifestClient {
                    client_id: "c".into(),
                    token_endpoint_auth_method: "private_key_jwt".into(),
                    sender_constraint: None,
                    private_jwks_file: None,
                    cert_file: None,
                    key_file: None,
                    redirect_uris: Vec::new(),
                    scope: "accounts".into(),
                }],
                introspection_client: None,
                registration: None,
                ciba: None,
                passkeys: None,
            }],
            users: vec![ManifestUser {
                username: "alice".into(),
                password: "pw".into(),
            }],
        };
        let path = dir.join(MANIFEST_FILE);
        manifest.write(&path).expect("write");
        manifest.write(&path).expect("overwrite");
        assert_eq!(Manifest::load(&path).expect("load"), manifest);
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.contains("\"sender_constraint\": null"), "{text}");
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .expect("list")
            .filter_map(Result::ok)
            .map(|e| e.file_name())
            .collect();
        assert_eq!(leftovers, vec![std::ffi::OsString::from(MANIFEST_FILE)]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
