//! A small, honest test client for the end-to-end tests: real listeners, real TLS and mTLS,
//! real signatures, and the browser forms driven over HTTP exactly per the documented login
//! form contract (README "Login form contract"). Nothing of the server is mocked; the only
//! server API used besides HTTP is `fapilab_server::start` and its `Config`.
//!
//! * [`TestEnv::shared`] — the default configuration, one server for the whole test binary
//!   (it runs on its own runtime thread, so every `#[tokio::test]` can use it);
//! * [`TestEnv::start`] — a private server with an edited workspace configuration.
//!
//! Both share one certificate authority (created once per run), so starting a server costs
//! no key generation for the TPPs.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use fapilab_jose::{Algorithm, SigningKey};
use fapilab_server::Config;
use fapilab_server::config::WorkspaceConfig;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::redirect::Policy;
use serde_json::{Map, Value, json};

pub use fapilab_server::config::{DEFAULT_PASSWORD, DEFAULT_USER};
pub use fapilab_server::workspace::DEFAULT_REDIRECT_URIS;

pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";
pub const FULL_SCOPE: &str = "openid profile email accounts";
pub const OAUTH_SCOPE: &str = "accounts";

// ---------------------------------------------------------------------------------------------
// Temporary directories and the shared certificate authority
// ---------------------------------------------------------------------------------------------

/// The directory of this test run: `$TMPDIR/fapilab-e2e-<pid>`.
fn run_dir() -> PathBuf {
    std::env::temp_dir().join(format!("fapilab-e2e-{}", std::process::id()))
}

/// A fresh data directory under the run directory.
pub fn unique_dir(label: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    run_dir().join(format!("{label}-{n}-{nanos}"))
}

/// The client ids of the generated default clients, with whether their certificate is
/// self-signed (RFC 8705 §2.2).
pub fn default_client_ids() -> Vec<(String, bool)> {
    let mut ids = Vec::new();
    for auth in ["pkjwt", "tls", "selfsigned"] {
        for sc in ["dpop", "mtls"] {
            for n in 1..=2 {
                ids.push((format!("{auth}-{sc}-{n}"), auth == "selfsigned"));
            }
        }
    }
    ids.push(("admin".to_owned(), false));
    ids.push(("bank".to_owned(), false));
    ids
}

/// Removes the run directories of earlier test processes that are gone (Linux: `/proc`).
fn remove_stale_run_dirs() {
    let proc_fs = Path::new("/proc/self");
    if !proc_fs.exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix("fapilab-e2e-")).and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// One CA for the whole run, with every default TPP already issued.
fn shared_ca_dir() -> &'static PathBuf {
    static CA: OnceLock<PathBuf> = OnceLock::new();
    CA.get_or_init(|| {
        remove_stale_run_dirs();
        let dir = run_dir().join("ca");
        let ca = fapilab_certs::CaDir::new(&dir);
        if !ca.exists() {
            let defaults = fapilab_server::Config::default();
            ca.init(&fapilab_certs::InitOptions {
                force: false,
                lifetimes: fapilab_certs::Lifetimes { ca_days: defaults.ca.ca_days, leaf_days: defaults.ca.leaf_days },
                server_names: vec!["localhost".into()],
                tpps: default_client_ids(),
            })
            .expect("creating the shared test CA");
        }
        dir
    })
}

/// A default configuration on loopback, ephemeral ports, a fresh data dir and the shared CA.
pub fn base_config(data_dir: &Path) -> Config {
    let mut config = Config::default();
    config.server.data_dir = data_dir.to_owned();
    config.server.tls_port = 0;
    config.server.mtls_port = 0;
    config.ca.dir = shared_ca_dir().clone();
    config
}

// ---------------------------------------------------------------------------------------------
// Servers
// ---------------------------------------------------------------------------------------------

/// What a test needs to know about a running server.
#[derive(Clone, Debug)]
pub struct ServerInfo {
    pub issuer: String,
    pub mtls_issuer: String,
    pub base_url: String,
    pub mtls_base_url: String,
    pub tls_addr: SocketAddr,
    pub mtls_addr: SocketAddr,
    pub ca_dir: PathBuf,
    pub data_dir: PathBuf,
}

pub fn info_of(server: &fapilab_server::RunningServer, data_dir: &Path) -> ServerInfo {
    let ws = server.workspace("default", "fapi2").expect("the default workspace exists");
    ServerInfo {
        issuer: ws.issuer.clone(),
        mtls_issuer: ws.mtls_issuer.clone(),
        base_url: server.base_url.clone(),
        mtls_base_url: server.mtls_base_url.clone(),
        tls_addr: server.tls_addr,
        mtls_addr: server.mtls_addr,
        ca_dir: server.ca_dir.root().to_owned(),
        data_dir: data_dir.to_owned(),
    }
}

/// The default-configuration server shared by the whole binary. It lives on a runtime of its
/// own, so it outlives the runtime of each `#[tokio::test]`.
fn shared_server() -> &'static ServerInfo {
    static SHARED: OnceLock<ServerInfo> = OnceLock::new();
    SHARED.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("shared-fapilab-server".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("server runtime");
                runtime.block_on(async move {
                    let data_dir = unique_dir("shared");
                    let server = fapilab_server::start(base_config(&data_dir)).await.expect("starting the shared server");
                    tx.send(info_of(&server, &data_dir)).expect("sending the server info");
                    // Keep the server (and this runtime) alive for the rest of the process.
                    std::future::pending::<()>().await;
                    drop(server);
                });
            })
            .expect("spawning the server thread");
        rx.recv().expect("the shared server started")
    })
}

/// A server and the HTTP clients to talk to it.
pub struct TestEnv {
    pub info: ServerInfo,
    pub issuer: String,
    pub mtls_issuer: String,
    /// The CA certificate (PEM) that signed the server certificate.
    pub ca_pem: Vec<u8>,
    /// Back-channel client on the TLS listener, without a client certificate.
    pub http: reqwest::Client,
    /// The configuration of a private server (for restarts).
    pub config: Option<Config>,
    server: Option<fapilab_server::RunningServer>,
}

impl TestEnv {
    /// The shared default server, with fresh HTTP clients.
    pub async fn shared() -> TestEnv {
        let info = tokio::task::spawn_blocking(|| shared_server().clone()).await.expect("shared server");
        TestEnv::from_info(info, None, None)
    }

    /// A private server whose default workspace is edited by `configure`.
    pub async fn start(configure: impl FnOnce(&mut WorkspaceConfig)) -> TestEnv {
        let data_dir = unique_dir("private");
        let mut config = base_config(&data_dir);
        configure(&mut config.tenants[0].workspaces[0]);
        TestEnv::start_with(config).await
    }

    /// A private server with exactly this configuration.
    pub async fn start_with(config: Config) -> TestEnv {
        TestEnv::try_start_with(config).await.expect("starting a private server")
    }

    pub async fn try_start_with(config: Config) -> Result<TestEnv, fapilab_server::StartError> {
        // The CA is created synchronously (once); keep that off the async worker.
        tokio::task::spawn_blocking(shared_ca_dir).await.expect("shared CA");
        let server = fapilab_server::start(config.clone()).await?;
        let info = info_of(&server, &config.server.data_dir);
        Ok(TestEnv::from_info(info, Some(config), Some(server)))
    }

    /// Clients for a server someone else owns (e.g. the sandbox's).
    pub fn attach(info: ServerInfo) -> TestEnv {
        TestEnv::from_info(info, None, None)
    }

    /// Stops this private server and starts it again on the same data directory and ports
    /// (so the issuer is the same), waiting for the old sockets to be released.
    pub async fn restart(&mut self) -> TestEnv {
        let mut config = self.config.clone().expect("private server config");
        config.server.tls_port = self.info.tls_addr.port();
        config.server.mtls_port = self.info.mtls_addr.port();
        self.stop().await;
        for _ in 0..40 {
            match TestEnv::try_start_with(config.clone()).await {
                Ok(env) => return env,
                Err(fapilab_server::StartError::Bind { .. }) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
                Err(e) => panic!("restarting the server: {e}"),
            }
        }
        panic!("the server did not restart on its old ports within 4 s");
    }

    /// Stops this private server; its data directory stays.
    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            drop(server);
            // Let the aborted listener tasks finish dropping their sockets.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    fn from_info(info: ServerInfo, config: Option<Config>, server: Option<fapilab_server::RunningServer>) -> TestEnv {
        let ca = fapilab_certs::CaDir::new(&info.ca_dir);
        let ca_pem = std::fs::read(ca.ca_cert()).expect("reading the CA certificate");
        let http = client_builder(&ca_pem).build().expect("building the HTTP client");
        TestEnv { issuer: info.issuer.clone(), mtls_issuer: info.mtls_issuer.clone(), info, ca_pem, http, config, server }
    }

    /// `{issuer}/{name}` on the TLS listener.
    pub fn tls_url(&self, name: &str) -> String {
        format!("{}/{name}", self.issuer)
    }

    /// `{mtls issuer}/{name}`: the `mtls_endpoint_aliases`.
    pub fn mtls_url(&self, name: &str) -> String {
        format!("{}/{name}", self.mtls_issuer)
    }

    /// The endpoint a TPP uses: the mTLS alias when it authenticates or binds with its
    /// certificate, the TLS endpoint otherwise.
    pub fn endpoint(&self, tpp: &Tpp, name: &str) -> String {
        if tpp.uses_mtls() { self.mtls_url(name) } else { self.tls_url(name) }
    }

    /// A default TPP client (`pkjwt-dpop-1`, `tls-mtls-2`, …) with its credentials.
    pub fn tpp(&self, client_id: &str) -> Tpp {
        Tpp::load(self, client_id)
    }

    /// A browser: cookies on, redirects off.
    pub fn browser(&self) -> Browser {
        let client = client_builder(&self.ca_pem).cookie_store(true).build().expect("building the browser client");
        Browser { client, issuer: self.issuer.clone() }
    }

    /// An HTTP client presenting `cert_pem` + `key_pem` as its TLS client certificate.
    pub fn client_with_identity(&self, cert_pem: &str, key_pem: &str) -> reqwest::Client {
        let identity = reqwest::Identity::from_pem(format!("{cert_pem}\n{key_pem}").as_bytes()).expect("client identity");
        client_builder(&self.ca_pem).identity(identity).build().expect("building the mTLS client")
    }

    pub async fn discovery(&self) -> Value {
        let url = format!("{}/.well-known/openid-configuration", self.issuer);
        let resp = Resp::read(self.http.get(&url).send().await.expect("GET discovery")).await;
        resp.assert_status(200, "discovery");
        resp.json
    }

    pub async fn jwks(&self) -> fapilab_jose::Jwks {
        let resp = Resp::read(self.http.get(self.tls_url("jwks")).send().await.expect("GET jwks")).await;
        resp.assert_status(200, "jwks");
        fapilab_jose::Jwks::from_value(&resp.json).expect("server JWKS parses")
    }

    // ---- raw back-channel calls ------------------------------------------------------------

    /// POSTs `params` as a form to `url` with the TPP's HTTP client (its certificate when it
    /// uses mTLS), adding nothing.
    pub async fn post_form(&self, tpp: &Tpp, url: &str, params: &[(String, String)], headers: HeaderMap) -> Resp {
        let req = tpp.http.post(url).headers(headers).form(params);
        Resp::read(req.send().await.unwrap_or_else(|e| panic!("POST {url}: {e}"))).await
    }

    /// PAR with client authentication added, and — for DPoP clients — a DPoP proof that binds
    /// the code to the TPP's DPoP key (RFC 9449 §10.1).
    pub async fn par(&self, tpp: &Tpp, params: &[(&str, &str)]) -> Resp {
        let url = self.endpoint(tpp, "par");
        self.with_nonce_retry(tpp, || async {
            let mut form = tpp.auth_params(&self.issuer);
            form.extend(params.iter().map(|(k, v)| (k.to_string(), v.to_string())));
            let mut headers = HeaderMap::new();
            if tpp.is_dpop() {
                headers.insert("dpop", header(&tpp.current_proof("POST", &url, None)));
            }
            self.post_form(tpp, &url, &form, headers).await
        })
        .await
    }

    /// Sends a request; when the server answers `use_dpop_nonce` with a `DPoP-Nonce` header
    /// (RFC 9449 §8, §9), remembers the nonce and sends a rebuilt request once more — what a
    /// FAPI 2.0 client must do (FAPI2-SP-CL-08). Any `DPoP-Nonce` received is remembered.
    pub async fn with_nonce_retry<F, Fut>(&self, tpp: &Tpp, send: F) -> Resp
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Resp>,
    {
        let first = send().await;
        let nonce_problem = first.error() == Some("use_dpop_nonce")
            || first.www_authenticate().is_some_and(|w| w.contains("use_dpop_nonce"));
        if let Some(nonce) = first.header("dpop-nonce") {
            tpp.remember_nonce(nonce);
        }
        if !(tpp.is_dpop() && nonce_problem && first.header("dpop-nonce").is_some()) {
            return first;
        }
        let second = send().await;
        if let Some(nonce) = second.header("dpop-nonce") {
            tpp.remember_nonce(nonce);
        }
        second
    }

    /// PAR without any DPoP header, client authentication added.
    pub async fn par_without_dpop(&self, tpp: &Tpp, params: &[(&str, &str)]) -> Resp {
        let url = self.endpoint(tpp, "par");
        let mut form = tpp.auth_params(&self.issuer);
        form.extend(params.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        self.post_form(tpp, &url, &form, HeaderMap::new()).await
    }

    /// A token request: client authentication added, and a fresh DPoP proof for DPoP clients
    /// (with the server nonce when there is one).
    pub async fn token(&self, tpp: &Tpp, params: &[(&str, &str)]) -> Resp {
        let url = self.endpoint(tpp, "token");
        self.with_nonce_retry(tpp, || async {
            let mut headers = HeaderMap::new();
            if tpp.is_dpop() {
                headers.insert("dpop", header(&tpp.current_proof("POST", &url, None)));
            }
            self.token_with_headers(tpp, params, headers).await
        })
        .await
    }

    /// A token request with client authentication and exactly these extra headers.
    pub async fn token_with_headers(&self, tpp: &Tpp, params: &[(&str, &str)], headers: HeaderMap) -> Resp {
        let url = self.endpoint(tpp, "token");
        let mut form = tpp.auth_params(&self.issuer);
        form.extend(params.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        self.post_form(tpp, &url, &form, headers).await
    }

    pub async fn redeem(&self, tpp: &Tpp, grant: &CodeGrant) -> Resp {
        self.token(
            tpp,
            &[
                ("grant_type", "authorization_code"),
                ("code", &grant.code),
                ("redirect_uri", &grant.redirect_uri),
                ("code_verifier", &grant.verifier),
            ],
        )
        .await
    }

    /// `grant_type=client_credentials`: a sender-constrained token without a user.
    pub async fn client_credentials(&self, tpp: &Tpp) -> Resp {
        self.token(tpp, &[("grant_type", "client_credentials")]).await
    }

    pub async fn refresh(&self, tpp: &Tpp, refresh_token: &str) -> Resp {
        self.token(tpp, &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)]).await
    }

    pub async fn introspect(&self, tpp: &Tpp, token: &str) -> Resp {
        let url = self.endpoint(tpp, "introspect");
        let mut form = tpp.auth_params(&self.issuer);
        form.push(("token".into(), token.into()));
        self.post_form(tpp, &url, &form, HeaderMap::new()).await
    }

    pub async fn revoke(&self, tpp: &Tpp, token: &str, hint: Option<&str>) -> Resp {
        let url = self.endpoint(tpp, "revoke");
        let mut form = tpp.auth_params(&self.issuer);
        form.push(("token".into(), token.into()));
        if let Some(h) = hint {
            form.push(("token_type_hint".into(), h.into()));
        }
        self.post_form(tpp, &url, &form, HeaderMap::new()).await
    }

    /// GET userinfo the way the TPP must: DPoP scheme + proof with `ath`, or Bearer over the
    /// TPP's certificate connection.
    pub async fn userinfo(&self, tpp: &Tpp, access_token: &str) -> Resp {
        let url = self.endpoint(tpp, "userinfo");
        self.with_nonce_retry(tpp, || async {
            let req = if tpp.is_dpop() {
                tpp.http
                    .get(&url)
                    .header("authorization", format!("DPoP {access_token}"))
                    .header("dpop", tpp.current_proof("GET", &url, Some(access_token)))
            } else {
                tpp.http.get(&url).header("authorization", format!("Bearer {access_token}"))
            };
            Resp::read(req.send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"))).await
        })
        .await
    }

    // ---- the authorization code flow -------------------------------------------------------

    /// PAR → browser login and consent → callback with a code. Panics (with the bodies) when
    /// any step fails; `req` says what to push.
    pub async fn authorize(&self, tpp: &Tpp, req: &AuthRequest) -> CodeGrant {
        let par = self.push(tpp, req).await;
        let request_uri = par.json["request_uri"].as_str().unwrap_or_else(|| panic!("PAR without request_uri: {par}")).to_owned();
        let browser = self.browser();
        self.authorize_in(&browser, tpp, req, par, request_uri).await
    }

    /// Like [`TestEnv::authorize`] but in `browser`, which may already be signed in.
    pub async fn authorize_with(&self, browser: &Browser, tpp: &Tpp, req: &AuthRequest) -> CodeGrant {
        let par = self.push(tpp, req).await;
        let request_uri = par.json["request_uri"].as_str().unwrap_or_else(|| panic!("PAR without request_uri: {par}")).to_owned();
        self.authorize_in(browser, tpp, req, par, request_uri).await
    }

    /// PAR for `req` (asserting 201).
    pub async fn push(&self, tpp: &Tpp, req: &AuthRequest) -> Resp {
        let params = req.params();
        let borrowed: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let par = if req.dpop_header_at_par { self.par(tpp, &borrowed).await } else { self.par_without_dpop(tpp, &borrowed).await };
        par.assert_status(201, "PAR");
        par
    }

    async fn authorize_in(&self, browser: &Browser, tpp: &Tpp, req: &AuthRequest, par: Resp, request_uri: String) -> CodeGrant {
        let callback = browser.login_and_consent(&tpp.client_id, &request_uri, true).await;
        let query = callback.query();
        assert_eq!(query.get("iss").map(String::as_str), Some(self.issuer.as_str()), "callback iss (RFC 9207): {}", callback.0);
        assert_eq!(query.get("state"), req.state.as_ref(), "state round trip: {}", callback.0);
        let code = query.get("code").unwrap_or_else(|| panic!("no code in the callback {}", callback.0)).clone();
        CodeGrant { code, verifier: req.pkce.verifier.clone(), redirect_uri: req.redirect_uri.clone(), request_uri, callback, par }
    }

    /// A full flow up to the token response (which must be 200).
    pub async fn tokens(&self, tpp: &Tpp, req: &AuthRequest) -> (CodeGrant, Value) {
        let grant = self.authorize(tpp, req).await;
        let resp = self.redeem(tpp, &grant).await;
        resp.assert_status(200, "token (authorization_code)");
        (grant, resp.json)
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            drop(server);
            let _ = std::fs::remove_dir_all(&self.info.data_dir);
        }
    }
}

/// reqwest with only the test CA as trust anchor, no redirects, localhost → 127.0.0.1.
fn client_builder(ca_pem: &[u8]) -> reqwest::ClientBuilder {
    let ca = reqwest::Certificate::from_pem(ca_pem).expect("CA certificate PEM");
    reqwest::Client::builder()
        .tls_certs_only([ca])
        .redirect(Policy::none())
        .resolve("localhost", SocketAddr::from(([127, 0, 0, 1], 0)))
        .timeout(std::time::Duration::from_secs(30))
        .no_proxy()
}

pub fn header(value: &str) -> HeaderValue {
    HeaderValue::from_str(value).expect("header value")
}

// ---------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------

/// A response read to the end, printable in assertion messages.
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
    /// The body parsed as JSON (`Null` when it is not JSON).
    pub json: Value,
}

impl Resp {
    pub async fn read(r: reqwest::Response) -> Resp {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r.text().await.unwrap_or_default();
        let json = serde_json::from_str(&body).unwrap_or(Value::Null);
        Resp { status, headers, body, json }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The OAuth `error` code of a JSON error body.
    pub fn error(&self) -> Option<&str> {
        self.json.get("error").and_then(Value::as_str)
    }

    pub fn assert_status(&self, status: u16, what: &str) {
        assert_eq!(self.status, status, "{what}: expected HTTP {status}, got {self}");
    }

    /// Asserts the status and that `error` is one of `codes`.
    pub fn assert_error(&self, status: u16, codes: &[&str], what: &str) {
        assert_eq!(self.status, status, "{what}: expected HTTP {status} with error {codes:?}, got {self}");
        assert!(
            self.error().is_some_and(|e| codes.contains(&e)),
            "{what}: expected error {codes:?}, got {self}"
        );
    }

    /// Asserts the status is one of `statuses` and `error` one of `codes`.
    pub fn assert_error_in(&self, statuses: &[u16], codes: &[&str], what: &str) {
        assert!(
            statuses.contains(&self.status) && self.error().is_some_and(|e| codes.contains(&e)),
            "{what}: expected HTTP {statuses:?} with error {codes:?}, got {self}"
        );
    }

    /// For HTML error pages: the text of `<span id="error">`.
    pub fn page_error(&self) -> Option<String> {
        let start = self.body.find("<span id=\"error\">")? + "<span id=\"error\">".len();
        let end = self.body[start..].find("</span>")? + start;
        Some(self.body[start..end].to_owned())
    }

    /// The DPoP challenge / error of a `WWW-Authenticate` header.
    pub fn www_authenticate(&self) -> Option<&str> {
        self.header("www-authenticate")
    }
}

impl std::fmt::Display for Resp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut body = self.body.clone();
        if body.len() > 2000 {
            body.truncate(2000);
            body.push('…');
        }
        write!(f, "HTTP {} ", self.status)?;
        if let Some(w) = self.header("www-authenticate") {
            write!(f, "[WWW-Authenticate: {w}] ")?;
        }
        if let Some(l) = self.header("location") {
            write!(f, "[Location: {l}] ")?;
        }
        write!(f, "{body}")
    }
}

// ---------------------------------------------------------------------------------------------
// TPPs
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    PrivateKeyJwt,
    TlsClientAuth,
    SelfSignedTlsClientAuth,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Constraint {
    Dpop,
    Mtls,
}

/// A client of the default configuration with its real credentials from the CA directory.
pub struct Tpp {
    pub client_id: String,
    pub auth: AuthMethod,
    pub constraint: Constraint,
    /// The registered ES256 key (kid `<name>-es256`): client assertions.
    pub signing_key: SigningKey,
    /// The registered PS256 key (kid `<name>-ps256`).
    pub rsa_key: SigningKey,
    /// A key of the client's own for DPoP proofs (not registered anywhere).
    pub dpop_key: SigningKey,
    pub cert_pem: String,
    pub key_pem: String,
    pub cert_der: Vec<u8>,
    /// The TPP's HTTP client: with its transport certificate when it uses mTLS.
    pub http: reqwest::Client,
    /// The last `DPoP-Nonce` the server sent (RFC 9449 §8).
    pub nonce: std::sync::Mutex<Option<String>>,
}

impl Tpp {
    fn load(env: &TestEnv, client_id: &str) -> Tpp {
        let ca = fapilab_certs::CaDir::new(&env.info.ca_dir);
        let mut bundle = ca.load_tpp(client_id).unwrap_or_else(|e| panic!("loading TPP {client_id}: {e}"));
        let auth = if client_id.starts_with("pkjwt-") || client_id == "bank" || client_id == "admin" {
            AuthMethod::PrivateKeyJwt
        } else if client_id.starts_with("tls-") {
            AuthMethod::TlsClientAuth
        } else if client_id.starts_with("selfsigned-") {
            AuthMethod::SelfSignedTlsClientAuth
        } else {
            panic!("unknown default client {client_id}")
        };
        let constraint = if client_id.contains("-mtls-") { Constraint::Mtls } else { Constraint::Dpop };
        let mut keys = std::mem::take(&mut bundle.signing_keys);
        let mut take = |alg: Algorithm| -> SigningKey {
            let i = keys.iter().position(|k| k.algorithm() == alg).expect("TPP signing key");
            keys.remove(i)
        };
        let signing_key = take(Algorithm::Es256);
        let rsa_key = take(Algorithm::Ps256);
        let dpop_key = SigningKey::generate(Algorithm::Es256, None).expect("DPoP key");
        let cert_pem = bundle.transport.cert_pem.clone();
        let key_pem = bundle.transport.key_pem.clone();
        let uses_mtls = auth != AuthMethod::PrivateKeyJwt || constraint == Constraint::Mtls;
        let http = if uses_mtls { env.client_with_identity(&cert_pem, &key_pem) } else { env.http.clone() };
        Tpp {
            client_id: client_id.to_owned(),
            auth,
            constraint,
            signing_key,
            rsa_key,
            dpop_key,
            cert_der: bundle.transport.cert_der.clone(),
            cert_pem,
            key_pem,
            http,
            nonce: std::sync::Mutex::new(None),
        }
    }

    /// The same credentials under another client id: a client registered (RFC 7591) with
    /// this TPP's keys and certificate.
    pub fn renamed(self, client_id: &str) -> Tpp {
        Tpp { client_id: client_id.to_owned(), ..self }
    }

    /// The same TPP (same DPoP key) talking to another server: fresh connections.
    pub fn rebind(&mut self, env: &TestEnv) {
        self.http = if self.uses_mtls() { env.client_with_identity(&self.cert_pem, &self.key_pem) } else { env.http.clone() };
    }

    pub fn is_dpop(&self) -> bool {
        self.constraint == Constraint::Dpop
    }

    pub fn uses_mtls(&self) -> bool {
        self.auth != AuthMethod::PrivateKeyJwt || self.constraint == Constraint::Mtls
    }

    /// `x5t#S256` of the transport certificate (RFC 8705 §3.1).
    pub fn cert_thumbprint(&self) -> String {
        fapilab_jose::sha256_b64url(&self.cert_der)
    }

    /// RFC 7638 thumbprint of the DPoP key.
    pub fn dpop_jkt(&self) -> String {
        self.dpop_key.public_jwk().thumbprint()
    }

    /// The client authentication parameters: a fresh client assertion for
    /// `private_key_jwt` clients, `client_id` for mTLS ones (RFC 8705 §2).
    pub fn auth_params(&self, issuer: &str) -> Vec<(String, String)> {
        match self.auth {
            AuthMethod::PrivateKeyJwt => vec![
                ("client_id".into(), self.client_id.clone()),
                ("client_assertion_type".into(), ASSERTION_TYPE.into()),
                ("client_assertion".into(), self.client_assertion(json!(issuer), |_| {})),
            ],
            _ => vec![("client_id".into(), self.client_id.clone())],
        }
    }

    /// The standard claims of a client assertion: `iss` = `sub` = client id, the given `aud`,
    /// a random `jti`, `iat` now, `exp` in 60 s.
    pub fn assertion_claims(&self, aud: Value) -> Map<String, Value> {
        let now = fapilab_jose::now();
        let claims = json!({
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": aud,
            "jti": fapilab_jose::random_token(16),
            "iat": now,
            "exp": now + 60,
        });
        claims.as_object().cloned().expect("object")
    }

    /// A client assertion signed with the registered ES256 key; `edit` may change the claims.
    pub fn client_assertion(&self, aud: Value, edit: impl FnOnce(&mut Map<String, Value>)) -> String {
        let mut claims = self.assertion_claims(aud);
        edit(&mut claims);
        fapilab_jose::jws::sign(&self.signing_key, Map::new(), &Value::Object(claims)).expect("signing the assertion")
    }

    /// A proof carrying the last server nonce this TPP received, if any.
    pub fn current_proof(&self, htm: &str, htu: &str, access_token: Option<&str>) -> String {
        let nonce = self.nonce.lock().expect("nonce lock").clone();
        self.dpop_proof(htm, htu, access_token, nonce.as_deref())
    }

    pub fn remember_nonce(&self, nonce: &str) {
        *self.nonce.lock().expect("nonce lock") = Some(nonce.to_owned());
    }

    /// A DPoP proof by the TPP's DPoP key, `iat` now and a random `jti`.
    pub fn dpop_proof(&self, htm: &str, htu: &str, access_token: Option<&str>, nonce: Option<&str>) -> String {
        dpop_proof_with(&self.dpop_key, htm, htu, access_token, nonce, fapilab_jose::now(), &fapilab_jose::random_token(16))
    }
}

pub fn dpop_proof_with(key: &SigningKey, htm: &str, htu: &str, ath_token: Option<&str>, nonce: Option<&str>, iat: i64, jti: &str) -> String {
    fapilab_jose::dpop::create_proof(key, htm, htu, ath_token, nonce, iat, jti).expect("creating a DPoP proof")
}

/// A compact JWS with exactly this header (nothing added), signed by `key` — whatever `alg`
/// the header claims. For crafting proofs and assertions the server must refuse.
pub fn sign_raw(key: &SigningKey, header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        fapilab_jose::b64::encode(header.to_string().as_bytes()),
        fapilab_jose::b64::encode(claims.to_string().as_bytes())
    );
    let signature = key.sign(input.as_bytes()).expect("signing");
    format!("{input}.{}", fapilab_jose::b64::encode(&signature))
}

// ---------------------------------------------------------------------------------------------
// PKCE and authorization requests
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

/// A fresh S256 pair (RFC 7636 §4.1: 43 characters of base64url).
pub fn pkce_pair() -> Pkce {
    let verifier = fapilab_jose::random_token(32);
    let challenge = fapilab_jose::sha256_b64url(verifier.as_bytes());
    Pkce { verifier, challenge }
}

/// What a test pushes; [`AuthRequest::new`] gives a valid request.
#[derive(Clone, Debug)]
pub struct AuthRequest {
    pub scope: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub pkce: Pkce,
    /// Extra parameters, pushed as given.
    pub extra: Vec<(String, String)>,
    /// Send a DPoP header with the PAR request (DPoP clients only; binds the code).
    pub dpop_header_at_par: bool,
}

impl AuthRequest {
    pub fn new(scope: &str) -> AuthRequest {
        let openid = scope.split_whitespace().any(|s| s == "openid");
        AuthRequest {
            scope: scope.to_owned(),
            redirect_uri: DEFAULT_REDIRECT_URIS[0].to_owned(),
            state: Some(fapilab_jose::random_token(16)),
            nonce: openid.then(|| fapilab_jose::random_token(16)),
            pkce: pkce_pair(),
            extra: Vec::new(),
            dpop_header_at_par: true,
        }
    }

    pub fn params(&self) -> Vec<(String, String)> {
        let mut p: Vec<(String, String)> = vec![
            ("response_type".into(), "code".into()),
            ("redirect_uri".into(), self.redirect_uri.clone()),
            ("scope".into(), self.scope.clone()),
            ("code_challenge".into(), self.pkce.challenge.clone()),
            ("code_challenge_method".into(), "S256".into()),
        ];
        if let Some(s) = &self.state {
            p.push(("state".into(), s.clone()));
        }
        if let Some(n) = &self.nonce {
            p.push(("nonce".into(), n.clone()));
        }
        p.extend(self.extra.iter().cloned());
        p
    }
}

/// The outcome of a completed authorization.
pub struct CodeGrant {
    pub code: String,
    pub verifier: String,
    pub redirect_uri: String,
    pub request_uri: String,
    pub callback: Callback,
    pub par: Resp,
}

/// The URL the browser was sent back to.
#[derive(Clone, Debug)]
pub struct Callback(pub String);

impl Callback {
    pub fn query(&self) -> HashMap<String, String> {
        let query = self.0.split_once('?').map(|(_, q)| q).unwrap_or("");
        let query = query.split('#').next().unwrap_or("");
        form_urlencoded::parse(query.as_bytes()).into_owned().collect()
    }

    pub fn without_query(&self) -> &str {
        self.0.split('?').next().unwrap_or(&self.0)
    }
}

// ---------------------------------------------------------------------------------------------
// The browser
// ---------------------------------------------------------------------------------------------

/// A user agent with a cookie jar that fills in the server's forms.
pub struct Browser {
    pub client: reqwest::Client,
    pub issuer: String,
}

/// A form found in a page: its action and hidden inputs.
#[derive(Debug)]
pub struct HtmlForm {
    pub action: String,
    pub hidden: Vec<(String, String)>,
}

impl Browser {
    pub fn authorize_url(&self, client_id: &str, request_uri: &str) -> String {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", client_id)
            .append_pair("request_uri", request_uri)
            .finish();
        format!("{}/authorize?{query}", self.issuer)
    }

    pub async fn get(&self, url: &str) -> Resp {
        Resp::read(self.client.get(url).send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"))).await
    }

    pub async fn post(&self, url: &str, form: &[(String, String)]) -> Resp {
        Resp::read(self.client.post(url).form(form).send().await.unwrap_or_else(|e| panic!("POST {url}: {e}"))).await
    }

    /// `GET /authorize?client_id&request_uri`.
    pub async fn open_authorize(&self, client_id: &str, request_uri: &str) -> Resp {
        self.get(&self.authorize_url(client_id, request_uri)).await
    }

    /// Submits the login page's form with the default user.
    pub async fn submit_login(&self, login_page: &Resp) -> Resp {
        let form = parse_form(&login_page.body).unwrap_or_else(|| panic!("no form on the login page: {login_page}"));
        assert!(form.action.ends_with("/login"), "the login form posts to {}: {login_page}", form.action);
        let mut fields = form.hidden.clone();
        fields.push(("username".into(), DEFAULT_USER.into()));
        fields.push(("password".into(), DEFAULT_PASSWORD.into()));
        self.post(&form.action, &fields).await
    }

    /// Submits the consent page's form with `decision`.
    pub async fn submit_consent(&self, consent_page: &Resp, approve: bool) -> Resp {
        let form = parse_form(&consent_page.body).unwrap_or_else(|| panic!("no form on the consent page: {consent_page}"));
        assert!(form.action.ends_with("/consent"), "the consent form posts to {}: {consent_page}", form.action);
        let mut fields = form.hidden.clone();
        fields.push(("decision".into(), if approve { "approve" } else { "deny" }.into()));
        self.post(&form.action, &fields).await
    }

    /// GET authorize → login form → 303 → GET consent → consent form → 303; returns the
    /// final Location (the client's callback).
    pub async fn login_and_consent(&self, client_id: &str, request_uri: &str, approve: bool) -> Callback {
        let page = self.open_authorize(client_id, request_uri).await;
        page.assert_status(200, "authorization page");
        if page.body.contains("name=\"password\"") {
            self.continue_from_login(&page, approve).await
        } else {
            // Already signed in (session cookie): the consent page comes straight away.
            self.decide(&page, approve).await
        }
    }

    /// Submits a consent page and returns the callback of its 303.
    pub async fn decide(&self, consent_page: &Resp, approve: bool) -> Callback {
        assert!(consent_page.body.contains("name=\"decision\""), "expected the consent page: {consent_page}");
        let decided = self.submit_consent(consent_page, approve).await;
        decided.assert_status(303, "consent (FAPI2-SP-AZ-11: 303)");
        let location = decided.header("location").unwrap_or_else(|| panic!("consent 303 without Location: {decided}"));
        Callback(location.to_owned())
    }

    /// From a loaded login page to the callback.
    pub async fn continue_from_login(&self, login_page: &Resp, approve: bool) -> Callback {
        assert!(login_page.body.contains("name=\"password\""), "expected the login page: {login_page}");
        let after_login = self.submit_login(login_page).await;
        after_login.assert_status(303, "login (FAPI2-SP-AZ-11: 303)");
        let consent_url = after_login.header("location").unwrap_or_else(|| panic!("login 303 without Location: {after_login}")).to_owned();
        let consent_page = self.get(&consent_url).await;
        consent_page.assert_status(200, "consent page");
        self.decide(&consent_page, approve).await
    }
}

/// The first `<form>` of a page: its `action` and `type="hidden"` inputs. A minimal reader of
/// the server's own markup (attributes in double quotes).
pub fn parse_form(html: &str) -> Option<HtmlForm> {
    let start = html.find("<form")?;
    let end = html[start..].find("</form>")? + start;
    let form = &html[start..end];
    let tag_end = form.find('>')?;
    let action = attribute(&form[..tag_end], "action")?;
    let mut hidden = Vec::new();
    let mut rest = form;
    while let Some(i) = rest.find("<input") {
        let tag_len = rest[i..].find('>').unwrap_or(rest.len() - i);
        let tag = &rest[i..i + tag_len];
        if attribute(tag, "type").as_deref() == Some("hidden")
            && let (Some(n), Some(v)) = (attribute(tag, "name"), attribute(tag, "value"))
        {
            hidden.push((n, v));
        }
        rest = &rest[i + tag_len..];
    }
    Some(HtmlForm { action, hidden })
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let start = tag.find(&needle)? + needle.len();
    let end = tag[start..].find('"')? + start;
    Some(unescape(&tag[start..end]))
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

// ---------------------------------------------------------------------------------------------
// JWTs
// ---------------------------------------------------------------------------------------------

/// Header and claims of a compact JWS, unverified.
pub fn jwt_parts(token: &str) -> (Map<String, Value>, Map<String, Value>) {
    let jws = fapilab_jose::jws::CompactJws::parse(token).unwrap_or_else(|e| panic!("not a JWS ({e}): {token}"));
    let claims = jws.claims().unwrap_or_else(|e| panic!("JWS claims ({e}): {token}"));
    (jws.header().clone(), claims)
}

/// Verifies a server-signed JWT against the server's JWKS; returns header and claims.
pub fn verify_server_jwt(token: &str, jwks: &fapilab_jose::Jwks) -> (Map<String, Value>, Map<String, Value>) {
    let jws = fapilab_jose::jws::CompactJws::parse(token).unwrap_or_else(|e| panic!("not a JWS ({e}): {token}"));
    let key = jws.verify_with_jwks(jwks).unwrap_or_else(|e| panic!("server JWT does not verify with the JWKS ({e}): {token}"));
    let kid = jws.kid().unwrap_or_else(|| panic!("server JWT without kid: {token}"));
    assert_eq!(key.kid(), Some(kid), "the verifying key's kid equals the JWT's kid");
    (jws.header().clone(), jws.claims().expect("claims"))
}

/// A compact JWS signed with RSASSA-PKCS1-v1_5 SHA-256 (`RS256`, which FAPI 2.0 forbids) by
/// an RSA key — a real signature, so only the algorithm can be the reason for a refusal.
pub fn sign_rs256(rsa_key: &SigningKey, header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        fapilab_jose::b64::encode(header.to_string().as_bytes()),
        fapilab_jose::b64::encode(claims.to_string().as_bytes())
    );
    let pair = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(rsa_key.to_pkcs8_der()).expect("RSA PKCS#8 key");
    let mut signature = vec![0u8; pair.public_modulus_len()];
    pair.sign(&aws_lc_rs::signature::RSA_PKCS1_SHA256, &aws_lc_rs::rand::SystemRandom::new(), input.as_bytes(), &mut signature)
        .expect("RS256 signing");
    format!("{input}.{}", fapilab_jose::b64::encode(&signature))
}

/// `(String, String)` pairs from borrowed ones.
pub fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// A header map with one `DPoP` header.
pub fn dpop_header(proof: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("dpop", header(proof));
    h
}
