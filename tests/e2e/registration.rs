//! Dynamic client registration (RFC 7591, DCR-*), its management (RFC 7592, DCM-*), the
//! `dcr_manage` scope, registration-token lifetimes, per-workspace assertion algorithms and
//! FDX offline approval (FDX-*), against a real server over TLS and mTLS.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::*;
use fapilab_server::config::{Config, RegistrationPolicy, TokenLifetime, WorkspaceConfig};
use fapilab_server::profiles::ProfileId;
use fapilab_server::registry::FdxStatus;

const IAT: &str = "initial-access-token-for-tests";

fn enable_registration(ws: &mut WorkspaceConfig) {
    ws.registration.enabled = true;
    ws.registration.policy = RegistrationPolicy::InitialAccessToken;
    ws.registration.initial_access_tokens = vec![IAT.into()];
}

async fn registration_env() -> TestEnv {
    TestEnv::start(enable_registration).await
}

/// RFC 7591 metadata for a client that uses `tpp_name`'s keys and certificate.
fn metadata_for(env: &TestEnv, tpp_name: &str) -> Value {
    let ca = fapilab_certs::CaDir::new(&env.info.ca_dir);
    let bundle = ca.load_tpp(tpp_name).expect("TPP bundle");
    let tpp = env.tpp(tpp_name);
    let method = match tpp.auth {
        AuthMethod::PrivateKeyJwt => "private_key_jwt",
        AuthMethod::TlsClientAuth => "tls_client_auth",
        AuthMethod::SelfSignedTlsClientAuth => "self_signed_tls_client_auth",
    };
    let mut body = json!({
        "client_name": format!("registered {tpp_name}"),
        "redirect_uris": DEFAULT_REDIRECT_URIS,
        "token_endpoint_auth_method": method,
        "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
        "response_types": ["code"],
        "scope": "openid accounts",
        "jwks": bundle.public_jwks(),
        "dpop_bound_access_tokens": tpp.is_dpop(),
        "tls_client_certificate_bound_access_tokens": !tpp.is_dpop(),
    });
    if tpp.auth == AuthMethod::TlsClientAuth {
        body["tls_client_auth_subject_dn"] = json!(bundle.subject.rfc4514());
    }
    body
}

async fn send(http: &reqwest::Client, method: Method, url: &str, auth: Option<&str>, body: Option<&Value>) -> Resp {
    let mut req = http.request(method.clone(), url);
    if let Some(token) = auth {
        req = req.header("authorization", format!("Bearer {token}"));
    }
    if let Some(body) = body {
        req = req.json(body);
    }
    Resp::read(req.send().await.unwrap_or_else(|e| panic!("{method} {url}: {e}"))).await
}

async fn register(env: &TestEnv, body: &Value) -> Resp {
    send(&env.http, Method::POST, &env.tls_url("register"), Some(IAT), Some(body)).await
}

/// Registers `tpp_name`'s credentials as a new client; returns the TPP under its new id and the
/// registration response.
async fn registered(env: &TestEnv, tpp_name: &str) -> (Tpp, Value) {
    let resp = register(env, &metadata_for(env, tpp_name)).await;
    resp.assert_status(201, "registration");
    let client_id = resp.json["client_id"].as_str().expect("client_id").to_owned();
    (env.tpp(tpp_name).renamed(&client_id), resp.json)
}

/// A `dcr_manage` / `update_client_status` access token of the admin client (DPoP-bound).
async fn admin_token(env: &TestEnv, admin: &Tpp, scope: &str) -> String {
    let resp = env.token(admin, &[("grant_type", "client_credentials"), ("scope", scope)]).await;
    resp.assert_status(200, "admin client_credentials");
    resp.json["access_token"].as_str().expect("access_token").to_owned()
}

/// A request with a DPoP-bound access token (RFC 9449 §7.1).
async fn send_dpop(env: &TestEnv, holder: &Tpp, method: Method, url: &str, token: &str, body: Option<&Value>) -> Resp {
    let mut req = env
        .http
        .request(method.clone(), url)
        .header("authorization", format!("DPoP {token}"))
        .header("dpop", holder.dpop_proof(method.as_str(), url, Some(token), None));
    if let Some(body) = body {
        req = req.json(body);
    }
    Resp::read(req.send().await.unwrap_or_else(|e| panic!("{method} {url}: {e}"))).await
}

#[tokio::test]
async fn dcr_01_registration_endpoint_is_advertised_only_where_offered() {
    let plain = TestEnv::shared().await;
    let doc = plain.discovery().await;
    assert!(doc.get("registration_endpoint").is_none(), "{doc}");
    let resp = register(&plain, &json!({})).await;
    resp.assert_error(404, &["not_found"], "registration on a workspace without it");

    let env = registration_env().await;
    let doc = env.discovery().await;
    assert_eq!(doc["registration_endpoint"], json!(env.tls_url("register")));
    assert_eq!(doc["mtls_endpoint_aliases"]["registration_endpoint"], json!(env.mtls_url("register")));
}

#[tokio::test]
async fn dcr_02_every_client_kind_registers_and_completes_a_flow() {
    let env = registration_env().await;
    for name in ["pkjwt-dpop-1", "pkjwt-mtls-1", "tls-dpop-1", "tls-mtls-1", "selfsigned-dpop-1", "selfsigned-mtls-1"] {
        let (tpp, info) = registered(&env, name).await;
        assert!(tpp.client_id.starts_with("dcr-"), "{info}");
        for member in ["redirect_uris", "token_endpoint_auth_method", "grant_types", "response_types", "jwks", "scope"] {
            assert!(info.get(member).is_some(), "DCR-02: {member} echoed: {info}");
        }
        assert!(info.get("client_secret").is_none(), "no secret for a FAPI client: {info}");
        assert!(info["registration_access_token"].as_str().is_some_and(|t| t.len() >= 32), "DCM-01: {info}");
        assert_eq!(info["registration_client_uri"], json!(env.tls_url(&format!("register/{}", tpp.client_id))));
        let (_, tokens) = env.tokens(&tpp, &AuthRequest::new("openid accounts")).await;
        let at = tokens["access_token"].as_str().expect("access token");
        env.userinfo(&tpp, at).await.assert_status(200, &format!("userinfo of registered {name}"));
        env.client_credentials(&tpp).await.assert_status(200, &format!("client_credentials of registered {name}"));
    }
}

#[tokio::test]
async fn dcr_01_initial_access_token_is_required() {
    let env = registration_env().await;
    let body = metadata_for(&env, "pkjwt-dpop-1");
    let resp = send(&env.http, Method::POST, &env.tls_url("register"), None, Some(&body)).await;
    resp.assert_error(401, &["invalid_token"], "no initial access token");
    assert!(resp.www_authenticate().is_some_and(|w| w.starts_with("Bearer")), "{resp}");
    let resp = send(&env.http, Method::POST, &env.tls_url("register"), Some("wrong-token-value-123"), Some(&body)).await;
    resp.assert_error(401, &["invalid_token"], "wrong initial access token");
    let resp = Resp::read(env.http.post(env.tls_url("register")).bearer_auth(IAT).body("not json").header("content-type", "text/plain").send().await.expect("POST")).await;
    resp.assert_error(400, &["invalid_client_metadata"], "not JSON");
}

#[tokio::test]
async fn dcr_03_invalid_metadata_is_refused_naming_the_member() {
    let env = registration_env().await;
    let base = metadata_for(&env, "pkjwt-dpop-1");
    type Case = (&'static str, Box<dyn Fn(&mut Value)>, &'static str, &'static str);
    let cases: Vec<Case> = vec![
        ("http redirect", Box::new(|b| b["redirect_uris"] = json!(["http://tpp.example/cb"])), "invalid_redirect_uri", "redirect_uris"),
        ("no redirect", Box::new(|b| { b.as_object_mut().expect("o").remove("redirect_uris"); }), "invalid_redirect_uri", "redirect_uris"),
        ("jwks and jwks_uri", Box::new(|b| b["jwks_uri"] = json!("https://tpp.example/jwks")), "invalid_client_metadata", "jwks"),
        ("secret auth", Box::new(|b| b["token_endpoint_auth_method"] = json!("client_secret_basic")), "invalid_client_metadata", "token_endpoint_auth_method"),
        ("RS256 assertions", Box::new(|b| b["token_endpoint_auth_signing_alg"] = json!("RS256")), "invalid_client_metadata", "token_endpoint_auth_signing_alg"),
        ("implicit", Box::new(|b| b["response_types"] = json!(["token"])), "invalid_client_metadata", "response_types"),
        ("inconsistent", Box::new(|b| b["grant_types"] = json!(["client_credentials"])), "invalid_client_metadata", "response_types"),
        ("unbound", Box::new(|b| b["dpop_bound_access_tokens"] = json!(false)), "invalid_client_metadata", "dpop_bound_access_tokens"),
        ("admin scope", Box::new(|b| b["scope"] = json!("accounts dcr_manage")), "invalid_client_metadata", "scope"),
        ("unknown scope", Box::new(|b| b["scope"] = json!("payments")), "invalid_client_metadata", "scope"),
        ("RS256 id tokens", Box::new(|b| b["id_token_signed_response_alg"] = json!("RS256")), "invalid_client_metadata", "id_token_signed_response_alg"),
        ("no keys", Box::new(|b| { b.as_object_mut().expect("o").remove("jwks"); }), "invalid_client_metadata", "jwks"),
        ("private key", Box::new(|b| b["jwks"]["keys"][0]["d"] = json!("AAAA")), "invalid_client_metadata", "jwks"),
    ];
    for (what, edit, code, member) in cases {
        let mut body = base.clone();
        edit(&mut body);
        let resp = register(&env, &body).await;
        resp.assert_error(400, &[code], what);
        let description = resp.json["error_description"].as_str().unwrap_or_default();
        assert!(description.contains(member), "{what}: the description names {member}: {description}");
        assert!(description.contains('['), "{what}: the description cites a requirement: {description}");
    }
}

#[tokio::test]
async fn dcr_05_software_statements_from_trusted_issuers_only() {
    let dir = unique_dir("ssa");
    let directory = fapilab_jose::SigningKey::generate(fapilab_jose::Algorithm::Es256, Some("directory".into())).expect("key");
    let jwks_file = dir.join("directory.jwks.json");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(&jwks_file, json!({ "keys": [directory.public_jwk().to_value()] }).to_string()).expect("write jwks");
    let env = TestEnv::start(|ws| {
        ws.registration.enabled = true;
        ws.registration.policy = RegistrationPolicy::SoftwareStatement;
        ws.registration.software_statement_jwks_file = Some(jwks_file.clone());
        ws.registration.software_statement_issuers = vec!["https://directory.fapilab.test".into()];
    })
    .await;
    let sign = |key: &fapilab_jose::SigningKey, claims: Value| fapilab_jose::jws::sign(key, serde_json::Map::new(), &claims).expect("sign");
    let now = fapilab_jose::now();
    let mut body = metadata_for(&env, "pkjwt-dpop-1");
    body["client_name"] = json!("from the request");
    let without = send(&env.http, Method::POST, &env.tls_url("register"), None, Some(&body)).await;
    without.assert_error(400, &["invalid_software_statement"], "no statement");

    body["software_statement"] = json!(sign(&directory, json!({ "iss": "https://directory.fapilab.test", "iat": now, "client_name": "from the directory" })));
    let ok = send(&env.http, Method::POST, &env.tls_url("register"), None, Some(&body)).await;
    ok.assert_status(201, "trusted statement");
    assert_eq!(ok.json["client_name"], "from the directory", "DCR-05: the statement wins: {ok}");
    assert_eq!(ok.json["software_statement"], body["software_statement"]);

    let forger = fapilab_jose::SigningKey::generate(fapilab_jose::Algorithm::Es256, Some("directory".into())).expect("key");
    body["software_statement"] = json!(sign(&forger, json!({ "iss": "https://directory.fapilab.test", "iat": now })));
    send(&env.http, Method::POST, &env.tls_url("register"), None, Some(&body)).await.assert_error(400, &["invalid_software_statement"], "forged");
    body["software_statement"] = json!(sign(&directory, json!({ "iss": "https://elsewhere.example", "iat": now })));
    send(&env.http, Method::POST, &env.tls_url("register"), None, Some(&body)).await.assert_error(400, &["unapproved_software_statement"], "untrusted issuer");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn dcm_02_to_05_read_update_delete_with_a_rotating_registration_token() {
    let env = registration_env().await;
    let (tpp, info) = registered(&env, "pkjwt-dpop-1").await;
    let uri = info["registration_client_uri"].as_str().expect("uri").to_owned();
    let first = info["registration_access_token"].as_str().expect("rat").to_owned();

    let read = send(&env.http, Method::GET, &uri, Some(&first), None).await;
    read.assert_status(200, "GET with the registration access token");
    assert_eq!(read.json["client_id"], json!(tpp.client_id));
    let second = read.json["registration_access_token"].as_str().expect("rotated").to_owned();
    assert_ne!(second, first, "DCM-06: the token rotates");
    send(&env.http, Method::GET, &uri, Some(&first), None).await.assert_error(401, &["invalid_token"], "the previous token after rotation");
    send(&env.http, Method::GET, &uri, None, None).await.assert_error(401, &["invalid_token"], "no token");

    let mut update = read.json.clone();
    update["redirect_uris"] = json!(["https://client.fapilab.test/other-callback"]);
    update["client_name"] = json!("renamed");
    let updated = send(&env.http, Method::PUT, &uri, Some(&second), Some(&update)).await;
    updated.assert_status(200, "PUT with echoed server-managed members");
    assert_eq!(updated.json["client_name"], "renamed");
    let third = updated.json["registration_access_token"].as_str().expect("rotated").to_owned();
    let mut req = AuthRequest::new("openid accounts");
    req.redirect_uri = "https://client.fapilab.test/other-callback".into();
    env.tokens(&tpp, &req).await;
    let old_redirect = AuthRequest::new("openid accounts").params();
    let borrowed: Vec<(&str, &str)> = old_redirect.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    env.par(&tpp, &borrowed).await.assert_error(400, &["invalid_request"], "the replaced redirect URI");

    let mut no_id = update.clone();
    no_id.as_object_mut().expect("o").remove("client_id");
    send(&env.http, Method::PUT, &uri, Some(&third), Some(&no_id)).await.assert_error(400, &["invalid_client_metadata"], "PUT without client_id");
    let mut other_id = update.clone();
    other_id["client_id"] = json!("someone-else");
    send(&env.http, Method::PUT, &uri, Some(&third), Some(&other_id)).await.assert_error(400, &["invalid_client_metadata"], "PUT for another client_id");

    let (other, other_info) = registered(&env, "pkjwt-dpop-2").await;
    let other_uri = other_info["registration_client_uri"].as_str().expect("uri");
    send(&env.http, Method::GET, other_uri, Some(&third), None).await.assert_error(401, &["invalid_token"], "A's token on B's registration");

    let tokens = env.tokens(&tpp, &req).await.1;
    let refresh = tokens["refresh_token"].as_str().expect("refresh token").to_owned();
    let access = tokens["access_token"].as_str().expect("access token").to_owned();
    let deleted = send(&env.http, Method::DELETE, &uri, Some(&third), None).await;
    assert_eq!(deleted.status, 204, "DCM-05: {deleted}");
    assert!(deleted.body.is_empty(), "204 has no body");
    env.client_credentials(&tpp).await.assert_error(401, &["invalid_client"], "token request of a deleted client");
    env.refresh(&tpp, &refresh).await.assert_error(401, &["invalid_client"], "refresh of a deleted client");
    env.userinfo(&tpp, &access).await.assert_error(401, &["invalid_token"], "access token of a deleted client");
    send(&env.http, Method::GET, &uri, Some(&third), None).await.assert_error(401, &["invalid_token"], "GET after DELETE");
    env.client_credentials(&other).await.assert_status(200, "the other registration is untouched");
}

#[tokio::test]
async fn dcm_01_registration_tokens_expire_after_the_workspace_lifetime() {
    let env = TestEnv::start(|ws| {
        enable_registration(ws);
        ws.registration.registration_access_token_lifetime = TokenLifetime::Seconds(1);
    })
    .await;
    let (_, info) = registered(&env, "pkjwt-dpop-1").await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let resp = send(&env.http, Method::GET, info["registration_client_uri"].as_str().expect("uri"), info["registration_access_token"].as_str(), None).await;
    resp.assert_error(401, &["invalid_token"], "expired registration access token");
    assert!(resp.json["error_description"].as_str().is_some_and(|d| d.contains("expired")), "{resp}");

    let never = TestEnv::start(|ws| {
        enable_registration(ws);
        ws.registration.registration_access_token_lifetime = TokenLifetime::Never;
    })
    .await;
    let (_, info) = registered(&never, "pkjwt-dpop-1").await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    send(&never.http, Method::GET, info["registration_client_uri"].as_str().expect("uri"), info["registration_access_token"].as_str(), None)
        .await
        .assert_status(200, "a registration token that never expires");
}

#[tokio::test]
async fn dcr_manage_reaches_registered_clients_of_its_workspace_only() {
    let data_dir = unique_dir("dcr-manage");
    let mut config = base_config(&data_dir);
    enable_registration(&mut config.tenants[0].workspaces[0]);
    let mut second = WorkspaceConfig { id: "second".into(), ..WorkspaceConfig::default() };
    enable_registration(&mut second);
    config.tenants[0].workspaces.push(second);
    let env = TestEnv::start_with(config).await;
    let admin = env.tpp("admin");
    let token = admin_token(&env, &admin, "dcr_manage").await;
    let (client, info) = registered(&env, "pkjwt-dpop-1").await;
    let uri = info["registration_client_uri"].as_str().expect("uri").to_owned();

    let read = send_dpop(&env, &admin, Method::GET, &uri, &token, None).await;
    read.assert_status(200, "dcr_manage GET");
    assert!(read.json.get("registration_access_token").is_none(), "the client's token is not handed to the administrator: {read}");
    send(&env.http, Method::GET, &uri, info["registration_access_token"].as_str(), None)
        .await
        .assert_status(200, "the client's own token still works: the administrator did not rotate it");

    let mut update = read.json.clone();
    update["client_name"] = json!("renamed by the administrator");
    let updated = send_dpop(&env, &admin, Method::PUT, &uri, &token, Some(&update)).await;
    updated.assert_status(200, "dcr_manage PUT");
    assert_eq!(updated.json["client_name"], "renamed by the administrator");

    send_dpop(&env, &admin, Method::GET, &env.tls_url("register/pkjwt-dpop-1"), &token, None)
        .await
        .assert_error(403, &["access_denied"], "a configured client");
    send_dpop(&env, &admin, Method::GET, &env.tls_url("register/dcr-unknown"), &token, None).await.assert_error(404, &["not_found"], "unknown client");
    let elsewhere = format!("{}/default/second/register/{}", env.info.base_url, client.client_id);
    send_dpop(&env, &admin, Method::GET, &elsewhere, &token, None).await.assert_error(401, &["invalid_token"], "another workspace");

    let plain = env.tpp("pkjwt-dpop-2");
    let plain_token = env.client_credentials(&plain).await.json["access_token"].as_str().expect("token").to_owned();
    send_dpop(&env, &plain, Method::GET, &uri, &plain_token, None).await.assert_error(403, &["insufficient_scope"], "token without dcr_manage");

    let deleted = send_dpop(&env, &admin, Method::DELETE, &uri, &token, None).await;
    assert_eq!(deleted.status, 204, "dcr_manage DELETE: {deleted}");
    env.client_credentials(&client).await.assert_error(401, &["invalid_client"], "deleted by the administrator");
}

#[tokio::test]
async fn pkj_03_assertion_algorithms_are_a_workspace_setting_and_a_client_choice() {
    let env = TestEnv::start(|ws| {
        enable_registration(ws);
        ws.token_endpoint_auth_signing_alg_values = vec!["ES256".into()];
    })
    .await;
    let doc = env.discovery().await;
    assert_eq!(doc["token_endpoint_auth_signing_alg_values_supported"], json!(["ES256"]));
    let tpp = env.tpp("pkjwt-dpop-1");
    let ps256 = |tpp: &Tpp, issuer: &str| {
        let claims = Value::Object(tpp.assertion_claims(json!(issuer)));
        fapilab_jose::jws::sign(&tpp.rsa_key, serde_json::Map::new(), &claims).expect("sign")
    };
    let form = |tpp: &Tpp, assertion: String| {
        vec![
            ("grant_type".to_string(), "client_credentials".to_string()),
            ("client_id".into(), tpp.client_id.clone()),
            ("client_assertion_type".into(), "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into()),
            ("client_assertion".into(), assertion),
        ]
    };
    let url = env.tls_url("token");
    let headers = |tpp: &Tpp| {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("dpop", header(&tpp.dpop_proof("POST", &url, None, None)));
        h
    };
    let refused = env.post_form(&tpp, &url, &form(&tpp, ps256(&tpp, &env.issuer)), headers(&tpp)).await;
    refused.assert_error(401, &["invalid_client"], "PS256 outside the workspace's algorithms");

    let mut body = metadata_for(&env, "pkjwt-dpop-1");
    body["token_endpoint_auth_signing_alg"] = json!("PS256");
    register(&env, &body).await.assert_error(400, &["invalid_client_metadata"], "PS256 not offered here");
    body["token_endpoint_auth_signing_alg"] = json!("none");
    let resp = register(&env, &body).await;
    resp.assert_status(201, "none means any of the server's");
    assert!(resp.json.get("token_endpoint_auth_signing_alg").is_none(), "stored as empty: {resp}");

    let open = registration_env().await;
    let mut body = metadata_for(&open, "pkjwt-dpop-1");
    body["token_endpoint_auth_signing_alg"] = json!("PS256");
    let (ps_only, _) = {
        let resp = register(&open, &body).await;
        resp.assert_status(201, "PS256 registered");
        (open.tpp("pkjwt-dpop-1").renamed(resp.json["client_id"].as_str().expect("id")), resp)
    };
    open.client_credentials(&ps_only).await.assert_error(401, &["invalid_client"], "ES256 assertion of a PS256 client");
    let url = open.tls_url("token");
    let mut h = reqwest::header::HeaderMap::new();
    h.insert("dpop", header(&ps_only.dpop_proof("POST", &url, None, None)));
    open.post_form(&ps_only, &url, &form(&ps_only, ps256(&ps_only, &open.issuer)), h).await.assert_status(200, "PS256 assertion of a PS256 client");
}

#[tokio::test]
async fn token_endpoint_auth_signing_algs_outside_fapi_stop_startup() {
    let mut config = base_config(&unique_dir("eddsa"));
    config.tenants[0].workspaces[0].token_endpoint_auth_signing_alg_values = vec!["EdDSA".into()];
    let err = TestEnv::try_start_with(config).await.err().expect("refused");
    assert!(err.to_string().contains("token_endpoint_auth_signing_alg_values"), "{err}");
}

fn fdx_config(data_dir: &std::path::Path, initial: FdxStatus) -> Config {
    let mut config = base_config(data_dir);
    let ws = &mut config.tenants[0].workspaces[0];
    ws.profile = ProfileId::Fdx;
    enable_registration(ws);
    ws.fdx.initial_status = initial;
    config
}

async fn set_status(env: &TestEnv, admin: &Tpp, token: &str, client_id: &str, body: Value) -> Resp {
    send_dpop(env, admin, Method::PUT, &env.tls_url(&format!("fdx/clients/{client_id}/status")), token, Some(&body)).await
}

#[tokio::test]
async fn fdx_st_05_initial_status_defaults_to_approved() {
    let env = TestEnv::start_with(fdx_config(&unique_dir("fdx-default"), WorkspaceConfig::default().fdx.initial_status)).await;
    let (tpp, info) = registered(&env, "pkjwt-dpop-1").await;
    assert_eq!(info["fdx_client_status"], "Approved", "{info}");
    assert_eq!(info["client_status"], "active");
    env.client_credentials(&tpp).await.assert_status(200, "an Approved client");
}

#[tokio::test]
async fn fdx_offline_approval_gates_every_token_and_survives_a_restart() {
    let data_dir = unique_dir("fdx");
    let mut env = TestEnv::start_with(fdx_config(&data_dir, FdxStatus::Pending)).await;
    let mut body = metadata_for(&env, "pkjwt-dpop-1");
    body["duration_type"] = json!(["PERSISTENT", "TIME_BOUND"]);
    body["duration_period"] = json!(365);
    body["lookback_period"] = json!(90);
    body["registry_references"] = json!([{ "registered_entity_name": "TPP Inc", "registered_entity_id": "5493001KJTIIGC8Y1R12", "registry": "GLEIF" }]);
    body["intermediaries"] = json!([{ "name": "Aggregator", "uri": "https://aggregator.example" }]);
    let resp = register(&env, &body).await;
    resp.assert_status(201, "FDX registration");
    assert_eq!(resp.json["fdx_client_status"], "Pending", "FDX-ST-05: {resp}");
    assert_eq!(resp.json["client_status"], "inactive");
    for member in ["duration_type", "duration_period", "lookback_period", "registry_references", "intermediaries"] {
        assert_eq!(resp.json[member], body[member], "FDX-DCR-02: {member} echoed unchanged");
    }
    let client_id = resp.json["client_id"].as_str().expect("id").to_owned();
    let uri = resp.json["registration_client_uri"].as_str().expect("uri").to_owned();
    let mut rat = resp.json["registration_access_token"].as_str().expect("rat").to_owned();
    let tpp = env.tpp("pkjwt-dpop-1").renamed(&client_id);

    let pending = env.client_credentials(&tpp).await;
    pending.assert_error(400, &["unauthorized_client"], "FDX-ST-02: Pending client at the token endpoint");
    assert!(pending.json["error_description"].as_str().is_some_and(|d| d.contains("Pending")), "{pending}");
    let req = AuthRequest::new("openid accounts").params();
    let borrowed: Vec<(&str, &str)> = req.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    env.par(&tpp, &borrowed).await.assert_error(400, &["unauthorized_client"], "FDX-ST-02: Pending client at PAR");

    let admin = env.tpp("admin");
    let token = admin_token(&env, &admin, "update_client_status").await;
    let url = env.tls_url(&format!("fdx/clients/{client_id}/status"));
    send(&env.http, Method::PUT, &url, None, Some(&json!({ "update_client_status": "Approved" }))).await.assert_error(401, &["invalid_token"], "FDX-UPD-02: no token");
    send(&env.http, Method::PUT, &url, Some(&rat), Some(&json!({ "update_client_status": "Approved" })))
        .await
        .assert_error(401, &["invalid_token"], "FDX-UPD-02: the client's registration token is not enough");
    let dcr_only = admin_token(&env, &admin, "dcr_manage").await;
    set_status(&env, &admin, &dcr_only, &client_id, json!({ "update_client_status": "Approved" })).await.assert_error(403, &["insufficient_scope"], "FDX-UPD-02: wrong scope");
    set_status(&env, &admin, &token, "dcr-nobody", json!({ "update_client_status": "Approved" })).await.assert_error(404, &["not_found"], "FDX-UPD-04: unknown client");
    let bad = set_status(&env, &admin, &token, &client_id, json!({ "update_client_status": "approved" })).await;
    bad.assert_error(400, &["invalid_request"], "FDX-ST-06: case-sensitive values");
    assert!(bad.json["error_description"].as_str().is_some_and(|d| d.contains("Approved, Tentative, Pending, Rejected, Inactive")), "{bad}");

    let approved = set_status(&env, &admin, &token, &client_id, json!({ "update_client_status": "Approved" })).await;
    approved.assert_status(200, "FDX-UPD-01");
    assert_eq!(approved.json["fdx_client_status"], "Approved");
    let vendor_path = env.tls_url(&format!("fdx/clients/{client_id}"));
    send_dpop(&env, &admin, Method::PUT, &vendor_path, &token, Some(&json!({ "new_status": "Approved" })))
        .await
        .assert_status(200, "FDX-UPD-03: the same status again, on the vendor path with the new_status alias");
    let (_, tokens) = env.tokens(&tpp, &AuthRequest::new("openid accounts")).await;
    let refresh = tokens["refresh_token"].as_str().expect("refresh").to_owned();
    let access = tokens["access_token"].as_str().expect("access").to_owned();

    let mut own_update = send(&env.http, Method::GET, &uri, Some(&rat), None).await.json;
    rat = own_update["registration_access_token"].as_str().expect("rat").to_owned();
    own_update["fdx_client_status"] = json!("Rejected");
    let own = send(&env.http, Method::PUT, &uri, Some(&rat), Some(&own_update)).await;
    own.assert_status(200, "client PUT");
    assert_eq!(own.json["fdx_client_status"], "Approved", "FDX-DCR-04: a client cannot set its own status");
    rat = own.json["registration_access_token"].as_str().expect("rat").to_owned();

    set_status(&env, &admin, &token, &client_id, json!({ "update_client_status": "Inactive" })).await.assert_status(200, "set Inactive");
    env.refresh(&tpp, &refresh).await.assert_error(400, &["unauthorized_client"], "FDX-ST-02: refresh of an Inactive client");
    env.userinfo(&tpp, &access).await.assert_error(401, &["invalid_token"], "FDX-ST-03: earlier access token of an Inactive client");
    let introspected = env.introspect(&env.tpp("bank"), &access).await;
    assert_eq!(introspected.json["active"], false, "FDX-ST-03: {introspected}");
    let read = send(&env.http, Method::GET, &uri, Some(&rat), None).await;
    read.assert_status(200, "FDX-ST-04: an inactive client still reads its registration");
    rat = read.json["registration_access_token"].as_str().expect("rat").to_owned();

    set_status(&env, &admin, &token, &client_id, json!({ "update_client_status": "Tentative" })).await.assert_status(200, "FDX-UPD-03: Inactive → Tentative");
    env.stop().await;
    let config = env.config.clone().expect("private server config");
    let mut restarted = TestEnv::start_with(config).await;
    let mut tpp = tpp;
    tpp.rebind(&restarted);
    restarted.client_credentials(&tpp).await.assert_status(200, "after a restart the registered, Tentative client still gets tokens");
    let uri = restarted.tls_url(&format!("register/{client_id}"));
    let read = send(&restarted.http, Method::GET, &uri, Some(&rat), None).await;
    read.assert_status(200, "after a restart the registration token still manages the client");
    assert_eq!(read.json["fdx_client_status"], "Tentative");
    restarted.stop().await;
    drop(env);
    let _ = std::fs::remove_dir_all(data_dir);
}

/// An HTTPS key store on loopback (the shared CA's server certificate) serving `keys` at
/// `/keys/tpp.jwks`; the test swaps the key set to rotate keys.
async fn key_store(env: &TestEnv, keys: std::sync::Arc<std::sync::Mutex<Value>>) -> String {
    let ca = fapilab_certs::CaDir::new(&env.info.ca_dir);
    let (certs, key) = fapilab_server::tls::load_identity(
        &std::fs::read(ca.server_cert()).expect("server cert"),
        &std::fs::read(ca.server_key()).expect("server key"),
    )
    .expect("identity");
    let tls = fapilab_server::tls::server_config(certs, key, false).expect("tls config");
    let router = axum::Router::new().route(
        "/keys/tpp.jwks",
        axum::routing::get(move || {
            let keys = keys.clone();
            async move { axum::Json(keys.lock().expect("keys").clone()) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(fapilab_server::tls::serve(listener, tls, fapilab_server::workspace::Listener::Tls, router));
    format!("https://localhost:{port}/keys/")
}

#[tokio::test]
async fn dcr_04_jwks_uri_keys_are_fetched_at_registration_update_and_refresh() {
    let ca = fapilab_certs::CaDir::new(&TestEnv::shared().await.info.ca_dir);
    let first = ca.load_tpp("pkjwt-dpop-1").expect("tpp").public_jwks();
    let second = ca.load_tpp("pkjwt-dpop-2").expect("tpp").public_jwks();
    let served = std::sync::Arc::new(std::sync::Mutex::new(first));
    let shared = TestEnv::shared().await;
    let prefix = key_store(&shared, served.clone()).await;
    let env = TestEnv::start(|ws| {
        enable_registration(ws);
        ws.registration.jwks_uri_prefixes = vec![prefix.clone()];
        ws.registration.jwks_uri_refresh_interval = 1;
    })
    .await;

    let mut body = metadata_for(&env, "pkjwt-dpop-1");
    body.as_object_mut().expect("object").remove("jwks");
    body["jwks_uri"] = json!(format!("{prefix}tpp.jwks"));
    let resp = register(&env, &body).await;
    resp.assert_status(201, "registration with jwks_uri");
    assert_eq!(resp.json["jwks_uri"], body["jwks_uri"]);
    assert!(resp.json.get("jwks").is_none(), "{resp}");
    let client_id = resp.json["client_id"].as_str().expect("id").to_owned();
    let as_first = env.tpp("pkjwt-dpop-1").renamed(&client_id);
    env.client_credentials(&as_first).await.assert_status(200, "assertion signed with a key from the jwks_uri");

    // Rotation: the key store now serves the second TPP's keys; the background refresh picks
    // them up without a registration update.
    *served.lock().expect("keys") = second;
    let as_second = env.tpp("pkjwt-dpop-2").renamed(&client_id);
    let mut refreshed = false;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if env.client_credentials(&as_second).await.status == 200 {
            refreshed = true;
            break;
        }
    }
    assert!(refreshed, "the rotated key is accepted after the refresh interval");
    env.client_credentials(&as_first).await.assert_error(401, &["invalid_client"], "the retired key");

    for (what, uri) in [("outside the prefixes", "https://elsewhere.example/keys/tpp.jwks".to_owned()), ("not served", format!("{prefix}missing.jwks"))] {
        body["jwks_uri"] = json!(uri);
        let resp = register(&env, &body).await;
        resp.assert_error(400, &["invalid_client_metadata"], what);
        assert!(resp.json["error_description"].as_str().is_some_and(|d| d.contains("jwks_uri")), "{resp}");
    }
}
