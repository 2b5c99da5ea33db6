//! Putting it together: the route table, the CA check, the store, the workspaces and the two
//! listeners.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::{Config, url_for};
use crate::endpoints::{account, admin, admin_openapi, admin_passkeys, admin_themes, authorize, backchannel, ciba_device, consent, discovery, fdx_status, introspect, jwks, login, otp, par, passkey_login, passkey_script, password_change, register, revoke, token, userinfo};
use crate::error::{ErrorCode, OAuthError};
use crate::protocol::replay::ReplayCache;
use crate::state::{AppState, SharedState};
use crate::store::Records;
use crate::store::sqlite::SqliteStore;
use crate::workspace::{Listener, Workspace, WorkspaceInputs};

/// Replay caches refuse new entries past this many live ones (see `protocol::replay`).
const REPLAY_CACHE_CAPACITY: usize = 1_000_000;

/// The single route table: every endpoint of every workspace.
pub fn app(state: SharedState) -> Router {
    let ws = "/{tenant}/{workspace}";
    Router::new()
        .route(&format!("{ws}/.well-known/openid-configuration"), get(discovery::openid_configuration))
        .route("/.well-known/oauth-authorization-server/{tenant}/{workspace}", get(discovery::oauth_authorization_server))
        .route(&format!("{ws}/jwks"), get(jwks::jwks))
        .route(&format!("{ws}/par"), post(par::push))
        .route(&format!("{ws}/authorize"), get(authorize::authorize).post(authorize::authorize_form))
        .route(&format!("{ws}/login"), post(login::submit))
        .route(&format!("{ws}/password"), post(password_change::submit))
        .route(&format!("{ws}/otp"), post(otp::send))
        .route(&format!("{ws}/otp/verify"), post(otp::verify))
        .route(&format!("{ws}/consent"), get(consent::show).post(consent::decide))
        .route(&format!("{ws}/passkey/options"), post(passkey_login::options))
        .route(&format!("{ws}/passkey/login"), post(passkey_login::sign_in))
        .route(&format!("{ws}/passkey.js"), get(passkey_script::script))
        .route(&format!("{ws}/account"), get(account::show))
        .route(&format!("{ws}/account/passkeys/options"), post(account::options))
        .route(&format!("{ws}/account/passkeys"), post(account::register))
        .route(&format!("{ws}/account/passkeys/remove"), post(account::remove))
        .route(&format!("{ws}/token"), post(token::token))
        .route(&format!("{ws}/introspect"), post(introspect::introspect))
        .route(&format!("{ws}/revoke"), post(revoke::revoke))
        .route(&format!("{ws}/userinfo"), get(userinfo::userinfo).post(userinfo::userinfo))
        .route(&format!("{ws}/bc-authorize"), post(backchannel::authenticate))
        .route(&format!("{ws}/ciba/device/requests"), get(ciba_device::list))
        .route(&format!("{ws}/ciba/device/requests/{{device_id}}"), post(ciba_device::decide))
        .route(&format!("{ws}/register"), post(register::register))
        .route(&format!("{ws}/register/{{client_id}}"), get(register::read).put(register::update).delete(register::delete))
        .route(&format!("{ws}/fdx/clients/{{client_id}}"), axum::routing::put(fdx_status::update_vendor_path))
        .route(&format!("{ws}/fdx/clients/{{client_id}}/status"), axum::routing::put(fdx_status::update))
        .route("/admin/openapi.json", get(admin_openapi::document))
        .route("/admin/inbox", get(admin::inbox).delete(admin::clear_inbox))
        .route("/admin/themes/{tenant}/{workspace}", get(admin_themes::read).put(admin_themes::upload).delete(admin_themes::reset))
        .route("/admin/themes/{tenant}/{workspace}/preview/{page}", get(admin_themes::preview))
        .route("/admin/themes/{tenant}/{workspace}/activate", post(admin_themes::activate))
        .route("/admin/passkeys/{tenant}/{workspace}/{subject}", get(admin_passkeys::list))
        .route("/admin/passkeys/{tenant}/{workspace}/{subject}/{id}", axum::routing::delete(admin_passkeys::remove))
        .route("/admin/pools", get(admin::list_pools).post(admin::create_pool))
        .route("/admin/pools/{pool_id}", get(admin::read_pool).put(admin::update_pool).delete(admin::delete_pool))
        .route("/admin/pools/{pool_id}/users", get(admin::list_users).post(admin::create_user))
        .route("/admin/pools/{pool_id}/users/{user_id}", get(admin::read_user).put(admin::update_user).delete(admin::delete_user))
        .route("/admin/pools/{pool_id}/users/{user_id}/identifiers", post(admin::add_identifier))
        .route("/admin/pools/{pool_id}/users/{user_id}/identifiers/{identifier_id}", axum::routing::delete(admin::remove_identifier))
        .route("/admin/pools/{pool_id}/users/{user_id}/addresses", post(admin::add_address))
        .route("/admin/pools/{pool_id}/users/{user_id}/addresses/{address_id}", axum::routing::delete(admin::remove_address))
        .route("/admin/pools/{pool_id}/users/{user_id}/addresses/{address_id}/verify", post(admin::verify_address))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), crate::http::response_headers))
        .with_state(state)
}

async fn not_found() -> Response {
    OAuthError::new(ErrorCode::NotFound, "no such endpoint").into_response()
}

/// PAR-02: wrong methods get 405 (and never a CORS grant, FAPI2-SP-NET-11).
async fn method_not_allowed() -> Response {
    OAuthError::new(ErrorCode::MethodNotAllowed, "this endpoint does not accept that HTTP method [PAR-02]")
        .with_status(StatusCode::METHOD_NOT_ALLOWED)
        .into_response()
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("certificate authority: {0}")]
    Certs(#[from] fapilab_certs::CertsError),
    #[error("{0}")]
    Workspace(#[from] crate::workspace::WorkspaceError),
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("{0}")]
    Tls(#[from] crate::tls::TlsError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("{0}")]
    Http(String),
    #[error("data dir {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
}

/// A server running in this process. Dropping it stops the listeners.
pub struct RunningServer {
    pub tls_addr: SocketAddr,
    pub mtls_addr: SocketAddr,
    pub base_url: String,
    pub mtls_base_url: String,
    pub ca_dir: fapilab_certs::CaDir,
    pub state: SharedState,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningServer {
    pub fn workspaces(&self) -> Vec<Arc<Workspace>> {
        let mut list: Vec<_> = self.state.workspaces.values().cloned().collect();
        list.sort_by(|a, b| a.key.cmp(&b.key));
        list
    }

    pub fn workspace(&self, tenant: &str, id: &str) -> Option<Arc<Workspace>> {
        self.state.workspace(tenant, id).cloned()
    }

    /// Waits until a listener stops (it does not, unless it panics) or Ctrl-C.
    pub async fn wait(mut self) {
        let tasks = std::mem::take(&mut self.tasks);
        tokio::select! {
            _ = futures_wait(tasks) => {}
            _ = tokio::signal::ctrl_c() => { tracing::info!("shutting down"); }
        }
    }
}

async fn futures_wait(tasks: Vec<JoinHandle<()>>) {
    for t in tasks {
        let _ = t.await;
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

pub async fn start(config: Config) -> Result<RunningServer, StartError> {
    config.validate()?;
    let data_dir = &config.server.data_dir;
    std::fs::create_dir_all(data_dir).map_err(|source| StartError::DataDir { path: data_dir.display().to_string(), source })?;

    let ca_dir = fapilab_certs::CaDir::new(config.ca_dir());
    let lifetimes = fapilab_certs::Lifetimes { ca_days: config.ca.ca_days, leaf_days: config.ca.leaf_days };
    if !ca_dir.exists() {
        let mut names = config.ca.server_names.clone();
        if !names.contains(&config.server.public_host) {
            names.push(config.server.public_host.clone());
        }
        ca_dir.init(&fapilab_certs::InitOptions { force: false, lifetimes, server_names: names, tpps: Vec::new() })?;
        tracing::info!(dir = %config.ca_dir().display(), "created a new certificate authority");
    }
    ca_dir.check_validity(std::time::SystemTime::now())?;

    let cert_pem = std::fs::read(ca_dir.server_cert()).map_err(|source| StartError::DataDir { path: ca_dir.server_cert().display().to_string(), source })?;
    let key_pem = std::fs::read(ca_dir.server_key()).map_err(|source| StartError::DataDir { path: ca_dir.server_key().display().to_string(), source })?;
    let (certs, key) = crate::tls::load_identity(&cert_pem, &key_pem)?;
    let tls_config = crate::tls::server_config(certs.clone(), key.clone_key(), false)?;
    let mtls_config = crate::tls::server_config(certs, key, true)?;

    let bind = |port: u16| SocketAddr::new(config.server.bind, port);
    let tls_listener = TcpListener::bind(bind(config.server.tls_port)).await.map_err(|source| StartError::Bind { addr: bind(config.server.tls_port), source })?;
    let mtls_listener = TcpListener::bind(bind(config.server.mtls_port)).await.map_err(|source| StartError::Bind { addr: bind(config.server.mtls_port), source })?;
    let tls_addr = tls_listener.local_addr().map_err(|source| StartError::Bind { addr: bind(config.server.tls_port), source })?;
    let mtls_addr = mtls_listener.local_addr().map_err(|source| StartError::Bind { addr: bind(config.server.mtls_port), source })?;
    let base_url = config.server.public_base_url.clone().unwrap_or_else(|| url_for(&config.server.public_host, tls_addr.port()));
    let mtls_base_url =
        config.server.public_mtls_base_url.clone().unwrap_or_else(|| url_for(&config.server.public_host, mtls_addr.port()));
    let mut extra_client_cas = Vec::new();
    for path in &config.ca.trusted_client_ca_files {
        use rustls_pki_types::pem::PemObject;
        let pem = std::fs::read(path).map_err(|source| StartError::DataDir { path: path.display().to_string(), source })?;
        let certs: Vec<_> = rustls_pki_types::CertificateDer::pem_slice_iter(&pem).filter_map(Result::ok).collect();
        if certs.is_empty() {
            return Err(StartError::Config(crate::config::ConfigError::Invalid {
                key: "ca.trusted_client_ca_files".into(),
                message: format!("{} holds no PEM certificate", path.display()),
            }));
        }
        extra_client_cas.extend(certs);
    }

    let fetcher_roots: Vec<rustls_pki_types::CertificateDer<'static>> = {
        use rustls_pki_types::pem::PemObject;
        let ca_pem = std::fs::read(ca_dir.ca_cert()).map_err(|source| StartError::DataDir { path: ca_dir.ca_cert().display().to_string(), source })?;
        rustls_pki_types::CertificateDer::pem_slice_iter(&ca_pem).filter_map(Result::ok).chain(extra_client_cas.iter().cloned()).collect()
    };
    let store = Arc::new(SqliteStore::open(&data_dir.join("store.sqlite"))?);
    let key_dir = data_dir.join("keys");
    let records = Records::new(store.clone());
    let mut workspaces = HashMap::new();
    let mut password_memory = Vec::new();
    let faults = crate::faults::FaultSet::new(&config.faults);
    for tenant in &config.tenants {
        for settings in &tenant.workspaces {
            let ws = Workspace::build(WorkspaceInputs {
                tenant: &tenant.id,
                settings,
                base_url: &base_url,
                mtls_base_url: &mtls_base_url,
                key_dir: &key_dir,
                ca: &ca_dir,
                leaf_days: config.ca.leaf_days,
                extra_client_cas: &extra_client_cas,
                faults: &faults,
            }, &mut password_memory)?;
            let registered = crate::registry::load(&ws, &records)?;
            tracing::info!(issuer = %ws.issuer, profile = ws.profile.as_str(), clients = ws.clients.len(), registered, "workspace ready");
            workspaces.insert(ws.key.clone(), Arc::new(ws));
        }
    }
    drop(password_memory);
    let directory = crate::identity::Directory::load(&records)?;
    let state: SharedState = Arc::new(AppState {
        workspaces,
        records,
        assertion_replay: ReplayCache::new(REPLAY_CACHE_CAPACITY),
        dpop_replay: ReplayCache::new(REPLAY_CACHE_CAPACITY),
        password_slots: tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())),
        password_memory: std::sync::Mutex::new(Vec::new()),
        hsts_max_age: config.server.hsts_max_age,
        client_cert_proxies: if config.server.client_cert_header.enabled { config.server.client_cert_header.trusted_proxies.clone() } else { Vec::new() },
        faults: faults.clone(),
        outbound: crate::outbound::Outbound::new(&fetcher_roots).map_err(StartError::Http)?,
        directory,
        inbox: crate::inbox::Inbox::default(),
        otp_throttle: crate::identity::otp::Throttle::default(),
        password_failures: crate::identity::attempts::Attempts::default(),
        themes: std::sync::RwLock::new(HashMap::new()),
        passkeys: crate::identity::passkeys::Passkeys::new(faults),
        admin_token_hashes: config.admin.tokens.iter().map(|t| fapilab_jose::sha256_b64url(t.as_bytes())).collect(),
    });
    state.faults.warn();
    crate::endpoints::admin_themes::load_active(&state);
    let router = app(state.clone());
    let purge_records = state.records.clone();
    let refresh_state = state.clone();
    let tasks = vec![
        tokio::spawn(crate::tls::serve(tls_listener, tls_config, Listener::Tls, router.clone())),
        tokio::spawn(crate::tls::serve(mtls_listener, mtls_config, Listener::Mtls, router)),
        tokio::spawn(async move {
            // Each workspace re-fetches its clients' jwks_uri key sets on its own interval.
            let mut due: HashMap<String, std::time::Instant> = HashMap::new();
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
            loop {
                tick.tick().await;
                let now = std::time::Instant::now();
                for ws in refresh_state.workspaces.values() {
                    let interval = std::time::Duration::from_secs(ws.settings.registration.jwks_uri_refresh_interval);
                    let next = *due.entry(ws.key.clone()).or_insert(now + interval);
                    if ws.registration_enabled() && !ws.settings.registration.jwks_uri_prefixes.is_empty() && now >= next {
                        crate::registry::refresh_remote_keys(&refresh_state, ws).await;
                        due.insert(ws.key.clone(), std::time::Instant::now() + interval);
                    }
                }
            }
        }),
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
            loop {
                tick.tick().await;
                let records = purge_records.clone();
                let purged = tokio::task::spawn_blocking(move || records.purge_expired(fapilab_jose::now())).await;
                if let Ok(Err(e)) = purged {
                    tracing::warn!(error = %e, "purging expired records failed");
                }
            }
        }),
    ];
    tracing::info!(%tls_addr, %mtls_addr, "listening");
    Ok(RunningServer { tls_addr, mtls_addr, base_url, mtls_base_url, ca_dir, state, tasks })
}
