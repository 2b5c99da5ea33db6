//! A workspace at run time: its issuer, policy, clients, users and signing key, all parsed
//! once at startup so that no request parses a key (issue requirement: keys parsed once).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use fapilab_jose::{Algorithm, Jwks, SigningKey};
use rustls_pki_types::CertificateDer;
use serde_json::{Value, json};

use crate::config::{AccessTokenFormat, ClientConfig, UserConfig, WorkspaceConfig};
use crate::profiles::{ClientAuthMethod, Policy, ProfileId, SenderConstraint};

/// Which listener a request arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// Never asks for a client certificate.
    Tls,
    /// Asks for one: the `mtls_endpoint_aliases` (RFC 8705 §5).
    Mtls,
}

#[derive(Debug)]
pub struct Client {
    pub client_id: String,
    pub client_name: String,
    pub auth_method: ClientAuthMethod,
    pub sender_constraint: Option<SenderConstraint>,
    pub jwks: Jwks,
    pub tls_client_auth_subject_dn: Option<String>,
    pub tls_client_auth_san_dns: Option<String>,
    /// RFC 8705 §2.2: the certificates (DER) in the client's JWKS `x5c` entries.
    pub self_signed_certificates: Vec<Vec<u8>>,
    pub redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    pub grant_types: Vec<String>,
    pub resource_server: bool,
    /// The CA's TPP whose certificate and keys the client uses, when it has one.
    pub tpp: Option<String>,
    /// Registered through RFC 7591 (managed through RFC 7592), not configured.
    pub registered: bool,
    /// FDX workspaces: the data provider's approval of a registered client (FDX-ST-01).
    pub fdx_status: Option<crate::registry::FdxStatus>,
    /// PKJ-03: the one algorithm the client registered for its assertions; `None`: any of
    /// the workspace's.
    pub token_endpoint_auth_signing_alg: Option<Algorithm>,
    /// CIBA §10.2: ping notifications go here; `None`: the client polls.
    pub backchannel_client_notification_endpoint: Option<String>,
    /// MS-MD-01: the response modes the client registered; `None`: any the workspace offers.
    pub response_modes: Option<Vec<String>>,
    /// MS-AS-06 / CIBA-02: the registered algorithm of the client's signed requests, if any.
    pub request_object_signing_alg: Option<Algorithm>,
    pub backchannel_request_signing_alg: Option<Algorithm>,
    /// A-IDT-03: ID tokens are encrypted to the client, when it registered encryption.
    pub id_token_encryption: Option<ResponseEncryption>,
    /// JARM §3 (MS-JARM-05): JARM responses are encrypted to the client, when it registered so.
    pub authorization_encryption: Option<ResponseEncryption>,
    /// RFC 7591 §2: the response types the client registered; `None`: any the profile offers.
    pub response_types: Option<Vec<String>>,
    /// RFC 9126 §6: the client registered that its requests always go through PAR.
    pub require_pushed_authorization_requests: bool,
    /// RFC 9101 §10.5: the client registered that its requests are always signed.
    pub require_signed_request_object: bool,
}

/// The encryption a client registered for one kind of response: the JWT the workspace signed
/// is the plaintext of a JWE to the client's key (a nested JWT, RFC 7519 §5.2, A-IDT-03).
#[derive(Debug, Clone)]
pub struct ResponseEncryption {
    pub key: fapilab_jose::jwe::EncryptionKey,
    pub alg: fapilab_jose::jwe::KeyManagementAlgorithm,
    pub enc: fapilab_jose::jwe::ContentEncryptionAlgorithm,
}

impl ResponseEncryption {
    /// Picks the client's encryption key for `alg` from its JWK set.
    pub fn from_jwks(
        jwks: &Value,
        alg: fapilab_jose::jwe::KeyManagementAlgorithm,
        enc: fapilab_jose::jwe::ContentEncryptionAlgorithm,
    ) -> Result<ResponseEncryption, fapilab_jose::JweError> {
        Ok(ResponseEncryption { key: fapilab_jose::jwe::EncryptionKey::from_jwks(jwks, alg, None)?, alg, enc })
    }

    /// The signed JWT, encrypted: header `cty: JWT` marks the nested JWT (RFC 7519 §5.2) and
    /// `kid` names the client's key (OIDF `ValidateEncryptedIdTokenHasKid`).
    pub fn seal(&self, signed_jwt: &str) -> Result<String, fapilab_jose::JweError> {
        let mut header = serde_json::Map::new();
        header.insert("cty".into(), json!("JWT"));
        fapilab_jose::jwe::encrypt(signed_jwt.as_bytes(), &self.key, self.alg, self.enc, header)
    }
}

impl Client {
    pub fn allows_grant(&self, grant: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant)
    }

    /// PKJ-03: the algorithms this client's assertions may use.
    pub fn assertion_algorithms<'a>(&'a self, ws: &'a Workspace) -> &'a [Algorithm] {
        match &self.token_endpoint_auth_signing_alg {
            Some(alg) => std::slice::from_ref(alg),
            None => &ws.assertion_algorithms,
        }
    }
}

pub struct User {
    pub username: String,
    pub subject: String,
    pub password_hash: String,
    pub name: Option<String>,
    pub email: Option<String>,
}

pub struct Workspace {
    pub tenant: String,
    pub id: String,
    /// `tenant/workspace`: the prefix of every stored record of this workspace.
    pub key: String,
    pub issuer: String,
    /// The same path on the mTLS listener.
    pub mtls_issuer: String,
    pub profile: ProfileId,
    pub policy: Policy,
    pub settings: WorkspaceConfig,
    pub clients: HashMap<String, Arc<Client>>,
    pub users: HashMap<String, User>,
    pub signing_key: SigningKey,
    /// The public half of `signing_key`: verifies our own JWT access tokens.
    pub access_token_verifier: fapilab_jose::Jwk,
    pub public_jwks: Value,
    pub trusted_client_cas: Vec<CertificateDer<'static>>,
    /// `token_endpoint_auth_signing_alg_values`, parsed.
    pub assertion_algorithms: Vec<Algorithm>,
    /// Dynamically registered clients (RFC 7591), loaded from the store at startup.
    pub registry: crate::registry::Registry,
    /// SHA-256 of each configured CIBA device API token.
    pub device_api_token_hashes: Vec<String>,
    /// SHA-256 of each configured initial access token (RFC 7591 §3).
    pub initial_access_token_hashes: Vec<String>,
    /// The trusted software statement issuers' keys (DCR-05).
    pub software_statement_jwks: Option<Jwks>,
    /// The WebAuthn relying party of the TLS listener's origin (`identity::passkeys`); none
    /// when the issuer's host cannot be an RP ID (an IP address): no passkeys then.
    pub relying_party: Option<Arc<webauthn_rs::Webauthn>>,
    dpop_nonce_key: aws_lc_rs::hmac::Key,
}

#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error("workspace {workspace}: {message}")]
    Setup { workspace: String, message: String },
}

pub struct WorkspaceInputs<'a> {
    pub tenant: &'a str,
    pub settings: &'a WorkspaceConfig,
    pub base_url: &'a str,
    pub mtls_base_url: &'a str,
    pub key_dir: &'a Path,
    pub ca: &'a fapilab_certs::CaDir,
    pub leaf_days: u32,
    /// Further CAs trusted for `tls_client_auth` (config `ca.trusted_client_ca_files`).
    pub extra_client_cas: &'a [CertificateDer<'static>],
    /// Test-only removed protections that shape the workspace itself.
    pub faults: &'a crate::faults::FaultSet,
}

impl Workspace {
    /// `password_memory`: the argon2 working area for hashing the configured users' passwords,
    /// shared by every workspace of a startup (one ~19 MiB allocation, returned afterwards).
    pub fn build(input: WorkspaceInputs<'_>, password_memory: &mut Vec<argon2::Block>) -> Result<Workspace, WorkspaceError> {
        let settings = input.settings;
        let key = format!("{}/{}", input.tenant, settings.id);
        let fail = |message: String| WorkspaceError::Setup { workspace: key.clone(), message };
        let policy = settings.profile.policy();
        let alg: Algorithm = settings.signing_alg.parse().map_err(|_| fail("signing_alg must be ES256 or PS256".into()))?;
        let signing_key = crate::keys::load_or_create(&input.key_dir.join(&key), alg).map_err(|e| fail(e.to_string()))?;
        let public_jwks = json!({ "keys": [signing_key.public_jwk().to_value()] });

        let ca_cert = std::fs::read(input.ca.ca_cert()).map_err(|e| fail(format!("reading the CA certificate: {e}")))?;
        let trusted_client_cas: Vec<CertificateDer<'static>> = {
            use rustls_pki_types::pem::PemObject;
            let mut roots: Vec<_> = CertificateDer::pem_slice_iter(&ca_cert).filter_map(Result::ok).collect();
            roots.extend(input.extra_client_cas.iter().cloned());
            roots
        };

        let client_configs = if settings.clients.is_empty() && settings.default_clients {
            default_clients(&policy)
        } else {
            settings.clients.clone()
        };
        let mut clients = HashMap::new();
        for cfg in &client_configs {
            let client = build_client(cfg, input.ca, input.leaf_days).map_err(|e| fail(format!("client {}: {e}", cfg.client_id)))?;
            clients.insert(client.client_id.clone(), Arc::new(client));
        }

        let user_configs = if settings.users.is_empty() { vec![default_user()] } else { settings.users.clone() };
        let mut users = HashMap::new();
        for u in &user_configs {
            let hash = crate::password::hash_in(&u.password, password_memory).map_err(|e| fail(format!("user {}: {e}", u.username)))?;
            users.insert(
                u.username.clone(),
                User {
                    username: u.username.clone(),
                    subject: subject_for(&key, &u.username),
                    password_hash: hash,
                    name: u.name.clone(),
                    email: u.email.clone(),
                },
            );
        }

        let assertion_algorithms = settings
            .token_endpoint_auth_signing_alg_values
            .iter()
            .map(|a| a.parse::<Algorithm>().map_err(|_| fail(format!("token_endpoint_auth_signing_alg_values: unknown algorithm {a:?}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let software_statement_jwks = match &settings.registration.software_statement_jwks_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| fail(format!("registration.software_statement_jwks_file {}: {e}", path.display())))?;
                let value: Value = serde_json::from_str(&text).map_err(|e| fail(format!("registration.software_statement_jwks_file {}: {e}", path.display())))?;
                Some(Jwks::from_value(&value).map_err(|e| fail(format!("registration.software_statement_jwks_file {}: {e}", path.display())))?)
            }
            None => None,
        };
        let initial_access_token_hashes =
            settings.registration.initial_access_tokens.iter().map(|t| fapilab_jose::sha256_b64url(t.as_bytes())).collect();

        let rng = aws_lc_rs::rand::SystemRandom::new();
        let dpop_nonce_key = aws_lc_rs::hmac::Key::generate(aws_lc_rs::hmac::HMAC_SHA256, &rng)
            .map_err(|_| fail("could not generate the DPoP nonce key".into()))?;

        let issuer = format!("{}/{}/{}", input.base_url, input.tenant, settings.id);
        let relying_party = match crate::identity::passkeys::relying_party(&issuer, &format!("{}/{}", input.tenant, settings.id), input.faults.active(crate::faults::Fault::PasskeyOriginPort)) {
            Ok(rp) => Some(Arc::new(rp)),
            Err(why) => {
                tracing::warn!(%issuer, "no passkeys in this workspace: {why}");
                None
            }
        };
        Ok(Workspace {
            tenant: input.tenant.to_owned(),
            id: settings.id.clone(),
            issuer,
            mtls_issuer: format!("{}/{}/{}", input.mtls_base_url, input.tenant, settings.id),
            key,
            profile: settings.profile,
            policy,
            settings: settings.clone(),
            clients,
            users,
            access_token_verifier: signing_key.public_jwk(),
            signing_key,
            public_jwks,
            trusted_client_cas,
            assertion_algorithms,
            registry: crate::registry::Registry::default(),
            initial_access_token_hashes,
            device_api_token_hashes: settings.ciba.device_api_tokens.iter().map(|t| fapilab_jose::sha256_b64url(t.as_bytes())).collect(),
            software_statement_jwks,
            relying_party,
            dpop_nonce_key,
        })
    }

    /// The URL of an endpoint on a listener, e.g. `endpoint(Listener::Tls, "token")`.
    pub fn endpoint(&self, listener: Listener, name: &str) -> String {
        match listener {
            Listener::Tls => format!("{}/{name}", self.issuer),
            Listener::Mtls => format!("{}/{name}", self.mtls_issuer),
        }
    }

    /// A configured client, or else a registered one.
    pub fn client(&self, client_id: &str) -> Option<Arc<Client>> {
        self.clients.get(client_id).cloned().or_else(|| self.registry.get(client_id))
    }

    pub fn registration_enabled(&self) -> bool {
        self.settings.registration.enabled
    }

    pub fn access_tokens_are_jwt(&self) -> bool {
        self.settings.access_token_format == AccessTokenFormat::Jwt
    }

    /// RFC 9449 §8: a server nonce is an HMAC over a time window, so it needs no state.
    /// Nonces of the current and the previous window are accepted.
    pub fn dpop_nonce(&self, now: i64) -> String {
        self.dpop_nonce_for_window(now / self.settings.dpop_nonce_lifetime as i64)
    }

    pub fn dpop_nonce_is_current(&self, nonce: &str, now: i64) -> bool {
        let window = now / self.settings.dpop_nonce_lifetime as i64;
        nonce == self.dpop_nonce_for_window(window) || nonce == self.dpop_nonce_for_window(window - 1)
    }

    fn dpop_nonce_for_window(&self, window: i64) -> String {
        let tag = aws_lc_rs::hmac::sign(&self.dpop_nonce_key, &window.to_be_bytes());
        fapilab_jose::b64::encode(&tag.as_ref()[..18])
    }
}

/// A stable, opaque subject per workspace and user (pairwise across workspaces).
pub fn subject_for(workspace_key: &str, username: &str) -> String {
    fapilab_jose::sha256_b64url(format!("{workspace_key}|{username}").as_bytes())[..22].to_string()
}

fn build_client(cfg: &ClientConfig, ca: &fapilab_certs::CaDir, leaf_days: u32) -> Result<Client, String> {
    let (jwks_value, subject_dn, san) = match (&cfg.tpp, &cfg.jwks_file) {
        (Some(tpp), _) => {
            let self_signed = cfg.token_endpoint_auth_method == ClientAuthMethod::SelfSignedTlsClientAuth;
            let bundle = ca.ensure_tpp(tpp, self_signed, leaf_days).map_err(|e| e.to_string())?;
            (bundle.public_jwks(), Some(bundle.subject.rfc4514()), None)
        }
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
            let value: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            (value, None, None)
        }
        (None, None) => return Err("needs `tpp` or `jwks_file`".into()),
    };
    let jwks = Jwks::from_value(&jwks_value).map_err(|e| format!("JWKS: {e}"))?;
    let self_signed_certificates = jwks
        .keys()
        .iter()
        .flat_map(|k| k.x5c().first())
        .filter_map(|c| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.decode(c).ok()
        })
        .collect();
    let (dn, san_dns) = match cfg.token_endpoint_auth_method {
        ClientAuthMethod::TlsClientAuth => (
            cfg.tls_client_auth_subject_dn.clone().or(if cfg.tls_client_auth_san_dns.is_some() { None } else { subject_dn }),
            cfg.tls_client_auth_san_dns.clone().or(san),
        ),
        _ => (None, None),
    };
    if dn.is_some() && san_dns.is_some() {
        return Err("register one of tls_client_auth_subject_dn and tls_client_auth_san_dns [MT-02]".into());
    }
    Ok(Client {
        client_id: cfg.client_id.clone(),
        client_name: cfg.client_name.clone().unwrap_or_else(|| cfg.client_id.clone()),
        auth_method: cfg.token_endpoint_auth_method,
        sender_constraint: cfg.sender_constraint,
        jwks,
        tls_client_auth_subject_dn: dn,
        tls_client_auth_san_dns: san_dns,
        self_signed_certificates,
        redirect_uris: cfg.redirect_uris.clone(),
        scopes: cfg.scope.split_whitespace().map(str::to_owned).collect(),
        grant_types: cfg.grant_types.clone(),
        resource_server: cfg.resource_server,
        tpp: cfg.tpp.clone(),
        registered: false,
        fdx_status: None,
        token_endpoint_auth_signing_alg: None,
        backchannel_client_notification_endpoint: cfg.backchannel_client_notification_endpoint.clone(),
        response_modes: None,
        request_object_signing_alg: None,
        backchannel_request_signing_alg: None,
        id_token_encryption: None,
        authorization_encryption: None,
        response_types: None,
        require_pushed_authorization_requests: false,
        require_signed_request_object: false,
    })
}

/// The default redirect URIs of generated clients.
pub const DEFAULT_REDIRECT_URIS: [&str; 2] =
    ["https://client.fapilab.test/callback", "https://client.fapilab.test/callback?dummy1=lorem&dummy2=ipsum"];

/// The default administrative client: its client_credentials tokens carry `dcr_manage` and
/// `update_client_status`.
pub const ADMIN_CLIENT_ID: &str = "admin";

/// Two clients for every client authentication × sender constraint the profile allows (a run needs
/// two), the administrative client, and the bank's resource-server client used for
/// introspection.
pub fn default_clients(policy: &Policy) -> Vec<ClientConfig> {
    let mut clients = Vec::new();
    let methods = [
        (ClientAuthMethod::PrivateKeyJwt, "pkjwt"),
        (ClientAuthMethod::TlsClientAuth, "tls"),
        (ClientAuthMethod::SelfSignedTlsClientAuth, "selfsigned"),
    ];
    for (method, short) in methods {
        for &constraint in [SenderConstraint::Dpop, SenderConstraint::Mtls].iter().filter(|c| policy.sender_constraints.contains(c)) {
            for n in 1..=2 {
                let id = format!("{short}-{}-{n}", constraint.as_str());
                clients.push(ClientConfig {
                    client_id: id.clone(),
                    client_name: Some(format!("fapilab TPP {id}")),
                    token_endpoint_auth_method: method,
                    sender_constraint: Some(constraint),
                    tpp: Some(id),
                    jwks_file: None,
                    tls_client_auth_subject_dn: None,
                    tls_client_auth_san_dns: None,
                    redirect_uris: DEFAULT_REDIRECT_URIS.iter().map(|s| s.to_string()).collect(),
                    scope: "openid profile email accounts".into(),
                    grant_types: vec![
                        "authorization_code".into(),
                        "refresh_token".into(),
                        "client_credentials".into(),
                        crate::grants::ciba::GRANT_TYPE.into(),
                    ],
                    resource_server: false,
                    backchannel_client_notification_endpoint: None,
                });
            }
        }
    }
    clients.push(ClientConfig {
        client_id: ADMIN_CLIENT_ID.into(),
        client_name: Some("fapilab workspace administrator".into()),
        token_endpoint_auth_method: ClientAuthMethod::PrivateKeyJwt,
        // DPoP where the profile allows it (no certificate needed), else mTLS (A-AS-06).
        sender_constraint: policy.sender_constraints.iter().copied().find(|c| *c == SenderConstraint::Dpop).or(policy.sender_constraints.first().copied()),
        tpp: Some(ADMIN_CLIENT_ID.into()),
        jwks_file: None,
        tls_client_auth_subject_dn: None,
        tls_client_auth_san_dns: None,
        redirect_uris: Vec::new(),
        scope: crate::protocol::client_metadata::MANAGEMENT_SCOPES.join(" "),
        grant_types: vec!["client_credentials".into()],
        resource_server: false,
        backchannel_client_notification_endpoint: None,
    });
    clients.push(ClientConfig {
        client_id: "bank".into(),
        client_name: Some("fapilab mock bank".into()),
        token_endpoint_auth_method: ClientAuthMethod::PrivateKeyJwt,
        sender_constraint: None,
        tpp: Some("bank".into()),
        jwks_file: None,
        tls_client_auth_subject_dn: None,
        tls_client_auth_san_dns: None,
        redirect_uris: Vec::new(),
        scope: String::new(),
        grant_types: Vec::new(),
        resource_server: true,
        backchannel_client_notification_endpoint: None,
    });
    clients
}

pub fn default_user() -> UserConfig {
    UserConfig {
        username: crate::config::DEFAULT_USER.into(),
        password: crate::config::DEFAULT_PASSWORD.into(),
        name: Some("Alice Example".into()),
        email: Some("alice@fapilab.test".into()),
    }
}
