//! The mock bank: a resource server with account data behind FAPI 2.0 access control.
//!
//! It exists so that a client under test has something real to call with the tokens it got
//! from fapilab's authorization server, and so that the resource-server requirements of the
//! FAPI 2.0 Security Profile (FAPI2-SP-RS-01..RS-05) can be exercised end to end. Every
//! account endpoint demands a valid access token, a valid sender constraint (DPoP or
//! certificate binding) and the `accounts` scope; `token_check` documents the rules and the
//! error answers, `validator` the two ways a token is validated (introspection, the
//! default, which sees revocation, FAPI2-SP-RS-03; or local RFC 9068 JWT checks, JAT-03).
//!
//! The bank listens on TLS with the CA's server certificate and asks for, but does not
//! require, a client certificate: certificate-bound tokens need one (MT-07), DPoP clients
//! need none. The listener is fapilab-server's ([`fapilab_server::tls::serve`]), which hands
//! each request the connection's certificate in a [`fapilab_server::tls::ConnectionInfo`].

pub mod data;
pub mod headers;
pub mod routes;
pub mod token_check;
pub mod validator;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::middleware;
use axum::routing::get;
use fapilab_certs::CaDir;
use fapilab_jose::{Algorithm, SigningKey};
use fapilab_server::protocol::replay::ReplayCache;
use fapilab_server::workspace::Listener;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::error::SandboxError;
pub use token_check::{AccessGrant, Binding};
pub use validator::{
    AuthorizationServer, ByIssuer, Introspection, JwtAccessTokens, TokenInfo, TokenRejection, TokenValidator,
};

/// The bank's identifier: the `aud` of access tokens meant for it (RFC 9068 §3), and the
/// default `access_token_audience` of fapilab-server workspaces.
pub const BANK_AUDIENCE: &str = "urn:fapilab:bank";
/// The scope every account endpoint requires.
pub const ACCOUNTS_SCOPE: &str = "accounts";
/// The resource-server client the bank introspects as, and the TPP holding its keys.
pub const BANK_CLIENT_ID: &str = "bank";
/// Live DPoP `jti`s remembered at most (DP-13); beyond this the bank refuses rather than forgets.
const DPOP_REPLAY_CAPACITY: usize = 100_000;

/// How the bank validates access tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TokenValidation {
    /// Ask the authorization server on every request (RFC 7662); revocation is seen at once
    /// (FAPI2-SP-RS-03).
    #[default]
    Introspection,
    /// Verify RFC 9068 JWT access tokens locally (JAT-03); a revoked token keeps working
    /// until it expires.
    Jwt,
}

/// What the bank is and whom it trusts.
#[derive(Debug, Clone)]
pub struct BankConfig {
    /// The bank's external base URL without a trailing slash, e.g. `https://localhost:8445`.
    /// DPoP proofs must carry `htu` = this URL + the request path (DP-09).
    pub base_url: String,
    /// The `aud` access tokens must carry.
    pub audience: String,
    /// The scope the account endpoints require.
    pub required_scope: String,
    /// The resource-server client the bank authenticates as when introspecting.
    pub client_id: String,
    pub validation: TokenValidation,
}

impl BankConfig {
    /// The defaults for a bank reachable at `base_url`: audience [`BANK_AUDIENCE`], scope
    /// [`ACCOUNTS_SCOPE`], client [`BANK_CLIENT_ID`], introspection.
    pub fn new(base_url: impl Into<String>) -> BankConfig {
        BankConfig {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            audience: BANK_AUDIENCE.into(),
            required_scope: ACCOUNTS_SCOPE.into(),
            client_id: BANK_CLIENT_ID.into(),
            validation: TokenValidation::Introspection,
        }
    }
}

fn validator_for(config: &BankConfig, server: &AuthorizationServer, signing_key: SigningKey) -> Result<Box<dyn TokenValidator>, SandboxError> {
    Ok(match config.validation {
        TokenValidation::Introspection => Box::new(Introspection::new(server, &config.audience, &config.client_id, signing_key)?),
        TokenValidation::Jwt => Box::new(JwtAccessTokens::new(server, &config.audience)?),
    })
}

/// Everything a bank request needs.
pub struct BankState {
    config: BankConfig,
    validator: Arc<dyn TokenValidator>,
    dpop_replay: ReplayCache,
}

impl BankState {
    /// A bank validating tokens of `server` the way `config.validation` says. `signing_key`
    /// signs the introspection client assertions (unused in JWT mode).
    pub fn new(
        config: BankConfig,
        server: &AuthorizationServer,
        signing_key: SigningKey,
    ) -> Result<BankState, SandboxError> {
        let validator: Arc<dyn TokenValidator> = Arc::from(validator_for(&config, server, signing_key)?);
        Ok(BankState::with_validator(config, validator))
    }

    /// A bank trusting several authorization servers (the sandbox's workspaces), each with the
    /// key its introspection assertions are signed with.
    pub fn for_servers(
        config: BankConfig,
        servers: Vec<(AuthorizationServer, SigningKey)>,
    ) -> Result<BankState, SandboxError> {
        let mut validators = Vec::new();
        for (server, key) in servers {
            validators.push((server.issuer.clone(), validator_for(&config, &server, key)?));
        }
        Ok(BankState::with_validator(config, Arc::new(ByIssuer::new(validators))))
    }

    /// A bank using any validator (tests use a fixed table of tokens).
    pub fn with_validator(config: BankConfig, validator: Arc<dyn TokenValidator>) -> BankState {
        BankState {
            config,
            validator,
            dpop_replay: ReplayCache::new(DPOP_REPLAY_CAPACITY),
        }
    }

    pub fn config(&self) -> &BankConfig {
        &self.config
    }
}

/// The ES256 key (else the first key) of the TPP bundle `tpp`: the bank's assertion key.
pub fn signing_key_from_tpp(ca: &CaDir, tpp: &str) -> Result<SigningKey, SandboxError> {
    let keys = ca.load_tpp(tpp)?.signing_keys;
    let preferred = keys
        .iter()
        .position(|k| k.algorithm() == Algorithm::Es256)
        .unwrap_or(0);
    keys.into_iter()
        .nth(preferred)
        .ok_or_else(|| SandboxError::NoSigningKey(tpp.to_owned()))
}

/// The bank's routes, every response passing through `headers::response_headers`.
pub fn bank_app(state: Arc<BankState>) -> Router {
    Router::new()
        .route("/accounts", get(routes::list_accounts))
        .route("/accounts/{id}", get(routes::account))
        .route("/accounts/{id}/balances", get(routes::balances))
        .route("/accounts/{id}/transactions", get(routes::transactions))
        // Runs after the token check (route layers added later wrap earlier ones).
        .route_layer(middleware::from_fn(headers::check_fapi_request_headers))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            token_check::require_access,
        ))
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(middleware::from_fn(headers::response_headers))
        .with_state(state)
}

/// TLS for the bank: the CA's server certificate; a client certificate is asked for but
/// not required.
pub fn tls_config(ca: &CaDir) -> Result<Arc<rustls::ServerConfig>, SandboxError> {
    let read = |path: std::path::PathBuf| {
        std::fs::read(&path).map_err(|source| SandboxError::DataDir { path, source })
    };
    let cert_pem = read(ca.server_cert())?;
    let key_pem = read(ca.server_key())?;
    let (certs, key) = fapilab_server::tls::load_identity(&cert_pem, &key_pem)?;
    Ok(fapilab_server::tls::server_config(certs, key, true)?)
}

/// Binds a listener for the bank.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, SandboxError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| SandboxError::Bind { addr, source })
}

/// A bank serving in this process. Dropping it stops the listener.
pub struct RunningBank {
    pub addr: SocketAddr,
    /// The external base URL ([`BankConfig::base_url`]).
    pub url: String,
    task: JoinHandle<()>,
}

impl RunningBank {
    /// Serves [`bank_app`] on `listener` with `tls`.
    pub fn spawn(
        listener: TcpListener,
        tls: Arc<rustls::ServerConfig>,
        state: Arc<BankState>,
    ) -> Result<RunningBank, SandboxError> {
        let addr = listener
            .local_addr()
            .map_err(SandboxError::ListenerAddress)?;
        let url = state.config.base_url.clone();
        let task = tokio::spawn(fapilab_server::tls::serve(
            listener,
            tls,
            Listener::Mtls,
            bank_app(state),
        ));
        tracing::info!(%addr, %url, "mock bank listening");
        Ok(RunningBank { addr, url, task })
    }

    /// Resolves when the listener task ends (it does not, unless it panics or is aborted).
    pub async fn stopped(&mut self) {
        let _ = (&mut self.task).await;
    }
}

impl Drop for RunningBank {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests;
