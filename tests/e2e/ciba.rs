//! CIBA for FAPI workspaces (CIBA-*, FCIBA-*): signed backchannel authentication requests,
//! poll and ping modes, the CIBA grant's pending / slow_down / expired / denied answers, and
//! the simulated authentication device (rules and API), over real TLS.

use std::sync::{Arc, Mutex};

use reqwest::header::HeaderMap;
use serde_json::{Map, Value, json};

use crate::support::*;
use fapilab_server::config::{ClientConfig, DeviceDecision, DeviceRule, UserConfig, WorkspaceConfig};
use fapilab_server::profiles::{ClientAuthMethod, SenderConstraint};

const DEVICE_TOKEN: &str = "device-api-token-for-tests";
const GRANT: &str = "urn:openid:params:grant-type:ciba";

fn user(name: &str) -> UserConfig {
    UserConfig { username: name.into(), password: format!("{name}-password-2026"), name: None, email: None }
}

fn client(id: &str, tpp: &str, method: ClientAuthMethod, sender: SenderConstraint, ping: Option<String>) -> ClientConfig {
    ClientConfig {
        client_id: id.into(),
        client_name: None,
        token_endpoint_auth_method: method,
        sender_constraint: Some(sender),
        tpp: Some(tpp.into()),
        jwks_file: None,
        tls_client_auth_subject_dn: None,
        tls_client_auth_san_dns: None,
        redirect_uris: vec![DEFAULT_REDIRECT_URIS[0].into()],
        scope: "openid accounts".into(),
        grant_types: vec!["authorization_code".into(), "refresh_token".into(), GRANT.into()],
        resource_server: false,
        backchannel_client_notification_endpoint: ping,
    }
}

/// alice is approved after 800 ms, mallory denied after 100 ms, bob waits for the device API.
fn configure(ws: &mut WorkspaceConfig, ping_endpoint: Option<String>) {
    ws.ciba.enabled = true;
    ws.ciba.interval = 1;
    ws.ciba.default_expiry = 30;
    ws.ciba.device_api_tokens = vec![DEVICE_TOKEN.into()];
    ws.ciba.device_rules = vec![
        DeviceRule { login_hint: Some("mallory".into()), decision: DeviceDecision::Deny, after_ms: 100 },
        DeviceRule { login_hint: Some("alice".into()), decision: DeviceDecision::Approve, after_ms: 800 },
    ];
    ws.users = vec![user("alice"), user("bob"), user("mallory")];
    ws.clients = vec![
        client("pkjwt-dpop-1", "pkjwt-dpop-1", ClientAuthMethod::PrivateKeyJwt, SenderConstraint::Dpop, None),
        client("tls-mtls-1", "tls-mtls-1", ClientAuthMethod::TlsClientAuth, SenderConstraint::Mtls, None),
        client("ciba-ping", "pkjwt-dpop-2", ClientAuthMethod::PrivateKeyJwt, SenderConstraint::Dpop, ping_endpoint),
    ];
}

async fn ciba_env() -> TestEnv {
    TestEnv::start(|ws| configure(ws, None)).await
}

fn request_claims(env: &TestEnv, tpp: &Tpp, login_hint: &str) -> Map<String, Value> {
    let now = fapilab_jose::now();
    json!({
        "iss": tpp.client_id, "aud": env.issuer, "iat": now, "nbf": now, "exp": now + 300,
        "jti": fapilab_jose::random_token(12), "scope": "openid accounts", "login_hint": login_hint,
        "binding_message": "Pay 10 EUR to ACME",
    })
    .as_object()
    .expect("object")
    .clone()
}

async fn bc_authorize(env: &TestEnv, tpp: &Tpp, claims: &Map<String, Value>) -> Resp {
    let jwt = fapilab_jose::jws::sign(&tpp.signing_key, Map::new(), &Value::Object(claims.clone())).expect("sign");
    bc_authorize_form(env, tpp, &[("request", &jwt)]).await
}

async fn bc_authorize_form(env: &TestEnv, tpp: &Tpp, extra: &[(&str, &str)]) -> Resp {
    let url = env.endpoint(tpp, "bc-authorize");
    let mut form = tpp.auth_params(&env.issuer);
    form.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env.post_form(tpp, &url, &form, HeaderMap::new()).await
}

async fn poll(env: &TestEnv, tpp: &Tpp, auth_req_id: &str) -> Resp {
    env.token(tpp, &[("grant_type", GRANT), ("auth_req_id", auth_req_id)]).await
}

/// Polls every `interval` until the answer is no longer `authorization_pending`.
async fn poll_until_decided(env: &TestEnv, tpp: &Tpp, auth_req_id: &str) -> Resp {
    for _ in 0..20 {
        tokio::time::sleep(std::time::Duration::from_millis(1_050)).await;
        let resp = poll(env, tpp, auth_req_id).await;
        if resp.error() != Some("authorization_pending") {
            return resp;
        }
    }
    panic!("the CIBA request stayed pending");
}

fn started(resp: &Resp) -> String {
    resp.assert_status(200, "backchannel authentication request");
    assert!(resp.json["expires_in"].as_u64().is_some_and(|e| e > 0), "CIBA-04: {resp}");
    assert_eq!(resp.json["interval"], 1, "CIBA-04: {resp}");
    let id = resp.json["auth_req_id"].as_str().expect("auth_req_id").to_owned();
    assert!(id.len() >= 22, "CIBA-04: at least 128 bits: {id}");
    id
}

#[tokio::test]
async fn ciba_md_01_discovery_advertises_poll_and_ping_only() {
    let env = ciba_env().await;
    let doc = env.discovery().await;
    assert_eq!(doc["backchannel_authentication_endpoint"], json!(env.tls_url("bc-authorize")));
    assert_eq!(doc["mtls_endpoint_aliases"]["backchannel_authentication_endpoint"], json!(env.mtls_url("bc-authorize")));
    assert_eq!(doc["backchannel_token_delivery_modes_supported"], json!(["poll", "ping"]), "FCIBA-04: no push");
    assert!(doc["grant_types_supported"].as_array().expect("grants").contains(&json!(GRANT)));
    let plain = TestEnv::shared().await.discovery().await;
    assert!(plain.get("backchannel_authentication_endpoint").is_none(), "CIBA is opt-in per workspace");
}

#[tokio::test]
async fn ciba_06_poll_mode_pending_slow_down_tokens_once() {
    let env = ciba_env().await;
    for name in ["pkjwt-dpop-1", "tls-mtls-1"] {
        let tpp = env.tpp(name);
        let auth_req_id = started(&bc_authorize(&env, &tpp, &request_claims(&env, &tpp, "alice")).await);
        poll(&env, &tpp, &auth_req_id).await.assert_error(400, &["authorization_pending"], "CIBA-06: before the user decides");
        poll(&env, &tpp, &auth_req_id).await.assert_error(400, &["slow_down"], "CIBA-06: polling faster than the interval");
        let tokens = poll_until_decided(&env, &tpp, &auth_req_id).await;
        tokens.assert_status(200, &format!("CIBA-07: tokens for {name}"));
        let id_token = tokens.json["id_token"].as_str().expect("CIBA-07: an ID token");
        let claims = fapilab_jose::jws::decode_unverified_claims(id_token).expect("claims");
        assert_eq!(claims["aud"], json!(name));
        assert!(claims.get("nonce").is_none());
        let expected_type = if tpp.is_dpop() { "DPoP" } else { "Bearer" };
        assert_eq!(tokens.json["token_type"], expected_type);
        let refresh = tokens.json["refresh_token"].as_str().expect("refresh token");
        env.refresh(&tpp, refresh).await.assert_status(200, "refresh of a CIBA grant");
        poll(&env, &tpp, &auth_req_id).await.assert_error(400, &["invalid_grant"], "CIBA-06: auth_req_id already used");
    }
}

#[tokio::test]
async fn ciba_06_denial_expiry_and_other_clients() {
    let env = ciba_env().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let denied = started(&bc_authorize(&env, &tpp, &request_claims(&env, &tpp, "mallory")).await);
    poll_until_decided(&env, &tpp, &denied).await.assert_error(400, &["access_denied"], "CIBA-06: denied on the device");

    let mut short = request_claims(&env, &tpp, "bob");
    short.insert("requested_expiry".into(), json!("2"));
    let expiring = started(&bc_authorize(&env, &tpp, &short).await);
    let other = env.tpp("tls-mtls-1");
    poll(&env, &other, &expiring).await.assert_error(400, &["invalid_grant"], "CIBA-06: another client's auth_req_id");
    tokio::time::sleep(std::time::Duration::from_millis(2_200)).await;
    poll(&env, &tpp, &expiring).await.assert_error(400, &["expired_token"], "CIBA-06 / FCIBA-12: requested_expiry as a string, then expired");
    poll(&env, &tpp, "no-such-request").await.assert_error(400, &["invalid_grant"], "CIBA-06: unknown auth_req_id");
}

#[tokio::test]
async fn ciba_01_to_03_requests_are_signed_and_validated() {
    let env = ciba_env().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    bc_authorize_form(&env, &tpp, &[("scope", "openid"), ("login_hint", "alice"), ("binding_message", "x")])
        .await
        .assert_error(400, &["invalid_request"], "FCIBA-08: unsigned request");
    type Case = (&'static str, Box<dyn Fn(&mut Map<String, Value>)>, &'static str);
    let cases: Vec<Case> = vec![
        ("no hint", Box::new(|c| { c.remove("login_hint"); }), "invalid_request"),
        ("two hints", Box::new(|c| { c.insert("id_token_hint".into(), json!("x.y.z")); }), "invalid_request"),
        ("no openid", Box::new(|c| { c.insert("scope".into(), json!("accounts")); }), "invalid_scope"),
        ("unknown user", Box::new(|c| { c.insert("login_hint".into(), json!("nobody")); }), "unknown_user_id"),
        ("no binding message", Box::new(|c| { c.remove("binding_message"); }), "invalid_request"),
        ("long binding message", Box::new(|c| { c.insert("binding_message".into(), json!("x".repeat(65))); }), "invalid_binding_message"),
        ("wrong aud", Box::new(|c| { c.insert("aud".into(), json!("https://other.example")); }), "invalid_request"),
        ("no jti", Box::new(|c| { c.remove("jti"); }), "invalid_request"),
        ("no iat", Box::new(|c| { c.remove("iat"); }), "invalid_request"),
        ("exp 70 min ahead", Box::new(|c| { c.insert("exp".into(), json!(fapilab_jose::now() + 4200)); }), "invalid_request"),
        ("nbf 70 min ago", Box::new(|c| { c.insert("nbf".into(), json!(fapilab_jose::now() - 4200)); }), "invalid_request"),
        ("iss of another client", Box::new(|c| { c.insert("iss".into(), json!("tls-mtls-1")); }), "invalid_request"),
        ("user_code", Box::new(|c| { c.insert("user_code".into(), json!("1234")); }), "invalid_request"),
    ];
    for (what, edit, code) in cases {
        let mut claims = request_claims(&env, &tpp, "alice");
        edit(&mut claims);
        let resp = bc_authorize(&env, &tpp, &claims).await;
        resp.assert_error(400, &[code], what);
        assert!(resp.json["error_description"].as_str().is_some_and(|d| d.contains('[')), "{what}: {resp}");
    }
    let other = env.tpp("pkjwt-dpop-2");
    let forged = fapilab_jose::jws::sign(&other.signing_key, Map::new(), &Value::Object(request_claims(&env, &tpp, "alice"))).expect("sign");
    bc_authorize_form(&env, &tpp, &[("request", &forged)]).await.assert_error(400, &["invalid_request"], "signed by another client's key");
}

#[tokio::test]
async fn the_device_api_lists_and_decides_pending_requests() {
    let env = ciba_env().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let auth_req_id = started(&bc_authorize(&env, &tpp, &request_claims(&env, &tpp, "bob")).await);
    let list_url = env.tls_url("ciba/device/requests");
    let listed = Resp::read(env.http.get(&list_url).bearer_auth(DEVICE_TOKEN).send().await.expect("GET")).await;
    listed.assert_status(200, "device API list");
    let pending = listed.json["requests"].as_array().expect("requests");
    let entry = pending.iter().find(|r| r["username"] == "bob").expect("bob's request");
    assert_eq!(entry["binding_message"], "Pay 10 EUR to ACME");
    assert!(!listed.body.contains(&auth_req_id), "the auth_req_id is never shown to the device");
    Resp::read(env.http.get(&list_url).bearer_auth("wrong-device-token-123").send().await.expect("GET"))
        .await
        .assert_error(401, &["invalid_token"], "device API without its token");
    let decide_url = env.tls_url(&format!("ciba/device/requests/{}", entry["device_id"].as_str().expect("device_id")));
    let decided = Resp::read(env.http.post(&decide_url).bearer_auth(DEVICE_TOKEN).json(&json!({ "decision": "approve" })).send().await.expect("POST")).await;
    decided.assert_status(200, "device API approve");
    poll(&env, &tpp, &auth_req_id).await.assert_status(200, "tokens after the device approved");
    Resp::read(env.http.post(&decide_url).bearer_auth(DEVICE_TOKEN).json(&json!({ "decision": "deny" })).send().await.expect("POST"))
        .await
        .assert_error(404, &["not_found"], "no longer pending");
}

/// A client notification endpoint on loopback (the shared CA's server certificate) that
/// records each ping and answers with `status` (and `Location` for a redirect).
async fn notification_endpoint(env: &TestEnv, status: u16) -> (String, Arc<Mutex<Vec<(String, Value)>>>) {
    let seen: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let ca = fapilab_certs::CaDir::new(&env.info.ca_dir);
    let (certs, key) = fapilab_server::tls::load_identity(&std::fs::read(ca.server_cert()).expect("cert"), &std::fs::read(ca.server_key()).expect("key"))
        .expect("identity");
    let tls = fapilab_server::tls::server_config(certs, key, false).expect("tls");
    let recorder = seen.clone();
    let router = axum::Router::new()
        .route(
            "/ping",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::Json<Value>| {
                let recorder = recorder.clone();
                async move {
                    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                    recorder.lock().expect("seen").push((auth, body.0));
                    let mut response = axum::response::IntoResponse::into_response(axum::http::StatusCode::from_u16(status).expect("status"));
                    response.headers_mut().insert("location", axum::http::HeaderValue::from_static("https://localhost:1/elsewhere"));
                    response
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(fapilab_server::tls::serve(listener, tls, fapilab_server::workspace::Listener::Tls, router));
    (format!("https://localhost:{port}/ping"), seen)
}

#[tokio::test]
async fn ciba_08_ping_mode_notifies_once_and_never_follows_or_retries_refusals() {
    let shared = TestEnv::shared().await;
    for status in [204u16, 401, 302] {
        let (endpoint, seen) = notification_endpoint(&shared, status).await;
        let env = TestEnv::start(|ws| configure(ws, Some(endpoint.clone()))).await;
        let tpp = env.tpp("pkjwt-dpop-2").renamed("ciba-ping");
        let mut claims = request_claims(&env, &tpp, "alice");
        claims.insert("client_notification_token".into(), json!("notify-me-8f3a"));
        let auth_req_id = started(&bc_authorize(&env, &tpp, &claims).await);
        tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
        let pings = seen.lock().expect("seen").clone();
        assert_eq!(pings.len(), 1, "CIBA-08 / FCIBA-12: exactly one notification when the endpoint answers {status}: {pings:?}");
        assert_eq!(pings[0].0, "Bearer notify-me-8f3a", "CIBA-08: the client_notification_token");
        assert_eq!(pings[0].1, json!({ "auth_req_id": auth_req_id }), "CIBA-08: the body");
        if status == 204 {
            poll(&env, &tpp, &auth_req_id).await.assert_status(200, "tokens after the ping");
        }
        let mut missing = request_claims(&env, &tpp, "alice");
        missing.remove("client_notification_token");
        bc_authorize(&env, &tpp, &missing).await.assert_error(400, &["invalid_request"], "CIBA-01: ping without client_notification_token");
    }
}

/// CIBA-MD-02 / FCIBA-04: a client registered through RFC 7591 with the CIBA grant and poll
/// delivery runs the flow; push is refused at registration.
#[tokio::test]
async fn ciba_md_02_registered_clients_choose_poll_or_ping_never_push() {
    const IAT: &str = "initial-access-token-for-ciba";
    let env = TestEnv::start(|ws| {
        configure(ws, None);
        ws.registration.enabled = true;
        ws.registration.initial_access_tokens = vec![IAT.into()];
    })
    .await;
    let bundle = fapilab_certs::CaDir::new(&env.info.ca_dir).load_tpp("pkjwt-dpop-1").expect("tpp");
    let mut body = json!({
        "token_endpoint_auth_method": "private_key_jwt",
        "grant_types": [GRANT, "refresh_token"],
        "response_types": [],
        "scope": "openid accounts",
        "jwks": bundle.public_jwks(),
        "dpop_bound_access_tokens": true,
        "backchannel_token_delivery_mode": "push",
    });
    let register = |body: Value| {
        let env = &env;
        async move { Resp::read(env.http.post(env.tls_url("register")).bearer_auth(IAT).json(&body).send().await.expect("POST")).await }
    };
    register(body.clone()).await.assert_error(400, &["invalid_client_metadata"], "FCIBA-04: push");
    body["backchannel_token_delivery_mode"] = json!("poll");
    let registered = register(body).await;
    registered.assert_status(201, "a poll client");
    let tpp = env.tpp("pkjwt-dpop-1").renamed(registered.json["client_id"].as_str().expect("client_id"));
    let auth_req_id = started(&bc_authorize(&env, &tpp, &request_claims(&env, &tpp, "alice")).await);
    poll_until_decided(&env, &tpp, &auth_req_id).await.assert_status(200, "tokens for a registered CIBA client");
}

/// With an identity pool, `login_hint` is any identifier of a pool user (as at the login
/// page): the device rule for that identifier decides, the tokens are the pool user's, and
/// the ID token's `acr` is the device's sign-in, not what `acr_values` wished for.
#[tokio::test]
async fn pool_users_are_found_by_any_identifier() {
    const ADMIN: &str = "admin-token-for-the-ciba-pool-test-0123456789";
    let mut config = base_config(&unique_dir("ciba-pool"));
    config.admin.tokens = vec![ADMIN.into()];
    let ws = &mut config.tenants[0].workspaces[0];
    configure(ws, None);
    ws.identity_pool = Some("retail".into());
    ws.acr_values = vec!["urn:fapilab:acr:password".into(), "urn:fapilab:acr:passkey".into()];
    ws.acr_by_method.passkey = Some("urn:fapilab:acr:passkey".into());
    ws.ciba.device_rules = vec![DeviceRule { login_hint: Some("+447700900123".into()), decision: DeviceDecision::Approve, after_ms: 300 }];
    let env = TestEnv::start_with(config).await;
    let admin = |path: &str, body: Value| {
        let request = env.http.post(format!("{}{path}", env.info.base_url)).header("authorization", format!("Bearer {ADMIN}")).json(&body);
        async move { Resp::read(request.send().await.expect("admin call")).await }
    };
    admin("/admin/pools", json!({ "id": "retail", "name": "Retail" })).await.assert_status(201, "pool");
    let identifiers = json!([{ "type": "email", "value": "ivy@bank.example" }, { "type": "mobile", "value": "+447700900123" }]);
    let created = admin("/admin/pools/retail/users", json!({ "identifiers": identifiers, "password": "Ivy-Password-2026" })).await;
    created.assert_status(201, "user");
    let subject = created.json["id"].as_str().expect("id").to_owned();

    let tpp = env.tpp("pkjwt-dpop-1");
    let mut claims = request_claims(&env, &tpp, "+447700900123");
    claims.insert("acr_values".into(), json!("urn:fapilab:acr:passkey"));
    let id = started(&bc_authorize(&env, &tpp, &claims).await);
    let tokens = poll_until_decided(&env, &tpp, &id).await;
    tokens.assert_status(200, "approved by the device rule for the mobile number");
    let (_, id_token) = jwt_parts(tokens.json["id_token"].as_str().expect("id_token"));
    assert_eq!((id_token["sub"].as_str(), id_token["acr"].as_str()), (Some(subject.as_str()), Some("urn:fapilab:acr:password")), "INT-PK-01");

    // The email identifies the same user (left pending: no rule names it); configured users
    // are not this workspace's users any more, and unknown identifiers are unknown.
    started(&bc_authorize(&env, &tpp, &request_claims(&env, &tpp, "IVY@bank.example")).await);
    for nobody in ["alice", "nobody@bank.example"] {
        let refused = bc_authorize(&env, &tpp, &request_claims(&env, &tpp, nobody)).await;
        assert_eq!(refused.error(), Some("unknown_user_id"), "{nobody}: {refused}");
    }
}
