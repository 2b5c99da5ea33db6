//! `start`: the whole sandbox in one call — test PKI, authorization server, mock bank and
//! manifest — so that a client under test (or a person with curl) has a complete FAPI 2.0
//! open-finance setup on loopback without configuring anything.
//!
//! Ports: with `port_base` 0 every listener gets an ephemeral port (for tests running in
//! parallel); otherwise the authorization server's TLS listener is on `port_base`, its
//! mutual-TLS listener (RFC 8705 §5 endpoint aliases) on `port_base + 1` and the bank on
//! `port_base + 2`. The bank validates tokens by introspection, so revocation shows at once
//! (FAPI2-SP-RS-03), at whichever workspace issued them (`fapi2` or `fdx`).

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use fapilab_certs::{CaDir, InitOptions, Lifetimes};
use fapilab_server::RunningServer;
use fapilab_server::config::{Config, DEFAULT_PASSWORD, DEFAULT_USER, DeviceDecision, DeviceRule, RegistrationPolicy, UserConfig, WorkspaceConfig, url_for};
use fapilab_server::profiles::ProfileId;
use fapilab_server::registry::FdxStatus;
use fapilab_server::workspace::Listener;

use crate::bank::{self, AuthorizationServer, BankConfig, BankState, RunningBank};
use crate::error::SandboxError;
use crate::manifest::{MANIFEST_FILE, Manifest, ManifestUser};

/// Where and how to run the sandbox.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// Holds the CA (`ca/`), the store, the signing keys and `sandbox.json`; created if missing.
    pub data_dir: PathBuf,
    /// First of three consecutive ports; 0 for ephemeral ports.
    pub port_base: u16,
    /// Address every listener binds to.
    pub bind: IpAddr,
    /// Authorization code lifetime in seconds (default: the server's, 60). A certification
    /// dry-run shortens it so the expiry modules wait seconds, not a minute.
    pub code_lifetime: Option<u64>,
    /// PAR `request_uri` lifetime in seconds (default: the server's, 60; at least 5).
    pub request_uri_lifetime: Option<u64>,
    /// Test-only protections to remove from the authorization server (needs the
    /// `fault-injection` feature of fapilab-server; refused otherwise). Default: none.
    pub faults: Vec<fapilab_server::faults::Fault>,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            data_dir: PathBuf::from("data/sandbox"),
            port_base: 8443,
            bind: IpAddr::from([127, 0, 0, 1]),
            code_lifetime: None,
            request_uri_lifetime: None,
            faults: Vec::new(),
        }
    }
}

/// A running sandbox. Dropping it stops the authorization server and the bank.
pub struct Sandbox {
    pub server: RunningServer,
    pub bank: RunningBank,
    pub bank_url: String,
    pub manifest: Manifest,
    pub manifest_path: PathBuf,
}

/// The sandbox's workspaces: `fapi2` (FAPI 2.0 Security Profile; passkey sign-ins get their
/// own `acr`) and `fdx` (FDX offline
/// approval: new registrations start `Pending`), both open to dynamic registration with an
/// initial access token generated at start (and published in the manifest), `fapi2-ms`
/// (FAPI 2.0 Message Signing: signed request objects, JARM), `fapi1-adv` (FAPI 1.0 Advanced:
/// signed request objects by value or pushed, hybrid or JARM responses, mTLS-bound tokens) and
/// `fapi1-base` (FAPI 1.0 Baseline).
fn sandbox_workspaces() -> Vec<WorkspaceConfig> {
    let registration = |ws: &mut WorkspaceConfig| {
        ws.registration.enabled = true;
        ws.registration.policy = RegistrationPolicy::InitialAccessToken;
        ws.registration.initial_access_tokens = vec![fapilab_jose::random_token(24)];
    };
    let mut fapi2 = WorkspaceConfig::default();
    registration(&mut fapi2);
    // A user-verified passkey is multi-factor (INT-PK-01): its own acr.
    fapi2.acr_values.push(PASSKEY_ACR.into());
    fapi2.acr_by_method.passkey = Some(PASSKEY_ACR.into());
    let mut fdx = WorkspaceConfig { id: "fdx".into(), profile: ProfileId::Fdx, ..WorkspaceConfig::default() };
    registration(&mut fdx);
    fdx.fdx.initial_status = FdxStatus::Pending;
    let message_signing = WorkspaceConfig { id: "fapi2-ms".into(), profile: ProfileId::Fapi2MessageSigning, ..WorkspaceConfig::default() };
    let fapi1_advanced = WorkspaceConfig { id: "fapi1-adv".into(), profile: ProfileId::Fapi1Advanced, ..WorkspaceConfig::default() };
    let fapi1_baseline = WorkspaceConfig { id: "fapi1-base".into(), profile: ProfileId::Fapi1Baseline, ..WorkspaceConfig::default() };
    let mut workspaces = vec![fapi2, fdx, message_signing, fapi1_advanced, fapi1_baseline];
    for ws in &mut workspaces {
        ciba(ws);
    }
    workspaces
}

/// CIBA in every workspace, with a deterministic authentication device: the default user is
/// approved after `CIBA_APPROVE_AFTER_MS`, `mallory` is denied, `bob` waits for a decision
/// through the device API (whose token is in the manifest).
fn ciba(ws: &mut WorkspaceConfig) {
    ws.ciba.enabled = true;
    ws.ciba.interval = 1;
    ws.ciba.device_api_tokens = vec![fapilab_jose::random_token(24)];
    // Clients under test run their ping endpoints on this machine.
    ws.ciba.notification_endpoint_prefixes = vec!["https://localhost:".into(), "https://127.0.0.1:".into()];
    ws.ciba.device_rules = vec![
        DeviceRule { login_hint: Some(CIBA_DENIED_USER.into()), decision: DeviceDecision::Deny, after_ms: 200 },
        DeviceRule { login_hint: Some(DEFAULT_USER.into()), decision: DeviceDecision::Approve, after_ms: CIBA_APPROVE_AFTER_MS },
    ];
    ws.users = [DEFAULT_USER, CIBA_PENDING_USER, CIBA_DENIED_USER]
        .iter()
        .map(|name| UserConfig {
            username: (*name).into(),
            password: if *name == DEFAULT_USER { DEFAULT_PASSWORD.into() } else { format!("{name}-wonderland-2026") },
            name: None,
            email: None,
        })
        .collect();
}

/// The `acr` of passkey sign-ins in the `fapi2` workspace.
const PASSKEY_ACR: &str = "urn:fapilab:acr:passkey";
/// The sandbox's CIBA users besides the default one.
const CIBA_PENDING_USER: &str = "bob";
const CIBA_DENIED_USER: &str = "mallory";
/// How long the simulated device takes to approve the default user.
const CIBA_APPROVE_AFTER_MS: u64 = 1_500;

/// Starts the sandbox: see the module documentation.
pub async fn start(opts: SandboxOptions) -> Result<Sandbox, SandboxError> {
    let (tls_port, mtls_port, bank_port) = ports(opts.port_base)?;
    std::fs::create_dir_all(&opts.data_dir).map_err(|source| SandboxError::DataDir {
        path: opts.data_dir.clone(),
        source,
    })?;
    let data_dir =
        std::fs::canonicalize(&opts.data_dir).map_err(|source| SandboxError::DataDir {
            path: opts.data_dir.clone(),
            source,
        })?;

    let mut config = Config::default();
    config.server.data_dir = data_dir.clone();
    config.server.bind = opts.bind;
    config.server.tls_port = tls_port;
    config.server.mtls_port = mtls_port;
    config.ca.dir = data_dir.join("ca");
    config.faults = opts.faults.clone();
    config.tenants[0].workspaces = sandbox_workspaces();
    for ws in config.tenants.iter_mut().flat_map(|t| t.workspaces.iter_mut()) {
        if let Some(seconds) = opts.code_lifetime {
            ws.code_lifetime = seconds;
        }
        if let Some(seconds) = opts.request_uri_lifetime {
            ws.request_uri_lifetime = seconds;
        }
    }
    prepare_ca(&CaDir::new(config.ca_dir()), config.ca.leaf_days)?;
    let users = published_users(&config);

    let server = fapilab_server::start(config.clone()).await?;

    // The bank trusts every workspace that has the bank's resource-server client; the first
    // one sets its audience (the sandbox's workspaces share it).
    let ca_pem = read(&server.ca_dir.ca_cert())?;
    let mut servers = Vec::new();
    let mut audience = None;
    for ws in server.workspaces() {
        let Some(bank_client) = ws.client(bank::BANK_CLIENT_ID).filter(|c| c.resource_server) else { continue };
        let tpp = bank_client.tpp.clone().ok_or_else(|| SandboxError::NoSigningKey(bank::BANK_CLIENT_ID.into()))?;
        audience.get_or_insert_with(|| ws.settings.access_token_audience.clone());
        let authorization_server = AuthorizationServer {
            issuer: ws.issuer.clone(),
            introspection_endpoint: ws.endpoint(Listener::Tls, "introspect"),
            jwks_uri: ws.endpoint(Listener::Tls, "jwks"),
            ca_pem: ca_pem.clone(),
        };
        servers.push((authorization_server, bank::signing_key_from_tpp(&server.ca_dir, &tpp)?));
    }
    let audience = audience.ok_or_else(|| SandboxError::NoBankClient(bank::BANK_CLIENT_ID.into()))?;

    let listener = bank::bind(SocketAddr::new(opts.bind, bank_port)).await?;
    let bank_addr = listener
        .local_addr()
        .map_err(SandboxError::ListenerAddress)?;
    let bank_url = url_for(&config.server.public_host, bank_addr.port());
    let mut bank_config = BankConfig::new(bank_url.clone());
    bank_config.audience = audience.clone();
    let state = BankState::for_servers(bank_config, servers)?;
    let bank = RunningBank::spawn(listener, bank::tls_config(&server.ca_dir)?, Arc::new(state))?;

    let manifest = Manifest::describe(
        &server,
        &bank_url,
        &audience,
        users,
    );
    let manifest_path = data_dir.join(MANIFEST_FILE);
    manifest.write(&manifest_path)?;
    tracing::info!(manifest = %manifest_path.display(), "sandbox ready");
    Ok(Sandbox {
        server,
        bank,
        bank_url,
        manifest,
        manifest_path,
    })
}

fn ports(base: u16) -> Result<(u16, u16, u16), SandboxError> {
    if base == 0 {
        return Ok((0, 0, 0));
    }
    let last = base.checked_add(2).ok_or(SandboxError::PortRange(base))?;
    Ok((base, base + 1, last))
}

/// A CA with no TPPs if there is none yet, and the bank's TPP. The server creates the TPPs of
/// its other clients itself when it builds the workspaces.
fn prepare_ca(ca: &CaDir, leaf_days: u32) -> Result<(), SandboxError> {
    if !ca.exists() {
        ca.init(&InitOptions {
            force: false,
            lifetimes: Lifetimes::default(),
            server_names: Vec::new(),
            tpps: Vec::new(),
        })?;
        tracing::info!(dir = %ca.root().display(), "created the sandbox certificate authority");
    }
    ca.ensure_tpp(bank::BANK_CLIENT_ID, false, leaf_days)?;
    Ok(())
}

/// The logins to publish: configured users, and the default user where a workspace has none.
fn published_users(config: &Config) -> Vec<ManifestUser> {
    let mut users: Vec<ManifestUser> = Vec::new();
    let mut add = |username: &str, password: &str| {
        if !users.iter().any(|u| u.username == username) {
            users.push(ManifestUser {
                username: username.to_owned(),
                password: password.to_owned(),
            });
        }
    };
    for ws in config.tenants.iter().flat_map(|t| &t.workspaces) {
        if ws.users.is_empty() {
            add(DEFAULT_USER, DEFAULT_PASSWORD);
        }
        for user in &ws.users {
            add(&user.username, &user.password);
        }
    }
    users
}

fn read(path: &Path) -> Result<Vec<u8>, SandboxError> {
    std::fs::read(path).map_err(|source| SandboxError::DataDir {
        path: path.to_owned(),
        source,
    })
}

impl Sandbox {
    /// Runs until Ctrl-C (or until a listener task dies).
    pub async fn wait(self) {
        let Sandbox {
            server, mut bank, ..
        } = self;
        tokio::select! {
            _ = server.wait() => {}
            _ = bank.stopped() => {}
        }
    }

    /// Stops both servers now (the same as dropping the sandbox).
    pub fn stop(self) {}

    /// What a person needs to start: URLs, the manifest, the login and a command to paste.
    pub fn summary(&self) -> String {
        let m = &self.manifest;
        let ca = shell_quote(&m.ca_file.display().to_string());
        let mut out = String::from("fapilab sandbox is running\n\n");
        for ws in &m.workspaces {
            out.push_str(&format!(
                "  issuer ({}/{}, {}): {}\n",
                ws.tenant, ws.workspace, ws.profile, ws.issuer
            ));
        }
        out.push_str(&format!("  mTLS endpoints base:  {}\n", m.mtls_base_url));
        out.push_str(&format!(
            "  mock bank:            {} (token audience {})\n",
            m.bank_url, m.bank_audience
        ));
        out.push_str(&format!(
            "  CA certificate:       {}\n",
            m.ca_file.display()
        ));
        out.push_str(&format!(
            "  manifest:             {}\n",
            self.manifest_path.display()
        ));
        for user in &m.users {
            out.push_str(&format!(
                "  login:                {} / {}\n",
                user.username, user.password
            ));
        }
        if let Some(ws) = m.workspaces.first() {
            out.push_str("\nTry:\n");
            out.push_str(&format!("  curl --cacert {ca} {}\n", ws.discovery_url));
            out.push_str(&format!("  curl -i --cacert {ca} {}/accounts    # 401: the bank wants a sender-constrained token\n", m.bank_url));
        }
        out
    }
}

/// Quotes `text` for a POSIX shell when it holds anything but safe characters.
fn shell_quote(text: &str) -> String {
    let safe = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-:=@+,".contains(c));
    if safe {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_follow_the_base() {
        assert_eq!(ports(0).ok(), Some((0, 0, 0)));
        assert_eq!(ports(8443).ok(), Some((8443, 8444, 8445)));
        assert_eq!(ports(65_533).ok(), Some((65_533, 65_534, 65_535)));
        assert!(matches!(
            ports(65_534),
            Err(SandboxError::PortRange(65_534))
        ));
    }

    #[test]
    fn the_default_config_publishes_the_default_user() {
        let users = published_users(&Config::default());
        assert_eq!(
            users,
            vec![ManifestUser {
                username: DEFAULT_USER.into(),
                password: DEFAULT_PASSWORD.into()
            }]
        );
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_quote("/tmp/a/ca.pem"), "/tmp/a/ca.pem");
        assert_eq!(shell_quote("/tmp/my dir/ca.pem"), "'/tmp/my dir/ca.pem'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
