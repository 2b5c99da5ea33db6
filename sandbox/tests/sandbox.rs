//! The sandbox for real: started on ephemeral ports in a fresh directory, spoken to over TLS
//! and mutual TLS, with tokens from its own authorization server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use fapilab_jose::SigningKey;
use fapilab_sandbox::bank::{
    self, AuthorizationServer, BankConfig, BankState, RunningBank, TokenValidation,
};
use fapilab_sandbox::{Manifest, ManifestClient, Sandbox, SandboxOptions};
use serde_json::{Value, json};

const LOCALHOST: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "fapilab-sandbox-{name}-{}-{}",
        std::process::id(),
        fapilab_jose::random_token(6)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn start(name: &str) -> (Sandbox, PathBuf) {
    let dir = fresh_dir(name);
    let sandbox = fapilab_sandbox::start(SandboxOptions {
        data_dir: dir.clone(),
        port_base: 0,
        bind: LOCALHOST,
        ..SandboxOptions::default()
    })
    .await
    .expect("sandbox starts");
    (sandbox, dir)
}

fn http(manifest: &Manifest, identity_of: Option<&ManifestClient>) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&manifest.ca_file).unwrap()).unwrap();
    let mut builder = reqwest::Client::builder().tls_certs_only([ca]).no_proxy();
    if let Some(client) = identity_of {
        let mut pem = std::fs::read(client.cert_file.as_ref().unwrap()).unwrap();
        pem.extend(std::fs::read(client.key_file.as_ref().unwrap()).unwrap());
        builder = builder.identity(reqwest::Identity::from_pem(&pem).unwrap());
    }
    builder.build().unwrap()
}

fn client<'a>(manifest: &'a Manifest, id: &str) -> &'a ManifestClient {
    manifest.workspaces[0]
        .clients
        .iter()
        .find(|c| c.client_id == id)
        .unwrap()
}

/// The client's ES256 key from its private JWKS.
fn client_key(client: &ManifestClient) -> SigningKey {
    let jwks: Value = serde_json::from_str(
        &std::fs::read_to_string(client.private_jwks_file.as_ref().unwrap()).unwrap(),
    )
    .unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kty"] == "EC")
        .unwrap();
    SigningKey::from_private_jwk(jwk).unwrap()
}

fn assertion(key: &SigningKey, client_id: &str, issuer: &str) -> String {
    let now = fapilab_jose::now();
    let claims = json!({ "iss": client_id, "sub": client_id, "aud": issuer, "jti": fapilab_jose::random_token(16), "iat": now, "exp": now + 60 });
    fapilab_jose::jws::sign(key, serde_json::Map::new(), &claims).unwrap()
}

fn dpop(key: &SigningKey, method: &str, url: &str, token: Option<&str>) -> String {
    fapilab_jose::dpop::create_proof(
        key,
        method,
        url,
        token,
        None,
        fapilab_jose::now(),
        &fapilab_jose::random_token(16),
    )
    .unwrap()
}

/// client_credentials for `scope`: a DPoP-bound token when `dpop_key` is given, else one
/// bound to the certificate of `http`'s identity (requested at the mTLS alias).
async fn token(
    m: &Manifest,
    http: &reqwest::Client,
    id: &str,
    dpop_key: Option<&SigningKey>,
) -> String {
    let ws = &m.workspaces[0];
    let c = client(m, id);
    let url = match dpop_key {
        Some(_) => format!("{}/token", ws.issuer),
        None => format!("{}/{}/{}/token", m.mtls_base_url, ws.tenant, ws.workspace),
    };
    let form = [
        ("grant_type", "client_credentials".to_owned()),
        ("scope", "accounts".to_owned()),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned(),
        ),
        (
            "client_assertion",
            assertion(&client_key(c), id, &ws.issuer),
        ),
    ];
    let mut request = http.post(&url).form(&form);
    if let Some(key) = dpop_key {
        request = request.header("DPoP", dpop(key, "POST", &url, None));
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

async fn call_bank(
    http: &reqwest::Client,
    bank_url: &str,
    path: &str,
    token: &str,
    dpop_key: Option<&SigningKey>,
) -> (u16, Vec<String>, Value) {
    let url = format!("{bank_url}{path}");
    let mut request = http.get(&url).header(
        "x-fapi-interaction-id",
        "5e1c6c4b-2f1e-4d53-9a55-0d4f1f0b9a10",
    );
    request = match dpop_key {
        Some(key) => request
            .header("Authorization", format!("DPoP {token}"))
            .header("DPoP", dpop(key, "GET", &url, Some(token))),
        None => request.header("Authorization", format!("Bearer {token}")),
    };
    let response = request.send().await.unwrap();
    assert_eq!(
        response.headers()["x-fapi-interaction-id"],
        "5e1c6c4b-2f1e-4d53-9a55-0d4f1f0b9a10"
    );
    assert!(response.headers().contains_key("date"));
    let status = response.status().as_u16();
    let challenges = response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    (
        status,
        challenges,
        response.json().await.unwrap_or(Value::Null),
    )
}

fn assert_absolute_file(path: &Path) {
    assert!(path.is_absolute(), "{}", path.display());
    assert!(path.is_file(), "{}", path.display());
}

#[tokio::test]
async fn the_manifest_describes_a_working_sandbox() {
    let (sandbox, dir) = start("manifest").await;
    let m = &sandbox.manifest;

    assert!(sandbox.manifest_path.is_absolute());
    assert_eq!(sandbox.manifest_path.file_name().unwrap(), "sandbox.json");
    let on_disk = Manifest::load(&sandbox.manifest_path).unwrap();
    assert_eq!(&on_disk, m);
    let raw: Value =
        serde_json::from_str(&std::fs::read_to_string(&sandbox.manifest_path).unwrap()).unwrap();
    for key in [
        "ca_file",
        "bank_url",
        "workspaces",
        "users",
        "mtls_base_url",
        "bank_audience",
    ] {
        assert!(raw.get(key).is_some(), "manifest lacks {key}");
    }

    assert_absolute_file(&m.ca_file);
    assert_eq!(m.bank_url, sandbox.bank_url);
    assert_eq!(m.bank_audience, "urn:fapilab:bank");
    assert_eq!(m.users.len(), 3, "alice, bob and mallory (CIBA)");
    assert_eq!(m.users[0].username, fapilab_server::config::DEFAULT_USER);
    let names: Vec<&str> = m.workspaces.iter().map(|w| w.workspace.as_str()).collect();
    assert_eq!(names, ["fapi2", "fapi1-adv", "fapi1-base", "fapi2-ms", "fdx"], "the FAPI 2.0 Security Profile workspace first");
    let named = |name: &str| m.workspaces.iter().find(|w| w.workspace == name).expect("workspace");
    let ms = named("fapi2-ms");
    assert_eq!((ms.workspace.as_str(), ms.profile.as_str()), ("fapi2-ms", "fapi2-message-signing"));
    assert!(ms.registration.is_none());
    assert_eq!(ms.introspection_client.as_ref().map(|c| c.client_id.as_str()), Some("bank"));
    let fdx = named("fdx");
    assert_eq!((fdx.workspace.as_str(), fdx.profile.as_str()), ("fdx", "fdx"));
    for w in [&m.workspaces[0], fdx] {
        let reg = w.registration.as_ref().expect("both workspaces offer registration");
        assert_eq!(reg.endpoint, format!("{}/register", w.issuer));
        assert_eq!(reg.policy, "initial_access_token");
        assert!(reg.initial_access_token.as_ref().is_some_and(|t| t.len() >= 16));
        assert_eq!(reg.registration_access_token_lifetime, Some(30 * 86_400));
        let admin = reg.admin_client.as_ref().expect("admin client");
        assert_eq!(admin.scope, "dcr_manage update_client_status");
        assert_absolute_file(admin.private_jwks_file.as_ref().expect("admin keys"));
        assert!(w.clients.iter().all(|c| c.client_id != admin.client_id), "the admin client is not a variant client");
    }
    let fdx_reg = fdx.registration.as_ref().and_then(|r| r.fdx.as_ref()).expect("FDX status endpoint");
    assert_eq!(fdx_reg.status_endpoint, format!("{}/fdx/clients/{{client_id}}/status", fdx.issuer));
    assert_eq!(fdx_reg.initial_status, "Pending");
    for (name, profile) in [("fapi1-adv", "fapi1-advanced"), ("fapi1-base", "fapi1-baseline")] {
        let w = named(name);
        assert_eq!(w.profile, profile);
        assert!(w.registration.is_none());
    }
    // A-AS-06: FAPI 1.0 Advanced binds tokens by mTLS only, so only mTLS clients are listed.
    assert!(named("fapi1-adv").clients.iter().all(|c| c.client_id.contains("-mtls-")));
    let ws = &m.workspaces[0];
    assert!(ws.registration.as_ref().is_some_and(|r| r.fdx.is_none()));
    for w in &m.workspaces {
        let ciba = w.ciba.as_ref().expect("CIBA in every sandbox workspace");
        assert_eq!(ciba.endpoint, format!("{}/bc-authorize", w.issuer));
        assert_eq!(ciba.approved_user.as_deref(), Some("alice"));
        assert_eq!(ciba.denied_user.as_deref(), Some("mallory"));
        assert_eq!(ciba.pending_user.as_deref(), Some("bob"));
        assert!(ciba.device_api_token.as_ref().is_some_and(|t| t.len() >= 16));
    }
    assert_eq!(
        (
            ws.tenant.as_str(),
            ws.workspace.as_str(),
            ws.profile.as_str()
        ),
        ("default", "fapi2", "fapi2-security-profile")
    );
    assert_eq!(
        ws.discovery_url,
        format!("{}/.well-known/openid-configuration", ws.issuer)
    );
    assert_eq!(
        ws.clients.len(),
        12,
        "two clients per auth method and sender constraint, bank excluded"
    );
    assert!(ws.clients.iter().all(|c| c.client_id != "bank"));
    for c in &ws.clients {
        for file in [&c.private_jwks_file, &c.cert_file, &c.key_file] {
            assert_absolute_file(file.as_ref().expect("every default client has TPP files"));
        }
        assert!(c.sender_constraint.is_some());
        assert!(c.scope.split(' ').any(|s| s == "accounts"), "{}", c.scope);
    }
    let summary = sandbox.summary();
    assert!(
        summary.contains(&ws.discovery_url)
            && summary.contains(&m.bank_url)
            && summary.contains("--cacert"),
        "{summary}"
    );

    let http = http(m, None);
    let discovery: Value = http
        .get(&ws.discovery_url)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["issuer"], ws.issuer.as_str());

    let response = http
        .get(format!("{}/accounts", m.bank_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let challenges: Vec<_> = response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        challenges,
        [
            "Bearer realm=\"fapilab-bank\"",
            "DPoP realm=\"fapilab-bank\", algs=\"PS256 ES256 EdDSA\""
        ]
    );

    drop(sandbox);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn tokens_from_the_sandbox_open_the_bank_until_revoked() {
    let (sandbox, dir) = start("flow").await;
    let m = sandbox.manifest.clone();
    let ws = &m.workspaces[0];

    // DPoP-bound token (private_key_jwt client).
    let plain = http(&m, None);
    let proof_key = SigningKey::generate(fapilab_jose::Algorithm::Es256, None).unwrap();
    let at = token(&m, &plain, "pkjwt-dpop-1", Some(&proof_key)).await;
    let (status, _, body) =
        call_bank(&plain, &m.bank_url, "/accounts", &at, Some(&proof_key)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accounts"].as_array().map(Vec::len), Some(3));
    let (status, _, body) = call_bank(
        &plain,
        &m.bank_url,
        "/accounts/acc-001/balances",
        &at,
        Some(&proof_key),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, challenges, _) = call_bank(&plain, &m.bank_url, "/accounts", &at, None).await;
    assert_eq!(status, 401, "DP-R-02: Bearer with a DPoP-bound token");
    assert!(challenges[0].starts_with("DPoP "), "{challenges:?}");

    // A second bank on the same server, validating JWT access tokens locally (JAT-03).
    let ca = fapilab_certs::CaDir::new(m.ca_file.parent().unwrap());
    let listener = bank::bind(SocketAddr::new(LOCALHOST, 0)).await.unwrap();
    let jwt_bank_url = format!(
        "https://localhost:{}",
        listener.local_addr().unwrap().port()
    );
    let mut config = BankConfig::new(jwt_bank_url.clone());
    config.validation = TokenValidation::Jwt;
    let server = AuthorizationServer {
        issuer: ws.issuer.clone(),
        introspection_endpoint: format!("{}/introspect", ws.issuer),
        jwks_uri: format!("{}/jwks", ws.issuer),
        ca_pem: std::fs::read(&m.ca_file).unwrap(),
    };
    let state = BankState::new(
        config,
        &server,
        bank::signing_key_from_tpp(&ca, "bank").unwrap(),
    )
    .unwrap();
    let jwt_bank =
        RunningBank::spawn(listener, bank::tls_config(&ca).unwrap(), Arc::new(state)).unwrap();
    let (status, _, body) =
        call_bank(&plain, &jwt_bank.url, "/accounts", &at, Some(&proof_key)).await;
    assert_eq!(status, 200, "{body}");

    // RS-03: after revocation the introspecting bank refuses the token at once.
    let c = client(&m, "pkjwt-dpop-1");
    let form = [
        ("token", at.clone()),
        ("token_type_hint", "access_token".to_owned()),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned(),
        ),
        (
            "client_assertion",
            assertion(&client_key(c), &c.client_id, &ws.issuer),
        ),
    ];
    let revoked = plain
        .post(format!("{}/revoke", ws.issuer))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    let (status, challenges, body) =
        call_bank(&plain, &m.bank_url, "/accounts", &at, Some(&proof_key)).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_token");
    assert!(
        challenges[0].contains("error=\"invalid_token\""),
        "{challenges:?}"
    );

    // Certificate-bound token: works over a connection with the same certificate only.
    let mtls_client = client(&m, "pkjwt-mtls-1").clone();
    let with_cert = http(&m, Some(&mtls_client));
    let at = token(&m, &with_cert, "pkjwt-mtls-1", None).await;
    let (status, _, body) = call_bank(
        &with_cert,
        &m.bank_url,
        "/accounts/acc-003/transactions",
        &at,
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["transactions"].as_array().map(Vec::len), Some(2));
    let (status, _, body) = call_bank(&plain, &m.bank_url, "/accounts", &at, None).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("MT-07"),
        "{body}"
    );
    let other = http(&m, Some(client(&m, "pkjwt-mtls-2")));
    let (status, _, _) = call_bank(&other, &m.bank_url, "/accounts", &at, None).await;
    assert_eq!(status, 401);

    drop(jwt_bank);
    drop(sandbox);
    let _ = std::fs::remove_dir_all(dir);
}
