//! A fake FAPI 2.0 authorization server: a wiremock `MockServer` (plain HTTP) behind a small
//! TLS-terminating proxy, so the harness — which only talks TLS to the target's CA — sees
//! `https://localhost:<port>`.
//!
//! By default every endpoint behaves like a correct server (discovery, JWKS, PAR with state
//! kept per `request_uri`, an authorization endpoint with a login form, a token endpoint
//! that checks the code and the PKCE verifier, and open RFC 7591/7592 registration with a
//! registration access token per client). A [`Craft`] replaces one answer with a crafted one
//! that breaks exactly one rule.
//!
//! It also speaks FAPI 2.0 Message Signing: a pushed `request` object is verified with the
//! client's key (the fake holds the keys of the target it hands out) and checked like MS-AS-02
//! …MS-AS-07 say, its claims become the pushed parameters, and a pushed JARM `response_mode`
//! gets a response JWT signed with the fake's own key (the one its `jwks_uri` publishes),
//! delivered in the query, the fragment or an auto-submitting form.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

use fapilab_conformance::target::{Ciba, FieldValue, FormScript, Login, Registration, Target, TargetClient, User};
use fapilab_conformance::variant::{ClientAuth, Sender};
use fapilab_jose::{Algorithm, SigningKey};
use serde_json::{Map, Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";
pub const USERNAME: &str = "alice";
pub const PASSWORD: &str = "wonderland";
pub const REDIRECT_URI: &str = "https://client.fapilab.test/cb";

/// The throwaway CA (PEM) and the TLS server configuration for `localhost` it signed; one
/// per test binary.
fn tls() -> &'static (String, Arc<rustls::ServerConfig>) {
    static TLS: OnceLock<(String, Arc<rustls::ServerConfig>)> = OnceLock::new();
    TLS.get_or_init(|| {
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::{CertificateDer, PrivateKeyDer};
        let ca = fapilab_certs::CertificateAuthority::generate(&fapilab_certs::Lifetimes::default()).expect("CA");
        let leaf = ca.issue_server(&[], 1).expect("server certificate");
        let key = PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes()).expect("server key");
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(vec![CertificateDer::from(leaf.cert_der.clone())], key)
            .expect("server config");
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        (ca.cert_pem().to_owned(), Arc::new(config))
    })
}

/// Accepts TLS on 127.0.0.1 and pipes each connection to `upstream` (the mock server).
async fn start_proxy(upstream: SocketAddr) -> (u16, tokio::task::JoinHandle<()>) {
    let acceptor = TlsAcceptor::from(tls().1.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the TLS proxy");
    let port = listener.local_addr().expect("proxy address").port();
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { return };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let Ok(mut plain) = TcpStream::connect(upstream).await else { return };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    (port, task)
}

/// Where the fake is reachable.
#[derive(Debug, Clone)]
pub struct Urls {
    /// `https://localhost:<proxy port>`: the issuer.
    pub issuer: String,
    /// `http://127.0.0.1:<mock port>`: the same endpoints without TLS.
    pub plain: String,
}

type DiscoveryTweak = Box<dyn Fn(&mut Map<String, Value>, &Urls) + Send + Sync>;
type CallbackTweak = Arc<dyn Fn(&mut Vec<(String, String)>) + Send + Sync>;
/// Changes the claims of a JARM response before it is signed.
type JarmTweak = Arc<dyn Fn(&mut Map<String, Value>) + Send + Sync>;
/// Changes the header and the claims of a signed introspection response before it is signed.
type IntrospectionTweak = Arc<dyn Fn(&mut Map<String, Value>, &mut Map<String, Value>) + Send + Sync>;
/// Changes a registration answer: its JSON body and its status.
type RegistrationTweak = Arc<dyn Fn(&mut Map<String, Value>, &mut u16) + Send + Sync>;

/// The one answer a case replaces; everything else stays correct.
#[derive(Default)]
pub struct Craft {
    discovery: Option<DiscoveryTweak>,
    jwks: Option<Value>,
    par: Option<ResponseTemplate>,
    callback: Option<CallbackTweak>,
    jarm: Option<JarmTweak>,
    /// JARM responses: `None` signed with the fake's key, `Some(Unsigned)` with alg none,
    /// `Some(Plain)` not a JWT at all (plain parameters).
    jarm_form: Option<JarmForm>,
    introspection: Option<IntrospectionTweak>,
    /// Introspection answers plain JSON even when a signed response is asked for.
    introspection_plain: bool,
    token: Option<ResponseTemplate>,
    /// Answers every CIBA authentication request (default: a valid acknowledgement).
    backchannel: Option<ResponseTemplate>,
    registration: Option<RegistrationTweak>,
    management: Option<ResponseTemplate>,
}

impl Craft {
    /// A correct server.
    pub fn none() -> Craft {
        Craft::default()
    }

    /// Changes the (otherwise correct) discovery document.
    pub fn discovery(f: impl Fn(&mut Map<String, Value>, &Urls) + Send + Sync + 'static) -> Craft {
        Craft { discovery: Some(Box::new(f)), ..Craft::default() }
    }

    /// Serves this document at `jwks_uri`.
    pub fn jwks(doc: Value) -> Craft {
        Craft { jwks: Some(doc), ..Craft::default() }
    }

    /// Answers every pushed authorization request with this.
    pub fn par(r: ResponseTemplate) -> Craft {
        Craft { par: Some(r), ..Craft::default() }
    }

    /// Changes the parameters of the redirect back to the client after login.
    pub fn callback(f: impl Fn(&mut Vec<(String, String)>) + Send + Sync + 'static) -> Craft {
        Craft { callback: Some(Arc::new(f)), ..Craft::default() }
    }

    /// Changes the claims of every JARM response (before it is signed).
    pub fn jarm(f: impl Fn(&mut Map<String, Value>) + Send + Sync + 'static) -> Craft {
        Craft { jarm: Some(Arc::new(f)), ..Craft::default() }
    }

    /// JARM responses that are unsigned JWTs (alg none) or plain parameters.
    pub fn jarm_form(form: JarmForm) -> Craft {
        Craft { jarm_form: Some(form), ..Craft::default() }
    }

    /// Changes the header and claims of every signed introspection response.
    pub fn introspection(f: impl Fn(&mut Map<String, Value>, &mut Map<String, Value>) + Send + Sync + 'static) -> Craft {
        Craft { introspection: Some(Arc::new(f)), ..Craft::default() }
    }

    /// Introspection answers plain JSON even to `Accept: application/token-introspection+jwt`.
    pub fn introspection_plain() -> Craft {
        Craft { introspection_plain: true, ..Craft::default() }
    }

    /// Answers every token request with this.
    pub fn token(r: ResponseTemplate) -> Craft {
        Craft { token: Some(r), ..Craft::default() }
    }

    /// Answers every CIBA authentication request with this.
    pub fn backchannel(r: ResponseTemplate) -> Craft {
        Craft { backchannel: Some(r), ..Craft::default() }
    }

    /// Changes the (otherwise correct) answer to every registration.
    pub fn registration(f: impl Fn(&mut Map<String, Value>, &mut u16) + Send + Sync + 'static) -> Craft {
        Craft { registration: Some(Arc::new(f)), ..Craft::default() }
    }

    /// Answers every request at a registration client URI (GET, PUT, DELETE) with this.
    pub fn management(r: ResponseTemplate) -> Craft {
        Craft { management: Some(r), ..Craft::default() }
    }
}

/// How a crafted JARM response is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JarmForm {
    /// An unsecured JWT: alg none, no signature.
    Unsigned,
    /// No JWT: the parameters in the query, as without JARM.
    Plain,
}

/// A pushed request the fake accepted.
#[derive(Debug, Clone)]
struct Pushed {
    client_id: String,
    state: Option<String>,
    code_challenge: String,
    redirect_uri: String,
    response_mode: Option<String>,
}

/// A code the fake issued.
#[derive(Debug, Clone)]
struct Issued {
    client_id: String,
    code_challenge: String,
}

/// A client the fake registered: its metadata and registration access token.
#[derive(Debug, Clone)]
struct RegisteredClient {
    metadata: Map<String, Value>,
    registration_access_token: String,
}

#[derive(Default)]
struct Memory {
    pushed: HashMap<String, Pushed>,
    codes: HashMap<String, Issued>,
    registered: HashMap<String, RegisteredClient>,
}

/// A running fake authorization server.
pub struct Fake {
    pub urls: Urls,
    /// The private keys of the target's two clients ([`Fake::target`]).
    client_keys: [Value; 2],
    /// Kept alive for as long as the fake runs.
    _mock: MockServer,
    proxy: tokio::task::JoinHandle<()>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.proxy.abort();
    }
}

fn form(req: &Request) -> BTreeMap<String, String> {
    form_urlencoded::parse(&req.body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

fn query(req: &Request) -> BTreeMap<String, String> {
    req.url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

fn oauth_error(status: u16, error: &str, description: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("Cache-Control", "no-store")
        .set_body_json(json!({"error": error, "error_description": description}))
}

/// The request object of a pushed request, verified with the client's key and checked as
/// FAPI 2.0 Message Signing says (MS-AS-02…MS-AS-07): its claims as parameters, or the error
/// description.
fn request_object_params(
    request: &str,
    client_id: &str,
    keys: &HashMap<String, fapilab_jose::Jwk>,
    issuer: &str,
) -> Result<BTreeMap<String, String>, String> {
    // Descriptions stay within the RFC 6749 error_description characters.
    let jws = fapilab_jose::jws::CompactJws::parse(request).map_err(|_| "not a compact JWS")?;
    let key = keys.get(client_id).ok_or("unknown client")?;
    jws.verify(key).map_err(|_| "the signature does not verify with the client key")?;
    let claims = jws.claims().map_err(|_| "the claims are not a JSON object")?;
    let now = fapilab_jose::now();
    let num = |k: &str| claims.get(k).and_then(Value::as_i64);
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == issuer,
        Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(issuer)),
        _ => false,
    };
    if !aud_ok {
        return Err("aud".into());
    }
    let (Some(nbf), Some(exp)) = (num("nbf"), num("exp")) else { return Err("nbf and exp are required".into()) };
    if nbf < now - 3600 || nbf > now + 10 || exp <= now || exp - nbf > 3600 {
        return Err("nbf or exp".into());
    }
    if claims.get("client_id").and_then(Value::as_str) != Some(client_id)
        || claims.get("iss").is_some_and(|i| i.as_str() != Some(client_id))
    {
        return Err("client_id or iss".into());
    }
    if claims.contains_key("request_uri") || claims.contains_key("request") {
        return Err("request_uri inside".into());
    }
    Ok(claims.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned()))).collect())
}

/// The fake's authorization response: the parameters in the query, or (a JARM `mode`) a JWT
/// of them signed with `key`, in the query, the fragment or an auto-submitting form.
fn authorization_response(
    redirect_uri: &str,
    params: Vec<(String, String)>,
    jarm: Option<(&str, &SigningKey, &Craft)>,
    issuer: &str,
    client_id: &str,
) -> ResponseTemplate {
    let encode = |params: &[(String, String)]| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in params {
            s.append_pair(k, v);
        }
        s.finish()
    };
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    let Some((mode, key, craft)) = jarm.filter(|(_, _, c)| c.jarm_form != Some(JarmForm::Plain)) else {
        return ResponseTemplate::new(303).insert_header("Location", format!("{redirect_uri}{sep}{}", encode(&params)));
    };
    let now = fapilab_jose::now();
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(issuer));
    claims.insert("aud".into(), json!(client_id));
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + 300));
    for (k, v) in params.into_iter().filter(|(k, _)| k != "iss") {
        claims.insert(k, json!(v));
    }
    if let Some(t) = &craft.jarm {
        t(&mut claims);
    }
    let jwt = if craft.jarm_form == Some(JarmForm::Unsigned) {
        format!("{}.{}.", fapilab_jose::b64::encode(br#"{"alg":"none"}"#), fapilab_jose::b64::encode(Value::Object(claims).to_string().as_bytes()))
    } else {
        fapilab_jose::jws::sign(key, Map::new(), &Value::Object(claims)).expect("signing the JARM response")
    };
    let response = vec![("response".to_owned(), jwt.clone())];
    match mode {
        "fragment.jwt" => ResponseTemplate::new(303).insert_header("Location", format!("{redirect_uri}#{}", encode(&response))),
        "form_post.jwt" => ResponseTemplate::new(200).set_body_raw(
            format!(
                "<!doctype html><html><body onload=\"document.forms[0].submit()\"><form method=\"post\" action=\"{redirect_uri}\">\
                 <input type=\"hidden\" name=\"response\" value=\"{jwt}\"></form></body></html>"
            ),
            "text/html",
        ),
        _ => ResponseTemplate::new(303).insert_header("Location", format!("{redirect_uri}{sep}{}", encode(&response))),
    }
}

/// The server's (public) signing key set: one ES256 key.
pub fn good_jwks() -> Value {
    let key = SigningKey::generate(Algorithm::Es256, Some("as-sig-1".into())).expect("ES256 key");
    json!({"keys": [key.public_jwk().to_value()]})
}

/// A correct FAPI 2.0 discovery document for `issuer` (private_key_jwt and mTLS, DPoP,
/// OpenID Connect and plain OAuth).
pub fn good_discovery(issuer: &str) -> Map<String, Value> {
    let doc = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "pushed_authorization_request_endpoint": format!("{issuer}/par"),
        "backchannel_authentication_endpoint": format!("{issuer}/bc-authorize"),
        "jwks_uri": format!("{issuer}/jwks"),
        "registration_endpoint": format!("{issuer}/register"),
        "introspection_endpoint": format!("{issuer}/introspect"),
        "require_pushed_authorization_requests": true,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "jwt", "query.jwt", "fragment.jwt", "form_post.jwt"],
        "authorization_signing_alg_values_supported": ["ES256"],
        "require_signed_request_object": true,
        "request_object_signing_alg_values_supported": ["PS256", "ES256", "EdDSA"],
        "introspection_signing_alg_values_supported": ["ES256"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "token_endpoint_auth_methods_supported": ["private_key_jwt", "tls_client_auth"],
        "token_endpoint_auth_signing_alg_values_supported": ["PS256", "ES256"],
        "dpop_signing_alg_values_supported": ["PS256", "ES256"],
        "tls_client_certificate_bound_access_tokens": true,
        "id_token_signing_alg_values_supported": ["PS256", "ES256"],
        "scopes_supported": ["openid", "accounts"],
        "subject_types_supported": ["public"],
    });
    match doc {
        Value::Object(m) => m,
        _ => unreachable!("a JSON object literal"),
    }
}

const LOGIN_PAGE: &str = r#"<!doctype html><html><body><h1>Fake AS sign-in</h1>
<form method="post" action="/login">
<input type="hidden" name="request_uri" value="{request_uri}">
<input name="username"><input name="password" type="password">
<button type="submit">Sign in</button>
</form></body></html>"#;

impl Fake {
    /// Starts the mock server and the TLS proxy, and mounts the endpoints (crafted or correct).
    pub async fn start(craft: Craft) -> Fake {
        let mock = MockServer::start().await;
        let (port, proxy) = start_proxy(*mock.address()).await;
        let urls = Urls { issuer: format!("https://localhost:{port}"), plain: mock.uri() };
        let memory = Arc::new(Mutex::new(Memory::default()));
        let craft = Arc::new(craft);
        // The fake signs JARM responses with this key; its jwks_uri publishes it.
        let as_key = Arc::new(SigningKey::generate(Algorithm::Es256, Some("as-sig-1".into())).expect("AS key"));
        let client_keys: [SigningKey; 2] =
            [1, 2].map(|i| SigningKey::generate(Algorithm::Es256, Some(format!("client-{i}"))).expect("client key"));
        let client_jwks: Arc<HashMap<String, fapilab_jose::Jwk>> =
            Arc::new([1, 2].iter().zip(&client_keys).map(|(i, k)| (format!("client-{i}"), k.public_jwk())).collect());

        // Discovery.
        let mut doc = good_discovery(&urls.issuer);
        if let Some(tweak) = &craft.discovery {
            tweak(&mut doc, &urls);
        }
        Mock::given(method("GET"))
            .and(path("/.well-known/openid-configuration"))
            .respond_with(ResponseTemplate::new(200).set_body_json(Value::Object(doc)))
            .mount(&mock)
            .await;

        // JWKS.
        let jwks = craft.jwks.clone().unwrap_or_else(|| json!({"keys": [as_key.public_jwk().to_value()]}));
        Mock::given(method("GET")).and(path("/jwks")).respond_with(ResponseTemplate::new(200).set_body_json(jwks)).mount(&mock).await;

        // PAR.
        let par = Mock::given(method("POST")).and(path("/par"));
        match &craft.par {
            Some(r) => par.respond_with(r.clone()).mount(&mock).await,
            None => {
                let memory = memory.clone();
                let client_jwks = client_jwks.clone();
                let issuer = urls.issuer.clone();
                par.respond_with(move |req: &Request| {
                    let mut f = form(req);
                    if let Some(request) = f.get("request").cloned() {
                        // RFC 9101 §5: with a request object only its parameters count.
                        let client_id = f.get("client_id").cloned().unwrap_or_default();
                        if f.contains_key("request_uri") {
                            return oauth_error(400, "invalid_request", "request and request_uri together");
                        }
                        match request_object_params(&request, &client_id, &client_jwks, &issuer) {
                            Ok(params) => {
                                f.retain(|k, _| k.starts_with("client_"));
                                f.extend(params);
                            }
                            Err(e) => return oauth_error(400, "invalid_request_object", &e),
                        }
                    }
                    if !f.contains_key("client_assertion") {
                        return oauth_error(401, "invalid_client", "client authentication required");
                    }
                    if f.get("code_challenge_method").map(String::as_str) != Some("S256") || !f.contains_key("code_challenge") {
                        return oauth_error(400, "invalid_request", "PKCE with S256 is required");
                    }
                    if f.get("response_type").map(String::as_str) != Some("code") {
                        return oauth_error(400, "unsupported_response_type", "only code");
                    }
                    let request_uri = format!("{REQUEST_URI_PREFIX}{}", fapilab_jose::random_token(32));
                    let pushed = Pushed {
                        client_id: f.get("client_id").cloned().unwrap_or_default(),
                        state: f.get("state").cloned(),
                        code_challenge: f.get("code_challenge").cloned().unwrap_or_default(),
                        redirect_uri: f.get("redirect_uri").cloned().unwrap_or_else(|| REDIRECT_URI.to_owned()),
                        response_mode: f.get("response_mode").cloned(),
                    };
                    memory.lock().expect("memory").pushed.insert(request_uri.clone(), pushed);
                    ResponseTemplate::new(201)
                        .insert_header("Cache-Control", "no-store")
                        .set_body_json(json!({"request_uri": request_uri, "expires_in": 60}))
                })
                .mount(&mock)
                .await;
            }
        }

        // Authorization endpoint: a login page for a known request_uri.
        {
            let memory = memory.clone();
            Mock::given(method("GET"))
                .and(path("/authorize"))
                .respond_with(move |req: &Request| {
                    let q = query(req);
                    let request_uri = q.get("request_uri").cloned().unwrap_or_default();
                    let known =
                        memory.lock().expect("memory").pushed.get(&request_uri).is_some_and(|p| q.get("client_id") == Some(&p.client_id));
                    if !known {
                        return ResponseTemplate::new(400)
                            .set_body_raw("<html><body><span id=\"error\">invalid_request_uri</span></body></html>", "text/html");
                    }
                    ResponseTemplate::new(200).set_body_raw(LOGIN_PAGE.replace("{request_uri}", &request_uri), "text/html")
                })
                .mount(&mock)
                .await;
        }

        // Login: 303 back to the client with code, state and iss.
        {
            let memory = memory.clone();
            let issuer = urls.issuer.clone();
            let craft = craft.clone();
            let as_key = as_key.clone();
            Mock::given(method("POST"))
                .and(path("/login"))
                .respond_with(move |req: &Request| {
                    let f = form(req);
                    if f.get("username").map(String::as_str) != Some(USERNAME) || f.get("password").map(String::as_str) != Some(PASSWORD) {
                        return ResponseTemplate::new(200).set_body_raw(LOGIN_PAGE.replace("{request_uri}", ""), "text/html");
                    }
                    let mut mem = memory.lock().expect("memory");
                    let Some(pushed) = f.get("request_uri").and_then(|u| mem.pushed.remove(u)) else {
                        return ResponseTemplate::new(400)
                            .set_body_raw("<html><body><span id=\"error\">invalid_request_uri</span></body></html>", "text/html");
                    };
                    let code = fapilab_jose::random_token(32);
                    mem.codes.insert(
                        code.clone(),
                        Issued { client_id: pushed.client_id.clone(), code_challenge: pushed.code_challenge.clone() },
                    );
                    let mut params = vec![("code".to_owned(), code)];
                    if let Some(s) = &pushed.state {
                        params.push(("state".to_owned(), s.clone()));
                    }
                    params.push(("iss".to_owned(), issuer.clone()));
                    if let Some(t) = &craft.callback {
                        t(&mut params);
                    }
                    let jarm = pushed.response_mode.as_deref().filter(|m| m.ends_with("jwt")).map(|m| (m, &*as_key, &*craft));
                    authorization_response(&pushed.redirect_uri, params, jarm, &issuer, &pushed.client_id)
                })
                .mount(&mock)
                .await;
        }

        // CIBA authentication requests: acknowledged without looking (the CIBA cases craft
        // what they judge).
        let backchannel = craft.backchannel.clone().unwrap_or_else(|| {
            ResponseTemplate::new(200).set_body_json(json!({"auth_req_id": fapilab_jose::random_token(32), "expires_in": 120, "interval": 1}))
        });
        Mock::given(method("POST")).and(path("/bc-authorize")).respond_with(backchannel).mount(&mock).await;

        // Token endpoint.
        let token = Mock::given(method("POST")).and(path("/token"));
        match &craft.token {
            Some(r) => token.respond_with(r.clone()).mount(&mock).await,
            None => {
                let memory = memory.clone();
                token
                    .respond_with(move |req: &Request| {
                        let f = form(req);
                        if !f.contains_key("client_assertion") {
                            return oauth_error(401, "invalid_client", "client authentication required");
                        }
                        if req.headers.get("dpop").is_none() {
                            return oauth_error(400, "invalid_dpop_proof", "a DPoP proof is required");
                        }
                        let issued = f.get("code").and_then(|c| memory.lock().expect("memory").codes.remove(c));
                        let Some(issued) = issued else {
                            return oauth_error(400, "invalid_grant", "unknown or used code");
                        };
                        let verifier = f.get("code_verifier").cloned().unwrap_or_default();
                        if fapilab_jose::sha256_b64url(verifier.as_bytes()) != issued.code_challenge
                            || f.get("client_id") != Some(&issued.client_id)
                        {
                            return oauth_error(400, "invalid_grant", "PKCE verification failed");
                        }
                        ResponseTemplate::new(200).insert_header("Cache-Control", "no-store").set_body_json(json!({
                            "access_token": fapilab_jose::random_token(32),
                            "token_type": "DPoP",
                            "expires_in": 300,
                            "scope": "accounts",
                        }))
                    })
                    .mount(&mock)
                    .await;
            }
        }

        // Introspection (RFC 7662), signed on request (RFC 9701): every token is active.
        {
            let craft = craft.clone();
            let as_key = as_key.clone();
            let issuer = urls.issuer.clone();
            Mock::given(method("POST"))
                .and(path("/introspect"))
                .respond_with(move |req: &Request| {
                    let f = form(req);
                    if !f.contains_key("client_assertion") {
                        return oauth_error(401, "invalid_client", "client authentication required");
                    }
                    let answer = json!({"active": true, "client_id": "client-1", "scope": "accounts", "token_type": "DPoP", "cnf": {"jkt": "fake-thumbprint"}});
                    let wants_jwt = req
                        .headers
                        .get("accept")
                        .and_then(|v| v.to_str().ok())
                        .is_some_and(|v| v.contains("application/token-introspection+jwt"));
                    if !wants_jwt || craft.introspection_plain {
                        return ResponseTemplate::new(200).set_body_json(answer);
                    }
                    let mut header = Map::new();
                    header.insert("typ".into(), json!("token-introspection+jwt"));
                    let mut claims = Map::new();
                    claims.insert("iss".into(), json!(issuer));
                    claims.insert("aud".into(), json!(f.get("client_id").cloned().unwrap_or_default()));
                    claims.insert("iat".into(), json!(fapilab_jose::now()));
                    claims.insert("token_introspection".into(), answer);
                    if let Some(t) = &craft.introspection {
                        t(&mut header, &mut claims);
                    }
                    let jwt = fapilab_jose::jws::sign(&as_key, header, &Value::Object(claims)).expect("signing the introspection response");
                    ResponseTemplate::new(200).set_body_raw(jwt, "application/token-introspection+jwt")
                })
                .mount(&mock)
                .await;
        }

        // Registration (RFC 7591): open, 201 with the metadata, a client_id, the client's
        // configuration endpoint and its registration access token.
        {
            let memory = memory.clone();
            let issuer = urls.issuer.clone();
            let tweak = craft.registration.clone();
            Mock::given(method("POST"))
                .and(path("/register"))
                .respond_with(move |req: &Request| {
                    let Ok(Value::Object(mut body)) = serde_json::from_slice::<Value>(&req.body) else {
                        return oauth_error(400, "invalid_client_metadata", "the body is not a JSON object");
                    };
                    let client_id = format!("dyn-{}", fapilab_jose::random_token(12));
                    let rat = fapilab_jose::random_token(32);
                    body.insert("client_id".into(), json!(client_id));
                    memory
                        .lock()
                        .expect("memory")
                        .registered
                        .insert(client_id.clone(), RegisteredClient { metadata: body.clone(), registration_access_token: rat.clone() });
                    body.insert("registration_client_uri".into(), json!(format!("{issuer}/register/{client_id}")));
                    body.insert("registration_access_token".into(), json!(rat));
                    let mut status = 201;
                    if let Some(t) = &tweak {
                        t(&mut body, &mut status);
                    }
                    ResponseTemplate::new(status).insert_header("Cache-Control", "no-store").set_body_json(Value::Object(body))
                })
                .mount(&mock)
                .await;
        }

        // The client configuration endpoint (RFC 7592): the client's own registration access
        // token reads (200) and deletes (204); anything else is 401 with a Bearer challenge.
        let manage = Mock::given(path_regex("^/register/[^/]+$"));
        match &craft.management {
            Some(r) => manage.respond_with(r.clone()).mount(&mock).await,
            None => {
                let memory = memory.clone();
                manage
                    .respond_with(move |req: &Request| {
                        let client_id = req.url.path().rsplit('/').next().unwrap_or_default().to_owned();
                        let presented = req
                            .headers
                            .get("authorization")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.strip_prefix("Bearer "))
                            .map(str::to_owned);
                        let mut mem = memory.lock().expect("memory");
                        let known = mem.registered.get(&client_id).cloned();
                        let Some(client) = known.filter(|c| presented.as_deref() == Some(c.registration_access_token.as_str())) else {
                            return ResponseTemplate::new(401)
                                .insert_header("WWW-Authenticate", "Bearer error=\"invalid_token\"")
                                .set_body_json(json!({"error": "invalid_token"}));
                        };
                        match req.method.as_str() {
                            "DELETE" => {
                                mem.registered.remove(&client_id);
                                ResponseTemplate::new(204)
                            }
                            "GET" => ResponseTemplate::new(200).insert_header("Cache-Control", "no-store").set_body_json(Value::Object(client.metadata)),
                            _ => ResponseTemplate::new(405),
                        }
                    })
                    .mount(&mock)
                    .await;
            }
        }

        Fake { urls, client_keys: client_keys.map(|k| k.to_private_jwk()), _mock: mock, proxy }
    }

    /// The target for this fake: two private_key_jwt + DPoP clients with the ES256 keys the
    /// fake knows, and a form login.
    pub fn target(&self) -> Target {
        let client = |index: u8| {
            let key = &self.client_keys[usize::from(index - 1)];
            TargetClient {
                client_id: format!("client-{index}"),
                auth: ClientAuth::PrivateKeyJwt,
                auth_method: "private_key_jwt".into(),
                sender: Sender::Dpop,
                index,
                private_jwks: json!({"keys": [key]}),
                cert_pem: None,
                key_pem: None,
                redirect_uri: REDIRECT_URI.into(),
                second_redirect_uri: None,
            }
        };
        let issuer = self.urls.issuer.clone();
        Target {
            discovery_url: format!("{issuer}/.well-known/openid-configuration"),
            ca_pem: tls().0.as_bytes().to_vec(),
            resource_url: format!("{issuer}/accounts"),
            clients: vec![client(1), client(2)],
            scope_openid: "openid accounts".into(),
            scope_plain: "accounts".into(),
            login: Login::Form(Box::new(FormScript {
                username: USERNAME.into(),
                password: PASSWORD.into(),
                username_field: "username".into(),
                password_field: "password".into(),
                approve: FieldValue { field: "decision".into(), value: "approve".into() },
                deny: FieldValue { field: "decision".into(), value: "deny".into() },
                extra_fields: BTreeMap::new(),
            })),
            code_lifetime: 60,
            users: vec![User { username: USERNAME.into(), password: PASSWORD.into() }],
            // Open registration at the discovery document's registration_endpoint.
            registration: Some(Registration::default()),
            introspection_client: Some(TargetClient {
                client_id: "resource-server".into(),
                index: 1,
                redirect_uri: String::new(),
                second_redirect_uri: None,
                ..client(1)
            }),
            ciba: Some(Ciba { approved_user: Some(USERNAME.into()), ..Ciba::default() }),
            // The fake server has no passkey pages: the passkey plan's modules are skipped.
            passkeys: None,
            issuer,
        }
    }
}
